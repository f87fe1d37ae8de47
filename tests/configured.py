"""Typed settings for tests: the app's, with some settings changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from feedsvc.settings import EXTENSION, Settings, from_config


def settings_of(app: Flask, **changes: Any) -> Settings:
    """The app's settings as if its configuration had `changes`."""
    return from_config({**app.config, **changes}, Path(app.instance_path))


def reconfigure(app: Flask, **changes: Any) -> None:
    """Change the app's settings: those its views read per request take effect
    (not those read once at start, such as the caches' sizes)."""
    app.config.update(changes)
    app.extensions[EXTENSION] = settings_of(app)
