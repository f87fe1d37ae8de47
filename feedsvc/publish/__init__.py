"""Publishing: posts out as feeds."""
