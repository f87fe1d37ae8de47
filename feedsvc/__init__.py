"""feedsvc: stores posts, ingests upstream feeds, publishes Atom, RSS and JSON feeds.

The factory lives in `feedsvc.app`; it is re-exported here on first use, so
that importing a pure module such as `feedsvc.ingest.policy` loads no Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from feedsvc.version import __version__

if TYPE_CHECKING:
    from feedsvc.app import TEMPLATES, create_app

__all__ = ["TEMPLATES", "__version__", "create_app"]

_FROM_APP = {"TEMPLATES", "create_app"}


def __getattr__(name: str) -> Any:
    if name not in _FROM_APP:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module("feedsvc.app"), name)
