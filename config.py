"""Configuration classes. Everything secret or environment-specific comes from the environment."""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("STAFFROOM_INSTANCE", BASE_DIR / "instance"))


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def database_url(default: str) -> str:
    """Normalise DATABASE_URL so that PostgreSQL always goes through psycopg 3."""
    url = os.environ.get("DATABASE_URL", default)
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def celery_settings(broker_url: str) -> dict:
    """Celery settings: late acks, lost work re-queued, one message at a time, JSON only."""
    return {
        "broker_url": broker_url,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
        # Socket timeouts: a paused or unreachable Redis makes a publish fail in seconds instead of hanging the
        # request that committed (the outbox row is safe; the sweep enqueues it later).
        "broker_transport_options": {"visibility_timeout": 3600, "socket_timeout": 5, "socket_connect_timeout": 3},
        "task_time_limit": 900,
        "task_soft_time_limit": 840,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": {
            "notifications-sweep": {"task": "notifications.sweep_pending", "schedule": 60.0},
            "audit-checkpoint": {"task": "audit.write_checkpoint", "schedule": 600.0},
            "worker-canary": {"task": "core.canary", "schedule": 300.0, "args": ["beat"]},
            # Confirmed imports whose task message was lost (broker restart) are handed out again; safe twice.
            "imports-resume-stalled": {"task": "imports.resume_stalled", "schedule": 600.0},
            "imports-purge-stale-previews": {
                "task": "imports.purge_stale_previews",
                "schedule": crontab(hour=3, minute=41),
            },
            "auth-purge-login-attempts": {
                "task": "auth.purge_login_attempts",
                "schedule": crontab(hour=3, minute=17),
            },
            # UTC: just after midnight and at six in the morning in China (both jobs are safe to run twice)
            "contracts-expire": {"task": "contracts.expire_contracts", "schedule": crontab(hour=16, minute=10)},
            "contracts-expiry-reminders": {
                "task": "contracts.send_expiry_reminders",
                "schedule": crontab(hour=22, minute=5),
            },
            # UTC: a quarter past six in the morning in China (safe to run twice or late)
            "credentials-reminders": {"task": "credentials.send_reminders", "schedule": crontab(hour=22, minute=15)},
            # Departures: access that is due ends, and cases move on (safe to run twice or late)
            "offboarding-tick": {"task": "offboarding.tick", "schedule": 60.0},
        },
    }


def embedded_broker_url() -> str:
    """A broker that needs no server: kombu's filesystem transport under instance/."""
    return "filesystem://"


def embedded_broker_options() -> dict:
    folder = INSTANCE_DIR / "broker"
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),  # kombu's default is ./control, relative to the working directory
        "store_processed": False,
        "visibility_timeout": 3600,
    }


class Config:
    """Settings shared by every environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    AUDIT_HMAC_KEY = os.environ.get("AUDIT_HMAC_KEY", "")
    AUDIT_CHECKPOINT_PATH = os.environ.get("AUDIT_CHECKPOINT_PATH", str(INSTANCE_DIR / "audit-checkpoints.jsonl"))
    SQLALCHEMY_DATABASE_URI = database_url(f"sqlite:///{INSTANCE_DIR / 'staffroom.sqlite'}")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLALCHEMY_RECORD_QUERIES = False
    # SQLite allows one writer at a time: IMMEDIATE makes writers queue (busy timeout) instead of failing.
    SQLITE_BEGIN_MODE = "IMMEDIATE"

    # Sessions and cookies
    SESSION_COOKIE_NAME = "staffroom_session"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_NAME = "staffroom_remember"
    REMEMBER_COOKIE_DURATION = timedelta(days=7)
    REMEMBER_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    SESSION_IDLE_TIMEOUT = timedelta(minutes=int(os.environ.get("SESSION_IDLE_MINUTES", "30")))
    SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=12)
    FRESH_LOGIN_WINDOW = timedelta(minutes=10)
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = 3600 * 12
    PREFERRED_URL_SCHEME = "https"
    SERVER_NAME = os.environ.get("SERVER_NAME") or None
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")

    # Proxy: how many reverse proxies sit in front (X-Forwarded-For hops to trust)
    PROXY_FIX_HOPS = int(os.environ.get("PROXY_FIX_HOPS", "0"))

    # Uploads
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_BYTES", str(10 * 1024 * 1024)))
    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER", str(INSTANCE_DIR / "uploads"))
    DOCUMENT_MAX_BYTES = int(os.environ.get("DOCUMENT_MAX_BYTES", str(5 * 1024 * 1024)))  # one evidence scan

    # Login throttling (Flask-Limiter). Memory storage by default; Redis when configured.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per 15 minutes")
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "30 per 15 minutes")

    # i18n
    LANGUAGES = {"en": "English", "zh": "简体中文"}
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = os.environ.get("STAFFROOM_TIMEZONE", "Asia/Shanghai")
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")

    # Notifications: channel backends
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp")  # smtp | file | memory
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", "15"))
    MAIL_FROM = os.environ.get("MAIL_FROM", "Staffroom <no-reply@staffroom.local>")
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "http")  # http | file | memory
    SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL", "")
    SMS_GATEWAY_TOKEN = os.environ.get("SMS_GATEWAY_TOKEN", "")
    SMS_TIMEOUT = float(os.environ.get("SMS_TIMEOUT", "10"))
    OUTBOX_DIR = os.environ.get("OUTBOX_DIR", str(INSTANCE_DIR / "outbox"))
    NOTIFY_MAX_ATTEMPTS = int(os.environ.get("NOTIFY_MAX_ATTEMPTS", "6"))
    NOTIFY_BACKOFF_SECONDS = int(os.environ.get("NOTIFY_BACKOFF_SECONDS", "30"))
    NOTIFY_STALE_SENDING_SECONDS = int(os.environ.get("NOTIFY_STALE_SENDING_SECONDS", "600"))
    # After a commit that wrote outbox rows, enqueue their dispatch at once (off in unit tests: nothing is published)
    NOTIFY_ENQUEUE_ON_COMMIT = _bool("NOTIFY_ENQUEUE_ON_COMMIT", True)

    CELERY = celery_settings(os.environ.get("CELERY_BROKER_URL", "") or embedded_broker_url())
    if not os.environ.get("CELERY_BROKER_URL"):
        CELERY["broker_transport_options"] = embedded_broker_options()

    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    @classmethod
    def validate(cls, config: dict) -> None:
        """Hook for environment-specific start-up checks."""


class DevelopmentConfig(Config):
    """`make run`: SQLite, file backends for mail and SMS, cookies over plain http on localhost."""

    DEBUG = False
    SECRET_KEY = os.environ.get("SECRET_KEY", "")  # make run writes a random one into instance/
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PREFERRED_URL_SCHEME = "http"
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "file")
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "file")


class TestConfig(Config):
    """The test suite: a database from TEST_DATABASE_URL (SQLite file by default), memory backends."""

    TESTING = True
    SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"  # noqa: S105 (test suite only)
    AUDIT_HMAC_KEY = "test-audit-key-that-is-long-enough-0123456789"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    # The suite's own process holds long test transactions beside real worker processes on the same
    # file; the queueing behaviour of IMMEDIATE is tested on its own (tests/core/test_sqlite_writers.py).
    SQLITE_BEGIN_MODE = "DEFERRED"
    WTF_CSRF_ENABLED = False
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    PREFERRED_URL_SCHEME = "http"
    MAIL_BACKEND = "memory"
    SMS_BACKEND = "memory"
    NOTIFY_ENQUEUE_ON_COMMIT = False
    RATELIMIT_STORAGE_URI = "memory://"
    SERVER_NAME = None


class ProductionConfig(Config):
    """Production: PostgreSQL, Redis, gunicorn. Refuses to start when a secret or a safe setting is missing."""

    DEBUG = False

    @classmethod
    def validate(cls, config: dict) -> None:
        problems = []
        if config.get("DEBUG"):
            problems.append("DEBUG must be off")
        if len(config.get("SECRET_KEY") or "") < 32:
            problems.append("SECRET_KEY must be set to a random value of at least 32 characters")
        if len(config.get("AUDIT_HMAC_KEY") or "") < 32:
            problems.append("AUDIT_HMAC_KEY must be set to a random value of at least 32 characters")
        if config.get("AUDIT_HMAC_KEY") == config.get("SECRET_KEY"):
            problems.append("AUDIT_HMAC_KEY must differ from SECRET_KEY")
        if not (config.get("SESSION_COOKIE_SECURE") and config.get("REMEMBER_COOKIE_SECURE")):
            problems.append("cookies must be Secure")
        if not config.get("MAX_CONTENT_LENGTH"):
            problems.append("an upload limit (MAX_UPLOAD_BYTES) is required")
        if not (config.get("PUBLIC_BASE_URL") or "").startswith("https://"):
            problems.append("PUBLIC_BASE_URL must be the https:// address of the portal (links in e-mails use it)")
        if config.get("MAIL_BACKEND") not in {"smtp"}:
            problems.append("MAIL_BACKEND must be smtp in production")
        if problems:
            raise RuntimeError("Refusing to start in production: " + "; ".join(problems))


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    """The config class named by STAFFROOM_ENV (development by default)."""
    name = os.environ.get("STAFFROOM_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"STAFFROOM_ENV must be one of {sorted(CONFIGS)}, not {name!r}") from None
