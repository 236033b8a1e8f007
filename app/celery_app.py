"""Celery bound to the Flask application: every task runs inside an app context."""
from __future__ import annotations

from pathlib import Path

from celery import Celery, Task
from flask import Flask

TASK_MODULES = [
    "app.core.tasks",
    "app.general.audit.tasks",
    "app.general.auth.tasks",
    "app.general.contracts.tasks",
    "app.general.notifications.tasks",
    "app.school.credentials.tasks",
    "app.school.offboarding.tasks",
    "app.school.imports_tasks",
]


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app from app.config["CELERY"] (the Flask documentation's pattern)."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    options = app.config["CELERY"].get("broker_transport_options", {})
    for key in ("data_folder_in", "data_folder_out", "processed_folder"):
        if key in options:
            Path(options[key]).mkdir(parents=True, exist_ok=True)
    celery_app.conf.include = TASK_MODULES
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
