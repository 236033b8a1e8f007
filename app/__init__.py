"""Staffroom: the staff side of a school or district."""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import INSTANCE_DIR, Config, config_from_env

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_class: type[Config] | None = None, **overrides) -> Flask:
    """Build the application: configuration, extensions, Celery, blueprints, errors, CLI, logging."""
    config_class = config_class or config_from_env()
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(INSTANCE_DIR),
    )
    app.config.from_object(config_class)
    app.config.update(overrides)
    _load_local_secrets(app, config_class)
    config_class.validate(app.config)
    register_proxy(app)
    register_extensions(app)
    register_celery(app)
    register_blueprints(app)
    register_request_hooks(app)
    register_errorhandlers(app)
    register_cli(app)
    register_logging(app)
    return app


def _load_local_secrets(app: Flask, config_class: type[Config]) -> None:
    """Development only: keep random keys in instance/ so a fresh machine needs no set-up."""
    if config_class.__name__ != "DevelopmentConfig":
        return
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    for name in ("SECRET_KEY", "AUDIT_HMAC_KEY"):
        if app.config.get(name):
            continue
        path = Path(app.instance_path) / name.lower()
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            os.chmod(path, 0o600)
        app.config[name] = path.read_text().strip()


def register_proxy(app: Flask) -> None:
    hops = app.config.get("PROXY_FIX_HOPS", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_extensions(app: Flask) -> None:
    from app import models as _models  # noqa: F401  (every table registered before metadata is used)
    from app.core import sqlite as sqlite_setup
    from app.extensions import babel, csrf, db, limiter, login_manager, migrate
    from app.general.auth.sessions import select_locale, select_timezone

    db.init_app(app)
    with app.app_context():
        sqlite_setup.configure(db.engine, app.config.get("SQLITE_BEGIN_MODE", "IMMEDIATE"))
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True, render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    limiter.init_app(app)
    from flask_bootstrap import Bootstrap5

    app.config.setdefault("BOOTSTRAP_SERVE_LOCAL", True)
    Bootstrap5(app)


def register_celery(app: Flask) -> None:
    from app.celery_app import celery_init_app

    celery_init_app(app)


BLUEPRINTS = (
    "app.general.auth.views",
    "app.general.org.views",
    "app.general.audit.views",
    "app.general.notifications.views",
    "app.general.contracts.views",
    "app.school.dashboard.views",
    "app.school.staff.views",
    "app.school.classes.views",
    "app.school.credentials.views",
    "app.school.teaching.views",
    "app.school.offboarding.views",
    "app.school.imports_views",
)


def register_blueprints(app: Flask) -> None:
    import importlib

    for module_name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(module_name).bp)


def register_request_hooks(app: Flask) -> None:
    from app.core import http, navigation
    from app.general.auth import sessions

    http.register(app)
    sessions.register(app)
    navigation.register(app)


def register_errorhandlers(app: Flask) -> None:
    from app.core import error_pages

    error_pages.register(app)


def register_cli(app: Flask) -> None:
    from app.core.cli import register

    register(app)


class _OneLineFormatter(logging.Formatter):
    """Escapes CR/LF so that user input inside a message cannot forge a log line."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        head, sep, rest = text.partition("\nTraceback")
        return head.replace("\r", "\\r").replace("\n", "\\n") + sep + rest


def register_logging(app: Flask) -> None:
    level = getattr(logging, str(app.config.get("LOG_LEVEL", "INFO")).upper(), logging.INFO)
    root = logging.getLogger()
    if not any(getattr(h, "_staffroom", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(_OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._staffroom = True
        root.addHandler(handler)
    root.setLevel(level)
