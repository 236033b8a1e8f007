"""Where the bench writes, which database it uses, and the fixed bench-only credentials.

The keys and the password below are public on purpose: they exist only in bench databases,
which the generator creates and drops itself.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = Path(os.environ.get("BENCH_OUT", ROOT / "bench" / "out"))
INSTANCE_DIR = OUT_DIR / "instance"

PG_HOST, PG_PORT = "127.0.0.1", 5432
DEFAULT_PG_URL = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/staffroom_bench"
DEFAULT_SQLITE_URL = f"sqlite:///{OUT_DIR / 'staffroom_bench.sqlite'}"

BENCH_DOMAIN = "bench.staffroom.test"
BENCH_PASSWORD = "bench-password-2026"
# The second-factor secret of the bench admins (each admin has their own replay counter, so one
# secret for all is fine): the load test computes codes from it with pyotp.
BENCH_TOTP_SECRET = "BENCHADMINTOTPSECRETBENCHADMIN23"
BENCH_SECRET_KEY = "bench-only-secret-key-0123456789-abcdefghijklmnop"
BENCH_AUDIT_KEY = "bench-only-audit-key-0123456789-abcdefghijklmnopq"


def bench_admin_email(n: int) -> str:
    """The e-mail of bench admin number `n` (1-based), scoped to the whole district."""
    return f"bench-admin-{n:02d}@{BENCH_DOMAIN}"


def postgres_reachable(host: str = PG_HOST, port: int = PG_PORT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def normalise_url(url: str) -> str:
    """postgres:// and postgresql:// go through psycopg 3 (as config.database_url does); a relative SQLite
    path is made absolute here, since Flask-SQLAlchemy would take it relative to the instance folder."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        return f"sqlite:///{Path(url[len('sqlite:///'):]).resolve()}"
    return url


def choose_database(explicit: str | None = None) -> str:
    """--database, else DATABASE_URL, else PostgreSQL `staffroom_bench` when reachable, else a SQLite file."""
    url = explicit or os.environ.get("DATABASE_URL")
    if url:
        return normalise_url(url)
    return DEFAULT_PG_URL if postgres_reachable() else DEFAULT_SQLITE_URL


def prepare_environment() -> None:
    """Keep the app's instance folder (file broker, uploads, checkpoints) inside bench/out, not instance/."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("STAFFROOM_INSTANCE", str(INSTANCE_DIR))
    os.environ.setdefault("AUDIT_CHECKPOINT_PATH", str(OUT_DIR / "audit-checkpoints.jsonl"))
