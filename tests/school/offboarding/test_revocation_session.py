"""The end of a departing teacher's access reaches a browser that is already logged in: once the beat task has
run after the last working day, the very next request with the same cookie is sent to the login page, and the
password no longer opens the account. A dismissal ends access the moment it is approved."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.extensions import db
from app.school.offboarding.models import CaseStatus
from app.school.offboarding.services import access, cases
from tests import factories
from tests.general.auth.helpers import SESSION_COOKIE, client_with_cookies, post_login, reload

TODAY = date(2026, 12, 7)
LAST_DAY = date(2027, 1, 8)
PAGES = ("/departures/mine", "/auth/account")  # the teacher's own departure page, and their account


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr("app.school.offboarding.services.cases.local_today", lambda: TODAY)
    monkeypatch.setattr("app.school.offboarding.services.plan.local_today", lambda: TODAY)


def _logged_out(response) -> bool:
    return response.status_code == 302 and "/auth/login" in response.headers["Location"]


def _reads(client) -> bool:
    return all(client.get(page).status_code == 200 for page in PAGES)


def _refused(client) -> bool:
    return all(_logged_out(client.get(page)) for page in PAGES)


def _password_refused(app, user) -> bool:
    response = post_login(app.test_client(), user.email)
    return response.status_code == 200 and "The e-mail or password is not correct." in response.get_data(as_text=True)


def test_the_tick_after_the_last_day_logs_out_the_open_session_and_refuses_the_password(app, client, departure):
    d = departure
    factories.log_in(client, d.leaving_user)
    assert _reads(client)
    case = cases.submit(d.leaving, kind="resignation", last_working_day=LAST_DAY, actor=d.leaving_user,
                        given_on=TODAY)
    cases.approve(case, actor=d.head)
    db.session.commit()
    copied = client.get_cookie(SESSION_COOKIE).value

    end = cases.end_of_day(LAST_DAY)
    assert access.tick(now=end - timedelta(hours=1))["revoked"] == 0  # the last day itself: still at work
    assert _reads(client)
    assert reload(d.leaving_user).is_active_account

    assert access.tick(now=end + timedelta(minutes=1))["revoked"] == 1
    assert _refused(client)  # the very next request with the same cookie
    assert _refused(client_with_cookies(app, **{SESSION_COOKIE: copied}))
    user = reload(d.leaving_user)
    assert not user.is_active_account
    assert _password_refused(app, user)
    db.session.refresh(case)
    assert case.access_revoked_at is not None and case.status == CaseStatus.APPROVED
    assert access.tick(now=end + timedelta(minutes=2))["revoked"] == 0  # safe twice


def test_a_dismissal_ends_the_session_the_moment_it_is_approved(app, client, departure):
    d = departure
    factories.log_in(client, d.leaving_user)
    assert _reads(client)
    case = cases.submit(d.leaving, kind="dismissal", last_working_day=TODAY, actor=d.admin, given_on=TODAY,
                        private_reason="gross misconduct")
    db.session.commit()
    assert _reads(client)  # submitted, not decided: nothing changes yet
    cases.approve(case, actor=d.head)
    db.session.commit()
    assert _refused(client)  # no beat task needed
    user = reload(d.leaving_user)
    assert not user.is_active_account
    assert _password_refused(app, user)
    db.session.refresh(case)
    assert case.access_revoked_at is not None
    assert access.tick()["revoked"] == 0  # nothing left for the beat task


def test_a_colleague_stays_logged_in(app, client, departure):
    """The positive control: the revocation is the departing teacher's, not everyone's."""
    d = departure
    colleague_user = factories.make_user("teacher", unit=d.colleague.school)
    factories.log_in(client, colleague_user)
    case = cases.submit(d.leaving, kind="dismissal", last_working_day=TODAY, actor=d.admin, given_on=TODAY)
    cases.approve(case, actor=d.head)
    db.session.commit()
    assert _reads(client)
    assert reload(colleague_user).is_active_account
