"""Subjects, classes, students, guardians and enrolments: field rules with field names, uniqueness, scope,
dated enrolments (one class per academic year at a time), and audit events."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, NotAllowed, ValidationFailed
from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.school.classes import services
from app.school.classes.models import Enrollment, Guardian, Student, StudentGuardian
from tests import factories
from tests.school.classes.conftest import SEP1

SYSTEM = "system"


def _errors(raised) -> dict:
    return getattr(raised.value, "errors", None) or {raised.value.field: raised.value.message}


def _last(action: str) -> AuditEvent:
    return _db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                               .order_by(AuditEvent.seq.desc())).first()


# --- subjects -----------------------------------------------------------------------------------------------


def test_subject_codes_are_unique_case_insensitively(org):
    subject = services.create_subject(code=" math ", name="Maths", actor=SYSTEM)
    assert subject.code == "MATH" and _last("classes.subject_created").changes == {"code": "MATH", "name": "Maths"}
    with pytest.raises(Conflict) as taken:
        services.create_subject(code="Math", name="Other", actor=SYSTEM)
    assert taken.value.field == "code"
    with pytest.raises(ValidationFailed) as bad:
        services.create_subject(code="MA TH", name="", actor=SYSTEM)
    assert set(_errors(bad)) == {"code", "name"}


def test_only_a_top_level_administrator_changes_subjects(org):
    school_admin = factories.make_user("admin", unit=org.school_a, password=None)
    district_admin = factories.make_user("admin", unit=org.district, password=None)
    with pytest.raises(NotAllowed):
        services.create_subject(code="ART", name="Art", actor=school_admin)
    subject = services.create_subject(code="ART", name="Art", actor=district_admin)
    services.set_subject_active(subject, False, actor=district_admin)
    assert subject.is_active is False and _last("classes.subject_deactivated").subject_id == str(subject.id)


# --- classes ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("year", "grade", "name", "fields"), [
    ("2026-2028", 7, "A", {"academic_year"}),
    ("2026", 7, "A", {"academic_year"}),
    ("2026-2027", 13, "A", {"grade"}),
    ("2026-2027", 0, "", {"grade", "name"}),
])
def test_class_fields_are_checked(org, year, grade, name, fields):
    with pytest.raises(ValidationFailed) as bad:
        services.create_class(school=org.school_a, academic_year=year, grade=grade, name=name, actor=SYSTEM)
    assert set(_errors(bad)) == fields


def test_class_names_are_unique_per_school_and_year(org):
    services.create_class(school=org.school_a, academic_year="2026-2027", grade=7, name="Grade 7 Class 1",
                          actor=SYSTEM)
    with pytest.raises(Conflict):
        services.create_class(school=org.school_a, academic_year="2026-2027", grade=7, name="Grade 7 Class 1",
                              actor=SYSTEM)
    assert services.create_class(school=org.school_b, academic_year="2026-2027", grade=7, name="Grade 7 Class 1",
                                 actor=SYSTEM).id
    assert services.create_class(school=org.school_a, academic_year="2027-2028", grade=7, name="Grade 7 Class 1",
                                 actor=SYSTEM).id


def test_a_class_belongs_to_a_school_in_the_actors_scope(org):
    admin_a = factories.make_user("admin", unit=org.school_a, password=None)
    with pytest.raises(NotAllowed):
        services.create_class(school=org.school_b, academic_year="2026-2027", grade=7, name="X", actor=admin_a)
    with pytest.raises(ValidationFailed) as bad:
        services.create_class(school=org.dept_a, academic_year="2026-2027", grade=7, name="X", actor=admin_a)
    assert bad.value.field == "school"


def test_the_year_of_a_class_in_use_cannot_change(year):
    factories.make_student(year.school_a, school_class=year.class_a)
    changes = services.update_class(year.class_a, academic_year="2026-2027", grade=8, name="Renamed", actor=SYSTEM)
    assert changes == {"grade": [7, 8], "name": ["Grade 7 Class 1", "Renamed"]}
    with pytest.raises(ValidationFailed) as refused:
        services.update_class(year.class_a, academic_year="2027-2028", grade=8, name="Renamed", actor=SYSTEM)
    assert refused.value.field == "academic_year"


# --- students ---------------------------------------------------------------------------------------------------


def test_student_numbers_are_unique_per_school(org):
    student = services.create_student(school=org.school_a, student_number=" rs1-001 ", family_name="王",
                                      given_name="小明", actor=SYSTEM)
    assert student.student_number == "RS1-001" and student.full_name == "王小明"
    with pytest.raises(Conflict) as taken:
        services.create_student(school=org.school_a, student_number="RS1-001", family_name="A", given_name="B",
                                actor=SYSTEM)
    assert taken.value.field == "student_number"
    assert services.create_student(school=org.school_b, student_number="RS1-001", family_name="A", given_name="B",
                                   actor=SYSTEM).id


def test_clean_student_reports_every_field_without_touching_the_database():
    values, errors = services.clean_student(student_number="", family_name="a\x00b", given_name=" ",
                                            born_on="2099-01-01")
    assert values is None and set(errors) == {"student_number", "family_name", "given_name", "born_on"}


def test_a_student_leaving_ends_the_current_enrolment(year):
    student = factories.make_student(year.school_a, school_class=year.class_a)
    ended = services.deactivate_student(student, on=date(2027, 1, 15), actor=SYSTEM)
    assert [e.ends_on for e in ended] == [date(2027, 1, 15)] and student.is_active is False
    services.reactivate_student(student, actor=SYSTEM)
    assert student.is_active is True


# --- guardians --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "field"), [
    ({"email": None, "phone": None}, "email"),
    ({"preferred_channel": "sms", "phone": None}, "phone"),
    ({"preferred_channel": "email", "email": None, "phone": "+86 138 0000 0000"}, "email"),
    ({"preferred_channel": "fax"}, "preferred_channel"),
    ({"locale": "fr"}, "locale"),
    ({"email": "not an address"}, "email"),
    ({"phone": "call me"}, "phone"),
    ({"full_name": "  "}, "full_name"),
])
def test_guardian_rules_name_their_field(fields, field):
    values = {"full_name": "Zhou Jie", "email": "zhou@example.test", "phone": None, "preferred_channel": "email",
              "locale": "zh", **fields}
    assert field in services.clean_guardian(**values)[1]


def test_adding_a_guardian_links_them_and_a_duplicate_email_is_refused(year):
    student = factories.make_student(year.school_a)
    link = services.add_guardian(student, relationship="father", full_name="Zhou Jie", email="Zhou@Example.test",
                                 phone="+86 138 0000 0001", preferred_channel="sms", locale="zh", actor=SYSTEM)
    assert (link.guardian.email, link.relationship_kind) == ("zhou@example.test", "father")
    with pytest.raises(Conflict) as duplicate:
        services.add_guardian(factories.make_student(year.school_a), relationship="father", full_name="Other",
                              email="zhou@example.test", actor=SYSTEM)
    assert duplicate.value.field == "email"
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Guardian)) == 1


def test_a_guardian_is_linked_once_per_student_and_can_be_unlinked(year):
    student, sibling = factories.make_student(year.school_a), factories.make_student(year.school_a)
    guardian = factories.make_guardian(student)
    services.link_guardian(sibling, guardian, "mother", actor=SYSTEM)
    with pytest.raises(Conflict):
        services.link_guardian(sibling, guardian, "mother", actor=SYSTEM)
    link = _db.session.scalar(sa.select(StudentGuardian).where(StudentGuardian.student_id == sibling.id))
    services.unlink_guardian(link, actor=SYSTEM)
    assert _db.session.get(Guardian, guardian.id) is not None
    assert _last("classes.guardian_unlinked").changes == {"guardian_id": guardian.id, "relationship": "mother"}


def test_only_a_parent_account_in_reach_can_be_linked_to_a_guardian(year, org):
    admin_a = factories.make_user("admin", unit=org.school_a, password=None)
    student = factories.make_student(year.school_a)
    guardian = factories.make_guardian(student)
    link = guardian.student_links[0]
    fields = {"full_name": guardian.full_name, "email": guardian.email, "phone": None, "preferred_channel": "email",
              "locale": "zh"}
    teacher = factories.make_user("teacher", unit=org.school_a, password=None)
    parent_b = factories.make_user("parent", unit=org.school_b, password=None)
    for account, message in ((teacher, "Only a parent account"), (parent_b, "No account in your schools")):
        with pytest.raises(ValidationFailed, match=message):
            services.edit_guardian(link, relationship="mother", account_email=account.email, actor=admin_a, **fields)
    parent = factories.make_user("parent", unit=org.school_a, password=None)
    factories.make_guardian(factories.make_student(year.school_a), user=parent)
    with pytest.raises(Conflict, match="another guardian"):
        services.edit_guardian(link, relationship="mother", account_email=parent.email, actor=admin_a, **fields)
    assert guardian.user_id is None


# --- enrolments -------------------------------------------------------------------------------------------------


def test_a_student_is_in_one_class_per_year_at_a_time(year):
    other = factories.make_class(year.school_a, name="Grade 7 Class 2")
    next_year = factories.make_class(year.school_a, name="Grade 8 Class 1", academic_year="2027-2028", grade=8)
    student = factories.make_student(year.school_a)
    services.enrol(student, year.class_a, SEP1, actor=SYSTEM)
    with pytest.raises(Conflict, match="one class per year"):
        services.enrol(student, other, date(2026, 10, 1), actor=SYSTEM)
    assert services.enrol(student, next_year, date(2027, 9, 1), actor=SYSTEM).id  # another year


def test_enrolment_dates_and_schools_are_checked(year):
    student_b = factories.make_student(year.school_b)
    with pytest.raises(ValidationFailed) as wrong_school:
        services.enrol(student_b, year.class_a, SEP1, actor=SYSTEM)
    assert wrong_school.value.field == "student_number"
    with pytest.raises(ValidationFailed) as outside:
        services.enrol(factories.make_student(year.school_a), year.class_a, date(2027, 8, 15), actor=SYSTEM)
    assert "starts_on" in _errors(outside)
    left = factories.make_student(year.school_a, is_active=False)
    with pytest.raises(ValidationFailed, match="left the school"):
        services.enrol(left, year.class_a, SEP1, actor=SYSTEM)


def test_ending_and_moving_keep_every_enrolment_row(year):
    other = factories.make_class(year.school_a, name="Grade 7 Class 2")
    student = factories.make_student(year.school_a, school_class=year.class_a)
    first = _db.session.scalars(sa.select(Enrollment)).one()
    moved = services.move_student(first, other, effective_on=date(2026, 11, 2), actor=SYSTEM)
    assert (first.ends_on, moved.starts_on, moved.ends_on) == (date(2026, 11, 1), date(2026, 11, 2), None)
    services.end_enrolment(moved, last_day=date(2027, 1, 31), actor=SYSTEM)
    rows = _db.session.execute(sa.select(Enrollment.class_id, Enrollment.starts_on, Enrollment.ends_on)
                               .where(Enrollment.student_id == student.id).order_by(Enrollment.id)).all()
    assert [tuple(r) for r in rows] == [(year.class_a.id, SEP1, date(2026, 11, 1)),
                                        (other.id, date(2026, 11, 2), date(2027, 1, 31))]
    with pytest.raises(ValidationFailed, match="already ends"):
        services.end_enrolment(moved, last_day=date(2027, 3, 1), actor=SYSTEM)
    assert _last("classes.student_moved").changes["effective_on"] == "2026-11-02"


def test_a_move_into_a_class_of_another_year_is_refused(year):
    factories.make_student(year.school_a, school_class=year.class_a)
    next_year = factories.make_class(year.school_a, name="Grade 8", academic_year="2027-2028", grade=8)
    with pytest.raises(ValidationFailed) as refused:
        services.move_student(_db.session.scalars(sa.select(Enrollment)).one(), next_year,
                              effective_on=date(2026, 11, 2), actor=SYSTEM)
    assert refused.value.field == "new_class"
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Student)) == 1
