"""The app as gunicorn serves it, plus one route returning constant bytes: the
framework floor that bench/serve.py compares feeds against."""

from __future__ import annotations

from flask import Response

from feedsvc import create_app

app = create_app()
CONSTANT = b"x" * 100


@app.get("/_bench/constant")
def constant() -> Response:
    return Response(CONSTANT, content_type="text/plain")
