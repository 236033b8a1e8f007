"""The parent's notice: in the portal (own notices only) and through the signed link (no login)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.audit.models import AuditEvent
from app.school.classes.models import Student, StudentGuardian
from app.school.offboarding.models import ParentNotice
from app.school.offboarding.services import notices
from tests import factories
from tests.school.offboarding.conftest import to_reassigned

SECRET = "a dispute with the deputy head"


@pytest.fixture
def notified(departure, today, org):
    """Reassigned (everything to the colleague): the twin guardian and one other guardian have portal accounts."""
    d = departure
    d.twin_guardian.user = factories.make_user("parent", unit=org.school_a)
    d.guardians[0].user = factories.make_user("parent", unit=org.school_a)
    d.guardians[1].locale = "en"  # reads the signed link in English (the others in Chinese)
    case = to_reassigned(d, private_reason=SECRET)
    db.session.commit()  # the setup survives a view's rollback
    return case


def _notice_of(guardian) -> ParentNotice:
    return db.session.scalar(sa.select(ParentNotice).where(ParentNotice.guardian_id == guardian.id))


def _acknowledgements(case) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.subject_type == "DepartureCase", AuditEvent.subject_id == str(case.id),
        AuditEvent.action == "offboarding.notice_acknowledged"))


def _twins(d) -> list[str]:
    return [s.full_name for s in d.students if s.given_name.startswith("Twin")]


def test_a_parent_sees_their_notice_with_each_child(client, departure, notified):
    d = departure
    factories.log_in(client, d.twin_guardian.user)
    listing = client.get("/departures/notices").get_data(as_text=True)
    notice = _notice_of(d.twin_guardian)
    assert listing.count('data-testid="my-notice"') == 1 and f'data-notice-id="{notice.id}"' in listing
    html = client.get(f"/departures/notices/{notice.id}").get_data(as_text=True)
    assert html.count('data-testid="notice-child"') == 2
    for name in _twins(d):
        assert name in html
    assert "7(2)" in html and "7(3)" in html and "Maths" in html and "homeroom teacher" in html
    assert d.leaving.full_name in html and d.colleague.full_name in html
    assert "We are writing to tell you about a change of teacher" in html
    assert SECRET not in html and SECRET not in listing
    assert d.guardians[1].full_name not in html


def test_a_parent_cannot_read_or_acknowledge_another_parents_notice(client, departure, notified):
    d = departure
    factories.log_in(client, d.guardians[0].user)
    other = _notice_of(d.twin_guardian)
    response = client.get(f"/departures/notices/{other.id}")
    assert response.status_code in (403, 404)
    body = response.get_data(as_text=True)
    assert not any(name in body for name in _twins(d)) and d.colleague.full_name not in body
    assert client.post(f"/departures/notices/{other.id}/acknowledge").status_code in (403, 404)
    listing = client.get("/departures/notices").get_data(as_text=True)
    assert f'data-notice-id="{other.id}"' not in listing and not any(name in listing for name in _twins(d))
    db.session.refresh(other)
    assert other.acknowledged_at is None


def test_acknowledging_twice_in_the_portal_records_once(client, departure, notified):
    d = departure
    factories.log_in(client, d.twin_guardian.user)
    notice = _notice_of(d.twin_guardian)
    first = client.post(f"/departures/notices/{notice.id}/acknowledge", follow_redirects=True)
    assert "Thank you" in first.get_data(as_text=True)
    db.session.refresh(notice)
    stamp = notice.acknowledged_at
    assert stamp is not None and notice.acknowledged_via == "portal"
    second = client.post(f"/departures/notices/{notice.id}/acknowledge", follow_redirects=True)
    assert "already" in second.get_data(as_text=True) and 'data-testid="acknowledged"' in second.get_data(
        as_text=True)
    db.session.refresh(notice)
    assert notice.acknowledged_at == stamp and _acknowledgements(notified) == 1


def test_the_signed_link_works_without_login_and_acknowledges_once(client, departure, notified):
    d = departure
    guardian = d.guardians[1]  # no portal account
    notice = _notice_of(guardian)
    token = notices.token_for(notice.id, guardian.id)
    html = client.get(f"/departures/notice/{token}").get_data(as_text=True)
    assert "I have read this" in html and d.colleague.full_name in html
    child = db.session.scalar(sa.select(Student).join(StudentGuardian).where(
        StudentGuardian.guardian_id == guardian.id))
    assert child.full_name in html
    assert SECRET not in html and "/departures/notices" not in html  # no portal navigation for a visitor
    for _ in range(2):
        assert client.post(f"/departures/notice/{token}/acknowledge").status_code == 302
    db.session.refresh(notice)
    assert notice.acknowledged_via == "link" and _acknowledgements(notified) == 1
    assert 'data-testid="acknowledged"' in client.get(f"/departures/notice/{token}").get_data(as_text=True)


def test_a_tampered_or_foreign_token_is_a_404_without_content(client, departure, notified):
    d = departure
    notice = _notice_of(d.guardians[1])
    token = notices.token_for(notice.id, d.guardians[1].id)
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for bad in (tampered, "x", notices.token_for(notice.id, d.guardians[2].id)):
        response = client.get(f"/departures/notice/{bad}")
        assert response.status_code == 404
        body = response.get_data(as_text=True)
        assert "This link is not valid" in body and d.colleague.full_name not in body
        assert client.post(f"/departures/notice/{bad}/acknowledge").status_code == 404
    db.session.refresh(notice)
    assert notice.acknowledged_at is None


def test_no_private_reason_in_any_notice_page_or_outbox_body(client, departure, notified):
    from app.general.notifications.models import Notification

    d = departure
    bodies = db.session.scalars(sa.select(Notification.body_text)).all()
    assert bodies and not any(SECRET in (body or "") for body in bodies)
    for notice in db.session.scalars(sa.select(ParentNotice)):
        token = notices.token_for(notice.id, notice.guardian_id)
        assert SECRET not in client.get(f"/departures/notice/{token}").get_data(as_text=True)
    factories.log_in(client, d.twin_guardian.user)
    assert SECRET not in client.get(f"/departures/notices/{_notice_of(d.twin_guardian).id}").get_data(as_text=True)


def test_a_parent_without_notices_sees_what_to_expect(client, org, login_as):
    login_as("parent")
    html = client.get("/departures/notices").get_data(as_text=True)
    assert 'data-testid="no-notices"' in html
    assert 'href="/departures/notices"' in html  # the "Notices" entry of the navigation


def test_other_roles_cannot_open_the_parents_pages(client, departure, notified, login_as):
    login_as(user=departure.admin)
    notice = _notice_of(departure.twin_guardian)
    assert client.get("/departures/notices").status_code == 403
    assert client.get(f"/departures/notices/{notice.id}").status_code == 403


def test_the_signed_link_acknowledgement_needs_the_pages_csrf_token(app, departure, notified):
    from tests.general.auth.helpers import csrf_token_from, other_app

    guardian = departure.guardians[1]
    notice = _notice_of(guardian)
    notice_id, link = notice.id, f"/departures/notice/{notices.token_for(notice.id, guardian.id)}"
    with other_app(app, WTF_CSRF_ENABLED=True) as csrf_app:
        browser = csrf_app.test_client()
        assert browser.post(f"{link}/acknowledge").status_code == 400
        token = csrf_token_from(browser.get(link).get_data(as_text=True))
        assert browser.post(f"{link}/acknowledge", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(ParentNotice, notice_id).acknowledged_via == "link"


def test_the_signed_link_speaks_the_guardians_language_until_another_is_chosen(client, departure, notified):
    guardian = departure.guardians[2]  # Chinese
    notice = _notice_of(guardian)
    link = f"/departures/notice/{notices.token_for(notice.id, guardian.id)}"
    assert '<html lang="zh-Hans">' in client.get(link, headers={"Accept-Language": "en"}).get_data(as_text=True)
    with client.session_transaction() as browser_session:
        browser_session["locale"] = "en"
    assert '<html lang="en">' in client.get(link).get_data(as_text=True)
