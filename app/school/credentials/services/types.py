"""Credential types: the district's catalogue (validity, grace, reminder offsets, renewal rule, who needs it)."""
from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm.attributes import flag_modified

from app.core.errors import Conflict, NotAllowed
from app.extensions import db
from app.general.audit.services import SYSTEM, record
from app.school.classes.models import Subject
from app.school.credentials.models import CredentialType, RequiredFor
from app.school.credentials.services.common import (
    clean_hours,
    clean_int,
    clean_optional_text,
    clean_text,
    guarded_flush,
    lock,
    raise_if,
)

log = logging.getLogger(__name__)

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")
OFFSET_MAX, OFFSETS_MAX = 730, 6
FIELDS = ("code", "name", "description", "validity_years", "grace_days", "reminder_offsets", "renewal_hours",
          "required_for", "grade_min", "grade_max", "is_active")


def may_configure(actor: Any) -> bool:
    """Types are shared by every school: only an administrator of a top-level unit (district) changes them."""
    from app.general.auth.policy import can, reaches_top_level

    if actor == SYSTEM:
        return True
    return can(actor, "credentials.configure") and reaches_top_level(actor)


def clean_offsets(value: Any) -> tuple[str, str | None]:
    """"90, 30, 7" → "90,30,7" (distinct whole days, largest first)."""
    parts = [p.strip() for p in str(value or "").replace("，", ",").split(",") if p.strip()]
    message = _("Enter up to %(n)d whole numbers of days from 1 to %(max)d, separated by commas (e.g. 90, 30, 7).",
                n=OFFSETS_MAX, max=OFFSET_MAX)
    if not parts or len(parts) > OFFSETS_MAX or not all(p.isdigit() for p in parts):
        return str(value or ""), message
    days = sorted({int(p) for p in parts}, reverse=True)
    if days[0] > OFFSET_MAX or days[-1] < 1:
        return str(value or ""), message
    return ",".join(str(d) for d in days), None


def _optional_int(value: Any, *, low: int, high: int, message: str) -> tuple[int | None, str | None]:
    if value in (None, ""):
        return None, None
    return clean_int(value, low=low, high=high, message=message)


def clean_type(data: dict) -> dict:
    """Every field of a type, checked; raises one error carrying every problem.

    :raises ClassesInvalid: with `errors` by field.
    """
    code = str(data.get("code") or "").strip().upper()
    clean, errors = {"code": code}, {}
    if not CODE_PATTERN.match(code):
        errors["code"] = _("A code has up to 20 letters, digits, dashes or underscores.")
    clean["name"], errors["name"] = clean_text(data.get("name"), missing=_("Enter the credential's name."))
    clean["description"], errors["description"] = clean_optional_text(data.get("description"), 500)
    clean["validity_years"], errors["validity_years"] = _optional_int(
        data.get("validity_years"), low=1, high=50,
        message=_("Enter the years a credential stays valid (1 to 50), or leave it blank if it never expires."))
    clean["grace_days"], errors["grace_days"] = clean_int(
        data.get("grace_days") or 0, low=0, high=365, message=_("Enter grace days from 0 to 365."))
    clean["reminder_offsets"], errors["reminder_offsets"] = clean_offsets(data.get("reminder_offsets"))
    hours = data.get("renewal_hours")
    clean["renewal_hours"], errors["renewal_hours"] = (None, None) if hours in (None, "") else clean_hours(
        hours, low=Decimal(0), high=Decimal(5000), message=_("Enter the training hours a renewal needs (e.g. 360)."))
    clean["required_for"] = str(data.get("required_for") or "")
    if clean["required_for"] not in set(RequiredFor):
        errors["required_for"] = _("Choose who must hold this credential.")
    grade_message = _("Enter a grade from 1 to 12, or leave it blank.")
    for name in ("grade_min", "grade_max"):
        clean[name], errors[name] = _optional_int(data.get(name), low=1, high=12, message=grade_message)
    if not errors["grade_min"] and not errors["grade_max"] and None not in (clean["grade_min"], clean["grade_max"]) \
            and clean["grade_min"] > clean["grade_max"]:
        errors["grade_max"] = _("The highest grade cannot be below the lowest.")
    if clean["validity_years"] is None and clean["renewal_hours"] is not None and not errors["validity_years"]:
        errors["renewal_hours"] = _("Only a credential that expires is renewed: set its validity, or clear the hours.")
    clean["is_active"] = bool(data.get("is_active", True))
    raise_if(errors)
    return clean


def _subjects(ids: Any) -> list[Subject]:
    wanted = sorted({int(i) for i in ids or ()})
    return list(db.session.scalars(sa.select(Subject).where(Subject.id.in_(wanted)))) if wanted else []


def _conflicts(code: str) -> dict[str, Conflict]:
    return {"code": Conflict(_("The code %(code)s is already used by another credential type.", code=code),
                             field="code")}


def _taken(code: str, exclude_id: int | None) -> bool:
    stmt = sa.select(CredentialType.id).where(sa.func.upper(CredentialType.code) == code)
    if exclude_id is not None:
        stmt = stmt.where(CredentialType.id != exclude_id)
    return db.session.scalar(stmt.limit(1)) is not None


def save_type(credential_type: CredentialType | None, *, data: dict, subject_ids: Any = (), actor: Any,
              expected_version: int | None = None) -> CredentialType:
    """Create a type (`credential_type` None) or change one; audited with what changed.

    Changing validity or grace does not rewrite existing credentials' dates: they keep the dates they were
    issued with; a renewal uses the type as it is then.
    :raises NotAllowed: the actor is not a district administrator. :raises Conflict: code taken, or stale.
    """
    if not may_configure(actor):
        raise NotAllowed(_("Credential types are shared by every school: ask your district's administrator."))
    clean = clean_type(data)
    if _taken(clean["code"], credential_type.id if credential_type else None):
        raise _conflicts(clean["code"])["code"]
    subjects = _subjects(subject_ids) if clean["required_for"] == RequiredFor.TEACHING else []
    creating = credential_type is None
    if creating:
        credential_type = CredentialType()
        db.session.add(credential_type)
        before = {}
    else:
        lock(CredentialType, credential_type, expected_version)
        before = {name: getattr(credential_type, name) for name in FIELDS}
        before["subjects"] = [s.code for s in credential_type.subjects]
    for name in FIELDS:
        setattr(credential_type, name, clean[name])
    credential_type.subjects = subjects
    if not creating:
        flag_modified(credential_type, "code")  # a change of subjects alone bumps the version too (the lock's guard)
    guarded_flush(_conflicts(clean["code"]))
    after = {name: getattr(credential_type, name) for name in FIELDS} | {"subjects": [s.code for s in subjects]}
    changes = after if creating else {k: [before[k], v] for k, v in after.items() if before.get(k) != v}
    record("credential_type.created" if creating else "credential_type.updated", subject=credential_type,
           changes=changes, actor=actor)
    log.info("credential type %s %s", credential_type.code, "created" if creating else "updated")
    return credential_type
