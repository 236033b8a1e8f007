"""Organisation unit rules: where a unit may sit, unique codes, paths kept right on moves, deactivation."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.errors import ValidationFailed
from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.general.org import services
from app.general.org.models import OrgUnit

SYSTEM = "system"


def _create(kind, name, code, parent=None):
    return services.create_unit(kind=kind, name=name, code=code, parent=parent, actor=SYSTEM)


def _events(action: str, unit: OrgUnit) -> list[AuditEvent]:
    return list(_db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == action, AuditEvent.subject_id == str(unit.id))
    ))


@pytest.fixture
def tree(db):
    district = _create("district", "North District", "NORTH")
    school = _create("school", "North Middle", "NM", district)
    dept = _create("department", "Maths", "NM-MATH", school)
    return district, school, dept


def test_created_units_get_their_path_from_the_parent(db):
    district = _create("district", "D", "D1")
    school = _create("school", "S", "S1", district)
    dept = _create("department", "Maths", "s1-math", school)
    assert district.path == f"/{district.id}/"
    assert school.path == f"/{district.id}/{school.id}/"
    assert dept.path == f"/{district.id}/{school.id}/{dept.id}/"
    assert dept.code == "S1-MATH"
    assert district.contains(dept) and not dept.contains(school)


def test_creating_a_unit_is_audited_with_its_fields(db):
    school = _create("school", "Audited School", "AUD1")
    [event] = _events("org.unit_created", school)
    assert event.actor_label == "system"
    assert event.changes["code"] == "AUD1" and event.changes["path"] == school.path
    assert event.scope_path == school.path


@pytest.mark.parametrize(("kind", "parent_kind"), [
    ("department", None), ("department", "district"), ("department", "department"),
    ("school", "school"), ("school", "department"),
])
def test_a_unit_refuses_a_parent_of_the_wrong_kind(db, tree, kind, parent_kind):
    district, school, dept = tree
    parent = {None: None, "district": district, "school": school, "department": dept}[parent_kind]
    with pytest.raises(ValidationFailed) as info:
        _create(kind, "Wrong place", "WRONG1", parent)
    assert info.value.field == "parent"
    assert db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "WRONG1")) is None


def test_a_school_may_stand_alone_or_belong_to_a_district(db, tree):
    district, _school, _dept = tree
    assert _create("school", "Alone", "ALONE").parent is None
    assert _create("school", "In district", "INDIST", district).parent_id == district.id


@pytest.mark.parametrize("code", ["nm-math", " NM-MATH ", "Nm-Math"])
def test_codes_are_unique_whatever_their_case(db, tree, code):
    _district, school, _dept = tree
    with pytest.raises(ValidationFailed) as info:
        _create("department", "Maths again", code, school)
    assert info.value.field == "code"


@pytest.mark.parametrize(("field", "kwargs"), [
    ("name", {"name": "   "}),
    ("name", {"name": "x" * 201}),
    ("code", {"code": ""}),
    ("code", {"code": "has space"}),
    ("code", {"code": "-LEADING"}),
    ("kind", {"kind": "campus"}),
])
def test_bad_input_is_reported_at_its_field(db, tree, field, kwargs):
    _district, school, _dept = tree
    values = {"kind": "department", "name": "Science", "code": "NM-SCI", "parent": school, **kwargs}
    with pytest.raises(ValidationFailed) as info:
        services.create_unit(actor=SYSTEM, **values)
    assert info.value.field == field


def test_renaming_keeps_the_code_of_the_unit_itself_allowed(db, tree):
    _district, school, _dept = tree
    services.update_unit(school, name="North Middle School", code="nm", actor=SYSTEM)
    assert (school.name, school.code) == ("North Middle School", "NM")
    [event] = _events("org.unit_updated", school)
    assert event.changes == {"name": ["North Middle", "North Middle School"]}


def test_an_update_that_changes_nothing_records_nothing(db, tree):
    _district, school, _dept = tree
    services.update_unit(school, name=school.name, code=school.code, parent=school.parent, actor=SYSTEM)
    assert _events("org.unit_updated", school) == [] and _events("org.unit_moved", school) == []


def test_changing_to_another_units_code_is_refused_and_changes_nothing(db, tree):
    district, school, _dept = tree
    with pytest.raises(ValidationFailed) as info:
        services.update_unit(school, name="Renamed", code="NORTH", actor=SYSTEM)
    assert info.value.field == "code"
    assert school.name == "North Middle" and school.code == "NM"


def test_moving_a_school_rewrites_the_paths_of_everything_inside_it(db, tree):
    district, school, dept = tree
    other = _create("district", "South District", "SOUTH")
    services.update_unit(school, parent=other, actor=SYSTEM)
    db.session.expire_all()
    assert school.path == f"/{other.id}/{school.id}/"
    assert dept.path == f"/{other.id}/{school.id}/{dept.id}/"
    assert not district.contains(dept) and other.contains(dept)
    [event] = _events("org.unit_moved", school)
    assert event.changes["parent_id"] == [district.id, other.id]


def test_moving_a_department_to_another_school(db, tree):
    district, school, dept = tree
    second = _create("school", "North Primary", "NP", district)
    services.update_unit(dept, parent=second, actor=SYSTEM)
    assert dept.path == f"{second.path}{dept.id}/"
    assert dept.school is second


def test_a_school_moved_to_the_top_level_and_back(db, tree):
    district, school, dept = tree
    services.update_unit(school, parent=None, actor=SYSTEM)
    assert (school.path, dept.path) == (f"/{school.id}/", f"/{school.id}/{dept.id}/")
    services.update_unit(school, parent=district, actor=SYSTEM)
    assert dept.path == f"/{district.id}/{school.id}/{dept.id}/"


def test_moving_a_unit_inside_itself_is_refused(db, tree):
    district, _school, _dept = tree
    inner = _create("district", "Inner", "INNER", district)
    with pytest.raises(ValidationFailed) as info:
        services.update_unit(district, parent=inner, actor=SYSTEM)
    assert info.value.field == "parent"
    assert district.parent_id is None and district.path == f"/{district.id}/"


def test_a_unit_with_active_children_cannot_be_deactivated(db, tree):
    district, school, dept = tree
    with pytest.raises(ValidationFailed):
        services.deactivate_unit(school, actor=SYSTEM)
    assert school.is_active
    services.deactivate_unit(dept, actor=SYSTEM)
    services.deactivate_unit(school, actor=SYSTEM)
    assert not school.is_active and not dept.is_active
    assert len(_events("org.unit_deactivated", school)) == 1


def test_nothing_can_be_added_under_or_moved_into_a_deactivated_unit(db, tree):
    district, school, dept = tree
    services.deactivate_unit(dept, actor=SYSTEM)
    services.deactivate_unit(school, actor=SYSTEM)
    with pytest.raises(ValidationFailed) as info:
        _create("department", "Science", "NM-SCI", school)
    assert info.value.field == "parent"
    with pytest.raises(ValidationFailed):
        services.reactivate_unit(dept, actor=SYSTEM)  # its school is deactivated
    services.reactivate_unit(school, actor=SYSTEM)
    services.reactivate_unit(dept, actor=SYSTEM)
    assert school.is_active and dept.is_active
