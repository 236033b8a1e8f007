"""What the dashboards show of teaching and pay: a teacher's month so far and latest statement; a head's runs and
bonuses awaiting a decision; an admin's lessons still without a cover today. A few small queries, no pandas."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from app.extensions import db
from app.general.auth.policy import can, units_in_scope
from app.general.org.models import OrgUnit
from app.school.staff.models import StaffMember
from app.school.staff.queries import local_today
from app.school.teaching.calendar import month_bounds
from app.school.teaching.models import (
    Absence,
    AwardStatus,
    BonusAward,
    Lesson,
    LessonKind,
    PayLine,
    PayRun,
    PayRunStatus,
)


@dataclass
class TeachingCard:
    month: date
    periods_by_kind: dict[str, Decimal] = field(default_factory=dict)
    latest_line: PayLine | None = None
    runs_to_approve: int = 0
    awards_to_decide: int = 0
    uncovered_today: int = 0
    absent_today: int = 0

    @property
    def labels(self) -> dict[str, str]:
        from app.school.teaching.services.ledger import kind_labels

        return kind_labels()

    @property
    def periods(self) -> Decimal:
        return sum(self.periods_by_kind.values(), Decimal("0"))


def _in_scope(column, user) -> sa.ColumnElement[bool]:
    """Rows whose org unit (`column` holds its id) lies within one of the user's scope units."""
    paths = [unit.path for unit in units_in_scope(user)]
    if not paths:
        return sa.false()
    units = sa.select(OrgUnit.id).where(sa.or_(*(OrgUnit.path.startswith(path) for path in paths)))
    return column.in_(units)


def card_for(user) -> TeachingCard | None:
    """The card's figures for this user's role, or None when teaching shows nothing for them."""
    today = local_today()
    first, last = month_bounds(today)
    card = TeachingCard(first)
    if can(user, "teaching.view_own"):
        staff = db.session.scalar(sa.select(StaffMember).where(StaffMember.user_id == user.id))
        if staff is None:
            return None
        card.periods_by_kind = {kind: Decimal(total) for kind, total in db.session.execute(
            sa.select(Lesson.kind, sa.func.sum(Lesson.periods)).where(
                Lesson.taught_by_id == staff.id, Lesson.day >= first, Lesson.day <= min(last, today))
            .group_by(Lesson.kind)).all()}
        card.latest_line = db.session.scalar(
            sa.select(PayLine).join(PayRun, PayRun.id == PayLine.run_id)
            .where(PayLine.staff_id == staff.id, PayRun.status == PayRunStatus.LOCKED)
            .order_by(PayRun.month.desc(), PayRun.number.desc()).limit(1))
        return card
    if not (can(user, "pay.view") or can(user, "teaching.view")):
        return None
    if can(user, "pay.approve"):
        card.runs_to_approve = db.session.scalar(sa.select(sa.func.count()).select_from(PayRun).where(
            PayRun.status == PayRunStatus.CALCULATED, _in_scope(PayRun.school_id, user)))
    if can(user, "bonus.decide"):
        card.awards_to_decide = db.session.scalar(
            sa.select(sa.func.count()).select_from(BonusAward).join(StaffMember, StaffMember.id == BonusAward.staff_id)
            .where(BonusAward.status == AwardStatus.PROPOSED,
                   _in_scope(sa.func.coalesce(StaffMember.department_id, StaffMember.school_id), user)))
    absent = sa.select(Absence).join(StaffMember, StaffMember.id == Absence.staff_id).where(
        Absence.day == today, _in_scope(sa.func.coalesce(StaffMember.department_id, StaffMember.school_id), user)
    ).subquery()
    card.absent_today = db.session.scalar(sa.select(sa.func.count()).select_from(absent))
    if card.absent_today:
        card.uncovered_today = db.session.scalar(
            sa.select(sa.func.count()).select_from(Lesson).join(absent, absent.c.staff_id == Lesson.scheduled_staff_id)
            .where(Lesson.day == today, Lesson.kind == LessonKind.REGULAR, Lesson.slot_id.is_not(None),
                   Lesson.period >= absent.c.first_period, Lesson.period <= absent.c.last_period))
    return card


def profile_card(staff: StaffMember, viewer, own: bool) -> dict | None:
    """The staff profile's teaching card: this month's periods by kind, covers taught this month, and the latest
    locked pay line (for whoever may read it). None for viewers without teaching access."""
    if not (own or can(viewer, "teaching.view", staff)):
        return None
    today = local_today()
    first, last = month_bounds(today)
    by_kind = {kind: Decimal(total) for kind, total in db.session.execute(
        sa.select(Lesson.kind, sa.func.sum(Lesson.periods)).where(
            Lesson.taught_by_id == staff.id, Lesson.day >= first, Lesson.day <= min(last, today))
        .group_by(Lesson.kind)).all()}
    covered_for = db.session.scalar(sa.select(sa.func.count()).select_from(Lesson).where(
        Lesson.scheduled_staff_id == staff.id, Lesson.kind == LessonKind.COVER, Lesson.day >= first,
        Lesson.day <= last))
    line = None
    if own or can(viewer, "pay.view", staff):
        line = db.session.scalar(
            sa.select(PayLine).join(PayRun, PayRun.id == PayLine.run_id)
            .where(PayLine.staff_id == staff.id, PayRun.status == PayRunStatus.LOCKED)
            .order_by(PayRun.month.desc(), PayRun.number.desc()).limit(1))
    card = TeachingCard(first, periods_by_kind=by_kind, latest_line=line)
    return {"teaching": card, "covered_for": covered_for}
