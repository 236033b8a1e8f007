"""The staff services: field rules, uniqueness per school, scope, optimistic locking, accounts, status."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from app.extensions import db
from app.general.audit.models import AuditEvent
from app.general.auth.models import User
from app.general.notifications.models import Notification
from app.school.staff import services
from app.school.staff.models import StaffMember
from tests import factories


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _events(action: str) -> list[AuditEvent]:
    from tests.school.staff.conftest import AUDIT_BASELINE

    stmt = sa.select(AuditEvent).where(AuditEvent.action == action, AuditEvent.seq > AUDIT_BASELINE["seq"])
    return list(db.session.scalars(stmt))


def test_create_staff_stores_cleaned_values_and_is_audited(org, admin_a, maths, fields):
    staff = services.create_staff(actor=admin_a, school_id=org.school_a.id, department_id=org.dept_a.id,
                                  subject_ids=[maths.id], **fields(employee_number=" t001 ", family_name="  Wang ",
                                                                   email="Fang@Example.org"))
    assert staff.id and staff.school == org.school_a and staff.department == org.dept_a
    assert (staff.employee_number, staff.family_name, staff.email) == ("T001", "Wang", "fang@example.org")
    assert staff.status == "active" and staff.subjects == [maths] and staff.user is None
    (event,) = _events("staff.created")
    assert event.subject_id == str(staff.id) and event.actor_id == admin_a.id
    assert event.changes["employee_number"] == "T001" and event.changes["subjects"] == ["MATH"]
    assert event.scope_path == org.dept_a.path


def test_the_same_employee_number_is_allowed_in_another_school(org, district_admin, fields):
    services.create_staff(actor=district_admin, school_id=org.school_a.id, **fields())
    other = services.create_staff(actor=district_admin, school_id=org.school_b.id, **fields())
    assert other.employee_number == "T001" and other.school == org.school_b


def test_a_duplicate_employee_number_in_the_same_school_is_refused_on_its_field(org, admin_a, fields):
    services.create_staff(actor=admin_a, school_id=org.school_a.id, **fields())
    with pytest.raises(Conflict) as refused:
        services.create_staff(actor=admin_a, school_id=org.school_a.id, **fields(employee_number="t001",
                                                                                 family_name="Li"))
    assert refused.value.field == "employee_number" and "T001" in refused.value.message
    assert _count(StaffMember) == 1


def test_a_department_of_another_school_is_refused(org, district_admin, fields):
    with pytest.raises(ValidationFailed) as refused:
        services.create_staff(actor=district_admin, school_id=org.school_a.id, department_id=org.dept_b.id,
                              **fields())
    assert refused.value.field == "department"
    assert _count(StaffMember) == 0


def test_probation_ending_before_the_hire_date_is_refused(org, admin_a, fields):
    with pytest.raises(ValidationFailed) as refused:
        services.create_staff(actor=admin_a, school_id=org.school_a.id,
                              **fields(hired_on=date(2024, 9, 1), probation_ends_on=date(2024, 8, 31)))
    assert refused.value.field == "probation_ends_on"


@pytest.mark.parametrize("periods", [-1, 61, "many", None, True])
def test_max_weekly_periods_must_be_a_whole_number_from_0_to_60(org, admin_a, fields, periods):
    with pytest.raises(ValidationFailed) as refused:
        services.create_staff(actor=admin_a, school_id=org.school_a.id, **fields(max_weekly_periods=periods))
    assert refused.value.field == "max_weekly_periods"


def test_every_bad_field_is_reported_at_once(org, admin_a, fields):
    with pytest.raises(services.StaffInvalid) as refused:
        services.create_staff(actor=admin_a, school_id=org.school_a.id, subject_ids=[999_999], **fields(
            employee_number="", family_name=" ", email="not-an-address", phone="call me", hired_on=None,
            max_weekly_periods=99))
    assert set(refused.value.errors) == {"employee_number", "family_name", "email", "phone", "hired_on",
                                         "max_weekly_periods", "subjects"}


def test_a_school_outside_the_actors_scope_is_refused(org, admin_a, fields):
    with pytest.raises(NotAllowed):
        services.create_staff(actor=admin_a, school_id=org.school_b.id, **fields())
    assert _count(StaffMember) == 0 and _events("staff.created") == []


def test_a_department_admin_cannot_place_staff_at_school_level(org, fields):
    dept_admin = factories.make_user("admin", unit=org.dept_a)
    with pytest.raises(NotAllowed):
        services.create_staff(actor=dept_admin, school_id=org.school_a.id, **fields())
    staff = services.create_staff(actor=dept_admin, school_id=org.school_a.id, department_id=org.dept_a.id,
                                  **fields())
    assert staff.department == org.dept_a


def test_validate_staff_reports_field_errors_without_touching_the_database(org):
    before = _count(StaffMember), _count(AuditEvent)
    errors = services.validate_staff(employee_number="007", family_name="O'Hara", given_name="ねこ",
                                     hired_on=date(2020, 1, 1), probation_ends_on=date(2019, 1, 1),
                                     max_weekly_periods="12", school=org.school_a, department=org.dept_b)
    assert errors == {"probation_ends_on": errors["probation_ends_on"], "department": errors["department"]}
    assert services.validate_staff(employee_number="007", family_name="O'Hara", given_name="ねこ",
                                   hired_on=date(2020, 1, 1), max_weekly_periods="12", school=org.school_a) == {}
    assert (_count(StaffMember), _count(AuditEvent)) == before


# --- update and optimistic locking ----------------------------------------------------------------


def test_update_staff_records_only_what_changed(org, admin_a, maths, fields):
    staff = services.create_staff(actor=admin_a, school_id=org.school_a.id, **fields())
    version = staff.version
    changes = services.update_staff(staff, actor=admin_a, expected_version=version, department_id=org.dept_a.id,
                                    subject_ids=[maths.id], **fields(phone="010 1234 5678"))
    assert set(changes) == {"department", "phone", "subjects"}
    assert staff.version == version + 1
    (event,) = _events("staff.updated")
    assert event.changes["phone"] == ["+86 138 0000 0000", "010 1234 5678"]


def test_changing_only_the_subjects_still_bumps_the_version(org, admin_a, maths, fields):
    staff = services.create_staff(actor=admin_a, school_id=org.school_a.id, **fields())
    version = staff.version
    services.update_staff(staff, actor=admin_a, expected_version=version, subject_ids=[maths.id], **fields())
    assert staff.version == version + 1


def test_a_stale_version_is_a_conflict_and_changes_nothing(org, admin_a, fields):
    staff = services.create_staff(actor=admin_a, school_id=org.school_a.id, **fields())
    seen = staff.version
    services.update_staff(staff, actor=admin_a, expected_version=seen, **fields(given_name="Min"))
    with pytest.raises(Conflict) as refused:
        services.update_staff(staff, actor=admin_a, expected_version=seen, **fields(given_name="Lei"))
    assert "someone else changed this record" in refused.value.message.lower()
    assert staff.given_name == "Min" and len(_events("staff.updated")) == 1


def test_a_concurrent_write_between_load_and_flush_is_a_conflict(org, admin_a, fields):
    staff = services.create_staff(actor=admin_a, school_id=org.school_a.id, **fields())
    # another transaction saved in the meantime: the row's version moved on behind this session's back
    db.session.execute(sa.update(StaffMember.__table__).where(StaffMember.__table__.c.id == staff.id)
                       .values(version=StaffMember.__table__.c.version + 1))
    with pytest.raises(Conflict):
        services.update_staff(staff, actor=admin_a, expected_version=staff.version, **fields(given_name="Lei"))


def test_update_refuses_a_number_taken_in_the_school(org, admin_a, fields):
    services.create_staff(actor=admin_a, school_id=org.school_a.id, **fields(employee_number="T002"))
    staff = services.create_staff(actor=admin_a, school_id=org.school_a.id, **fields())
    with pytest.raises(Conflict) as refused:
        services.update_staff(staff, actor=admin_a, expected_version=staff.version, **fields(employee_number="T002"))
    assert refused.value.field == "employee_number"


def test_update_cannot_reach_staff_outside_the_actors_scope(org, admin_a, fields):
    staff = factories.make_staff(org.school_b)
    with pytest.raises(NotAllowed):
        services.update_staff(staff, actor=admin_a, expected_version=staff.version, **fields())


def test_update_cannot_move_staff_into_a_department_of_another_school(org, district_admin, fields):
    staff = factories.make_staff(org.school_a)
    with pytest.raises(ValidationFailed) as refused:
        services.update_staff(staff, actor=district_admin, department_id=org.dept_b.id, **fields())
    assert refused.value.field == "department" and staff.school == org.school_a


# --- accounts --------------------------------------------------------------------------------------


def test_create_with_account_creates_a_teacher_scoped_to_the_department_and_one_invitation(org, admin_a, fields,
                                                                                          in_request):
    staff = services.create_staff(actor=admin_a, school_id=org.school_a.id, department_id=org.dept_a.id,
                                  create_account=True, account_locale="zh", **fields())
    user = staff.user
    assert user.role == "teacher" and user.email == "fang@example.org" and user.password_hash is None
    assert [s.org_unit for s in user.scopes] == [org.dept_a] and user.locale == "zh"
    assert user.display_name == "Fang Wang"
    mails = db.session.scalars(sa.select(Notification).where(Notification.recipient_user_id == user.id)).all()
    assert [(m.template, m.channel) for m in mails] == [("auth/messages/invitation", "email")]
    assert len(_events("staff.account_linked")) == 1


def test_create_with_account_needs_an_email_and_writes_nothing_without_one(org, admin_a, fields):
    with pytest.raises(ValidationFailed) as refused:
        services.create_staff(actor=admin_a, school_id=org.school_a.id, create_account=True, **fields(email=""))
    assert refused.value.field == "email"
    assert _count(StaffMember) == 0 and _count(Notification) == 0


def test_create_with_account_for_a_taken_email_writes_nothing(org, admin_a, fields):
    factories.make_user("teacher", unit=org.school_a, email="fang@example.org")
    users, events = _count(User), _count(AuditEvent)
    with pytest.raises(Conflict) as refused:
        services.create_staff(actor=admin_a, school_id=org.school_a.id, create_account=True, **fields())
    assert refused.value.field == "email"
    assert (_count(StaffMember), _count(User), _count(AuditEvent), _count(Notification)) == (0, users, events, 0)


def test_link_and_unlink_an_existing_account(org, admin_a):
    staff = factories.make_staff(org.school_a, department=org.dept_a)
    teacher = factories.make_user("teacher", unit=org.dept_a)
    services.link_account(staff, teacher, actor=admin_a)
    assert staff.user == teacher
    services.unlink_account(staff, actor=admin_a)
    assert staff.user is None and teacher.is_active_account
    mine = sa.select(AuditEvent).where(AuditEvent.subject_type == "StaffMember", AuditEvent.subject_id == str(staff.id))
    assert [e.action for e in db.session.scalars(mine.order_by(AuditEvent.seq))] == [
        "staff.account_linked", "staff.account_unlinked"]


def test_an_account_cannot_be_linked_twice(org, admin_a):
    teacher = factories.make_user("teacher", unit=org.school_a)
    factories.make_staff(org.school_a, user=teacher)
    with pytest.raises(Conflict):
        services.link_account(factories.make_staff(org.school_a), teacher, actor=admin_a)


@pytest.mark.parametrize("role", ["parent", "admin"])
def test_only_teacher_and_head_accounts_can_be_linked(org, admin_a, role):
    with pytest.raises(ValidationFailed):
        services.link_account(factories.make_staff(org.school_a), factories.make_user(role, unit=org.school_a),
                              actor=admin_a)


def test_an_account_of_another_school_is_not_found_by_email(org, district_admin, admin_a):
    factories.make_user("teacher", unit=org.school_b, email="b@example.org")
    staff = factories.make_staff(org.school_a)
    with pytest.raises(ValidationFailed) as refused:
        services.link_account_by_email(staff, "b@example.org", actor=admin_a)
    assert refused.value.field == "email"
    with pytest.raises(ValidationFailed):  # the district admin reaches it, but it works in another school
        services.link_account_by_email(staff, "B@example.org", actor=district_admin)


# --- status ------------------------------------------------------------------------------------------


def test_status_moves_through_notice_to_departed_and_departed_is_final(org, admin_a):
    staff = factories.make_staff(org.school_a, hired_on=date(2020, 9, 1))
    services.set_status(staff, "on_notice", actor=admin_a)
    services.set_status(staff, "departed", actor=admin_a, on=date(2026, 1, 31))
    assert staff.status == "departed" and staff.departed_on == date(2026, 1, 31)
    for status in ("active", "on_notice"):
        with pytest.raises(InvalidTransition):
            services.set_status(staff, status, actor="system")
    assert [e.changes["status"] for e in _events("staff.status_changed")] == [
        ["active", "on_notice"], ["on_notice", "departed"]]


def test_notice_can_be_withdrawn_but_an_unknown_status_cannot_be_set(org, admin_a):
    staff = factories.make_staff(org.school_a)
    services.set_status(staff, "on_notice", actor=admin_a)
    services.set_status(staff, "active", actor=admin_a)
    assert staff.status == "active" and staff.departed_on is None
    with pytest.raises(InvalidTransition):
        services.set_status(staff, "retired", actor=admin_a)


def test_departure_cannot_be_dated_before_the_hire(org, admin_a):
    staff = factories.make_staff(org.school_a, hired_on=date(2024, 9, 1))
    with pytest.raises(ValidationFailed):
        services.set_status(staff, "departed", actor=admin_a, on=date(2024, 8, 1))
    assert staff.status == "active"


def test_the_maximum_cannot_drop_below_the_periods_already_taught(org, admin_a, fields):
    staff = services.create_staff(actor=admin_a, school_id=org.school_a.id, **fields(max_weekly_periods=16))
    klass = factories.make_class(org.school_a)
    factories.make_assignment(klass, staff, subject=factories.make_subject(), weekly_periods=10,
                              starts_on=date(2020, 9, 1))
    with pytest.raises(ValidationFailed) as refused:
        services.update_staff(staff, actor=admin_a, **fields(max_weekly_periods=8))
    assert refused.value.field == "max_weekly_periods" and "10" in refused.value.message
    services.update_staff(staff, actor=admin_a, **fields(max_weekly_periods=10))
    assert staff.max_weekly_periods == 10
