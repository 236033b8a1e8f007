"""Staff members: create, edit, link a portal account, change status. Flush, audit, never commit.

Every function checks all of its rules before it changes anything, so a refusal leaves the session
untouched; the caller commits once. `validate_staff` applies the same field rules without the
database (for spreadsheet rows); uniqueness in the database is `queries.taken_employee_numbers`.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy.orm.exc import StaleDataError

from app.core.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import SYSTEM, record
from app.general.auth.models import Role, User
from app.general.org.models import OrgUnit, OrgUnitKind
from app.school.classes.models import Subject
from app.school.staff import queries
from app.school.staff.models import StaffMember, StaffStatus

log = logging.getLogger(__name__)

EMPLOYEE_NUMBER_MAX, NAME_MAX, EMAIL_MAX, PHONE_MAX = 40, 100, 254, 40
MAX_PERIODS = 60
EMPLOYEE_NUMBER_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9._/-]*$")
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ()-]*[0-9]$")
# Status changes come from offboarding; departed is final.
TRANSITIONS = {
    StaffStatus.ACTIVE: {StaffStatus.ON_NOTICE, StaffStatus.DEPARTED},
    StaffStatus.ON_NOTICE: {StaffStatus.ACTIVE, StaffStatus.DEPARTED},
    StaffStatus.DEPARTED: set(),
}
LINKABLE_ROLES = {Role.TEACHER.value, Role.HEAD.value}


class StaffInvalid(ValidationFailed):
    """Several fields break rules at once; `errors` maps each field name to its message."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = dict(errors)


def stale_message() -> str:
    return _("Someone else changed this record while you were editing it. Your changes were not saved: "
             "reload the page to see the current record, then make your changes again.")


@dataclass
class StaffValues:
    """The cleaned fields of a staff record (what the services store)."""

    employee_number: str
    family_name: str
    given_name: str
    email: str | None
    phone: str | None
    hired_on: date
    probation_ends_on: date | None
    max_weekly_periods: int


# --- field rules (pure) ----------------------------------------------------------------------------


def normalise_employee_number(value: Any) -> str:
    """Employee numbers are compared and stored upper-case without surrounding blanks."""
    return "" if value is None else str(value).strip().upper()


def _employee_number(value: Any) -> tuple[str, str | None]:
    number = normalise_employee_number(value)
    if not number:
        return number, _("Enter the employee number.")
    if len(number) > EMPLOYEE_NUMBER_MAX or not EMPLOYEE_NUMBER_PATTERN.match(number):
        return number, _("An employee number has up to %(n)d letters, digits, dots, dashes, slashes or underscores.",
                         n=EMPLOYEE_NUMBER_MAX)
    return number, None


def _name(value: Any, missing: str) -> tuple[str, str | None]:
    name = " ".join(("" if value is None else str(value)).split())
    if not name:
        return name, missing
    if len(name) > NAME_MAX:
        return name, _("A name has at most %(n)d characters.", n=NAME_MAX)
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return name, _("A name cannot contain control characters.")
    return name, None


def check_email(value: Any) -> tuple[str | None, str | None]:
    """A cleaned, lower-case address (None when blank) and the problem with it, if any."""
    address = ("" if value is None else str(value)).strip().lower()
    if not address:
        return None, None
    if len(address) > EMAIL_MAX:
        return address, _("An e-mail address has at most %(n)d characters.", n=EMAIL_MAX)
    try:
        validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return address, _("Enter a valid e-mail address, such as name@school.edu.cn.")
    return address, None


def _phone(value: Any) -> tuple[str | None, str | None]:
    phone = " ".join(("" if value is None else str(value)).split())
    if not phone:
        return None, None
    if len(phone) > PHONE_MAX or not PHONE_PATTERN.match(phone):
        return phone, _("Enter a phone number of digits, spaces, dashes and brackets, optionally starting with +.")
    return phone, None


def _hired_on(value: Any, today: date) -> tuple[date | None, str | None]:
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        return None, _("Enter the hire date.")
    if value.year < 1900:
        return value, _("Enter a real hire date.")
    if value > today + timedelta(days=366):
        return value, _("The hire date cannot be more than a year ahead.")
    return value, None


def _probation(value: Any, hired_on: date | None) -> tuple[date | None, str | None]:
    if isinstance(value, datetime):
        value = value.date()
    if value in (None, ""):
        return None, None
    if not isinstance(value, date):
        return None, _("Enter a valid date for the end of probation.")
    if hired_on is not None and value < hired_on:
        return value, _("Probation cannot end before the hire date.")
    return value, None


def _periods(value: Any) -> tuple[int | None, str | None]:
    message = _("Enter a whole number of periods from 0 to %(n)d.", n=MAX_PERIODS)
    if isinstance(value, bool) or value in (None, ""):
        return None, message
    try:
        periods = int(str(value).strip())
    except ValueError:
        return None, message
    return (periods, None) if 0 <= periods <= MAX_PERIODS else (periods, message)


def _units(school: OrgUnit | None, department: OrgUnit | None, *, allow_inactive: bool) -> dict[str, str]:
    errors: dict[str, str] = {}
    if school is None or school.kind != OrgUnitKind.SCHOOL:
        errors["school"] = _("Choose a school.")
    elif not school.is_active and not allow_inactive:
        errors["school"] = _("%(name)s is deactivated: choose an active school.", name=school.name)
    if department is None or "school" in errors:
        return errors
    if department.kind != OrgUnitKind.DEPARTMENT or department.parent_id != school.id:
        errors["department"] = _("Choose a department of %(school)s.", school=school.name)
    elif not department.is_active and not allow_inactive:
        errors["department"] = _("%(name)s is deactivated: choose an active department.", name=department.name)
    return errors


def clean_staff(*, employee_number: Any, family_name: Any, given_name: Any, hired_on: Any,
                max_weekly_periods: Any, email: Any = None, phone: Any = None, probation_ends_on: Any = None,
                school: OrgUnit | None = None, department: OrgUnit | None = None, check_units: bool = True,
                allow_inactive: bool = False, today: date | None = None) -> tuple[StaffValues | None, dict[str, str]]:
    """The cleaned values and the field errors (empty when all is well); reads and writes nothing.

    `check_units=False` skips the school/department rules (a caller that resolved them itself);
    `allow_inactive` accepts a deactivated school or department (an existing record kept where it is).
    """
    today = today or queries.local_today()
    results = {
        "employee_number": _employee_number(employee_number),
        "family_name": _name(family_name, _("Enter the family name.")),
        "given_name": _name(given_name, _("Enter the given name.")),
        "email": check_email(email),
        "phone": _phone(phone),
        "hired_on": _hired_on(hired_on, today),
    }
    results["probation_ends_on"] = _probation(probation_ends_on, results["hired_on"][0])
    results["max_weekly_periods"] = _periods(max_weekly_periods)
    errors = _units(school, department, allow_inactive=allow_inactive) if check_units else {}
    errors.update({name: problem for name, (_value, problem) in results.items() if problem})
    if errors:
        return None, errors
    return StaffValues(**{name: value for name, (value, _problem) in results.items()}), {}


def validate_staff(**values: Any) -> dict[str, str]:
    """Field errors of one staff record (e.g. a spreadsheet row), keyed by field name; no database access.

    Takes the keyword arguments of `clean_staff`. Uniqueness of the employee number within the school is
    not checked here: see `queries.taken_employee_numbers`.
    """
    return clean_staff(**values)[1]


# --- helpers that read ------------------------------------------------------------------------------


def _unit(unit_id: Any) -> OrgUnit | None:
    try:
        return db.session.get(OrgUnit, int(unit_id)) if unit_id not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _subjects(subject_ids: Iterable[Any], keep: Iterable[Subject] = ()) -> tuple[list[Subject], str | None]:
    """The chosen subjects: active ones, or (when editing) ones the person already had before a deactivation."""
    try:
        wanted = sorted({int(i) for i in subject_ids or ()})
    except (TypeError, ValueError):
        return [], _("Choose subjects from the list.")
    if not wanted:
        return [], None
    kept = {s.id for s in keep}
    found = [s for s in db.session.scalars(sa.select(Subject).where(Subject.id.in_(wanted)))
             if s.is_active or s.id in kept]
    if len(found) != len(wanted):
        return found, _("Choose subjects from the list.")
    return sorted(found, key=lambda s: s.name), None


def _check_reach(actor: Any, unit: OrgUnit) -> None:
    from app.general.auth.policy import can

    if actor != SYSTEM and not can(actor, "staff.manage", unit):
        raise NotAllowed(_("This school or department is outside your scope."))


def _number_taken(school_id: int, number: str, exclude_id: int | None = None) -> bool:
    stmt = sa.select(StaffMember.id).where(StaffMember.school_id == school_id,
                                           StaffMember.employee_number == number)
    if exclude_id is not None:
        stmt = stmt.where(StaffMember.id != exclude_id)
    return db.session.scalar(stmt.limit(1)) is not None


def _number_conflict(number: str) -> Conflict:
    return Conflict(_("The employee number %(number)s is already used in this school.", number=number),
                    field="employee_number")


def _flush(staff: StaffMember) -> None:
    """Flush in a savepoint: a concurrent writer's duplicate number or newer version becomes a Conflict, not a 500."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except StaleDataError:
        raise Conflict(stale_message()) from None
    except sa.exc.IntegrityError as error:
        if "employee_number" in str(error.orig):
            raise _number_conflict(staff.employee_number) from None
        if "user_id" in str(error.orig):
            raise Conflict(_("That account already belongs to another staff member."), field="email") from None
        raise


def _check_load(staff: StaffMember, maximum: int) -> None:
    """The maximum may not drop below the periods the person already teaches (classes keep load <= maximum)."""
    if maximum >= staff.max_weekly_periods:
        return
    load = queries.weekly_periods_in_use(staff, queries.local_today())
    if maximum < load:
        raise ValidationFailed(_("%(name)s already teaches %(load)d periods a week: the maximum cannot be lower.",
                                 name=staff.full_name, load=load), field="max_weekly_periods")


def _snapshot(staff: StaffMember) -> dict:
    return {
        "school": staff.school.code if staff.school else None,
        "department": staff.department.code if staff.department else None,
        "employee_number": staff.employee_number, "family_name": staff.family_name,
        "given_name": staff.given_name, "email": staff.email, "phone": staff.phone,
        "hired_on": staff.hired_on, "probation_ends_on": staff.probation_ends_on,
        "max_weekly_periods": staff.max_weekly_periods, "subjects": [s.code for s in staff.subjects],
        "status": staff.status,
    }


def _prepare(*, school: OrgUnit | None, department: OrgUnit | None, subject_ids: Iterable[Any],
             allow_inactive: bool = False, keep_subjects: Iterable[Subject] = (),
             **fields: Any) -> tuple[StaffValues, list[Subject]]:
    values, errors = clean_staff(school=school, department=department, allow_inactive=allow_inactive, **fields)
    subjects, subject_problem = _subjects(subject_ids, keep_subjects)
    if subject_problem:
        errors["subjects"] = subject_problem
    if errors:
        raise StaffInvalid(errors)
    return values, subjects


# --- services -------------------------------------------------------------------------------------------


def create_staff(*, actor: Any, school_id: Any, department_id: Any = None, subject_ids: Iterable[Any] = (),
                 create_account: bool = False, account_locale: str | None = None, **fields: Any) -> StaffMember:
    """Add a staff member to a school (and department); optionally create their teacher account and invite them.

    `fields` are those of `clean_staff` (employee_number, names, email, phone, hired_on, probation_ends_on,
    max_weekly_periods). :raises StaffInvalid: field errors. :raises NotAllowed: a unit outside the actor's scope.
    :raises Conflict: employee number used in this school, or the e-mail already has an account.
    """
    school, department = _unit(school_id), _unit(department_id)
    if department_id not in (None, "") and department is None:
        raise StaffInvalid({"department": _("Choose a department from the list.")})
    if school is not None:
        _check_reach(actor, department or school)
    values, subjects = _prepare(school=school, department=department, subject_ids=subject_ids, **fields)
    if _number_taken(school.id, values.employee_number):
        raise _number_conflict(values.employee_number)
    if create_account:
        _check_account_email(values.email)
    staff = StaffMember(school=school, department=department, status=StaffStatus.ACTIVE, **asdict(values))
    staff.subjects = subjects
    db.session.add(staff)
    _flush(staff)
    record("staff.created", subject=staff, actor=actor, changes=_snapshot(staff))
    log.info("staff member %s created in %s", staff.id, school.code)
    if create_account:
        create_account_for(staff, actor=actor, locale=account_locale)
    return staff


def update_staff(staff: StaffMember, *, actor: Any, expected_version: int | None = None, department_id: Any = None,
                 subject_ids: Iterable[Any] = (), **fields: Any) -> dict:
    """Edit a staff member's department, number, names, contact, dates, load and subjects; returns the changes.

    The school, status and account are not changed here. `expected_version` is the version the editor saw.
    :raises Conflict: the record changed since (stale version), or the employee number is taken.
    :raises ValidationFailed: field rules, or a maximum of weekly periods below what the person teaches now.
    """
    if expected_version is not None and expected_version != staff.version:
        raise Conflict(stale_message())
    _check_reach(actor, staff.scope_unit)
    department = _unit(department_id)
    if department_id not in (None, "") and department is None:
        raise StaffInvalid({"department": _("Choose a department from the list.")})
    if department is not None and department.id != staff.department_id:
        _check_reach(actor, department)
    unchanged_unit = (department.id if department else None) == staff.department_id
    values, subjects = _prepare(school=staff.school, department=department, subject_ids=subject_ids,
                                allow_inactive=unchanged_unit, keep_subjects=staff.subjects, **fields)
    if _number_taken(staff.school_id, values.employee_number, exclude_id=staff.id):
        raise _number_conflict(values.employee_number)
    _check_load(staff, values.max_weekly_periods)
    before = _snapshot(staff)
    for name, value in asdict(values).items():
        setattr(staff, name, value)
    staff.department, staff.subjects = department, subjects
    after = _snapshot(staff)
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changes:
        staff.updated_at = utcnow()  # the row is written (and its version bumped) even when only subjects changed
        _flush(staff)
        record("staff.updated", subject=staff, actor=actor, changes=changes)
        log.info("staff member %s updated: %s", staff.id, ", ".join(sorted(changes)))
    return changes


def set_status(staff: StaffMember, status: str, *, actor: Any, on: date | None = None,
               expected_version: int | None = None) -> StaffMember:
    """Move a staff member to active, on_notice or departed (offboarding calls this); departed is final.

    :raises InvalidTransition: from departed, or a status that does not exist.
    """
    try:
        new = StaffStatus(status)
    except ValueError:
        raise InvalidTransition(_("Unknown staff status."), field="status") from None
    old = StaffStatus(staff.status)
    if expected_version is not None and expected_version != staff.version:
        raise Conflict(stale_message())
    _check_reach(actor, staff.scope_unit)
    if new == old:
        return staff
    if new not in TRANSITIONS[old]:
        raise InvalidTransition(_("%(name)s has departed: the record is final.", name=staff.full_name))
    on = on or queries.local_today()
    if new == StaffStatus.DEPARTED and on < staff.hired_on:
        raise ValidationFailed(_("The departure date cannot be before the hire date."), field="on")
    staff.status = new.value
    staff.departed_on = on if new == StaffStatus.DEPARTED else None
    staff.updated_at = utcnow()
    _flush(staff)
    record("staff.status_changed", subject=staff, actor=actor, changes={"status": [old.value, new.value], "on": on})
    log.info("staff member %s is now %s", staff.id, new.value)
    return staff


# --- the portal account ---------------------------------------------------------------------------------


def _check_account_email(email: str | None) -> None:
    from app.general.auth import queries as auth_queries

    if not email:
        raise ValidationFailed(_("Enter an e-mail address: the invitation is sent there."), field="email")
    if auth_queries.user_by_email(email) is not None:
        raise Conflict(_("An account with this e-mail already exists: link it from the profile page instead."),
                       field="email")


def create_account_for(staff: StaffMember, *, actor: Any, locale: str | None = None) -> User:
    """Create a teacher account for the staff member (scoped to their department or school) and e-mail an
    invitation through the outbox.

    :raises Conflict: the staff member already has an account, or the e-mail is taken.
    """
    from app.general.auth import services as auth_services

    _check_reach(actor, staff.scope_unit)
    if staff.user_id is not None:
        raise Conflict(_("%(name)s already has an account.", name=staff.full_name))
    _check_account_email(staff.email)
    user = auth_services.create_user(actor=actor, email=staff.email, display_name=staff.full_name,
                                     role=Role.TEACHER.value, unit_ids=[staff.scope_unit.id], phone=staff.phone,
                                     locale=locale, invite=True)
    _attach(staff, user, actor=actor, created=True)
    return user


def link_account(staff: StaffMember, user: User, *, actor: Any) -> None:
    """Link an existing teacher or head account of the same school to the staff member.

    :raises Conflict: either side is already linked. :raises ValidationFailed: wrong role or another school.
    """
    from app.general.auth import queries as auth_queries

    _check_reach(actor, staff.scope_unit)
    if actor != SYSTEM and not auth_queries.covers_user(actor, user):
        raise NotAllowed(_("That account is outside your scope."))
    if staff.user_id is not None:
        raise Conflict(_("%(name)s already has an account: unlink it first.", name=staff.full_name))
    owner = queries.staff_for_user(user)
    if owner is not None:
        raise Conflict(_("That account already belongs to %(name)s.", name=owner.full_name), field="email")
    if user.role not in LINKABLE_ROLES:
        raise ValidationFailed(_("Only teacher and head accounts can be linked to a staff record."), field="email")
    if not user.scopes or not all(staff.school.contains(scope.org_unit) for scope in user.scopes):
        raise ValidationFailed(_("That account works outside %(school)s.", school=staff.school.name), field="email")
    _attach(staff, user, actor=actor, created=False)


def link_account_by_email(staff: StaffMember, email: str, *, actor: Any) -> User:
    """Link the account with this e-mail; an account outside the actor's scope is reported as not found.

    :raises ValidationFailed: no such account within reach (field `email`), plus the errors of `link_account`.
    """
    from app.general.auth import queries as auth_queries

    user = auth_queries.user_by_email(email)
    if user is None or (actor != SYSTEM and not auth_queries.covers_user(actor, user)):
        raise ValidationFailed(_("No account in your schools has this e-mail address."), field="email")
    link_account(staff, user, actor=actor)
    return user


def _attach(staff: StaffMember, user: User, *, actor: Any, created: bool) -> None:
    staff.user = user
    staff.updated_at = utcnow()
    _flush(staff)
    record("staff.account_linked", subject=staff, actor=actor,
           changes={"user_id": user.id, "email": user.email, "new_account": created})


def unlink_account(staff: StaffMember, *, actor: Any) -> None:
    """Detach the portal account from the staff member (the account itself stays as it is)."""
    _check_reach(actor, staff.scope_unit)
    if staff.user_id is None:
        return
    user = staff.user
    staff.user = None
    staff.updated_at = utcnow()
    _flush(staff)
    record("staff.account_unlinked", subject=staff, actor=actor, changes={"user_id": user.id, "email": user.email})
