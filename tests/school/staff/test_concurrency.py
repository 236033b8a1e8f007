"""Two administrators saving the same staff record, or the same new employee number, at the same moment: on
PostgreSQL with two real connections in two threads, one wins and the other gets a clear Conflict (check 24)."""
from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.audit.services import SYSTEM
from app.general.org.models import OrgUnit
from app.school.staff import services
from app.school.staff.models import StaffMember
from tests import factories

pytestmark = pytest.mark.postgres


@pytest.fixture
def committed(app):
    """A school with one staff member, committed for real (other connections must see it); removed after."""
    with app.app_context():
        district = factories.make_unit("district", "Staff Race District")
        school = factories.make_unit("school", "Staff Race School", district)
        staff = factories.make_staff(school, family_name="Racer", given_name="One", employee_number="R001")
        ids = {"school": school.id, "staff": staff.id, "units": [school.id, district.id]}
        _db.session.commit()
        try:
            yield ids
        finally:
            _db.session.rollback()
            _db.session.execute(sa.delete(StaffMember).where(StaffMember.school_id == ids["school"]))
            for unit_id in ids["units"]:
                _db.session.execute(sa.delete(OrgUnit).where(OrgUnit.id == unit_id))
            _db.session.commit()
            _db.session.remove()


def _race(app, actions) -> list[str]:
    """Each action loads in its own thread and session, waits for the others, then writes and commits."""
    loaded = threading.Barrier(len(actions))
    outcomes = [""] * len(actions)

    def run(n: int, action) -> None:
        with app.app_context():
            try:
                write = action()
                loaded.wait(timeout=10)
                write()
                _db.session.commit()
                outcomes[n] = "ok"
            except Exception as error:  # reported to the main thread
                _db.session.rollback()
                outcomes[n] = f"{type(error).__name__}:{getattr(error, 'field', None) or ''}"
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(n, action)) for n, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def _fields(**overrides) -> dict:
    values = {"employee_number": "R001", "family_name": "Racer", "given_name": "One", "hired_on": date(2020, 9, 1),
              "max_weekly_periods": 16}
    return {**values, **overrides}


def test_two_saves_of_the_same_record_one_wins_the_other_conflicts(app, committed):
    def editor(given_name: str):
        def load():
            staff = _db.session.get(StaffMember, committed["staff"])
            seen = staff.version
            return lambda: services.update_staff(staff, actor=SYSTEM, expected_version=seen,
                                                 **_fields(given_name=given_name))
        return load

    outcomes = _race(app, [editor("Alpha"), editor("Beta")])
    assert sorted(outcomes) == ["Conflict:", "ok"], outcomes
    with app.app_context():
        staff = _db.session.get(StaffMember, committed["staff"])
        assert staff.given_name in ("Alpha", "Beta") and staff.version == 2
        _db.session.remove()


def test_the_same_new_employee_number_twice_at_once_gives_one_record_and_a_field_conflict(app, committed):
    def creator(given_name: str):
        def load():
            return lambda: services.create_staff(actor=SYSTEM, school_id=committed["school"],
                                                 **_fields(employee_number="R002", given_name=given_name))
        return load

    outcomes = _race(app, [creator("Alpha"), creator("Beta")])
    assert sorted(outcomes) == ["Conflict:employee_number", "ok"], outcomes
    with app.app_context():
        count = _db.session.scalar(sa.select(sa.func.count()).select_from(StaffMember).where(
            StaffMember.school_id == committed["school"], StaffMember.employee_number == "R002"))
        assert count == 1
        _db.session.remove()
