"""WSGI entry point (gunicorn wsgi:app) and the Celery app (celery -A wsgi:celery worker)."""
from app import create_app

app = create_app()
celery = app.extensions["celery"]
