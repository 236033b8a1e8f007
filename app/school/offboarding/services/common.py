"""Shared plumbing of the offboarding services: the case lock, the guarded transition, the audit event filed
under the case (so the case page's timeline is drawn from the audit log), and field rules."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _

from app.core.errors import Conflict, InvalidTransition
from app.core.models import utcnow
from app.general.audit.services import SYSTEM, record
from app.school.classes.services.common import (  # noqa: F401  (re-exported for the offboarding services)
    ClassesInvalid,
    check_reach,
    clean_date,
    clean_text,
    is_postgres,
    raise_if,
)
from app.school.classes.services.common import guarded_flush as flush_checked
from app.school.credentials.services.common import (  # noqa: F401
    actor_id,
    clean_optional_text,
    lock,
)
from app.school.offboarding.models import CaseStatus, DepartureCase

REASON_MAX = 500


def stale_case_message() -> str:
    return _("Someone else acted on this departure at the same time. Nothing was saved: reload the page to see "
             "where the case stands now.")


def lock_case(case: DepartureCase, expected_version: int | None = None) -> None:
    """Hold the case until commit (PostgreSQL `FOR UPDATE`) and refuse a change based on an old view of it.

    :raises Conflict: someone moved the case since the caller loaded it (or since `expected_version`).
    """
    try:
        lock(DepartureCase, case, expected_version)
    except Conflict:
        raise Conflict(stale_case_message()) from None


def status_label(status: str) -> str:
    return {
        CaseStatus.SUBMITTED: _("submitted"), CaseStatus.APPROVED: _("approved"),
        CaseStatus.HANDOVER: _("handover"), CaseStatus.REASSIGNED: _("classes reassigned"),
        CaseStatus.PARENTS_NOTIFIED: _("parents notified"), CaseStatus.ACCESS_REVOKED: _("access revoked"),
        CaseStatus.SETTLED: _("settled"), CaseStatus.CLOSED: _("closed"), CaseStatus.WITHDRAWN: _("withdrawn"),
        CaseStatus.REJECTED: _("rejected"),
    }.get(status, status)


def require_status(case: DepartureCase, allowed: Iterable[str], doing: str) -> None:
    """:raises InvalidTransition: the case is not in one of the `allowed` states (the message says where it is)."""
    allowed = tuple(allowed)
    if case.status not in allowed:
        raise InvalidTransition(_("This departure is %(status)s, so it cannot be %(doing)s now (it must be "
                                  "%(needed)s).", status=status_label(case.status), doing=doing,
                                  needed=_(" or ").join(status_label(s) for s in allowed)))


def move(case: DepartureCase, to: CaseStatus, *, actor: Any, action: str, **changes: Any) -> None:
    """Set the new state, flush under the version guard, and file the audit event under the case."""
    before = case.status
    case.status = to
    case.updated_at = utcnow()
    flush()
    audit(case, action, actor, status=[before, str(to)], **changes)


def flush() -> None:
    """Flush in a savepoint: a concurrent change of the case (its version) becomes a clear Conflict."""
    flush_checked(stale=stale_case_message())


def audit(case: DepartureCase, action: str, actor: Any, **changes: Any) -> None:
    """One event about a case (checklist, blocker, plan and notice events are filed under their case too)."""
    record(f"offboarding.{action}", subject=case, subject_type="DepartureCase", actor=actor, changes=changes)


def is_system(actor: Any) -> bool:
    return actor == SYSTEM
