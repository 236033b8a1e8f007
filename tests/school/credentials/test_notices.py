"""Messages of the renewal workflow: reviewers in scope are told of a request, the holder of the decision."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.notifications.models import Notification
from app.school.credentials import services
from app.school.credentials.models import Credential
from tests import factories
from tests.school.credentials.conftest import TODAY, make_credential


@pytest.fixture
def reviewers(catalogue):
    return {"admin": factories.make_user("admin", unit=catalogue.school_a),
            "head": factories.make_user("head", unit=catalogue.school_a, locale="zh"),
            "outsider": factories.make_user("admin", unit=catalogue.school_b)}


def _to(user) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.recipient_user_id == user.id)
                                   .order_by(Notification.idempotency_key)))


def _renewal(catalogue, staff=None):
    staff = staff or catalogue.teacher_a
    credential = make_credential(staff, catalogue.safe, issued_on=TODAY - timedelta(days=3 * 365 - 20))
    return services.start_renewal(credential, note="Renewed check attached", actor=staff.user)


def test_a_request_tells_the_reviewers_in_scope_in_the_portal(catalogue, reviewers):
    renewal = _renewal(catalogue)
    [to_admin] = _to(reviewers["admin"])
    [to_head] = _to(reviewers["head"])
    assert _to(reviewers["outsider"]) == [] and _to(catalogue.teacher_a.user) == []
    assert (to_admin.channel, to_admin.idempotency_key) == ("inbox", f"renewal:{renewal.id}:submitted:user:"
                                                                     f"{reviewers['admin'].id}:inbox")
    assert "Safeguarding check" in to_admin.subject and "Wei Li" in to_admin.subject
    assert "/credentials/" in to_admin.body_text
    assert to_head.locale == "zh"


def test_an_approval_tells_the_holder_in_the_portal_and_by_email(catalogue, reviewers):
    renewal = _renewal(catalogue)
    services.approve_renewal(renewal, actor=reviewers["admin"], on=TODAY)
    mails = [n for n in _to(catalogue.teacher_a.user) if n.idempotency_key.startswith(f"renewal:{renewal.id}:")]
    assert sorted(n.channel for n in mails) == ["email", "inbox"]
    email = next(n for n in mails if n.channel == "email")
    assert "is approved" in email.subject and "not approved" not in email.body_text
    assert "/credentials/mine" in email.body_text


def test_an_approval_tells_the_holder_the_new_expiry(catalogue, reviewers):
    renewal = _renewal(catalogue)
    services.approve_renewal(renewal, actor=reviewers["admin"], on=TODAY)
    email = next(n for n in _to(catalogue.teacher_a.user) if n.channel == "email")
    successor_expiry = db.session.get(Credential, renewal.new_credential_id).expires_on
    assert email.context["new_expires_on"] == successor_expiry.isoformat()


def test_a_rejection_gives_the_reason_in_the_holders_language(catalogue, reviewers):
    catalogue.teacher_a.user.locale = "zh"
    db.session.flush()
    renewal = _renewal(catalogue)
    services.reject_renewal(renewal, reason="The certificate scan is unreadable", actor=reviewers["admin"])
    email = next(n for n in _to(catalogue.teacher_a.user) if n.channel == "email")
    assert email.locale == "zh"
    assert "The certificate scan is unreadable" in email.body_text


def test_names_and_reasons_stay_plain_text(catalogue, reviewers):
    staff = factories.make_staff(catalogue.school_a, family_name="<script>x</script>", given_name="{{7*7}}",
                                 user=factories.make_user("teacher", unit=catalogue.school_a))
    renewal = _renewal(catalogue, staff)
    services.reject_renewal(renewal, reason="<b>O'Hara</b>", actor=reviewers["admin"])
    [to_admin] = _to(reviewers["admin"])
    assert "<script>x</script>" in to_admin.subject and "{{7*7}}" in to_admin.subject and "49" not in to_admin.subject
    email = next(n for n in _to(staff.user) if n.channel == "email")
    assert "<b>O'Hara</b>" in email.body_text and email.body_html is None
