"""Two administrators changing the same class at the same moment, on PostgreSQL with two real connections in two
threads (RELIABILITY check 24): one wins, the other gets a clear Conflict, and the class keeps exactly one homeroom
teacher. (The SQLite counterpart, where only the version check guards, is in test_assignments.py.)"""
from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict
from app.extensions import db as _db
from app.general.org.models import OrgUnit
from app.school.classes import services
from app.school.classes.models import Assignment, SchoolClass, Subject
from app.school.staff.models import StaffMember
from tests import factories

pytestmark = pytest.mark.postgres
SEP1 = date(2026, 9, 1)


@pytest.fixture
def committed(app):
    """A school, a class and three teachers committed for real (other connections must see them); removed after."""
    with app.app_context():
        district = factories.make_unit("district", "Concurrency District")
        school = factories.make_unit("school", "Concurrency School", district)
        subject = factories.make_subject()
        school_class = factories.make_class(school, name="Race Class")
        teachers = [factories.make_staff(school, family_name="Racer", given_name=str(n), subjects=[subject])
                    for n in range(3)]
        ids = {"class": school_class.id, "teachers": [t.id for t in teachers], "subject": subject.id,
               "units": [school.id, district.id]}
        _db.session.commit()
        try:
            yield ids
        finally:
            _db.session.rollback()
            _db.session.execute(sa.delete(Assignment).where(Assignment.class_id == ids["class"]))
            _db.session.execute(sa.delete(StaffMember).where(StaffMember.id.in_(ids["teachers"])))
            _db.session.execute(sa.delete(SchoolClass).where(SchoolClass.id == ids["class"]))
            _db.session.execute(sa.delete(Subject).where(Subject.id == ids["subject"]))
            for unit_id in ids["units"]:
                _db.session.execute(sa.delete(OrgUnit).where(OrgUnit.id == unit_id))
            _db.session.commit()
            _db.session.remove()


def _race(app, actions) -> list[str]:
    """Run each action in its own thread and app context (own session, own connection); both load the class
    before either writes. Returns "ok" or the exception class name per action."""
    loaded = threading.Barrier(len(actions))
    outcomes: list[str] = [""] * len(actions)

    def run(n: int, action) -> None:
        with app.app_context():
            try:
                prepared = action()
                loaded.wait(timeout=10)
                prepared()
                _db.session.commit()
                outcomes[n] = "ok"
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


def _homerooms(app, class_id: int) -> list[tuple]:
    with app.app_context():
        rows = _db.session.execute(sa.select(Assignment.staff_id, Assignment.starts_on, Assignment.ends_on).where(
            Assignment.class_id == class_id, Assignment.role == "homeroom").order_by(Assignment.id)).all()
        _db.session.remove()
    return [tuple(row) for row in rows]


def test_two_admins_assigning_a_homeroom_at_once(app, committed):
    def assign(teacher_id: int):
        def prepare():
            school_class = _db.session.get(SchoolClass, committed["class"])
            teacher = _db.session.get(StaffMember, teacher_id)
            return lambda: services.assign_teacher(school_class, teacher, role="homeroom", weekly_periods=1,
                                                   starts_on=SEP1, actor="system")
        return prepare

    outcomes = _race(app, [assign(committed["teachers"][0]), assign(committed["teachers"][1])])
    assert sorted(outcomes) == ["Conflict", "ok"], outcomes
    assert len(_homerooms(app, committed["class"])) == 1


def test_two_admins_changing_the_same_homeroom_teacher_at_once(app, committed):
    first, second, third = committed["teachers"]
    with app.app_context():
        school_class = _db.session.get(SchoolClass, committed["class"])
        services.assign_teacher(school_class, _db.session.get(StaffMember, first), role="homeroom",
                                weekly_periods=1, starts_on=SEP1, actor="system")
        _db.session.commit()
        _db.session.remove()

    def change(teacher_id: int):
        def prepare():
            current = _db.session.scalar(sa.select(Assignment).where(Assignment.class_id == committed["class"]))
            teacher = _db.session.get(StaffMember, teacher_id)
            return lambda: services.change_teacher(current, teacher, effective_on=date(2026, 11, 16), actor="system")
        return prepare

    outcomes = _race(app, [change(second), change(third)])
    assert sorted(outcomes) == ["Conflict", "ok"], outcomes
    rows = _homerooms(app, committed["class"])
    assert len(rows) == 2  # the original, ended, and exactly one successor
    assert rows[0] == (first, SEP1, date(2026, 11, 15))
    assert rows[1][1:] == (date(2026, 11, 16), None) and rows[1][0] in (second, third)


def test_the_loser_gets_a_message_that_says_what_to_do(app, committed):
    with app.app_context():
        school_class = _db.session.get(SchoolClass, committed["class"])
        stale_version = school_class.version
        services.assign_teacher(school_class, _db.session.get(StaffMember, committed["teachers"][0]),
                                role="homeroom", weekly_periods=1, starts_on=SEP1, actor="system")
        _db.session.commit()
        with pytest.raises(Conflict, match="reload the page"):
            services.assign_teacher(school_class, _db.session.get(StaffMember, committed["teachers"][1]),
                                    role="subject", subject=_db.session.get(Subject, committed["subject"]),
                                    weekly_periods=2, starts_on=SEP1, actor="system", expected_version=stale_version)
        _db.session.rollback()
        _db.session.remove()
