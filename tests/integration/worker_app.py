"""The application a test's `celery worker` subprocess runs (`-A tests.integration.worker_app:celery`).

It is TestConfig with the broker, queue and loopback backends the test chose, passed in the environment;
the test process builds the same application in-process with `build_app` to write and enqueue.
"""
from __future__ import annotations

import json
import os

from flask import Flask

from app import create_app
from config import TestConfig, celery_settings

_built: dict = {}


def build_app(broker_url: str, queue: str, **overrides) -> Flask:
    """TestConfig with production's Celery settings on Redis and a private queue, enqueueing on commit."""
    celery = {**celery_settings(broker_url), "task_default_queue": queue}  # production's settings for Redis
    return create_app(TestConfig, CELERY=celery, NOTIFY_ENQUEUE_ON_COMMIT=True, **overrides)


def __getattr__(name: str):
    """Build the app on first use, from STAFFROOM_TEST_BROKER_URL, STAFFROOM_TEST_QUEUE, STAFFROOM_TEST_OVERRIDES."""
    if name not in ("app", "celery"):
        raise AttributeError(name)
    if not _built:
        application = build_app(
            os.environ["STAFFROOM_TEST_BROKER_URL"],
            os.environ["STAFFROOM_TEST_QUEUE"],
            **json.loads(os.environ.get("STAFFROOM_TEST_OVERRIDES", "{}")),
        )
        _built.update(app=application, celery=application.extensions["celery"])
    return _built[name]
