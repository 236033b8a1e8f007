"""Renewals decided or started by two people at the same moment, on PostgreSQL with two real connections in two
threads (RELIABILITY check 24): one wins, the other is told, and the data stays whole — one new period, one open
request. (On SQLite writers queue at BEGIN IMMEDIATE; the version checks are tested in test_renewals.py.)"""
from __future__ import annotations

import os
import threading
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.auth.models import User
from app.general.notifications.models import Notification
from app.general.org.models import OrgUnit
from app.school.credentials import services
from app.school.credentials.models import Credential, CredentialType, Renewal, RenewalStatus, TrainingRecord
from app.school.staff.models import StaffMember
from tests import factories
from tests.school.credentials.conftest import TODAY, make_credential, make_training, make_type

pytestmark = pytest.mark.postgres


@pytest.fixture
def committed(app):
    """A school with a teacher holding a certificate (rule met), two heads and an admin, committed for real so
    that other connections see them; removed afterwards (audit events stay: the log is append-only)."""
    with app.app_context():
        district = factories.make_unit("district", "Race District")
        school = factories.make_unit("school", "Race School", district)
        teacher_user = factories.make_user("teacher", unit=school, password=None)
        reviewers = [factories.make_user(role, unit=school, password=None) for role in ("head", "head", "admin")]
        staff = factories.make_staff(school, user=teacher_user, family_name="Racer", given_name="Rita")
        teach = make_type(f"RACE{os.getpid() % 100000}", "Race certificate", validity_years=5,
                          renewal_hours=Decimal("360"))
        credential = make_credential(staff, teach, issued_on=date(2022, 1, 1))
        make_training(staff, "360", on=date(2024, 5, 1))
        ids = {"credential": credential.id, "staff": staff.id, "type": teach.id, "teacher_user": teacher_user.id,
               "reviewers": [u.id for u in reviewers], "units": [school.id, district.id]}
        _db.session.commit()
        try:
            yield ids
        finally:
            _db.session.rollback()
            _remove(ids)
            _db.session.remove()


def _remove(ids: dict) -> None:
    users = [ids["teacher_user"], *ids["reviewers"]]
    credentials = sa.select(Credential.id).where(Credential.staff_id == ids["staff"])
    _db.session.execute(sa.delete(Notification).where(Notification.recipient_user_id.in_(users)))
    _db.session.execute(sa.delete(Renewal).where(Renewal.credential_id.in_(credentials)))
    _db.session.execute(sa.update(Credential).where(Credential.staff_id == ids["staff"]).values(superseded_by_id=None))
    _db.session.execute(sa.delete(Credential).where(Credential.staff_id == ids["staff"]))
    _db.session.execute(sa.delete(TrainingRecord).where(TrainingRecord.staff_id == ids["staff"]))
    _db.session.execute(sa.delete(CredentialType).where(CredentialType.id == ids["type"]))
    _db.session.execute(sa.delete(StaffMember).where(StaffMember.id == ids["staff"]))
    _db.session.execute(sa.delete(User).where(User.id.in_(users)))
    for unit_id in ids["units"]:
        _db.session.execute(sa.delete(OrgUnit).where(OrgUnit.id == unit_id))
    _db.session.commit()


def _race(app, actions) -> list:
    """Run each action in its own thread and app context (own session, own connection); all load before any
    writes. Returns what each action's second half returned, or the exception class name."""
    loaded = threading.Barrier(len(actions))
    outcomes: list = [None] * len(actions)

    def run(n: int, action) -> None:
        with app.app_context():
            try:
                prepared = action()
                loaded.wait(timeout=10)
                result = prepared()
                _db.session.commit()
                outcomes[n] = result
            except Exception as error:  # reported to the main thread
                _db.session.rollback()
                outcomes[n] = type(error).__name__
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(n, action)) for n, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def _submit(app, committed) -> int:
    with app.app_context():
        credential = _db.session.get(Credential, committed["credential"])
        renewal = services.start_renewal(credential, note=None, actor=_db.session.get(User, committed["teacher_user"]))
        _db.session.commit()
        renewal_id = renewal.id
        _db.session.remove()
    return renewal_id


def _state(app, committed) -> dict:
    with app.app_context():
        credentials = _db.session.execute(sa.select(Credential.id, Credential.issued_on, Credential.superseded_by_id)
                                          .where(Credential.staff_id == committed["staff"])
                                          .order_by(Credential.id)).all()
        renewals = _db.session.execute(sa.select(Renewal.id, Renewal.status, Renewal.new_credential_id).where(
            Renewal.credential_id.in_([c.id for c in credentials])).order_by(Renewal.id)).all()
        _db.session.remove()
    return {"credentials": [tuple(c) for c in credentials], "renewals": [tuple(r) for r in renewals]}


def _decide(committed, renewal_id: int, reviewer: int, how: str):
    def prepare():
        renewal = _db.session.get(Renewal, renewal_id)
        actor = _db.session.get(User, committed["reviewers"][reviewer])
        if how == "approve":
            return lambda: services.approve_renewal(renewal, actor=actor, on=TODAY).status
        return lambda: services.reject_renewal(renewal, reason="Evidence unreadable", actor=actor).status
    return prepare


def test_two_reviewers_approving_the_same_renewal_at_once_make_one_new_period(app, committed):
    renewal_id = _submit(app, committed)
    outcomes = _race(app, [_decide(committed, renewal_id, 0, "approve"), _decide(committed, renewal_id, 1, "approve")])
    assert sorted(outcomes) == ["Conflict", "approved"], outcomes
    state = _state(app, committed)
    assert len(state["credentials"]) == 2
    old, new = state["credentials"]
    assert old[2] == new[0] and new[1] == date(2027, 1, 1)
    assert state["renewals"] == [(renewal_id, "approved", new[0])]


def test_approving_and_rejecting_at_once_one_decision_wins(app, committed):
    renewal_id = _submit(app, committed)
    outcomes = _race(app, [_decide(committed, renewal_id, 0, "approve"), _decide(committed, renewal_id, 2, "reject")])
    assert sorted(outcomes) in (["Conflict", "approved"], ["Conflict", "rejected"]), outcomes
    state = _state(app, committed)
    (_, status, new_id), = state["renewals"]
    assert status in outcomes
    assert len(state["credentials"]) == (2 if status == "approved" else 1)
    assert (new_id is not None) == (status == "approved")


def test_revoking_while_a_reviewer_approves_never_leaves_a_renewed_revoked_pair(app, committed):
    renewal_id = _submit(app, committed)

    def revoke():
        credential = _db.session.get(Credential, committed["credential"])
        actor = _db.session.get(User, committed["reviewers"][2])
        return lambda: services.revoke_credential(credential, reason="Failed background check", actor=actor).id

    outcomes = _race(app, [_decide(committed, renewal_id, 0, "approve"), revoke])
    assert "Conflict" in outcomes, outcomes
    with app.app_context():
        old = _db.session.get(Credential, committed["credential"])
        assert (old.revoked_at is None) != (old.superseded_by_id is None)
        _db.session.remove()


def test_two_starts_of_a_renewal_at_once_leave_one_open_request(app, committed):
    def start(actor_id: int):
        def prepare():
            credential = _db.session.get(Credential, committed["credential"])
            actor = _db.session.get(User, actor_id)
            return lambda: services.start_renewal(credential, note=None, actor=actor).id
        return prepare

    outcomes = _race(app, [start(committed["teacher_user"]), start(committed["reviewers"][2])])
    state = _state(app, committed)
    assert [r[1] for r in state["renewals"]] == [RenewalStatus.SUBMITTED]
    assert outcomes == [state["renewals"][0][0]] * 2, outcomes  # the loser is handed the winner's request


def _wait_for_a_blocked_writer(timeout: float = 10) -> None:
    """Poll (from another connection) until some session of this database waits on a lock."""
    import time

    deadline = time.monotonic() + timeout
    with _db.engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar()
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the second start never waited on the first one's row")


def test_a_start_blocked_by_an_uncommitted_start_is_handed_that_request(app, committed):
    inserted, outcomes = threading.Event(), {}

    def first() -> None:
        with app.app_context():
            try:
                credential = _db.session.get(Credential, committed["credential"])
                renewal = services.start_renewal(credential, note=None,
                                                 actor=_db.session.get(User, committed["teacher_user"]))
                inserted.set()
                _wait_for_a_blocked_writer()  # the second start now waits on the unique index for this row
                _db.session.commit()
                outcomes["first"] = renewal.id
            except Exception as error:  # reported to the main thread
                _db.session.rollback()
                outcomes["first"] = type(error).__name__
                inserted.set()
            finally:
                _db.session.remove()

    def second() -> None:
        with app.app_context():
            try:
                credential = _db.session.get(Credential, committed["credential"])
                actor = _db.session.get(User, committed["reviewers"][2])
                inserted.wait(timeout=10)
                outcomes["second"] = services.start_renewal(credential, note=None, actor=actor).id
                _db.session.commit()
            except Exception as error:  # reported to the main thread
                _db.session.rollback()
                outcomes["second"] = type(error).__name__
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    state = _state(app, committed)
    assert [r[1] for r in state["renewals"]] == [RenewalStatus.SUBMITTED]
    assert outcomes == {"first": state["renewals"][0][0], "second": state["renewals"][0][0]}, outcomes
