"""Guardians: field rules (pure), create, edit, link to students with a relationship, and the parent portal
account through which a guardian sees their children. Each change audited; flush, never commit."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from app.core.errors import Conflict, ValidationFailed
from app.extensions import db
from app.general.audit.services import SYSTEM, record
from app.general.auth.models import Role, User
from app.general.org.models import OrgUnit
from app.school.classes.models import ContactChannel, Guardian, Student, StudentGuardian
from app.school.classes.services.common import check_reach, clean_text, guarded_flush, raise_if

EMAIL_MAX, PHONE_MAX, GUARDIAN_NAME_MAX = 254, 40, 200
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ()-]*[0-9]$")
RELATIONSHIPS = ("mother", "father", "grandparent", "guardian", "other")
LOCALES = ("zh", "en")


@dataclass
class GuardianValues:
    full_name: str
    email: str | None
    phone: str | None
    preferred_channel: str
    locale: str


# --- pure field rules ---------------------------------------------------------------------------------


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
        return address, _("Enter a valid e-mail address, such as name@example.com.")
    return address, None


def check_phone(value: Any) -> tuple[str | None, str | None]:
    """A cleaned phone number (None when blank) and the problem with it, if any."""
    phone = " ".join(("" if value is None else str(value)).split())
    if not phone:
        return None, None
    if len(phone) > PHONE_MAX or not PHONE_PATTERN.match(phone):
        return phone, _("Enter a phone number of digits, spaces, dashes and brackets, optionally starting with +.")
    return phone, None


def _channel_problems(channel: Any, email: str | None, phone: str | None) -> dict[str, str]:
    if channel not in (ContactChannel.EMAIL.value, ContactChannel.SMS.value):
        return {"preferred_channel": _("Choose e-mail or SMS.")}
    if email is None and phone is None:
        return {"email": _("Enter an e-mail address or a mobile number: the school must be able to reach them.")}
    if channel == ContactChannel.EMAIL and email is None:
        return {"email": _("Notices go by e-mail: enter an e-mail address, or choose SMS.")}
    if channel == ContactChannel.SMS and phone is None:
        return {"phone": _("Notices go by SMS: enter a mobile number, or choose e-mail.")}
    return {}


def clean_guardian(*, full_name: Any, email: Any = None, phone: Any = None, preferred_channel: Any = "email",
                   locale: Any = "zh") -> tuple[GuardianValues | None, dict[str, str]]:
    """The cleaned guardian fields and the field errors (empty when all is well); no database access."""
    name, name_problem = clean_text(full_name, missing=_("Enter the guardian's full name."), maximum=GUARDIAN_NAME_MAX)
    address, email_problem = check_email(email)
    number, phone_problem = check_phone(phone)
    errors = {key: problem for key, problem in
              (("full_name", name_problem), ("email", email_problem), ("phone", phone_problem)) if problem}
    if not errors:
        errors.update(_channel_problems(preferred_channel, address, number))
    if locale not in LOCALES:
        errors["locale"] = _("Choose Chinese or English.")
    if errors:
        return None, errors
    return GuardianValues(name, address, number, str(preferred_channel), str(locale)), {}


def clean_relationship(value: Any) -> tuple[str, str | None]:
    """One of RELATIONSHIPS, and the problem when it is not."""
    kind = ("" if value is None else str(value)).strip().lower()
    if kind not in RELATIONSHIPS:
        return kind, _("Choose how they are related to the student.")
    return kind, None


# --- guardians -------------------------------------------------------------------------------------------


def _guardian_snapshot(guardian: Guardian) -> dict:
    return {"full_name": guardian.full_name, "email": guardian.email, "phone": guardian.phone,
            "preferred_channel": guardian.preferred_channel, "locale": guardian.locale}


def _email_conflict() -> Conflict:
    return Conflict(_("A guardian with this e-mail address already exists: link them to the student instead."),
                    field="email")


def _email_taken(email: str | None, exclude_id: int | None = None) -> bool:
    if email is None:
        return False
    stmt = sa.select(Guardian.id).where(sa.func.lower(Guardian.email) == email)
    if exclude_id is not None:
        stmt = stmt.where(Guardian.id != exclude_id)
    return db.session.scalar(stmt.limit(1)) is not None


def _prepared_guardian(fields: dict, exclude_id: int | None) -> GuardianValues:
    values, errors = clean_guardian(**fields)
    raise_if(errors)
    if _email_taken(values.email, exclude_id):
        raise _email_conflict()
    return values


def create_guardian(*, actor: Any, unit: OrgUnit | None = None, **fields: Any) -> Guardian:
    """Add a guardian (not yet linked to a student). `fields` are those of `clean_guardian`; `unit` is the
    school the event concerns (for the audit log's scope).

    :raises ClassesInvalid: field errors. :raises Conflict: another guardian has this e-mail address.
    """
    values = _prepared_guardian(fields, None)
    guardian = Guardian(**asdict(values))
    db.session.add(guardian)
    db.session.flush()
    record("classes.guardian_created", subject=guardian, actor=actor, unit=unit, changes=_guardian_snapshot(guardian))
    return guardian


def update_guardian(guardian: Guardian, *, actor: Any, unit: OrgUnit | None = None, **fields: Any) -> dict:
    """Correct a guardian's name, contact, channel or language; returns the changes."""
    values = _prepared_guardian(fields, guardian.id)
    before = _guardian_snapshot(guardian)
    for name, value in asdict(values).items():
        setattr(guardian, name, value)
    after = _guardian_snapshot(guardian)
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changes:
        db.session.flush()
        record("classes.guardian_updated", subject=guardian, actor=actor, unit=unit, changes=changes)
    return changes


def link_guardian(student: Student, guardian: Guardian, relationship: Any, *, actor: Any) -> StudentGuardian:
    """Make `guardian` a guardian of `student` ("mother", "father", "grandparent", "guardian", "other").

    :raises Conflict: already linked. :raises ClassesInvalid: unknown relationship.
    """
    check_reach(actor, "classes.manage", student)
    kind, problem = clean_relationship(relationship)
    raise_if({"relationship": problem})
    existing = db.session.scalar(sa.select(StudentGuardian.id).where(
        StudentGuardian.student_id == student.id, StudentGuardian.guardian_id == guardian.id))
    conflict = Conflict(_("%(guardian)s is already a guardian of %(student)s.", guardian=guardian.full_name,
                          student=student.full_name), field="email")
    if existing is not None:
        raise conflict
    link = StudentGuardian(student=student, guardian=guardian, relationship_kind=kind)
    db.session.add(link)
    guarded_flush({"student_id": conflict})
    record("classes.guardian_linked", subject=student, actor=actor,
           changes={"guardian_id": guardian.id, "relationship": kind})
    return link


def add_guardian(student: Student, *, relationship: Any, actor: Any, **fields: Any) -> StudentGuardian:
    """Create a guardian and link them to the student in one step (all rules checked before anything is written)."""
    check_reach(actor, "classes.manage", student)
    kind, problem = clean_relationship(relationship)
    values, errors = clean_guardian(**fields)
    raise_if({**errors, "relationship": problem})
    if _email_taken(values.email):
        raise _email_conflict()
    guardian = create_guardian(actor=actor, unit=student.school, **asdict(values))
    return link_guardian(student, guardian, kind, actor=actor)


def set_relationship(link: StudentGuardian, relationship: Any, *, actor: Any) -> None:
    """Change how a guardian is related to the student."""
    check_reach(actor, "classes.manage", link.student)
    kind, problem = clean_relationship(relationship)
    raise_if({"relationship": problem})
    if kind != link.relationship_kind:
        before, link.relationship_kind = link.relationship_kind, kind
        db.session.flush()
        record("classes.guardian_relationship_changed", subject=link.student, actor=actor,
               changes={"guardian_id": link.guardian_id, "relationship": [before, kind]})


def unlink_guardian(link: StudentGuardian, *, actor: Any) -> None:
    """Remove a guardian from a student (the guardian record itself stays)."""
    student = link.student
    check_reach(actor, "classes.manage", student)
    guardian_id, kind = link.guardian_id, link.relationship_kind
    db.session.delete(link)
    db.session.flush()
    record("classes.guardian_unlinked", subject=student, actor=actor,
           changes={"guardian_id": guardian_id, "relationship": kind})


def _check_account(guardian: Guardian, user: User | None) -> None:
    if user is None:
        return
    if user.role != Role.PARENT:
        raise ValidationFailed(_("Only a parent account can be linked to a guardian."), field="account_email")
    owner = db.session.scalar(sa.select(Guardian.id).where(Guardian.user_id == user.id, Guardian.id != guardian.id))
    if owner is not None:
        raise Conflict(_("That account already belongs to another guardian."), field="account_email")


def link_guardian_account(guardian: Guardian, user: User | None, *, actor: Any, unit: OrgUnit | None = None) -> None:
    """Connect (or with None, disconnect) the parent portal account through which the guardian sees their children.

    :raises ValidationFailed: not a parent account. :raises Conflict: the account belongs to another guardian.
    """
    _check_account(guardian, user)
    before = guardian.user_id
    new = user.id if user is not None else None
    if before == new:
        return
    guardian.user = user
    guarded_flush({"user_id": Conflict(_("That account already belongs to another guardian."),
                                       field="account_email")})
    record("classes.guardian_account_linked" if user else "classes.guardian_account_unlinked", subject=guardian,
           actor=actor, unit=unit, changes={"user_id": [before, new]})


def parent_account(email: Any, *, actor: Any) -> User | None:
    """The parent account with this e-mail within the actor's reach; None for a blank address.

    :raises ValidationFailed: no such account in reach (an account elsewhere is reported the same way).
    """
    from app.general.auth import queries as auth_queries

    address = ("" if email is None else str(email)).strip()
    if not address:
        return None
    user = auth_queries.user_by_email(address)
    if user is None or (actor != SYSTEM and not auth_queries.covers_user(actor, user)):
        raise ValidationFailed(_("No account in your schools has this e-mail address."), field="account_email")
    return user


def edit_guardian(link: StudentGuardian, *, relationship: Any, account_email: Any, actor: Any,
                  **fields: Any) -> None:
    """Save the guardian page of one student: the guardian's details, how they are related to this student and
    their parent account; every rule is checked before anything is written."""
    student, guardian = link.student, link.guardian
    check_reach(actor, "classes.manage", student)
    values, errors = clean_guardian(**fields)
    kind, problem = clean_relationship(relationship)
    raise_if({**errors, "relationship": problem})
    if _email_taken(values.email, guardian.id):
        raise _email_conflict()
    user = parent_account(account_email, actor=actor)
    _check_account(guardian, user)
    update_guardian(guardian, actor=actor, unit=student.school, **asdict(values))
    set_relationship(link, kind, actor=actor)
    link_guardian_account(guardian, user, actor=actor, unit=student.school)
