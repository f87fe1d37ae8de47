"""WSGI entry point for gunicorn: `gunicorn wsgi:app`.

Only the web app: the scheduler runs as `feedsvc worker`, in a process of its own.
"""

from feedsvc import create_app

app = create_app()
