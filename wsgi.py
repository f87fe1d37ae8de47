"""WSGI entry point for gunicorn: `gunicorn wsgi:app`.

Production runs the scheduler as `feedsvc worker`. Only with
FEEDSVC_EMBEDDED_SCHEDULER on (the development default) does a served process
start one, and then only one per machine, however many gunicorn workers there are.
"""

from feedsvc import create_app, start_embedded_scheduler

app = create_app()
start_embedded_scheduler(app)
