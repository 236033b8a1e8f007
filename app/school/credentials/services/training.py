"""Training records (CPD hours): a teacher enters them, an admin or head verifies or rejects them."""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from app.core.errors import Conflict
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import record
from app.school.credentials.models import TrainingRecord, TrainingStatus
from app.school.credentials.services.common import (
    actor_id,
    check_can,
    clean_date,
    clean_hours,
    clean_text,
    guarded_flush,
    lock,
    raise_if,
)
from app.school.credentials.status import TRAINING_LABELS
from app.school.staff.models import StaffMember

log = logging.getLogger(__name__)

HOURS_MAX = Decimal(1000)


def clean_training(data: dict, *, today) -> dict:
    """Date (not in the future), provider, topic and hours, checked.

    :raises ClassesInvalid: with `errors` by field.
    """
    clean, errors = {}, {}
    clean["completed_on"], errors["completed_on"] = clean_date(data.get("completed_on"),
                                                               missing=_("Enter the day the training ended."))
    if clean["completed_on"] and not errors["completed_on"] and clean["completed_on"] > today:
        errors["completed_on"] = _("Record training once it is done: the date cannot be in the future.")
    clean["provider"], errors["provider"] = clean_text(data.get("provider"), missing=_("Enter who provided it."),
                                                       maximum=200)
    clean["topic"], errors["topic"] = clean_text(data.get("topic"), missing=_("Enter the topic."), maximum=200)
    clean["hours"], errors["hours"] = clean_hours(
        data.get("hours"), low=Decimal(0), high=HOURS_MAX,
        message=_("Enter the hours, e.g. 12 or 7.5 (more than 0, at most 1000, one decimal place)."))
    raise_if(errors)
    return clean


def submit_training(staff: StaffMember, *, data: dict, actor: Any, today) -> TrainingRecord:
    """A teacher records their own training (or an admin for them); it counts once verified. Audited."""
    check_can(actor, "training.submit", staff)
    clean = clean_training(data, today=today)
    training = TrainingRecord(staff=staff, created_by_id=actor_id(actor), status=TrainingStatus.SUBMITTED, **clean)
    db.session.add(training)
    guarded_flush()
    record("training.submitted", subject=training, actor=actor, changes={**clean, "staff": staff.employee_number})
    return training


def _decide(training: TrainingRecord, status: TrainingStatus, *, actor: Any, reason: str | None,
            expected_version: int | None) -> TrainingRecord:
    check_can(actor, "credentials.review", training)
    if training.status == status:
        return training  # a second press changes nothing
    if training.status != TrainingStatus.SUBMITTED:
        raise Conflict(_("This training record was already decided: %(status)s.",
                         status=TRAINING_LABELS[training.status]))
    if actor_id(actor) is not None and actor_id(actor) == training.staff.user_id:
        raise Conflict(_("You cannot verify your own training: another administrator or the head does."))
    lock(TrainingRecord, training, expected_version)
    training.status, training.reviewed_by_id, training.reviewed_at = status, actor_id(actor), utcnow()
    training.rejection_reason = reason
    guarded_flush()
    record(f"training.{status}", subject=training, actor=actor,
           changes={"hours": training.hours, "reason": reason} if reason else {"hours": training.hours})
    return training


def verify_training(training: TrainingRecord, *, actor: Any, expected_version: int | None = None) -> TrainingRecord:
    """Accept a training record: its hours now count toward renewals."""
    return _decide(training, TrainingStatus.VERIFIED, actor=actor, reason=None, expected_version=expected_version)


def reject_training(training: TrainingRecord, *, reason: Any, actor: Any,
                    expected_version: int | None = None) -> TrainingRecord:
    """Refuse a training record, saying why (the teacher sees the reason)."""
    text, problem = clean_text(reason, missing=_("Say why the record is rejected."), maximum=300)
    raise_if({"reason": problem})
    return _decide(training, TrainingStatus.REJECTED, actor=actor, reason=text, expected_version=expected_version)
