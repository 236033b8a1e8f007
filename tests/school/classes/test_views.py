"""The classes pages in the browser's place: lists, the class page, the forms (errors at the field, nothing
written), the teacher-load chart, the parent's page and the dashboard card."""
from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.school.classes.models import Assignment, Enrollment, Guardian, SchoolClass, StudentGuardian, Subject
from tests import factories
from tests.school.classes.conftest import SEP1


def _keep() -> None:
    """Commit the setup (inside the test's outer transaction) so a view's rollback discards only its own work."""
    _db.session.commit()


def _ids(html: str, attribute: str) -> set[int]:
    return {int(n) for n in re.findall(rf'{attribute}="(\d+)"', html)}


def _count(model) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def admin(login_as, org):
    return login_as("admin", unit=org.school_a)


# --- lists --------------------------------------------------------------------------------------------------


def test_class_list_shows_homeroom_teacher_and_students_today(client, year, admin):
    factories.make_assignment(year.class_a, year.teacher_a, weekly_periods=1)
    for _n in range(3):
        factories.make_student(year.school_a, school_class=year.class_a)
    html = client.get("/classes/").get_data(as_text=True)
    assert _ids(html, "data-class-id") == {year.class_a.id}
    row = html[html.index(f'data-class-id="{year.class_a.id}"'):]
    assert "Wei Li" in row[:1500] and ">3<" in row[:1500].replace(" ", "")


def test_class_list_filters_by_year_and_grade_and_paginates(client, year, admin):
    factories.make_class(year.school_a, name="Old class", academic_year="2025-2026", grade=8)
    for n in range(30):
        factories.make_class(year.school_a, name=f"Grade 9 Class {n:02d}", grade=9)
    assert _ids(client.get("/classes/?academic_year=2025-2026").get_data(as_text=True), "data-class-id") != set()
    grade9 = client.get("/classes/?grade=9").get_data(as_text=True)
    assert len(_ids(grade9, "data-class-id")) == 25 and "30 in all" in grade9
    assert len(_ids(client.get("/classes/?grade=9&page=2").get_data(as_text=True), "data-class-id")) == 5


def test_an_empty_list_says_what_to_do(client, org, admin):
    html = client.get("/classes/").get_data(as_text=True)
    assert "Your schools have no classes yet" in html and "Create the first class" in html
    assert "No class of your schools matches" in client.get("/classes/?grade=3").get_data(as_text=True)


def test_student_search_by_name_number_and_cjk_name(client, year, admin):
    wang = factories.make_student(year.school_a, family_name="王", given_name="小明", student_number="RS1-007",
                                  school_class=year.class_a)
    smith = factories.make_student(year.school_a, family_name="Smith", given_name="Anna")
    cases = (("王小明", {wang.id}), ("rs1-007", {wang.id}), ("anna smith", {smith.id}), ("", {wang.id, smith.id}))
    for query, expected in cases:
        html = client.get("/classes/students/", query_string={"q": query}).get_data(as_text=True)
        assert _ids(html, "data-student-id") == expected, query


# --- the class page -----------------------------------------------------------------------------------------


def test_class_page_shows_teachers_now_and_before_and_students_with_guardians(client, year, admin):
    old = factories.make_assignment(year.class_a, year.teacher_a, weekly_periods=1, ends_on=date(2026, 10, 31))
    old.end_reason = "Moved to Grade 9"
    now = factories.make_assignment(year.class_a, year.teacher_a2, weekly_periods=1, starts_on=date(2026, 11, 1))
    maths = factories.make_assignment(year.class_a, year.teacher_a, subject=year.math, weekly_periods=5)
    student = factories.make_student(year.school_a, family_name="Zhou", given_name="Lan", school_class=year.class_a)
    left = factories.make_student(year.school_a, school_class=year.class_a)
    _db.session.scalars(sa.select(Enrollment).where(Enrollment.student_id == left.id)).one().ends_on = date(2026, 9, 30)
    factories.make_guardian(student, full_name="Zhou Jie", relationship="father", preferred_channel="email")
    html = client.get(f"/classes/{year.class_a.id}").get_data(as_text=True)
    current = html[html.index('data-testid="current-teachers"'):html.index('data-testid="teacher-history"')]
    assert _ids(current, "data-assignment-id") == {now.id, maths.id}
    history = html[html.index('data-testid="teacher-history"'):]
    assert _ids(history, "data-assignment-id") >= {old.id} and "Moved to Grade 9" in history
    assert _ids(html, "data-student-id") == {student.id}
    assert "Zhou Jie" in html and "Father" in html
    assert f"/classes/assignments/{maths.id}/change" in html and f"/classes/{year.class_a.id}/enrol" in html


def test_a_head_sees_the_class_page_without_the_buttons(client, year, login_as, org):
    login_as("head", unit=org.school_a)
    assignment = factories.make_assignment(year.class_a, year.teacher_a, weekly_periods=1)
    html = client.get(f"/classes/{year.class_a.id}").get_data(as_text=True)
    assert "Wei Li" in html
    assert f"/classes/assignments/{assignment.id}/change" not in html and "/enrol" not in html
    assert client.get(f"/classes/{year.class_a.id}/assign").status_code == 403


# --- forms ----------------------------------------------------------------------------------------------------


def _assign_form(year, **overrides) -> dict:
    data = {"staff": year.teacher_a.id, "role": "subject", "subject": year.math.id, "weekly_periods": 5,
            "starts_on": "2026-09-01", "override_reason": "", "version": year.class_a.version}
    data.update(overrides)
    return data


def test_assigning_a_teacher_through_the_form(client, year, admin):
    _keep()
    form = client.get(f"/classes/{year.class_a.id}/assign").get_data(as_text=True)
    assert "Wei Li — 0 of 16 periods" in form and "Yang" not in form  # only teachers of this school
    response = client.post(f"/classes/{year.class_a.id}/assign", data=_assign_form(year))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/classes/{year.class_a.id}#teachers")
    assignment = _db.session.scalars(sa.select(Assignment)).one()
    assert (assignment.staff_id, assignment.weekly_periods, assignment.starts_on) == (year.teacher_a.id, 5, SEP1)


def test_over_capacity_is_shown_at_the_periods_field_and_nothing_is_written(client, year, admin):
    _keep()
    response = client.post(f"/classes/{year.class_a.id}/assign", data=_assign_form(year, weekly_periods=17))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    field = html[html.index('id="weekly_periods"') - 200:html.index('id="weekly_periods"') + 600]
    assert "is-invalid" in field and "over their maximum of 16" in field
    assert _count(Assignment) == 0


def test_a_missing_override_reason_is_asked_for_at_its_field(client, year, admin):
    _keep()
    response = client.post(f"/classes/{year.class_a.id}/assign", data=_assign_form(year, subject=year.english.id))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    field = html[html.index('id="override_reason"') - 300:html.index('id="override_reason"') + 800]
    assert "does not list English" in field
    response = client.post(f"/classes/{year.class_a.id}/assign",
                           data=_assign_form(year, subject=year.english.id, override_reason="Native speaker"))
    assert response.status_code == 302
    assert _db.session.scalars(sa.select(Assignment)).one().qualification_override == "Native speaker"


def test_a_stale_form_is_refused_with_a_message_above_it(client, year, admin):
    _keep()
    stale = year.class_a.version
    factories.make_assignment(year.class_a, year.teacher_a2, weekly_periods=1)
    _db.session.execute(sa.update(SchoolClass).where(SchoolClass.id == year.class_a.id).values(version=stale + 1))
    _keep()
    response = client.post(f"/classes/{year.class_a.id}/assign", data=_assign_form(year, version=stale))
    assert response.status_code == 422
    assert "at the same time" in response.get_data(as_text=True)
    assert _count(Assignment) == 1


def test_change_teacher_through_the_form_keeps_the_history(client, year, admin):
    old = factories.make_assignment(year.class_a, year.teacher_a, subject=year.math, weekly_periods=5)
    _keep()
    page = client.get(f"/classes/assignments/{old.id}/change").get_data(as_text=True)
    assert "Emily Johnson" in page
    response = client.post(f"/classes/assignments/{old.id}/change", data={
        "staff": year.teacher_a2.id, "effective_on": "2026-11-16", "reason": "Parental leave",
        "version": year.class_a.version})
    assert response.status_code == 302
    rows = _db.session.execute(sa.select(Assignment.staff_id, Assignment.starts_on, Assignment.ends_on)
                               .order_by(Assignment.id)).all()
    assert [tuple(r) for r in rows] == [(year.teacher_a.id, SEP1, date(2026, 11, 15)),
                                         (year.teacher_a2.id, date(2026, 11, 16), None)]


def test_ending_an_assignment_needs_a_reason(client, year, admin):
    assignment = factories.make_assignment(year.class_a, year.teacher_a, subject=year.math)
    _keep()
    response = client.post(f"/classes/assignments/{assignment.id}/end", data={"last_day": "2026-12-31", "reason": ""})
    assert response.status_code == 422 and assignment.ends_on is None
    response = client.post(f"/classes/assignments/{assignment.id}/end",
                           data={"last_day": "2026-12-31", "reason": "Timetable"})
    assert response.status_code == 302
    _db.session.refresh(assignment)
    assert assignment.ends_on == date(2026, 12, 31)


def test_enrolling_by_student_number_and_the_one_class_a_year_rule(client, year, admin):
    student = factories.make_student(year.school_a, student_number="A-001")
    other = factories.make_class(year.school_a, name="Grade 7 Class 2")
    _keep()
    response = client.post(f"/classes/{year.class_a.id}/enrol", data={"student_number": "a-001",
                                                                      "starts_on": "2026-09-01"})
    assert response.status_code == 302
    refused = client.post(f"/classes/{other.id}/enrol", data={"student_number": "A-001", "starts_on": "2026-10-01"})
    assert refused.status_code == 422 and "one class per year" in refused.get_data(as_text=True)
    unknown = client.post(f"/classes/{other.id}/enrol", data={"student_number": "nobody", "starts_on": "2026-10-01"})
    assert unknown.status_code == 422 and "No student of School A has this number" in unknown.get_data(as_text=True)
    assert [e.class_id for e in _db.session.scalars(sa.select(Enrollment).where(Enrollment.student_id == student.id))] \
        == [year.class_a.id]


def test_moving_a_student_ends_the_old_enrolment_the_day_before(client, year, admin):
    student = factories.make_student(year.school_a, school_class=year.class_a)
    other = factories.make_class(year.school_a, name="Grade 7 Class 2")
    enrolment = _db.session.scalars(sa.select(Enrollment)).one()
    _keep()
    response = client.post(f"/classes/enrolments/{enrolment.id}/move", data={"new_class": other.id,
                                                                             "effective_on": "2026-11-02"})
    assert response.status_code == 302
    rows = _db.session.execute(sa.select(Enrollment.class_id, Enrollment.starts_on, Enrollment.ends_on)
                               .where(Enrollment.student_id == student.id).order_by(Enrollment.id)).all()
    assert [tuple(r) for r in rows] == [(year.class_a.id, SEP1, date(2026, 11, 1)), (other.id, date(2026, 11, 2), None)]


def test_creating_a_class_and_a_duplicate_name(client, year, admin):
    _keep()
    response = client.post("/classes/new", data={"school": year.school_a.id, "name": "Grade 8 Class 1", "grade": 8,
                                                 "academic_year": "2026-2027"})
    assert response.status_code == 302
    duplicate = client.post("/classes/new", data={"school": year.school_a.id, "name": "Grade 8 Class 1", "grade": 8,
                                                  "academic_year": "2026-2027"})
    assert duplicate.status_code == 422 and "already has a class named" in duplicate.get_data(as_text=True)
    bad = client.post("/classes/new", data={"school": year.school_a.id, "name": "X", "grade": 8,
                                            "academic_year": "2026-2028"})
    assert bad.status_code == 422 and "two consecutive years" in bad.get_data(as_text=True)


def test_an_admin_cannot_create_a_class_in_another_school(client, year, admin):
    _keep()
    response = client.post("/classes/new", data={"school": year.school_b.id, "name": "Sneaky", "grade": 8,
                                                 "academic_year": "2026-2027"})
    assert response.status_code in (403, 422)
    assert _db.session.scalar(sa.select(SchoolClass).where(SchoolClass.name == "Sneaky")) is None


def test_adding_editing_and_linking_guardians(client, year, admin):
    first = factories.make_student(year.school_a, school_class=year.class_a)
    sibling = factories.make_student(year.school_a)
    parent = factories.make_user("parent", unit=year.school_a, email="mum@example.test")
    _keep()
    missing_contact = client.post(f"/classes/students/{first.id}/guardians/new", data={
        "full_name": "Mum", "relationship": "mother", "email": "", "phone": "", "preferred_channel": "email",
        "locale": "zh"})
    assert missing_contact.status_code == 422 and _count(Guardian) == 0
    sms_without_phone = client.post(f"/classes/students/{first.id}/guardians/new", data={
        "full_name": "Mum", "relationship": "mother", "email": "mum@example.test", "phone": "",
        "preferred_channel": "sms", "locale": "zh"})
    assert sms_without_phone.status_code == 422 and "Notices go by SMS" in sms_without_phone.get_data(as_text=True)
    assert client.post(f"/classes/students/{first.id}/guardians/new", data={
        "full_name": "Mum", "relationship": "mother", "email": "Mum@Example.test", "phone": "+86 138 0000 0000",
        "preferred_channel": "sms", "locale": "zh"}).status_code == 302
    guardian = _db.session.scalars(sa.select(Guardian)).one()
    assert (guardian.email, guardian.preferred_channel) == ("mum@example.test", "sms")
    assert client.post(f"/classes/students/{sibling.id}/guardians/link", data={
        "email": "mum@example.test", "relationship": "mother"}).status_code == 302
    assert {link.student_id for link in _db.session.scalars(sa.select(StudentGuardian))} == {first.id, sibling.id}
    response = client.post(f"/classes/students/{first.id}/guardians/{guardian.id}", data={
        "full_name": "Mum Zhou", "relationship": "guardian", "email": "mum@example.test", "phone": "",
        "preferred_channel": "email", "locale": "en", "account_email": parent.email})
    assert response.status_code == 302
    _db.session.refresh(guardian)
    assert (guardian.full_name, guardian.locale, guardian.user_id) == ("Mum Zhou", "en", parent.id)


def test_viewing_a_student_record_is_audited(client, year, admin):
    student = factories.make_student(year.school_a)
    before = _count(AuditEvent)
    assert client.get(f"/classes/students/{student.id}").status_code == 200
    event = _db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert _count(AuditEvent) == before + 1
    assert (event.action, event.subject_type, event.subject_id, event.actor_id) == \
        ("classes.student_viewed", "Student", str(student.id), admin.id)


def test_subjects_are_edited_only_by_a_district_administrator(client, year, login_as, org):
    login_as("admin", unit=org.school_a)
    html = client.get("/classes/subjects/").get_data(as_text=True)
    assert "Maths" in html and "/classes/subjects/new" not in html
    assert client.post("/classes/subjects/new", data={"code": "ART", "name": "Art"}).status_code == 403
    login_as("admin", unit=org.district)
    _keep()
    assert client.post("/classes/subjects/new", data={"code": "art", "name": "Art"}).status_code == 302
    assert _db.session.scalar(sa.select(Subject).where(Subject.code == "ART")).name == "Art"
    duplicate = client.post("/classes/subjects/new", data={"code": "ART", "name": "Arts"})
    assert duplicate.status_code == 422 and "already used" in duplicate.get_data(as_text=True)


# --- teacher load -------------------------------------------------------------------------------------------


def test_load_page_draws_a_bar_per_teacher_with_over_capacity_in_red(client, year, admin):
    factories.make_assignment(year.class_a, year.teacher_a, subject=year.math, weekly_periods=12)
    year.teacher_a2.max_weekly_periods = 4
    factories.make_assignment(year.class_a, year.teacher_a2, subject=year.english, weekly_periods=6)
    response = client.get("/classes/load", query_string={"school": year.school_a.id, "on": "2026-11-02"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<svg" in html and 'role="img"' in html and "<script" not in html.split("<main", 1)[1].split("</main>")[0]
    assert html.count('class="chart-row') == 2 and html.count("chart-row chart-over") == 1
    assert "#dc3545" in html and "6/4 !" in html and "12/16" in html
    table = html[html.index('id="load-chart-table"'):]
    assert "Emily Johnson" in table and "2 over" in table
    assert html.index("Emily Johnson") < html.index("Wei Li")  # fullest first
    assert "Yang" not in html  # another school's teacher


def test_load_page_for_another_school_is_refused(client, year, admin):
    assert client.get("/classes/load", query_string={"school": year.school_b.id}).status_code == 403


# --- the parent -----------------------------------------------------------------------------------------------


def test_a_parent_sees_their_children_classes_and_teachers_only(client, year, login_as, org):
    parent = login_as("parent", unit=org.school_a)
    mine = factories.make_student(year.school_a, family_name="Sun", given_name="Mei", school_class=year.class_a)
    elsewhere = factories.make_student(year.school_b, family_name="Sun", given_name="Hao", school_class=year.class_b)
    classmate = factories.make_student(year.school_a, family_name="Other", given_name="Kid", school_class=year.class_a)
    factories.make_guardian(mine, elsewhere, user=parent)
    factories.make_guardian(classmate)
    factories.make_assignment(year.class_a, year.teacher_a, weekly_periods=1)
    factories.make_assignment(year.class_b, year.teacher_b, subject=year.math)
    html = client.get("/classes/my-children").get_data(as_text=True)
    assert _ids(html, "data-student-id") == {mine.id, elsewhere.id}
    assert "Other" not in html and "Kid" not in html
    assert "Wei Li" in html and "Lei Yang" in html and "Homeroom teacher" in html
    dashboard = client.get("/").get_data(as_text=True)
    assert "Mei Sun" in dashboard and "Homeroom teacher: Wei Li" in dashboard


def test_a_parent_without_a_linked_guardian_is_told_what_to_do(client, login_as):
    login_as("parent")
    html = client.get("/classes/my-children").get_data(as_text=True)
    assert "No children linked yet" in html
