"""The horizontal matrix of RELIABILITY check 11 for the classes module: 2 schools × 2 teachers × 2 parents ×
2 children. Every classes route that takes an object, requested (GET and POST) for the other school's object by
every non-owner, answers 403 or 404 and changes nothing; every list and search returns only the user's own rows
(the rows are asserted, not only the status)."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.school.classes.models import Assignment, Enrollment, Guardian, SchoolClass, Student, StudentGuardian, Subject
from tests import factories


@dataclass
class Side:
    """Everything of one school."""

    school: object
    admin: object
    head: object
    teachers: list
    parent: object
    child: object
    school_class: object
    assignment: object
    enrolment: object
    guardian: object


def _side(org_unit, subject, tag: str) -> Side:
    admin = factories.make_user("admin", unit=org_unit, password=None)
    head = factories.make_user("head", unit=org_unit, password=None)
    teacher_users = [factories.make_user("teacher", unit=org_unit, password=None) for _n in range(2)]
    teachers = [factories.make_staff(org_unit, user=user, family_name=f"Teacher{tag}", given_name=str(n),
                                     subjects=[subject]) for n, user in enumerate(teacher_users)]
    parent = factories.make_user("parent", unit=org_unit, password=None)
    school_class = factories.make_class(org_unit, name=f"Class {tag}")
    child = factories.make_student(org_unit, family_name=f"Child{tag}", given_name="Kid", school_class=school_class)
    guardian = factories.make_guardian(child, full_name=f"Parent{tag}", user=parent)
    assignment = factories.make_assignment(school_class, teachers[0], weekly_periods=1)
    factories.make_assignment(school_class, teachers[1], subject=subject, weekly_periods=4)
    enrolment = _db.session.scalars(sa.select(Enrollment).where(Enrollment.student_id == child.id)).one()
    return Side(org_unit, admin, head, teacher_users, parent, child, school_class, assignment, enrolment, guardian)


@pytest.fixture
def sides(org):
    subject = factories.make_subject("MATH", "Maths")
    pair = _side(org.school_a, subject, "A"), _side(org.school_b, subject, "B")
    _db.session.commit()
    return pair


def _non_owners(side: Side) -> list:
    """Everyone of a school: each is a non-owner of the *other* school's objects."""
    return [side.admin, side.head, *side.teachers, side.parent]


def _object_urls(app, target: Side, subject_id: int) -> list[tuple[str, str]]:
    """(method, url) of every classes route that takes an object, pointed at `target`'s objects."""
    values = {"class_id": target.school_class.id, "assignment_id": target.assignment.id,
              "enrolment_id": target.enrolment.id, "student_id": target.child.id, "guardian_id": target.guardian.id,
              "subject_id": subject_id}
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("classes.") or not rule.arguments:
            continue
        url = rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)[1]
        urls += [(method, url) for method in ("GET", "POST") if method in rule.methods]
    return urls


def _snapshot() -> dict:
    _db.session.expire_all()
    return {model.__name__: [tuple(row) for row in _db.session.execute(sa.select(model.__table__))]
            for model in (SchoolClass, Student, Enrollment, Assignment, Guardian, StudentGuardian, Subject)}


def _ids(html: str, attribute: str) -> set[int]:
    return {int(n) for n in re.findall(rf'{attribute}="(\d+)"', html)}


@pytest.mark.parametrize("direction", ["a_to_b", "b_to_a"])
def test_every_object_route_refuses_every_non_owner(app, client, sides, direction):
    own, other = sides if direction == "a_to_b" else sides[::-1]
    subject_id = _db.session.scalar(sa.select(Subject.id))
    urls = _object_urls(app, other, subject_id)
    assert len(urls) >= 25  # every object route of the module, GET and POST
    before = _snapshot()
    for user in _non_owners(own):
        factories.log_in(client, user)
        for method, url in urls:
            response = client.open(url, method=method, data={})
            assert response.status_code in (403, 404), (user.role, method, url, response.status_code)
    assert _snapshot() == before


def test_a_guardian_of_another_school_is_not_reachable_through_an_own_student(client, sides):
    own, other = sides
    factories.log_in(client, own.admin)
    url = f"/classes/students/{own.child.id}/guardians/{other.guardian.id}"
    assert client.get(url).status_code == 404
    assert client.post(url + "/unlink").status_code == 404


@pytest.mark.parametrize("role", ["admin", "head"])
def test_lists_and_searches_hold_only_own_rows(client, sides, role):
    for own, other in (sides, sides[::-1]):
        factories.log_in(client, getattr(own, role))
        assert _ids(client.get("/classes/").get_data(as_text=True), "data-class-id") == {own.school_class.id}
        assert _ids(client.get(f"/classes/?school={other.school.id}").get_data(as_text=True), "data-class-id") == set()
        assert _ids(client.get("/classes/?q=Class").get_data(as_text=True), "data-class-id") == {own.school_class.id}
        students = client.get("/classes/students/?status=all").get_data(as_text=True)
        assert _ids(students, "data-student-id") == {own.child.id}
        assert other.child.family_name not in students
        search = client.get("/classes/students/", query_string={"q": other.child.family_name,
                                                                "school": other.school.id}).get_data(as_text=True)
        assert _ids(search, "data-student-id") == set()


def test_the_load_page_holds_only_own_teachers(client, sides):
    for own, other in (sides, sides[::-1]):
        factories.log_in(client, own.admin)
        html = client.get("/classes/load").get_data(as_text=True)
        assert "Teacher" + ("A" if own is sides[0] else "B") in html
        assert ("TeacherB" if own is sides[0] else "TeacherA") not in html
        assert client.get(f"/classes/load?school={other.school.id}").status_code == 403


def test_each_parent_sees_only_their_own_child(client, sides):
    for own, other in (sides, sides[::-1]):
        factories.log_in(client, own.parent)
        html = client.get("/classes/my-children").get_data(as_text=True)
        assert _ids(html, "data-student-id") == {own.child.id}
        assert other.child.family_name not in html and other.school_class.name not in html
        dashboard = client.get("/").get_data(as_text=True)
        assert own.child.family_name in dashboard and other.child.family_name not in dashboard


@pytest.mark.parametrize("role", ["teacher", "parent"])
def test_self_service_roles_reach_no_class_or_student_list(client, sides, role):
    own = sides[0]
    user = own.teachers[0] if role == "teacher" else own.parent
    factories.log_in(client, user)
    for url in ("/classes/", "/classes/students/", "/classes/subjects/", "/classes/load",
                f"/classes/{own.school_class.id}", f"/classes/students/{own.child.id}"):
        assert client.get(url).status_code == 403, url


def test_staff_roles_have_no_my_children_page(client, sides):
    for user in (sides[0].admin, sides[0].head, sides[0].teachers[0]):
        factories.log_in(client, user)
        assert client.get("/classes/my-children").status_code == 403
