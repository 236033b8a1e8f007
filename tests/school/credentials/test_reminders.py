"""Staged credential reminders: one per credential per offset, safe to run twice or late; an expired required
credential escalates once to the head; admins get one digest a day, never one message per credential."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.core.models import utcnow
from app.extensions import db
from app.general.notifications.models import Notification
from app.school.credentials import tasks
from app.school.credentials.models import CredentialReminder, Renewal
from app.school.credentials.services import reminders
from app.school.credentials.services.reminders import EXPIRED_OFFSET, send_credential_reminders
from tests import factories
from tests.school.credentials.conftest import TODAY, make_credential, make_type


def _expiring(staff, credential_type, days: int, *, on: date = TODAY):
    """A credential of `staff` whose last valid day is `days` after `on`."""
    expires = on + timedelta(days=days)
    return make_credential(staff, credential_type, issued_on=expires - timedelta(days=365 * 3), expires_on=expires)


def _keys(prefix: str = "credential") -> list[str]:
    stmt = sa.select(Notification.idempotency_key).where(Notification.idempotency_key.startswith(prefix))
    return sorted(db.session.scalars(stmt))


def _reminders(credential=None) -> list[tuple[int, int]]:
    stmt = sa.select(CredentialReminder.credential_id, CredentialReminder.offset_days).order_by(
        CredentialReminder.credential_id, CredentialReminder.offset_days)
    if credential is not None:
        stmt = stmt.where(CredentialReminder.credential_id == credential.id)
    return [tuple(row) for row in db.session.execute(stmt)]


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _to(user) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.recipient_user_id == user.id)
                                   .order_by(Notification.idempotency_key)))


@pytest.fixture
def admin_a(catalogue):
    return factories.make_user("admin", unit=catalogue.school_a)


@pytest.mark.parametrize(("days_left", "offset"), [
    (91, None), (90, 90), (31, 90), (30, 30), (8, 30), (7, 7), (1, 7), (0, 7), (-1, None)])
def test_the_reminder_due_is_the_nearest_offset_not_yet_passed(catalogue, days_left, offset):
    credential = _expiring(catalogue.teacher_a, catalogue.teach, days_left)
    send_credential_reminders(TODAY)
    if offset is None:
        assert _reminders(credential) == [] and _keys(f"credential:{credential.id}:reminder") == []
        return
    assert _reminders(credential) == [(credential.id, offset)]
    prefix = f"credential:{credential.id}:reminder:{offset}"
    assert _keys(f"credential:{credential.id}:") == [f"{prefix}:email", f"{prefix}:inbox"]


def test_a_teacher_is_reminded_in_the_portal_and_by_email_with_the_days_left(catalogue):
    user = catalogue.teacher_a.user
    credential = _expiring(catalogue.teacher_a, catalogue.teach, 30)
    counts = send_credential_reminders(TODAY)
    assert counts["reminders"] == 1
    email, inbox = _to(user)
    assert (email.channel, inbox.channel) == ("email", "inbox")
    assert email.recipient_address == user.email and email.status == "pending"
    assert inbox.status == "sent"
    assert "30" in email.subject and "Teaching certificate" in email.subject
    assert "/credentials/mine" in email.body_text and "Wei Li" in email.body_text
    assert email.context["credential_id"] == credential.id and email.context["days_left"] == 30


def test_running_twice_the_same_day_adds_no_notification_and_no_reminder_row(catalogue, admin_a):
    for days in (90, 30, 7, -3):
        _expiring(factories.make_staff(catalogue.school_a, email=f"p{days}@a.example"), catalogue.safe, days)
    first = send_credential_reminders(TODAY)
    assert first["reminders"] == 3 and first["escalations"] == 1 and first["digests"] == 1
    assert first["messages"] == 4 + 2  # an e-mail to each holder's address, the digest in the portal and by e-mail
    notifications, rows = _count(Notification), _count(CredentialReminder)
    second = send_credential_reminders(TODAY)
    assert second == {"reminders": 0, "escalations": 0, "digests": 0, "messages": 0}
    assert (_count(Notification), _count(CredentialReminder)) == (notifications, rows)


def test_a_run_after_a_missed_week_sends_one_reminder_per_credential(catalogue):
    late = _expiring(catalogue.teacher_a, catalogue.teach, 33)  # the 90-day reminder went out, then a week lost
    send_credential_reminders(TODAY)
    fresh = _expiring(catalogue.teacher_a2, catalogue.safe, 12)  # never reminded: 90 and 30 were missed too
    send_credential_reminders(TODAY + timedelta(days=7))
    assert _reminders(late) == [(late.id, 30), (late.id, 90)]
    assert _reminders(fresh) == [(fresh.id, 7)]  # the one due now, not 90 + 30 + 7
    assert len(_keys(f"credential:{fresh.id}:")) == 2


def test_every_offset_is_sent_once_walking_day_by_day(catalogue):
    credential = _expiring(catalogue.teacher_a, catalogue.teach, 100)
    for day in range(0, 110):
        send_credential_reminders(TODAY + timedelta(days=day))
    assert [offset for _id, offset in _reminders(credential)] == [7, 30, 90]
    assert len(_keys(f"credential:{credential.id}:reminder")) == 6


def test_no_smaller_offset_is_followed_by_a_larger_one(catalogue):
    """The expiry was corrected to a later date after the 7-day reminder: the scan does not restart at 90."""
    credential = _expiring(catalogue.teacher_a, catalogue.teach, 5)
    send_credential_reminders(TODAY)
    credential.expires_on = TODAY + timedelta(days=60)
    db.session.flush()
    send_credential_reminders(TODAY)
    assert _reminders(credential) == [(credential.id, 7)]


def test_departed_revoked_and_renewed_credentials_are_not_reminded(catalogue):
    departed = factories.make_staff(catalogue.school_a, status="departed", email="gone@a.example")
    gone = _expiring(departed, catalogue.safe, 30)
    revoked = _expiring(catalogue.teacher_a, catalogue.safe, 30)
    revoked.revoked_at, revoked.revoked_reason = utcnow(), "failed check"
    old = _expiring(catalogue.teacher_a2, catalogue.teach, 7)
    new = make_credential(catalogue.teacher_a2, catalogue.teach, issued_on=TODAY + timedelta(days=8))
    old.superseded_by_id = new.id
    db.session.flush()
    send_credential_reminders(TODAY)
    assert _reminders() == []
    assert not _keys(f"credential:{gone.id}:") and not _keys(f"credential:{revoked.id}:")


def test_a_later_period_recorded_directly_silences_the_old_one(catalogue):
    old = _expiring(catalogue.teacher_a, catalogue.safe, 7)
    make_credential(catalogue.teacher_a, catalogue.safe, issued_on=TODAY - timedelta(days=10))
    send_credential_reminders(TODAY)
    assert _reminders(old) == []


def test_inactive_types_and_credentials_that_never_expire_are_left_alone(catalogue):
    make_credential(catalogue.teacher_a, catalogue.title, issued_on=date(2010, 1, 1))
    catalogue.first_aid.is_active = False
    db.session.flush()
    _expiring(catalogue.teacher_a, catalogue.first_aid, 7)
    assert send_credential_reminders(TODAY)["reminders"] == 0


def test_a_holder_without_an_account_is_emailed_at_the_staff_address(catalogue, admin_a):
    staff = factories.make_staff(catalogue.school_a, email="no.account@a.example")
    silent = factories.make_staff(catalogue.school_a)  # neither account nor e-mail: only the digest lists them
    credential = _expiring(staff, catalogue.safe, 7)
    unreachable = _expiring(silent, catalogue.safe, 7)
    send_credential_reminders(TODAY)
    [row] = db.session.scalars(sa.select(Notification).where(
        Notification.idempotency_key.startswith(f"credential:{credential.id}:")))
    assert (row.channel, row.recipient_address, row.recipient_user_id) == ("email", "no.account@a.example", None)
    assert "/credentials/mine" not in row.body_text
    assert _keys(f"credential:{unreachable.id}:") == []
    [digest] = [n for n in _to(admin_a) if n.channel == "email"]
    assert {item["credential_id"] for item in digest.context["items"]} == {credential.id, unreachable.id}


def test_a_deactivated_account_is_not_used(catalogue):
    catalogue.teacher_a.user.is_active_account = False
    catalogue.teacher_a.email = "li.wei.home@a.example"
    db.session.flush()
    credential = _expiring(catalogue.teacher_a, catalogue.safe, 7)
    send_credential_reminders(TODAY)
    assert _keys(f"credential:{credential.id}:") == [f"credential:{credential.id}:reminder:7:email"]


def test_a_renewal_under_review_still_reminds_and_says_so(catalogue):
    credential = _expiring(catalogue.teacher_a, catalogue.teach, 30)
    db.session.add(Renewal(credential=credential, status="submitted"))
    db.session.flush()
    send_credential_reminders(TODAY)
    [email] = [n for n in _to(catalogue.teacher_a.user) if n.channel == "email"]
    assert email.context["renewing"] is True and "under review" in email.body_text


def test_the_teachers_language_is_used(catalogue):
    catalogue.teacher_b.user.locale = "zh"
    db.session.flush()
    _expiring(catalogue.teacher_b, catalogue.safe, 30)
    _expiring(catalogue.teacher_a, catalogue.safe, 30)
    send_credential_reminders(TODAY)
    assert {n.locale for n in _to(catalogue.teacher_b.user)} == {"zh"}
    assert {n.locale for n in _to(catalogue.teacher_a.user)} == {"en"}


def test_names_stay_plain_text(catalogue):
    staff = factories.make_staff(catalogue.school_a, family_name="<script>alert(1)</script>", given_name="O'Hara",
                                 email="x@a.example")
    _expiring(staff, catalogue.safe, 7)
    send_credential_reminders(TODAY)
    [row] = db.session.scalars(sa.select(Notification).where(Notification.recipient_address == "x@a.example"))
    assert "<script>alert(1)</script>" in row.body_text and "O'Hara" in row.body_text
    assert row.body_html is None  # no HTML variant: nothing a mail client could run


# --- the admins' digest --------------------------------------------------------------------------------------


def test_three_hundred_expiring_together_make_one_digest_per_admin_in_scope(catalogue, admin_a, org):
    district = factories.make_user("admin", unit=org.district)
    admin_b = factories.make_user("admin", unit=catalogue.school_b, locale="zh")
    people = [factories.make_staff(catalogue.school_a, family_name=f"Person{n:03d}") for n in range(300)]
    credentials = [_expiring(person, catalogue.safe, 30) for person in people]
    counts = send_credential_reminders(TODAY)
    assert counts["reminders"] == 300 and counts["digests"] == 2
    key = f"credentials:digest:{admin_a.id}:{TODAY.isoformat()}:"
    assert sorted(n.idempotency_key.rsplit(":", 1)[1] for n in _to(admin_a)) == ["email", "inbox"]
    assert all(n.idempotency_key.startswith(key) for n in _to(admin_a))
    email = next(n for n in _to(admin_a) if n.channel == "email")
    assert email.context["count"] == 300
    assert {item["credential_id"] for item in email.context["items"]} == {c.id for c in credentials}
    assert all(f"Person{n:03d}" in email.body_text for n in range(300))
    assert "/credentials/" in email.body_text
    assert len(_to(district)) == 2
    assert _to(admin_b) == []


def test_a_very_long_digest_lists_the_first_ones_and_counts_the_rest(catalogue, admin_a, monkeypatch):
    monkeypatch.setattr(reminders, "DIGEST_MAX_ITEMS", 2)
    for n in range(5):
        _expiring(factories.make_staff(catalogue.school_a, family_name=f"Person{n}"), catalogue.safe, 7 + n % 2)
    send_credential_reminders(TODAY)
    [email] = [n for n in _to(admin_a) if n.channel == "email"]
    assert (email.context["count"], len(email.context["items"]), email.context["more"]) == (5, 2, 3)
    assert "3 more" in email.body_text


def test_the_digest_lists_only_the_admins_scope_and_uses_their_language(catalogue, admin_a):
    admin_b = factories.make_user("admin", unit=catalogue.school_b, locale="zh")
    in_a = _expiring(catalogue.teacher_a, catalogue.safe, 7)
    in_b = _expiring(catalogue.teacher_b, catalogue.safe, 30)
    send_credential_reminders(TODAY)
    [mail_a] = [n for n in _to(admin_a) if n.channel == "email"]
    [mail_b] = [n for n in _to(admin_b) if n.channel == "email"]
    assert [item["credential_id"] for item in mail_a.context["items"]] == [in_a.id]
    assert [item["credential_id"] for item in mail_b.context["items"]] == [in_b.id]
    assert (mail_a.locale, mail_b.locale) == ("en", "zh")


def test_an_admin_with_nothing_due_gets_nothing(catalogue, admin_a):
    _expiring(catalogue.teacher_b, catalogue.safe, 7)
    send_credential_reminders(TODAY)
    assert _to(admin_a) == []


def test_a_second_run_the_same_day_with_nothing_new_sends_no_second_digest(catalogue, admin_a):
    _expiring(catalogue.teacher_a, catalogue.safe, 7)
    send_credential_reminders(TODAY)
    send_credential_reminders(TODAY)
    send_credential_reminders(TODAY + timedelta(days=1))
    assert len(_to(admin_a)) == 2


def test_items_found_by_a_later_run_the_same_day_reach_the_admin_in_a_second_digest(catalogue, admin_a):
    first = _expiring(catalogue.teacher_a, catalogue.safe, 7)
    send_credential_reminders(TODAY)
    later = _expiring(catalogue.teacher_a2, catalogue.safe, 30)  # recorded after the morning run
    send_credential_reminders(TODAY)
    digests = sorted((n for n in _to(admin_a) if n.channel == "email"), key=lambda n: n.id)
    assert [[item["credential_id"] for item in n.context["items"]] for n in digests] == [[first.id], [later.id]]


# --- expiry escalation ---------------------------------------------------------------------------------------


@pytest.fixture
def head_a(catalogue):
    return factories.make_user("head", unit=catalogue.school_a)


def test_an_expired_required_credential_escalates_once_to_the_head_and_the_holder(catalogue, head_a):
    head_b = factories.make_user("head", unit=catalogue.school_b)
    credential = _expiring(catalogue.teacher_a, catalogue.safe, -1)
    counts = send_credential_reminders(TODAY)
    assert counts["escalations"] == 1
    assert _reminders(credential) == [(credential.id, EXPIRED_OFFSET)]
    key = f"credentials:expired:{head_a.id}:{TODAY.isoformat()}:"
    assert sorted(n.idempotency_key.rsplit(":", 1)[1] for n in _to(head_a)) == ["email", "inbox"]
    assert all(n.idempotency_key.startswith(key) for n in _to(head_a))
    head_mail = next(n for n in _to(head_a) if n.channel == "email")
    assert "Wei Li" in head_mail.body_text and "Safeguarding check" in head_mail.body_text
    assert _keys(f"credential:{credential.id}:") == [f"credential:{credential.id}:expired:email",
                                                     f"credential:{credential.id}:expired:inbox"]
    for day in range(1, 10):
        send_credential_reminders(TODAY + timedelta(days=day))
    assert len(_to(head_a)) == 2 and _to(head_b) == []
    assert _reminders(credential) == [(credential.id, EXPIRED_OFFSET)]


def test_the_escalation_waits_for_the_grace_days(catalogue, head_a):
    lenient = make_type("LENIENT", "Lenient check", grace_days=30)
    credential = _expiring(catalogue.teacher_a, lenient, -30)  # the last day of grace
    send_credential_reminders(TODAY)
    assert _reminders(credential) == []
    send_credential_reminders(TODAY + timedelta(days=1))
    assert _reminders(credential) == [(credential.id, EXPIRED_OFFSET)]


def test_a_teaching_credential_escalates_only_for_someone_teaching_now(catalogue, head_a):
    idle = _expiring(catalogue.teacher_a2, catalogue.teach, -10)
    busy = _expiring(catalogue.teacher_a, catalogue.teach, -10)
    homeroom_only = _expiring(catalogue.teacher_b, catalogue.first_aid, -10)
    school_class = factories.make_class(catalogue.school_a)
    factories.make_assignment(school_class, catalogue.teacher_a, subject=catalogue.math)
    factories.make_assignment(school_class, catalogue.teacher_a2, subject=catalogue.math,
                              ends_on=TODAY - timedelta(days=30))
    send_credential_reminders(TODAY)
    assert _reminders(busy) == [(busy.id, EXPIRED_OFFSET)]
    assert _reminders(idle) == [] and _reminders(homeroom_only) == []


def test_a_credential_never_required_does_not_escalate(catalogue, head_a):
    optional = make_type("OPT", "Optional course", required_for="none")
    credential = _expiring(catalogue.teacher_a, optional, -5)
    send_credential_reminders(TODAY)
    assert _reminders(credential) == [] and _to(head_a) == []


def test_escalations_of_one_day_make_one_message_per_head(catalogue, head_a, admin_a):
    credentials = [_expiring(catalogue.teacher_a, catalogue.safe, -2),
                   _expiring(catalogue.teacher_a2, catalogue.safe, -40)]
    send_credential_reminders(TODAY)
    head_mail = next(n for n in _to(head_a) if n.channel == "email")
    assert sorted(item["credential_id"] for item in head_mail.context["items"]) == sorted(c.id for c in credentials)
    digest = next(n for n in _to(admin_a) if n.channel == "email")
    assert digest.context["expired_count"] == 2


# --- the task --------------------------------------------------------------------------------------------------


def test_the_task_runs_for_a_given_day_commits_and_is_safe_twice(catalogue):
    _expiring(catalogue.teacher_a, catalogue.safe, 7)
    assert tasks.send_reminders(TODAY.isoformat())["reminders"] == 1
    assert tasks.send_reminders(TODAY.isoformat())["reminders"] == 0


def test_the_task_is_scheduled_daily_and_registered(app):
    entries = [e for e in app.config["CELERY"]["beat_schedule"].values() if e["task"] == "credentials.send_reminders"]
    assert len(entries) == 1
    assert "app.school.credentials.tasks" in app.extensions["celery"].conf.include


def test_a_reminder_with_one_day_left_says_tomorrow(catalogue):
    _expiring(catalogue.teacher_a, catalogue.safe, 1)
    send_credential_reminders(TODAY)
    email = next(n for n in _to(catalogue.teacher_a.user) if n.channel == "email")
    assert email.subject == "Your Safeguarding check expires tomorrow"
    assert "tomorrow." in email.body_text and "1 days" not in email.body_text
