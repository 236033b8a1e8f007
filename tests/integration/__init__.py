"""Integration tests against a real Celery worker subprocess on Redis and the test database."""
