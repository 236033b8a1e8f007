"""Real-Chromium fixtures: a live server on its own database, and a Playwright browser.

The server runs the real app (CSRF on, demo data loaded) in a thread on 127.0.0.1; its database
is a SQLite file, or a private PostgreSQL database in the PostgreSQL pass. Chromium is Debian's
(/usr/bin/chromium); no browser is ever downloaded.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from app import create_app
from app.core.ensure_database import drop, ensure
from app.extensions import db as _db
from config import TestConfig

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def _browser_database(tmp_dir: Path) -> str:
    url = sa.make_url(os.environ["TEST_DATABASE_URL"])
    if url.get_backend_name() == "postgresql":
        private = url.set(database=f"{url.database}_browser").render_as_string(hide_password=False)
        ensure(private)
        return private
    return f"sqlite:///{tmp_dir / 'browser.sqlite'}"


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    database = _browser_database(tmp_path_factory.mktemp("browser"))
    application = create_app(
        TestConfig, SQLALCHEMY_DATABASE_URI=database, WTF_CSRF_ENABLED=True, SERVER_NAME=None,
    )
    with application.app_context():
        _db.drop_all()
        _db.create_all()
        from app.school import demo

        demo.load_all()
        _db.session.commit()
        _db.session.remove()
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()
    if database.startswith("postgresql"):
        drop(database)


@pytest.fixture(scope="session")
def live_server(live_app):
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors seen by `page`; a test that provokes one on purpose (a 403 page) removes it."""
    return []


@pytest.fixture
def page(browser, console_errors):
    """A fresh browser context per test (no shared cookies); console errors fail the test."""
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = console_errors
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"browser console errors (CSP violations or script errors): {errors}"
