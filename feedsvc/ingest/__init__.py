"""Ingesting upstream feeds: fetch → parse → prepare → process → plan → apply.

Each stage is a module of its own (see docs/architecture.md); this package
only re-exports what callers outside it use. Importing `policy` or `plan`
alone loads no database, HTTP or parsing code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feedsvc.ingest.pipeline import RefreshReport, refresh_source
    from feedsvc.ingest.probe import parse_fetched
    from feedsvc.ingest.settings import IngestSettings

__all__ = [
    "IngestSettings",
    "RefreshReport",
    "parse_fetched",
    "refresh_source",
]

_HOMES = {
    "IngestSettings": "feedsvc.ingest.settings",
    "RefreshReport": "feedsvc.ingest.pipeline",
    "refresh_source": "feedsvc.ingest.pipeline",
    "parse_fetched": "feedsvc.ingest.probe",
}


def __getattr__(name: str) -> Any:
    # Loaded on first use, so that `import feedsvc.ingest.policy` stays light.
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
