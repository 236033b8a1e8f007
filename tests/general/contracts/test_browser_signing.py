"""In real Chromium, on the demo data: a teacher reviews and signs the waiting contract with the e-mailed code,
the head countersigns, and the pages work on a phone without scripts the CSP would block."""
from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from app import create_app
from app.core.ensure_database import drop, ensure
from app.extensions import db as _db
from app.school.demo import DEMO_PASSWORD, DEMO_TOTP_SECRETS
from config import TestConfig

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The real app (CSRF on) with the demo loaded, served on 127.0.0.1 from its own database."""
    url = sa.make_url(os.environ["TEST_DATABASE_URL"])
    if url.get_backend_name() == "postgresql":
        database = url.set(database=f"{url.database}_contracts_browser").render_as_string(hide_password=False)
        drop(database)
        ensure(database)
    else:
        database = f"sqlite:///{Path(tmp_path_factory.mktemp('contracts-browser')) / 'browser.sqlite'}"
    application = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database, WTF_CSRF_ENABLED=True)
    with application.app_context():
        _db.drop_all()
        _db.create_all()
        from app.school import demo

        demo.load_all()
        _db.session.commit()
        _db.session.remove()
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield application, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()
    if database.startswith("postgresql"):
        drop(database)


@pytest.fixture
def in_chromium():
    """Run a scenario with its own Chromium in a thread of its own: another suite's Playwright may already be
    running an event loop in the main thread, and Playwright's sync API refuses to start inside one."""

    def run(scenario):
        def body():
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                try:
                    return scenario(browser)
                finally:
                    browser.close()

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(body).result()

    return run


def _page(chromium, errors: list, **options):
    context = chromium.new_context(locale="en-GB", **options)
    page = context.new_page()
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())  # data-confirm buttons
    return page


def _log_in(page, base: str, local_part: str) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("input[name=email]", f"{local_part}@demo.staffroom.test")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("main form button[type=submit], main form input[type=submit]").first.click()
    page.wait_for_load_state()
    if local_part in DEMO_TOTP_SECRETS:
        page.fill("input[name=code]", pyotp.TOTP(DEMO_TOTP_SECRETS[local_part]).now())
        page.locator("main form button[type=submit], main form input[type=submit]").first.click()
        page.wait_for_load_state()


def _emailed_code(app, contract_id: int) -> str:
    from app.general.notifications.models import Notification

    with app.app_context():
        body = _db.session.scalar(
            sa.select(Notification.body_text).where(Notification.idempotency_key.like(f"contract:{contract_id}:code:%"))
            .order_by(Notification.id.desc()).limit(1))
        _db.session.remove()
    return re.search(r"\b(\d{6})\b", body).group(1)


def _contract(app, contract_id: int):
    from app.general.contracts.models import Contract

    with app.app_context():
        contract = _db.session.get(Contract, contract_id)
        state = (contract.status, [(s.signer_role, s.ip, s.text_sha256) for s in contract.signatures],
                 contract.rendered_sha256)
        _db.session.remove()
    return state


def test_a_teacher_signs_the_waiting_contract_and_the_head_countersigns(live, in_chromium):
    in_chromium(lambda chromium: _sign_and_countersign(chromium, *live))


def _sign_and_countersign(chromium, app, base):
    errors: list[str] = []
    page = _page(chromium, errors, viewport={"width": 1280, "height": 900})
    _log_in(page, base, "teacher03")
    page.locator("nav").get_by_role("link", name="My contracts").click()
    page.wait_for_load_state()
    assert "Waiting for your signature" in page.content()
    page.get_by_role("link", name=re.compile("Review and sign")).first.click()
    page.wait_for_load_state()
    contract_id = int(re.search(r"/contracts/mine/(\d+)/sign", page.url).group(1))
    assert "Confidentiality agreement" in page.locator("pre.contract-text").inner_text()
    page.get_by_role("button", name="Send me a code").click()
    page.wait_for_load_state()
    assert "A code has been sent" in page.content()
    page.fill("input[name=code]", _emailed_code(app, contract_id))
    page.get_by_role("button", name="Sign the contract").click()
    page.wait_for_load_state()
    assert "You have signed the contract" in page.content()
    status, signatures, digest = _contract(app, contract_id)
    assert status == "signed" and signatures == [("party", "127.0.0.1", digest)]
    page.context.close()

    head = _page(chromium, errors, viewport={"width": 1280, "height": 900})
    _log_in(head, base, "head1")
    head.goto(f"{base}/contracts/{contract_id}")
    head.locator("form[action$='/countersign'] button").click()
    head.wait_for_load_state()
    status, signatures, digest = _contract(app, contract_id)
    assert status == "active" and [role for role, _ip, _sha in signatures] == ["party", "school"]
    head.goto(f"{base}/contracts/{contract_id}/print")
    assert digest in head.content() and head.locator(".signature-record").count() == 2
    head.context.close()
    assert not errors, errors


def test_the_contract_pages_fit_a_phone(live, in_chromium):
    in_chromium(lambda chromium: _phone(chromium, live[1]))


def _phone(chromium, base):
    errors: list[str] = []
    page = _page(chromium, errors, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    _log_in(page, base, "teacher01")
    page.goto(f"{base}/contracts/mine")
    page.locator(".list-group a").first.click()
    page.wait_for_load_state()
    for path in (page.url, f"{base}/contracts/mine"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    page.context.close()
    assert not errors, errors
