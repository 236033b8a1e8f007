"""Two people pressing the same button of a departure at once, on PostgreSQL with two real connections in two
threads (RELIABILITY check 24): exactly one wins, the other is told, and the data stays whole — each class keeps
one homeroom teacher and one teacher per subject, and the parents' notices are written once. (On SQLite writers
queue; the version checks are covered by test_cases.py.)"""
from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.auth.models import User
from app.general.notifications.models import Notification
from app.school.classes.models import Assignment
from app.school.offboarding.models import CaseStatus, DepartureCase, ParentNotice
from app.school.offboarding.services import cases, plan
from app.school.staff.models import StaffMember
from tests import factories
from tests.school.offboarding.conftest import TODAY
from tests.school.teaching.conftest import MON, TUE, make_slot, make_term

pytestmark = pytest.mark.postgres

EFFECTIVE = date(2027, 1, 9)
SKIP = {"audit_events", "audit_head", "audit_checkpoints"}


def _marks() -> dict[str, int]:
    marks = {}
    for table in _db.metadata.sorted_tables:
        if "id" in table.c and isinstance(table.c.id.type, sa.Integer):
            marks[table.name] = _db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)))
    return marks


def _cleanup(marks: dict[str, int]) -> None:
    """Delete every row written since `marks` (dependent tables first); the append-only audit log stays."""
    _db.session.rollback()
    for table in reversed(_db.metadata.sorted_tables):
        if table.name in SKIP or table.name.startswith("audit"):
            continue
        if table.name in marks:
            ids = sorted(_db.session.scalars(sa.select(table.c.id).where(table.c.id > marks[table.name])),
                         reverse=True)
            for row_id in ids:  # newest first: a school before its district
                _db.session.execute(sa.delete(table).where(table.c.id == row_id))
        else:
            links = [fk.parent > marks[fk.column.table.name] for fk in table.foreign_keys
                     if fk.column.table.name in marks and fk.column.name == "id"]
            if links:
                _db.session.execute(sa.delete(table).where(sa.or_(*links)))
    _db.session.commit()


@pytest.fixture
def world(app, monkeypatch):
    """A school with a departing Maths teacher (two classes, homeroom of one), a colleague who takes over, five
    guardians (one with a child in each class), two admins and two heads — committed for real so that other
    connections see them; removed afterwards."""
    for target in ("app.school.offboarding.services.cases.local_today",
                   "app.school.offboarding.services.plan.local_today"):
        monkeypatch.setattr(target, lambda: TODAY)
    with app.app_context():
        _db.session.rollback()
        marks = _marks()
        try:
            district = factories.make_unit("district", "Race District")
            school = factories.make_unit("school", "Race School", district)
            dept = factories.make_unit("department", "Race Maths", school)
            maths = factories.make_subject(None, "Race Maths")
            leaving_user = factories.make_user("teacher", unit=school, password=None)
            leaving = factories.make_staff(school, department=dept, user=leaving_user, subjects=[maths],
                                           family_name="Racer", given_name="Rita")
            colleague = factories.make_staff(school, department=dept, subjects=[maths], max_weekly_periods=20,
                                             family_name="Chen", given_name="Jing")
            class_a = factories.make_class(school, name="R7(2)")
            class_b = factories.make_class(school, name="R7(3)")
            factories.make_assignment(class_a, leaving, subject=maths, weekly_periods=5)
            factories.make_assignment(class_b, leaving, subject=maths, weekly_periods=5)
            factories.make_assignment(class_a, leaving, weekly_periods=2)
            guardians = []
            for n in range(2):
                for school_class in (class_a, class_b):
                    student = factories.make_student(school, school_class=school_class, given_name=f"R{n}")
                    guardians.append(factories.make_guardian(student))
            twin_a = factories.make_student(school, school_class=class_a, given_name="Twin A")
            twin_b = factories.make_student(school, school_class=class_b, given_name="Twin B")
            guardians.append(factories.make_guardian(twin_a, twin_b, phone="+8613800000009",
                                                     preferred_channel="sms", locale="en"))
            term = make_term(school)
            make_slot(term, MON, 1, class_a, maths, leaving)
            make_slot(term, TUE, 2, class_b, maths, leaving)
            admins = [factories.make_user("admin", unit=school, password=None) for _ in range(2)]
            heads = [factories.make_user("head", unit=school, password=None) for _ in range(2)]
            case = cases.submit(leaving, kind="resignation", last_working_day=date(2027, 1, 8), actor=admins[0])
            _db.session.commit()
            yield {"case": case.id, "leaving": leaving.id, "colleague": colleague.id,
                   "classes": [class_a.id, class_b.id], "maths": maths.id, "guardians": [g.id for g in guardians],
                   "admins": [u.id for u in admins], "heads": [u.id for u in heads]}
        finally:
            _cleanup(marks)
            _db.session.remove()


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
        thread.join(timeout=60)
    return outcomes


def _step(app, world, do) -> None:
    with app.app_context():
        do(_db.session.get(DepartureCase, world["case"]))
        _db.session.commit()
        _db.session.remove()


def _to_planned(app, world) -> None:
    def steps(case):
        admin = _db.session.get(User, world["admins"][0])
        cases.approve(case, actor=_db.session.get(User, world["heads"][0]))
        cases.start_handover(case, actor=admin)
        colleague = _db.session.get(StaffMember, world["colleague"])
        for line in plan.lines(case):
            plan.choose(case, line.assignment, colleague, actor=admin)

    _step(app, world, steps)


def _decide(world, head: int, how: str = "approve"):
    def prepare():
        case = _db.session.get(DepartureCase, world["case"])
        actor = _db.session.get(User, world["heads"][head])
        version = case.version
        if how == "approve":
            return lambda: (cases.approve(case, actor=actor, expected_version=version), case.status)[1]
        return lambda: (cases.reject(case, actor=actor, note="Not supported", expected_version=version),
                        case.status)[1]
    return prepare


def _confirm(world, admin: int, *, pinned: bool = True):
    def prepare():
        case = _db.session.get(DepartureCase, world["case"])
        actor = _db.session.get(User, world["admins"][admin])
        version = case.version if pinned else None  # the version the admin's page showed (or a double click)
        return lambda: plan.confirm(case, actor=actor, expected_version=version)
    return prepare


def _state(app, world) -> dict:
    with app.app_context():
        case = _db.session.get(DepartureCase, world["case"])
        current = _db.session.execute(sa.select(Assignment.class_id, Assignment.role, Assignment.subject_id,
                                                Assignment.staff_id).where(
            Assignment.class_id.in_(world["classes"]), Assignment.starts_on <= EFFECTIVE,
            sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= EFFECTIVE))).all()
        notices = _db.session.scalars(sa.select(ParentNotice.guardian_id).where(
            ParentNotice.case_id == world["case"])).all()
        outbox = _db.session.scalars(sa.select(Notification.idempotency_key).where(
            Notification.idempotency_key.like(f"departure:{world['case']}:guardian:%"))).all()
        state = {"status": case.status, "decided_by": case.decided_by_id, "current": sorted(tuple(r) for r in current),
                 "notices": sorted(notices), "outbox": sorted(outbox)}
        _db.session.remove()
    return state


def test_two_heads_approving_at_once_one_wins(app, world):
    outcomes = _race(app, [_decide(world, 0), _decide(world, 1)])
    assert sorted(outcomes) == ["Conflict", "approved"], outcomes
    state = _state(app, world)
    winner = world["heads"][outcomes.index("approved")]
    assert (state["status"], state["decided_by"]) == (CaseStatus.APPROVED, winner)


def test_approving_and_rejecting_at_once_one_decision_stands(app, world):
    outcomes = _race(app, [_decide(world, 0, "approve"), _decide(world, 1, "reject")])
    assert outcomes.count("Conflict") == 1, outcomes
    [winner] = [o for o in outcomes if o != "Conflict"]
    assert winner in (CaseStatus.APPROVED, CaseStatus.REJECTED)
    assert _state(app, world)["status"] == winner


@pytest.mark.parametrize("pinned", [True, False], ids=["page-version", "no-version"])
def test_two_admins_confirming_the_same_reassignment_at_once(app, world, pinned):
    _to_planned(app, world)
    outcomes = _race(app, [_confirm(world, 0, pinned=pinned), _confirm(world, 1, pinned=pinned)])
    guardians = len(world["guardians"])
    assert sorted(outcomes, key=str) == sorted([guardians, "Conflict"], key=str) or \
        sorted(outcomes, key=str) == sorted([guardians, "InvalidTransition"], key=str), outcomes
    state = _state(app, world)
    assert state["status"] == CaseStatus.REASSIGNED
    class_a, class_b = world["classes"]
    maths, colleague = world["maths"], world["colleague"]
    assert state["current"] == sorted([(class_a, "homeroom", None, colleague), (class_a, "subject", maths, colleague),
                                       (class_b, "subject", maths, colleague)])
    assert state["notices"] == sorted(world["guardians"])  # one notice per guardian, written once
    assert len(state["outbox"]) == len(set(state["outbox"])) == guardians  # one delivery each, no inbox (no accounts)


def test_a_second_confirm_after_the_first_committed_is_refused(app, world):
    _to_planned(app, world)
    outcomes = _race(app, [_confirm(world, 0)])
    assert outcomes == [len(world["guardians"])]
    again = _race(app, [_confirm(world, 1)])
    assert again == ["InvalidTransition"]
    state = _state(app, world)
    assert len(state["notices"]) == len(world["guardians"]) and len(state["outbox"]) == len(world["guardians"])


def test_two_admins_filing_for_the_same_person_at_once_make_one_case(app, world):
    _step(app, world, lambda case: cases.withdraw(case, actor=_db.session.get(User, world["admins"][0]),
                                                   reason="Filed twice"))

    def file(admin: int):
        def prepare():
            staff = _db.session.get(StaffMember, world["leaving"])
            actor = _db.session.get(User, world["admins"][admin])
            return lambda: cases.submit(staff, kind="resignation", last_working_day=date(2027, 1, 8),
                                        actor=actor).status
        return prepare

    outcomes = _race(app, [file(0), file(1)])
    assert sorted(outcomes) == ["Conflict", CaseStatus.SUBMITTED], outcomes
    with app.app_context():
        open_cases = _db.session.scalar(sa.select(sa.func.count()).select_from(DepartureCase).where(
            DepartureCase.staff_id == world["leaving"], DepartureCase.status == CaseStatus.SUBMITTED))
        _db.session.remove()
    assert open_cases == 1
