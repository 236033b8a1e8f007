"""The application of the offboarding bench's Celery worker (`celery -A bench.offboarding_worker:celery worker`).

The bench config on the bench database, production's Celery settings on Redis with the bench's private queue, and
the HTTP SMS backend pointed at the gateway stub the benchmark serves on loopback. Everything comes from the
environment the benchmark sets: BENCH_DATABASE_URL, BENCH_BROKER_URL, BENCH_QUEUE, BENCH_SMS_URL, BENCH_SMS_TOKEN.
"""
from __future__ import annotations

import os

_built: dict = {}


def build_app(database_url: str, broker_url: str, queue: str, **overrides):
    """The bench app with Celery on Redis (a private queue) and publishing on commit, as in production."""
    from app import create_app
    from bench.database import bench_config
    from config import celery_settings

    celery = {**celery_settings(broker_url), "task_default_queue": queue}
    return create_app(bench_config(), SQLALCHEMY_DATABASE_URI=database_url, CELERY=celery,
                      NOTIFY_ENQUEUE_ON_COMMIT=True, **overrides)


def __getattr__(name: str):
    if name not in ("app", "celery"):
        raise AttributeError(name)
    if not _built:
        application = build_app(os.environ["BENCH_DATABASE_URL"], os.environ["BENCH_BROKER_URL"],
                                os.environ["BENCH_QUEUE"], SMS_BACKEND="http",
                                SMS_GATEWAY_URL=os.environ["BENCH_SMS_URL"],
                                SMS_GATEWAY_TOKEN=os.environ["BENCH_SMS_TOKEN"])
        _built.update(app=application, celery=application.extensions["celery"])
    return _built[name]
