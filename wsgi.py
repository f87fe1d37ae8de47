"""WSGI entry point for gunicorn: `gunicorn wsgi:app`. Never starts a scheduler."""

from feedsvc import create_app

app = create_app()
