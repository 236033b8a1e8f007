"""Transactional outbox: notifications written with the business change, dispatched by Celery."""
