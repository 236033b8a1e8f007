"""The renewal workflow: submitted → approved (a new certification period) | rejected | withdrawn.

The renewal rule of a type (e.g. 360 training hours in a 5-year cycle) counts only verified training
records dated inside the credential's period. Approval refuses a request whose rule is not met. Every step
is audited and safe to press twice; two reviewers deciding at once: one wins, the other is told.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import Conflict, InvalidTransition, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import record
from app.school.credentials.models import Credential, Renewal, RenewalStatus, TrainingRecord, TrainingStatus
from app.school.credentials.services.common import (
    actor_id,
    check_can,
    clean_optional_text,
    clean_text,
    guarded_flush,
    insert_guarded,
    lock,
    raise_if,
)
from app.school.credentials.status import RENEWAL_LABELS, expiry_for

log = logging.getLogger(__name__)
TENTH = Decimal("0.1")


@dataclass(frozen=True)
class HoursProgress:
    """Verified training hours inside a credential's cycle against the type's rule."""

    counted: Decimal
    required: Decimal | None
    cycle_starts_on: date
    cycle_ends_on: date | None

    @property
    def is_met(self) -> bool:
        return self.required is None or self.counted >= self.required

    @property
    def percent(self) -> int:
        if not self.required:
            return 100
        return min(100, int(self.counted * 100 / self.required))


def hours_progress(credential: Credential) -> HoursProgress:
    """Verified hours dated within [issued_on, expires_on] of `credential`, against its type's rule."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(TrainingRecord.hours), 0)).where(
        TrainingRecord.staff_id == credential.staff_id, TrainingRecord.status == TrainingStatus.VERIFIED,
        TrainingRecord.completed_on >= credential.issued_on)
    if credential.expires_on is not None:
        stmt = stmt.where(TrainingRecord.completed_on <= credential.expires_on)
    counted = Decimal(str(db.session.scalar(stmt))).quantize(TENTH)
    required = credential.type.renewal_hours
    return HoursProgress(counted, None if required is None else Decimal(required).quantize(TENTH),
                         credential.issued_on, credential.expires_on)


def open_renewal(credential: Credential) -> Renewal | None:
    """The renewal of `credential` under review, if any."""
    return db.session.scalar(sa.select(Renewal).where(
        Renewal.credential_id == credential.id, Renewal.status == RenewalStatus.SUBMITTED))


def _conflict_open() -> Conflict:
    return Conflict(_("A renewal of this credential is already under review."))


def start_renewal(credential: Credential, *, note: Any, actor: Any) -> Renewal:
    """The holder (or an admin) asks to renew a credential; evidence documents are attached afterwards.

    A second press returns the request already open. :raises InvalidTransition: revoked, renewed, or never
    expiring.
    """
    check_can(actor, "credentials.renew", credential)
    if credential.revoked_at is not None or credential.superseded_by_id is not None:
        raise InvalidTransition(_("Only the current period of a credential can be renewed."))
    if credential.expires_on is None or credential.type.validity_years is None:
        raise InvalidTransition(_("%(type)s does not expire and needs no renewal.", type=credential.type.name))
    if existing := open_renewal(credential):
        return existing
    text, problem = clean_optional_text(note, 1000)
    raise_if({"note": problem})
    renewal = Renewal(credential=credential, note=text, submitted_by_id=actor_id(actor),
                      status=RenewalStatus.SUBMITTED, hours_required=credential.type.renewal_hours)
    try:  # PostgreSQL names the partial unique index, SQLite its column
        insert_guarded(renewal, {"uq_credential_renewals_open": _conflict_open(),
                                 "credential_renewals.credential_id": _conflict_open()})
    except Conflict:
        if existing := open_renewal(credential):  # a concurrent press won: the same answer as a second press
            return existing
        raise
    progress = hours_progress(credential)
    record("renewal.submitted", subject=renewal, actor=actor, changes={
        "credential": credential.id, "type": credential.type.code, "hours": progress.counted,
        "required": progress.required})
    _notify_reviewers(renewal)
    return renewal


def _check_open(renewal: Renewal, target: RenewalStatus) -> bool:
    """True when the renewal already is `target` (a repeated press); raises when it was decided otherwise."""
    if renewal.status == target:
        return True
    if renewal.status != RenewalStatus.SUBMITTED:
        raise InvalidTransition(_("This renewal was already decided: %(status)s.",
                                  status=RENEWAL_LABELS[RenewalStatus(renewal.status)]))
    return False


def _check_reviewer(renewal: Renewal, actor: Any) -> None:
    check_can(actor, "credentials.review", renewal)
    if actor_id(actor) is not None and actor_id(actor) == renewal.credential.staff.user_id:
        raise Conflict(_("You cannot decide your own renewal: another administrator or the head does."))


def new_period_start(credential: Credential, on: date) -> date:
    """A renewal continues the period without a gap when approved in time, else it starts on approval."""
    following = credential.expires_on + timedelta(days=1)
    return following if following > on else on


def approve_renewal(renewal: Renewal, *, actor: Any, on: date, expected_version: int | None = None) -> Renewal:
    """Approve: a new credential (period) from `new_period_start`, its expiry from the type; the old one is
    marked renewed. :raises ValidationFailed: the training-hours rule is not met.
    """
    _check_reviewer(renewal, actor)
    if _check_open(renewal, RenewalStatus.APPROVED):
        return renewal
    old = renewal.credential
    lock(Renewal, renewal, expected_version)
    lock(Credential, old)
    if not old.is_open:  # revoked (or renewed) while the request was under review: nothing left to renew
        raise InvalidTransition(_("This credential was revoked or replaced since the request was made: reject "
                                  "the request instead."))
    if old.expires_on is None:  # corrected to "never expires" while under review: there is no period to follow
        raise InvalidTransition(_("%(type)s does not expire and needs no renewal.", type=old.type.name))
    progress = hours_progress(old)
    if not progress.is_met:
        raise ValidationFailed(_("The rule is not met: %(counted)s of %(required)s verified training hours in "
                                 "this period. Verify the teacher's training records first, or reject.",
                                 counted=progress.counted, required=progress.required))
    starts = new_period_start(old, on)
    successor = Credential(staff_id=old.staff_id, type=old.type, number=old.number, issuer=old.issuer,
                           issued_on=starts, expires_on=expiry_for(starts, old.type.validity_years),
                           note=_("Renewed (request %(id)s)", id=renewal.id))
    db.session.add(successor)
    db.session.flush()
    # the relationships, not only the ids: one already loaded (as None) would otherwise stay stale until expired,
    # and the holder's message reads `renewal.new_credential`
    old.superseded_by = successor
    renewal.status, renewal.decided_by_id, renewal.decided_at = RenewalStatus.APPROVED, actor_id(actor), utcnow()
    renewal.hours_counted, renewal.new_credential = progress.counted, successor
    guarded_flush()
    record("renewal.approved", subject=renewal, actor=actor, changes={
        "credential": old.id, "new_credential": successor.id, "issued_on": successor.issued_on,
        "expires_on": successor.expires_on, "hours": progress.counted})
    _notify_holder(renewal)
    return renewal


def reject_renewal(renewal: Renewal, *, reason: Any, actor: Any, expected_version: int | None = None) -> Renewal:
    """Refuse a renewal with a reason the teacher sees; the credential keeps its dates."""
    _check_reviewer(renewal, actor)
    text, problem = clean_text(reason, missing=_("Say why the renewal is rejected."), maximum=500)
    raise_if({"reason": problem})
    if _check_open(renewal, RenewalStatus.REJECTED):
        return renewal
    lock(Renewal, renewal, expected_version)
    renewal.status, renewal.decided_by_id, renewal.decided_at = RenewalStatus.REJECTED, actor_id(actor), utcnow()
    renewal.decision_reason, renewal.hours_counted = text, hours_progress(renewal.credential).counted
    guarded_flush()
    record("renewal.rejected", subject=renewal, actor=actor, changes={"reason": text})
    _notify_holder(renewal)
    return renewal


def withdraw_renewal(renewal: Renewal, *, actor: Any, expected_version: int | None = None) -> Renewal:
    """The holder takes back a request still under review."""
    check_can(actor, "credentials.renew", renewal)
    if _check_open(renewal, RenewalStatus.WITHDRAWN):
        return renewal
    lock(Renewal, renewal, expected_version)
    renewal.status, renewal.decided_at = RenewalStatus.WITHDRAWN, utcnow()
    guarded_flush()
    record("renewal.withdrawn", subject=renewal, actor=actor)
    return renewal


# --- messages ---------------------------------------------------------------------------------------------


def _notify_reviewers(renewal: Renewal) -> None:
    from app.school.credentials.notices import renewal_submitted

    renewal_submitted(renewal)


def _notify_holder(renewal: Renewal) -> None:
    from app.school.credentials.notices import renewal_decided

    renewal_decided(renewal)
