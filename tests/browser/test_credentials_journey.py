"""Issue 4's journey in real Chromium: a teacher whose teaching certificate expires in 28 days sees it on the
dashboard and on My certificates with the countdown and the hours progress, records training (with evidence) and
submits a renewal; an admin verifies the training; the head approves; the teacher sees the new expiry, and the
compliance page no longer lists the certificate as due.

The data is set up here on the live server's database (teacher03, Emily Johnson of the demo school RS1), so the
journey does not depend on what the demo loads for credentials. Assertions on the reviewers' pages use test ids
and form actions, not words: the head reads the portal in Chinese.
"""
from __future__ import annotations

import os
import time
from datetime import date, timedelta
from decimal import Decimal

import pyotp
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.auth.models import User
from app.school.credentials.models import Credential, CredentialType, RequiredFor, TrainingRecord, TrainingStatus
from app.school.credentials.status import add_years
from app.school.demo import DEMO_PASSWORD, DEMO_TOTP_SECRETS
from app.school.staff.models import StaffMember
from app.school.staff.queries import local_today

pytestmark = pytest.mark.browser

TEACHER = "teacher03"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SHOTS = os.environ.get("CREDENTIALS_SCREENSHOTS")  # a folder: save screenshots there (for looking at the pages)


def _shot(page, name: str) -> None:
    """Desktop and phone screenshots of the current page, when CREDENTIALS_SCREENSHOTS names a folder."""
    if not SHOTS:
        return
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=os.path.join(SHOTS, f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(size)


def _set_up(live_app) -> tuple[int, date, date]:
    """Teacher03's teaching certificate with its last valid day in 28 days and 312 verified hours in the period."""
    with live_app.app_context():
        today = local_today()
        teach = db.session.scalar(sa.select(CredentialType).where(CredentialType.code == "TEACH"))
        if teach is None:
            teach = CredentialType(code="TEACH", name="Teaching certificate", validity_years=5, grace_days=0,
                                   reminder_offsets="90,30,7", renewal_hours=Decimal(360),
                                   required_for=RequiredFor.TEACHING)
            db.session.add(teach)
        staff = db.session.scalar(sa.select(StaffMember).join(User, User.id == StaffMember.user_id)
                                  .where(User.email == f"{TEACHER}@demo.staffroom.test"))
        expires = today + timedelta(days=28)
        credential = db.session.scalar(sa.select(Credential).where(
            Credential.staff_id == staff.id, Credential.type_id == teach.id, Credential.revoked_at.is_(None),
            Credential.superseded_by_id.is_(None)))
        if credential is None:
            credential = Credential(staff=staff, type=teach, number="JOURNEY-1", issuer="Education Bureau",
                                    issued_on=add_years(expires + timedelta(days=1), -5), expires_on=expires)
            db.session.add(credential)
        else:
            credential.issued_on, credential.expires_on = add_years(expires + timedelta(days=1), -5), expires
        db.session.flush()
        db.session.add(TrainingRecord(staff=staff, completed_on=credential.issued_on + timedelta(days=100),
                                      provider="Provincial institute", topic="National training programme",
                                      hours=Decimal(312), status=TrainingStatus.VERIFIED))
        db.session.commit()
        from app.school.credentials.services.reminders import send_credential_reminders

        send_credential_reminders(today)  # the nightly job, run now: the 30-day reminder is due
        db.session.commit()
        result = credential.id, expires, today
        db.session.remove()
        return result


REVIEWERS = {"journey-admin": ("admin", "RIVERSIDE"), "journey-head": ("head", "RS1")}
SECRETS = {local_part: pyotp.random_base32() for local_part in REVIEWERS}


def _reviewers(live_app) -> None:
    """An admin of the district and a head of RS1 of the journey's own (the demo accounts' one-time codes are left
    to the other browser tests: a code step used here could not be used there again)."""
    from app.core.models import utcnow
    from app.general.auth.models import UserScope
    from app.general.auth.passwords import hash_password
    from app.general.org.models import OrgUnit

    with live_app.app_context():
        for local_part, (role, unit_code) in REVIEWERS.items():
            email = f"{local_part}@demo.staffroom.test"
            user = db.session.scalar(sa.select(User).where(User.email == email))
            if user is None:
                unit = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == unit_code))
                user = User(email=email, display_name=local_part, role=role, locale="zh" if role == "head" else "en",
                            password_hash=hash_password(DEMO_PASSWORD))
                user.scopes.append(UserScope(org_unit=unit))
                db.session.add(user)
            user.totp_secret, user.totp_enabled_at, user.totp_last_counter = SECRETS[local_part], utcnow(), None
        db.session.commit()
        db.session.remove()


def _totp(live_app, local_part: str) -> str:
    """A code the login accepts: the current step, or the next one when the current was already used."""
    secret = SECRETS.get(local_part) or DEMO_TOTP_SECRETS[local_part]
    with live_app.app_context():
        last = db.session.scalar(sa.select(User.totp_last_counter).where(
            User.email == f"{local_part}@demo.staffroom.test"))
        db.session.remove()
    totp = pyotp.TOTP(secret)
    counter = totp.timecode(time.time())
    if last is not None and counter <= last:
        counter = last + 1
    return totp.generate_otp(counter)


def _submit(page) -> None:
    page.locator("main form").locator("input[type=submit], button[type=submit]").first.click()
    page.wait_for_load_state()


def _log_in(page, base: str, live_app, local_part: str) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("input[name=email]", f"{local_part}@demo.staffroom.test")
    page.fill("input[name=password]", DEMO_PASSWORD)
    _submit(page)
    if local_part in DEMO_TOTP_SECRETS or local_part in SECRETS:
        assert "/auth/two-factor" in page.url
        page.fill("input[name=code]", _totp(live_app, local_part))
        _submit(page)
    assert page.url.rstrip("/") == base, page.url


def test_teacher_renews_an_expiring_certificate_and_the_head_approves(browser, page, live_server, live_app):
    credential_id, expires, today = _set_up(live_app)
    _reviewers(live_app)
    base = live_server

    # the teacher: the reminder in the inbox, dashboard → My certificates with the countdown and the hours
    _log_in(page, base, live_app, TEACHER)
    page.goto(f"{base}/notifications/")
    inbox = page.locator("main").inner_text()
    assert "Teaching certificate expires in" in inbox, inbox
    page.goto(base + "/")
    expiries = page.get_by_test_id("expiries")
    assert "expires in 28 days" in expiries.inner_text()
    page.locator("nav").get_by_role("link", name="My certificates").click()
    card = page.locator(f"[data-credential-id='{credential_id}']")
    assert "expires in 28 days" in card.inner_text() and "312 / 360 hours" in card.inner_text()
    _shot(page, "mine-desktop")

    # records 48 hours of training with a certificate of attendance
    page.get_by_role("link", name="Add training").first.click()
    page.fill("input[name=completed_on]", (today - timedelta(days=2)).isoformat())
    page.fill("input[name=provider]", "District institute")
    page.fill("input[name=topic]", "Formative assessment")
    page.fill("input[name=hours]", "48")
    page.set_input_files("input[name=document]", files=[{"name": "attendance.pdf", "mimeType": "application/pdf",
                                                           "buffer": PDF}])
    _submit(page)
    assert "/credentials/mine" in page.url
    training_row = page.locator("[data-testid=training] tr", has_text="Formative assessment")
    assert "Awaiting verification" in training_row.inner_text()

    # submits the renewal
    card = page.locator(f"[data-credential-id='{credential_id}']")
    card.get_by_role("link", name="Renew").click()
    assert "312 / 360 hours" in page.get_by_test_id("hours-progress").inner_text()
    page.fill("textarea[name=note]", "Renewal for the next five years.")
    _submit(page)
    assert f"/credentials/mine/{credential_id}" in page.url
    assert "Renewal under review" in page.locator("h1").inner_text()
    _shot(page, "own")

    # an admin verifies the training
    admin = browser.new_context(locale="en-GB")
    admin_page = admin.new_page()
    _log_in(admin_page, base, live_app, "journey-admin")
    admin_page.goto(f"{base}/credentials/training/")
    row = admin_page.locator("[data-training-id]", has_text="Formative assessment")
    row.locator("form[action$='/verify'] button").click()
    admin_page.wait_for_load_state()
    assert admin_page.locator("[data-training-id]", has_text="Formative assessment").count() == 0
    _shot(admin_page, "training-queue")
    admin_page.goto(f"{base}/credentials/?status=expiring")
    _shot(admin_page, "index")
    admin_page.goto(f"{base}/credentials/{credential_id}")
    _shot(admin_page, "show")
    admin.close()

    # the head (reading in Chinese) approves; the new expiry is shown before and after
    head = browser.new_context(locale="zh-CN")
    head_page = head.new_page()
    _log_in(head_page, base, live_app, "journey-head")
    head_page.goto(f"{base}/credentials/compliance")  # before: the certificate is due within 30 days
    assert head_page.locator("tr[data-problem='expiring_30']", has_text="Emily Johnson").filter(
        has_text="Teaching certificate").count() == 1
    head_page.goto(f"{base}/credentials/renewals/")
    head_page.locator("[data-renewal-id] a[href*='/credentials/renewals/']").first.wait_for()
    head_page.goto(f"{base}/credentials/{credential_id}")
    head_page.locator("main a[href*='/credentials/renewals/']").first.click()
    new_expiry = add_years(expires + timedelta(days=1), 5) - timedelta(days=1)
    assert head_page.get_by_test_id("new-expiry").count() == 1
    _shot(head_page, "renewal")
    head_page.locator("form[action$='/approve'] button").click()
    head_page.wait_for_load_state()
    assert head_page.get_by_test_id("new-period").count() == 1
    head_page.goto(f"{base}/credentials/compliance")  # after: the approved renewal continues the period
    assert head_page.locator("tr[data-staff-id]", has_text="Emily Johnson").filter(
        has_text="Teaching certificate").count() == 0
    head.close()

    # the teacher sees the new period
    page.goto(f"{base}/credentials/mine")
    cards = page.get_by_test_id("certificates").inner_text()
    assert "Valid" in cards and f"expires in {(new_expiry - today).days} days" in cards
    _shot(page, "mine-after")
