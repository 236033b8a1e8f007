"""Parent notices: one per guardian per case, naming which of their children each change concerns (class, subject
or homeroom, old teacher → new teacher, first day) — never the reason for leaving.

Written in the confirmation's transaction (UNIQUE(case, guardian) and the outbox's unique idempotency keys make a
second press or a re-run write nothing twice): a row per guardian, an inbox message when the guardian has a
portal account, and one message on their preferred channel (e-mail or SMS; the other when that address is
missing), in their language. Guardians without an account get a signed link that opens the notice and lets them
acknowledge it without logging in.
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.core.errors import InvalidTransition, NotAllowed
from app.core.imports.bulk import insert_ignoring_conflicts
from app.core.models import utcnow
from app.extensions import db
from app.general.notifications.batch import Outbox
from app.general.notifications.models import Channel, Notification, Status
from app.general.notifications.rendering import pick_locale
from app.general.notifications.services import retry_notification
from app.school.classes.models import (
    AssignmentRole,
    ContactChannel,
    Enrollment,
    Guardian,
    Student,
    StudentGuardian,
)
from app.school.offboarding.models import DepartureCase, ParentNotice
from app.school.offboarding.services.common import audit, check_reach
from app.school.offboarding.services.plan import effective_day, require_reassigned

log = logging.getLogger(__name__)

TEMPLATE = "offboarding/messages/parent_notice"
TOKEN_SALT = "staffroom.offboarding.parent-notice"  # noqa: S105  (a namespace, not a secret)
TOKEN_MAX_AGE = 366 * 24 * 3600  # a notice stays readable for a school year
PREVIEW_LOCALES = ("en", "zh")


@dataclass(frozen=True)
class Recipient:
    guardian: Guardian
    children: list[dict]


@dataclass(frozen=True)
class Delivery:
    notice: ParentNotice
    state: str  # pending / sent / failed / acknowledged
    notification_id: int | None
    error: str | None


# --- the facts -------------------------------------------------------------------------------------------------


def _changes_by_class(case: DepartureCase, *, planned: bool) -> dict[int, list[dict]]:
    """Class id → the changes of that class (from the confirmed plan, or from the current choices for a preview)."""
    day = effective_day(case)
    changes: dict[int, list[dict]] = defaultdict(list)
    for row in case.plan:
        if (row.confirmed_at is None) == (not planned) or row.new_staff is None:
            continue
        old = row.old_assignment
        changes[old.class_id].append({
            "class": old.school_class.name, "role": old.role,
            "subject": old.subject.name if old.subject and old.role == AssignmentRole.SUBJECT else None,
            "old": case.staff.full_name, "new": row.new_staff.full_name,
            "effective_on": (row.effective_on or day).isoformat()})
    return changes


def recipients(case: DepartureCase, *, planned: bool = False) -> list[Recipient]:
    """Every guardian of every student enrolled, on the effective day, in a class the plan changes, with their
    children's changes (a guardian of two children in affected classes appears once, with both)."""
    changes = _changes_by_class(case, planned=planned)
    if not changes:
        return []
    day = effective_day(case)
    rows = db.session.execute(
        sa.select(StudentGuardian.guardian_id, Student.id, Student.family_name, Student.given_name,
                  Enrollment.class_id)
        .join(Student, Student.id == StudentGuardian.student_id)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .where(Enrollment.class_id.in_(list(changes)), Enrollment.starts_on <= day,
               sa.or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= day), Student.is_active.is_(True))
        .order_by(StudentGuardian.guardian_id, Student.family_name, Student.given_name, Student.id)).all()
    from app.core import names

    children: dict[int, dict[int, dict]] = defaultdict(dict)
    for guardian_id, student_id, family, given, class_id in rows:
        child = children[guardian_id].setdefault(student_id, {"child": names.full_name(family, given),
                                                              "changes": []})
        child["changes"].extend(changes[class_id])
    guardians = {g.id: g for g in db.session.scalars(
        sa.select(Guardian).where(Guardian.id.in_(list(children))).options(sa.orm.joinedload(Guardian.user),
                                                                           sa.orm.noload(Guardian.student_links)))}
    return [Recipient(guardians[gid], list(kids.values())) for gid, kids in sorted(children.items())]


def channel_of(guardian: Guardian) -> str:
    """The guardian's preferred channel, or the other one when that address is missing."""
    if guardian.preferred_channel == ContactChannel.SMS and guardian.phone:
        return ContactChannel.SMS
    if guardian.email:
        return ContactChannel.EMAIL
    return ContactChannel.SMS


def _address(guardian: Guardian, channel: str) -> str:
    return (guardian.phone if channel == ContactChannel.SMS else guardian.email) or ""


def _has_portal(guardian: Guardian) -> bool:
    return guardian.user is not None and guardian.user.is_active_account


# --- the signed link -----------------------------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def token_for(notice_id: int, guardian_id: int) -> str:
    return _serializer().dumps({"n": notice_id, "g": guardian_id})


def notice_from_token(token: str) -> ParentNotice | None:
    """The notice a signed link was made for, or None when it is forged, altered or expired."""
    try:
        data = _serializer().loads(token, max_age=TOKEN_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("n"), int) or not isinstance(data.get("g"), int):
        return None
    notice = db.session.get(ParentNotice, data["n"])
    return notice if notice is not None and notice.guardian_id == data["g"] else None


class _Links:
    """Absolute links for many messages, built in one request context (a task has none: lend it the public one)."""

    def __enter__(self):
        self._context = None
        if not has_request_context():
            base = current_app.config.get("PUBLIC_BASE_URL") or "http://localhost"
            self._context = current_app.test_request_context(base_url=base)
            self._context.__enter__()
        return self

    def __exit__(self, *exc):
        if self._context is not None:
            self._context.__exit__(*exc)

    def portal(self, notice_id: int) -> str:
        return url_for("offboarding.parent_notice", notice_id=notice_id, _external=True)

    def signed(self, notice_id: int, guardian_id: int) -> str:
        return url_for("offboarding.notice_by_link", token=token_for(notice_id, guardian_id), _external=True)


# --- writing ---------------------------------------------------------------------------------------------------


def _context(case: DepartureCase, children: list[dict], wording: str, link: str | None) -> dict:
    return {"school": case.school.name, "wording": wording, "children": children, "link": link}


def write_notices(case: DepartureCase, *, actor: Any) -> int:
    """Write every affected guardian's notice and its outbox messages (in the caller's transaction).

    Safe to run again: existing notices and messages are left as they are. Returns the guardians notified.
    :raises InvalidTransition: before the classes are reassigned.
    """
    require_reassigned(case)
    people = recipients(case)
    if not people:
        audit(case, "parents_notices_written", actor, guardians=0)
        return 0
    stamp = utcnow()
    rows = []
    for r in people:
        own = r.guardian.user.locale if r.guardian.user is not None else None
        locale = pick_locale(own or r.guardian.locale, None)
        rows.append({"case_id": case.id, "guardian_id": r.guardian.id, "school_id": case.school_id,
                     "channel": channel_of(r.guardian), "locale": locale,
                     "changes": json.dumps(r.children, ensure_ascii=False),
                     "wording": (case.notice_wording or {}).get(locale, ""),
                     "outbox_key": f"departure:{case.id}:guardian:{r.guardian.id}", "created_at": stamp})
    insert_ignoring_conflicts(ParentNotice.__table__, rows, ("case_id", "guardian_id"))
    ids = dict(db.session.execute(sa.select(ParentNotice.guardian_id, ParentNotice.id).where(
        ParentNotice.case_id == case.id)).all())
    outbox = Outbox()
    by_channel: dict[str, int] = defaultdict(int)
    with _Links() as links:
        for r, row in zip(people, rows, strict=True):
            notice_id, guardian = ids[r.guardian.id], r.guardian
            portal = _has_portal(guardian)
            link = links.portal(notice_id) if portal else links.signed(notice_id, guardian.id)
            context = _context(case, r.children, row["wording"], link)
            if portal:
                outbox.add(TEMPLATE, row["outbox_key"], context, user=guardian.user, channels=(Channel.INBOX,),
                           locale=row["locale"])
            outbox.add(TEMPLATE, row["outbox_key"], context, user=guardian.user,
                       address=_address(guardian, row["channel"]), channels=(row["channel"],), locale=row["locale"])
            by_channel[row["channel"]] += 1
    outbox.write()
    audit(case, "parents_notices_written", actor, guardians=len(people), by_channel=dict(by_channel))
    return len(people)


def preview(case: DepartureCase) -> dict:
    """What the parents will get, from the current choices: counts, and one sample notice per language."""
    from app.general.notifications.batch import _render  # one renderer for the preview and the real messages

    people = recipients(case, planned=True)
    env = current_app.jinja_env
    samples = {}
    sample = people[0] if people else None
    for locale in PREVIEW_LOCALES:
        with force_locale(locale):
            children = sample.children if sample else []
            context = {**env.globals, **_context(case, children, (case.notice_wording or {}).get(locale, ""),
                                                  "https://…"), "recipient": None}
            subject = _render(env.get_template(f"{TEMPLATE}.subject.txt"), context)
            body = _render(env.get_template(f"{TEMPLATE}.txt"), context)
            samples[locale] = {"subject": " ".join(subject.split()), "body": body.strip()}
    channels: dict[str, int] = defaultdict(int)
    for r in people:
        channels[channel_of(r.guardian)] += 1
    return {"guardians": len(people), "with_account": sum(1 for r in people if _has_portal(r.guardian)),
            "channels": dict(channels), "samples": samples,
            "sample_guardian": sample.guardian.full_name if sample else None}


# --- delivery, retry and acknowledgement -------------------------------------------------------------------------


def _external_key():
    return ParentNotice.outbox_key + ":" + ParentNotice.channel


def deliveries_query(case: DepartureCase) -> sa.Select:
    return (sa.select(ParentNotice, Notification.status, Notification.id, Notification.last_error)
            .outerjoin(Notification, Notification.idempotency_key == _external_key())
            .where(ParentNotice.case_id == case.id))


def _state(notice: ParentNotice, status: str | None) -> str:
    if notice.acknowledged_at is not None:
        return "acknowledged"
    if status in (Status.SENT, Status.FAILED):
        return str(status)
    return "pending"


def deliveries(case: DepartureCase, *, state: str | None = None, limit: int | None = None,
               offset: int = 0) -> list[Delivery]:
    stmt = deliveries_query(case).order_by(ParentNotice.id)
    if state == "acknowledged":
        stmt = stmt.where(ParentNotice.acknowledged_at.is_not(None))
    elif state in ("sent", "failed"):
        stmt = stmt.where(ParentNotice.acknowledged_at.is_(None), Notification.status == state)
    elif state == "pending":
        stmt = stmt.where(ParentNotice.acknowledged_at.is_(None),
                          sa.or_(Notification.status.is_(None), Notification.status.in_([Status.PENDING,
                                                                                         Status.SENDING])))
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return [Delivery(n, _state(n, status), nid, error) for n, status, nid, error in db.session.execute(stmt)]


def delivery_counts(case: DepartureCase) -> dict[str, int]:
    counts = {"pending": 0, "sent": 0, "failed": 0, "acknowledged": 0}
    rows = db.session.execute(
        sa.select(ParentNotice.acknowledged_at.is_not(None), Notification.status, sa.func.count())
        .select_from(ParentNotice).outerjoin(Notification, Notification.idempotency_key == _external_key())
        .where(ParentNotice.case_id == case.id)
        .group_by(ParentNotice.acknowledged_at.is_not(None), Notification.status)).all()
    for acknowledged, status, count in rows:
        key = "acknowledged" if acknowledged else (str(status) if status in (Status.SENT, Status.FAILED)
                                                   else "pending")
        counts[key] += count
    counts["total"] = sum(counts.values())
    return counts


def retry(case: DepartureCase, notice: ParentNotice, *, actor: Any) -> None:
    """Send a failed notice again (the outbox keeps its key, so the gateway never gets it twice).

    :raises InvalidTransition: the notice is not failed.
    """
    check_reach(actor, "departures.manage", case)
    if notice.case_id != case.id:
        raise NotAllowed(_("This notice belongs to another departure."))
    notification = db.session.scalar(sa.select(Notification).where(
        Notification.idempotency_key == f"{notice.outbox_key}:{notice.channel}"))
    if notification is None:
        raise InvalidTransition(_("This notice has no delivery to retry."))
    retry_notification(notification, actor=actor)
    audit(case, "notice_retried", actor, guardian_id=notice.guardian_id, notification_id=notification.id)


def retry_all_failed(case: DepartureCase, *, actor: Any) -> int:
    """Every failed notice of the case queued again; returns how many."""
    check_reach(actor, "departures.manage", case)
    failed = deliveries(case, state="failed")
    for delivery in failed:
        notification = db.session.get(Notification, delivery.notification_id)
        retry_notification(notification, actor=actor)
    if failed:
        audit(case, "notices_retried", actor, count=len(failed))
    return len(failed)


def acknowledge(notice: ParentNotice, *, via: str, actor: Any = None) -> bool:
    """The guardian has read the notice (in the portal or through the signed link). Pressing twice changes
    nothing; returns True when this call recorded it."""
    if via not in ("portal", "link"):
        raise ValueError(via)
    if via == "portal" and getattr(actor, "id", None) != notice.guardian.user_id:
        raise NotAllowed(_("Only the parent it was sent to can acknowledge this notice."))
    stamp = utcnow()
    result = db.session.execute(sa.update(ParentNotice).where(
        ParentNotice.id == notice.id, ParentNotice.acknowledged_at.is_(None)).values(
        acknowledged_at=stamp, acknowledged_via=via))
    if result.rowcount == 0:
        return False
    db.session.refresh(notice)
    audit(notice.case, "notice_acknowledged", actor, guardian_id=notice.guardian_id, via=via)
    return True


def all_dispatched(case: DepartureCase) -> bool:
    """No notice of the case is still waiting to go out (each sent, failed or acknowledged)."""
    counts = delivery_counts(case)
    return counts["pending"] == 0


def notices_of_guardian(user: Any) -> list[ParentNotice]:
    """The parent's own notices, newest first (their portal page)."""
    return list(db.session.scalars(sa.select(ParentNotice).join(Guardian, Guardian.id == ParentNotice.guardian_id)
                                   .where(Guardian.user_id == user.id).order_by(ParentNotice.created_at.desc(),
                                                                                ParentNotice.id.desc())))


def change_date(change: dict) -> date:
    return date.fromisoformat(change["effective_on"])
