"""A newcomer's first visit, in real Chromium: each demo role logs in, switches language, sees the audit log grow."""
from __future__ import annotations

import re

import pyotp
import pytest

from app.school.demo import DEMO_PASSWORD, DEMO_TOTP_SECRETS

pytestmark = pytest.mark.browser


def _submit(page) -> None:
    page.locator("main form").locator("input[type=submit], button[type=submit]").first.click()
    page.wait_for_load_state()


def _log_in(page, base: str, local_part: str) -> None:
    page.goto(f"{base}/")
    assert "/auth/login" in page.url  # anonymous visitors are sent to the login page
    page.fill("input[name=email]", f"{local_part}@demo.staffroom.test")
    page.fill("input[name=password]", DEMO_PASSWORD)
    _submit(page)
    secret = DEMO_TOTP_SECRETS.get(local_part)
    if secret:
        assert "/auth/two-factor" in page.url
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        _submit(page)
    page.wait_for_load_state()
    assert page.url.rstrip("/") == base, page.url


def test_admin_logs_in_with_second_factor_switches_language_and_sees_the_audit_log_grow(page, live_server):
    _log_in(page, live_server, "admin")
    assert not page.locator("nav").get_by_text("Audit log").is_visible()  # inside the Administration menu
    page.locator("nav").get_by_role("button", name="Administration").or_(
        page.locator("nav").get_by_text("Administration")).first.click()
    page.locator("nav").get_by_text("Audit log").click()
    page.wait_for_load_state()
    assert page.url.rstrip("/").endswith("/audit")
    latest = page.locator("table tbody tr").all_inner_texts()[:3]
    assert any("auth.login_succeeded" in row and "admin@demo.staffroom.test" in row for row in latest), latest
    assert "auth.second_factor_passed" in latest[0]

    page.locator("footer").get_by_role("button", name="简体中文").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.locator("h1").inner_text() == "审计日志"

    page.goto(f"{live_server}/audit/")
    actions = page.locator("table tbody tr td:nth-child(4)").all_inner_texts()
    assert actions[0] == "auth.locale_changed", "switching language is itself recorded"

    page.locator("footer").get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Audit log"


def test_teacher_sees_their_own_dashboard_in_chinese_and_no_admin_pages(page, live_server, console_errors):
    _log_in(page, live_server, "teacher01")  # 李伟 prefers Chinese
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    nav = page.locator("nav").inner_text()
    assert "审计日志" not in nav and "Audit log" not in nav
    response = page.goto(f"{live_server}/audit/")
    assert response.status == 403
    assert page.locator("h1").inner_text() == "拒绝访问" or "403" in page.content()
    console_errors.clear()  # the 403 itself is reported by Chromium as a failed resource
    page.goto(f"{live_server}/notifications/")
    assert page.locator("h1").count() == 1


def test_head_and_parent_reach_their_dashboards(browser, live_server):
    for local_part in ("head2", "parent2"):
        context = browser.new_context(locale="en-GB")
        page = context.new_page()
        _log_in(page, live_server, local_part)
        assert page.locator("h1").count() >= 1
        page.get_by_role("button", name=re.compile("Sarah Miller|Anna Wilson")).click()
        page.get_by_role("button", name="Log out").click()
        page.wait_for_load_state()
        assert "/auth/login" in page.url or page.url.rstrip("/") == live_server
        page.goto(f"{live_server}/")
        assert "/auth/login" in page.url
        context.close()


def test_navigation_collapses_and_opens_on_a_phone(browser, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    _log_in(page, live_server, "teacher03")
    toggler = page.locator(".navbar-toggler")
    assert toggler.is_visible()
    assert not page.locator("#mainnav").is_visible()
    toggler.click()
    page.locator("#mainnav").wait_for(state="visible")
    assert not errors, errors
    context.close()
