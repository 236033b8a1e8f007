"""Teaching hours and performance pay: the school calendar (terms, closures, make-up days), the weekly
timetable, the dated lesson ledger with its adjustments and absences, pay schemes with their rates,
multipliers and bonus catalogue, bonus awards, and pay runs with their lines.

Hours are counted in periods (课时). The ledger credits the teacher who taught (`taught_by_id`); a cover
keeps the absent teacher in `scheduled_staff_id`. Money is Numeric everywhere and Decimal in Python.
A locked pay run and its lines never change again: the service refuses it and database triggers stop
anything that slips past (see the guards at the bottom).
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import install_guards, utcnow
from app.extensions import db
from app.general.org.models import OrgUnit
from app.school.classes.models import SchoolClass, Subject
from app.school.staff.models import StaffMember

MONEY = sa.Numeric(12, 2)
PERIODS = sa.Numeric(6, 1)


class LessonKind(enum.StrEnum):
    """What a ledger row is. Every kind but `cancelled` counts toward the hours of the teacher who taught."""

    REGULAR = "regular"            # generated from the timetable, taught as planned
    COVER = "cover"                # taught by someone else than the scheduled (absent) teacher
    CANCELLED = "cancelled"        # did not take place; counts for nobody
    EXTRA = "extra"                # an extra lesson outside the timetable
    OPEN_CLASS = "open_class"      # open / demonstration class (公开课)
    INVIGILATION = "invigilation"  # exam invigilation (监考)
    HOMEROOM = "homeroom"          # homeroom duties (班会, 早读 ...)


PAID_KINDS = (LessonKind.REGULAR, LessonKind.COVER, LessonKind.EXTRA, LessonKind.OPEN_CLASS,
              LessonKind.INVIGILATION, LessonKind.HOMEROOM)
ADDED_KINDS = (LessonKind.EXTRA, LessonKind.OPEN_CLASS, LessonKind.INVIGILATION, LessonKind.HOMEROOM)
_KIND_SQL = ", ".join(f"'{kind.value}'" for kind in LessonKind)


class Term(db.Model):
    """An academic term of one school: the dates lessons are generated for."""

    __tablename__ = "terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    starts_on: Mapped[date] = mapped_column(nullable=False)
    ends_on: Mapped[date] = mapped_column(nullable=False)
    # covers are shared fairly over this many school days (the cover screen's ranking)
    cover_window_days: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=10)
    generated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    school: Mapped[OrgUnit] = relationship(lazy="joined")
    closures: Mapped[list[Closure]] = relationship(back_populates="term", order_by="Closure.starts_on",
                                                   cascade="all, delete-orphan", lazy="selectin")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.UniqueConstraint("school_id", "name"),
        sa.CheckConstraint("starts_on <= ends_on", name="dates"),
        sa.CheckConstraint("cover_window_days >= 1 AND cover_window_days <= 60", name="cover_window_days"),
        sa.Index("ix_terms_school_dates", "school_id", "starts_on", "ends_on"),
    )

    def __repr__(self) -> str:
        return f"<Term {self.id} {self.name} {self.starts_on}..{self.ends_on}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.school


class Closure(db.Model):
    """A holiday or closure (no lessons), or a make-up school day that follows another weekday's timetable
    (调休: a Saturday taught as the Friday the holiday took)."""

    __tablename__ = "term_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    term_id: Mapped[int] = mapped_column(sa.ForeignKey("terms.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    starts_on: Mapped[date] = mapped_column(nullable=False)
    ends_on: Mapped[date] = mapped_column(nullable=False)
    # set for a make-up day: the ISO weekday (1 = Monday) whose timetable is taught on it
    follows_weekday: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)

    term: Mapped[Term] = relationship(back_populates="closures")

    __table_args__ = (
        sa.CheckConstraint("starts_on <= ends_on", name="dates"),
        sa.CheckConstraint("follows_weekday IS NULL OR (follows_weekday >= 1 AND follows_weekday <= 7 "
                           "AND starts_on = ends_on)", name="follows_weekday"),
    )

    @property
    def is_makeup(self) -> bool:
        return self.follows_weekday is not None


class TimetableSlot(db.Model):
    """One weekly lesson of a term: weekday × period × class, with its subject and teacher. A teacher or a class
    is never in two places at once (unique indexes; the service explains the clash first)."""

    __tablename__ = "timetable_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    term_id: Mapped[int] = mapped_column(sa.ForeignKey("terms.id", ondelete="RESTRICT"), nullable=False)
    weekday: Mapped[int] = mapped_column(sa.Integer, nullable=False)  # ISO: 1 = Monday
    period: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    class_id: Mapped[int] = mapped_column(sa.ForeignKey("school_classes.id", ondelete="RESTRICT"), nullable=False,
                                          index=True)
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("subjects.id", ondelete="RESTRICT"), nullable=False)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_members.id", ondelete="RESTRICT"), nullable=False,
                                          index=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    term: Mapped[Term] = relationship(lazy="joined")
    school_class: Mapped[SchoolClass] = relationship(lazy="joined")
    subject: Mapped[Subject] = relationship(lazy="joined")
    staff: Mapped[StaffMember] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.UniqueConstraint("term_id", "weekday", "period", "class_id", name="uq_timetable_slots_class_time"),
        sa.UniqueConstraint("term_id", "weekday", "period", "staff_id", name="uq_timetable_slots_teacher_time"),
        sa.CheckConstraint("weekday >= 1 AND weekday <= 7", name="weekday"),
        sa.CheckConstraint("period >= 1 AND period <= 12", name="period"),
    )

    @property
    def scope_unit(self) -> OrgUnit:
        return self.term.school


class Absence(db.Model):
    """A teacher away on a day (all periods, or a range): their lessons need a cover or a cancellation.
    The reason stays private to admins and heads."""

    __tablename__ = "absences"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_members.id", ondelete="RESTRICT"), nullable=False)
    day: Mapped[date] = mapped_column(nullable=False)
    first_period: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    last_period: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=12)
    reason: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"),
                                                       nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    staff: Mapped[StaffMember] = relationship(lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("staff_id", "day"),
        sa.CheckConstraint("first_period >= 1 AND first_period <= last_period AND last_period <= 12",
                           name="periods"),
        sa.Index("ix_absences_day", "day"),
    )

    @property
    def scope_unit(self) -> OrgUnit:
        return self.staff.scope_unit


class Lesson(db.Model):
    """One dated row of the ledger. Generated ones carry their slot (UNIQUE(slot, day): regeneration adds nothing
    twice); added ones (extra, open class, invigilation, homeroom duties) have none. Nobody teaches two
    lessons in the same period and no class has two (partial unique indexes)."""

    __tablename__ = "lessons"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False)
    term_id: Mapped[int] = mapped_column(sa.ForeignKey("terms.id", ondelete="RESTRICT"), nullable=False,
                                         index=True)
    slot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("timetable_slots.id", ondelete="SET NULL"),
                                                nullable=True)
    day: Mapped[date] = mapped_column(nullable=False)
    period: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    class_id: Mapped[int | None] = mapped_column(sa.ForeignKey("school_classes.id", ondelete="RESTRICT"),
                                                 nullable=True)
    subject_id: Mapped[int | None] = mapped_column(sa.ForeignKey("subjects.id", ondelete="RESTRICT"),
                                                   nullable=True)
    scheduled_staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_members.id", ondelete="RESTRICT"),
                                                           nullable=True)
    taught_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_members.id", ondelete="RESTRICT"),
                                                     nullable=True)
    kind: Mapped[str] = mapped_column(sa.String(12), nullable=False, default=LessonKind.REGULAR)
    periods: Mapped[Decimal] = mapped_column(PERIODS, nullable=False, default=Decimal("1"))
    reason: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    adjusted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"),
                                                       nullable=True)
    adjusted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    school: Mapped[OrgUnit] = relationship(lazy="joined")
    slot: Mapped[TimetableSlot | None] = relationship()
    school_class: Mapped[SchoolClass | None] = relationship(lazy="joined")
    subject: Mapped[Subject | None] = relationship(lazy="joined")
    scheduled_staff: Mapped[StaffMember | None] = relationship(foreign_keys=[scheduled_staff_id], lazy="joined")
    taught_by: Mapped[StaffMember | None] = relationship(foreign_keys=[taught_by_id], lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(f"kind in ({_KIND_SQL})", name="kind"),
        sa.CheckConstraint("period >= 1 AND period <= 12", name="period"),
        sa.CheckConstraint("periods > 0 AND periods <= 12", name="periods"),
        sa.CheckConstraint("(kind = 'cancelled') = (taught_by_id IS NULL)", name="taught_by"),
        sa.UniqueConstraint("slot_id", "day", name="uq_lessons_slot_day"),
        sa.Index("uq_lessons_teacher_time", "taught_by_id", "day", "period", unique=True,
                 sqlite_where=sa.text("taught_by_id IS NOT NULL"),
                 postgresql_where=sa.text("taught_by_id IS NOT NULL")),
        sa.Index("uq_lessons_class_time", "class_id", "day", "period", unique=True,
                 sqlite_where=sa.text("class_id IS NOT NULL AND kind <> 'cancelled'"),
                 postgresql_where=sa.text("class_id IS NOT NULL AND kind <> 'cancelled'")),
        sa.Index("ix_lessons_school_day", "school_id", "day"),
        sa.Index("ix_lessons_teacher_day", "taught_by_id", "day"),
        sa.Index("ix_lessons_scheduled_day", "scheduled_staff_id", "day"),
    )

    def __repr__(self) -> str:
        return f"<Lesson {self.id} {self.day} p{self.period} {self.kind} by={self.taught_by_id}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.school


class PayScheme(db.Model):
    """How one school pays teaching from a date on: a rate per period for each lesson kind, the standard
    monthly load and the overtime premium above it, the homeroom allowance, the value of a bonus point, and
    multipliers. A scheme used by a pay run never changes; a change is a new scheme from a later date."""

    __tablename__ = "pay_schemes"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    effective_from: Mapped[date] = mapped_column(nullable=False)
    standard_monthly_periods: Mapped[Decimal] = mapped_column(PERIODS, nullable=False)
    overtime_rate: Mapped[Decimal] = mapped_column(MONEY, nullable=False)  # premium per period above the load
    homeroom_allowance: Mapped[Decimal] = mapped_column(MONEY, nullable=False)  # per full month
    point_value: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    school: Mapped[OrgUnit] = relationship(lazy="joined")
    rates: Mapped[list[PayRate]] = relationship(back_populates="scheme", cascade="all, delete-orphan",
                                                lazy="selectin", order_by="PayRate.kind")
    multipliers: Mapped[list[PayMultiplier]] = relationship(back_populates="scheme", cascade="all, delete-orphan",
                                                            lazy="selectin", order_by="PayMultiplier.id")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.UniqueConstraint("school_id", "effective_from"),
        sa.CheckConstraint("standard_monthly_periods >= 0", name="standard_load"),
        sa.CheckConstraint("overtime_rate >= 0 AND homeroom_allowance >= 0 AND point_value >= 0", name="amounts"),
    )

    def __repr__(self) -> str:
        return f"<PayScheme {self.id} school={self.school_id} from {self.effective_from}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.school

    def rate_for(self, kind: str) -> Decimal:
        return next((rate.rate for rate in self.rates if rate.kind == kind), Decimal("0"))


class PayRate(db.Model):
    """The amount paid per period of one lesson kind under one scheme."""

    __tablename__ = "pay_rates"

    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("pay_schemes.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    rate: Mapped[Decimal] = mapped_column(MONEY, nullable=False)

    scheme: Mapped[PayScheme] = relationship(back_populates="rates")

    __table_args__ = (
        sa.CheckConstraint(f"kind in ({_KIND_SQL}) AND kind <> 'cancelled'", name="kind"),
        sa.CheckConstraint("rate >= 0", name="rate"),
    )


class MultiplierBasis(enum.StrEnum):
    CLASS_SIZE = "class_size"  # students enrolled in the lesson's class
    GRADE = "grade"            # the class's grade


class PayMultiplier(db.Model):
    """A factor on a lesson's amount when its class matches (size or grade within [low, high]). Several
    matching multipliers multiply."""

    __tablename__ = "pay_multipliers"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("pay_schemes.id", ondelete="CASCADE"), nullable=False,
                                           index=True)
    basis: Mapped[str] = mapped_column(sa.String(12), nullable=False)
    low: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    high: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    factor: Mapped[Decimal] = mapped_column(sa.Numeric(5, 3), nullable=False)

    scheme: Mapped[PayScheme] = relationship(back_populates="multipliers")

    __table_args__ = (
        sa.CheckConstraint("basis in ('class_size', 'grade')", name="basis"),
        sa.CheckConstraint("low <= high", name="range"),
        sa.CheckConstraint("factor > 0 AND factor <= 5", name="factor"),
    )


class BonusType(db.Model):
    """An entry of a school's bonus catalogue: a fixed amount or a number of points (valued by the scheme in
    effect), with an optional cap per teacher per month."""

    __tablename__ = "bonus_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False,
                                           index=True)
    code: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    amount: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    points: Mapped[Decimal | None] = mapped_column(sa.Numeric(8, 2), nullable=True)
    monthly_cap: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    school: Mapped[OrgUnit] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.UniqueConstraint("school_id", "code"),
        sa.CheckConstraint("(amount IS NULL) <> (points IS NULL)", name="amount_or_points"),
        sa.CheckConstraint("amount IS NULL OR amount > 0", name="amount"),
        sa.CheckConstraint("points IS NULL OR points > 0", name="points"),
        sa.CheckConstraint("monthly_cap IS NULL OR monthly_cap > 0", name="monthly_cap"),
    )

    @property
    def scope_unit(self) -> OrgUnit:
        return self.school


class AwardStatus(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class BonusAward(db.Model):
    """A bonus proposed for a teacher with evidence; approved by a head (amount fixed then, within the cap) and
    paid in the pay run of `pay_month`."""

    __tablename__ = "bonus_awards"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_members.id", ondelete="RESTRICT"), nullable=False,
                                          index=True)
    bonus_type_id: Mapped[int] = mapped_column(sa.ForeignKey("bonus_types.id", ondelete="RESTRICT"), nullable=False,
                                               index=True)
    earned_on: Mapped[date] = mapped_column(nullable=False)
    description: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    evidence: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(10), nullable=False, default=AwardStatus.PROPOSED)
    amount: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)  # fixed on approval
    pay_month: Mapped[date | None] = mapped_column(nullable=True)  # first day of the month it is paid in
    decision_note: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    proposed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    staff: Mapped[StaffMember] = relationship(lazy="joined")
    bonus_type: Mapped[BonusType] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("status in ('proposed', 'approved', 'rejected')", name="status"),
        sa.CheckConstraint("(status = 'approved') = (amount IS NOT NULL AND pay_month IS NOT NULL)",
                           name="approved_amount"),
        sa.Index("ix_bonus_awards_pay_month", "pay_month", "status"),
    )

    @property
    def scope_unit(self) -> OrgUnit:
        return self.staff.scope_unit

    @property
    def owner_user_id(self) -> int | None:
        return self.staff.user_id


class PayRunStatus(enum.StrEnum):
    DRAFT = "draft"            # created, not calculated yet
    CALCULATED = "calculated"  # lines present, under review
    APPROVED = "approved"      # the head approved the figures
    LOCKED = "locked"          # final: immutable, statements published


OPEN_RUN_STATUSES = (PayRunStatus.DRAFT, PayRunStatus.CALCULATED, PayRunStatus.APPROVED)


class PayRun(db.Model):
    """One school's pay for one month, version 1 or a correction of the locked version before it. At most one
    run per school and month is open (partial unique index); a locked run never changes."""

    __tablename__ = "pay_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False)
    month: Mapped[date] = mapped_column(nullable=False)  # first day of the month
    number: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)  # 1, then 2 for a correction ...
    corrects_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pay_runs.id", ondelete="RESTRICT"),
                                                    nullable=True, unique=True)
    status: Mapped[str] = mapped_column(sa.String(10), nullable=False, default=PayRunStatus.DRAFT)
    reason: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)  # why a correction was needed
    total: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0"))
    line_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    lesson_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    calculated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    calculated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"),
                                                         nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    locked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    locked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    school: Mapped[OrgUnit] = relationship(lazy="joined")
    corrects: Mapped[PayRun | None] = relationship(remote_side=[id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.UniqueConstraint("school_id", "month", "number"),
        sa.CheckConstraint("status in ('draft', 'calculated', 'approved', 'locked')", name="status"),
        sa.CheckConstraint("number >= 1", name="number"),
        sa.Index("uq_pay_runs_open", "school_id", "month", unique=True,
                 sqlite_where=sa.text("status <> 'locked'"), postgresql_where=sa.text("status <> 'locked'")),
    )

    def __repr__(self) -> str:
        return f"<PayRun {self.id} school={self.school_id} {self.month:%Y-%m} #{self.number} {self.status}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.school

    @property
    def is_locked(self) -> bool:
        return self.status == PayRunStatus.LOCKED


class PayLine(db.Model):
    """One teacher's pay in one run, with every part and how it was derived (`detail`, JSON: periods and
    amounts by kind and rate, overtime, allowance, bonuses, proration, schemes used)."""

    __tablename__ = "pay_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("pay_runs.id", ondelete="RESTRICT"), nullable=False)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_members.id", ondelete="RESTRICT"), nullable=False,
                                          index=True)
    scheme_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pay_schemes.id", ondelete="RESTRICT"),
                                                  nullable=True)
    periods: Mapped[Decimal] = mapped_column(PERIODS, nullable=False, default=Decimal("0"))
    lesson_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0"))
    overtime_periods: Mapped[Decimal] = mapped_column(PERIODS, nullable=False, default=Decimal("0"))
    overtime_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0"))
    allowance_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0"))
    bonus_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0"))
    proration: Mapped[Decimal] = mapped_column(sa.Numeric(5, 4), nullable=False, default=Decimal("1"))
    detail: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)

    run: Mapped[PayRun] = relationship(lazy="joined")
    staff: Mapped[StaffMember] = relationship(lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("run_id", "staff_id"),
        # Within half a cent rather than `=`: SQLite does this sum in binary floating point (350.00 + 445.16 is not
        # 795.16 there); on PostgreSQL's exact numeric, for amounts of whole cents, it is the same as equality.
        sa.CheckConstraint("abs(total - (lesson_amount + overtime_amount + allowance_amount + bonus_amount)) < 0.005",
                           name="total"),
    )

    @property
    def scope_unit(self) -> OrgUnit:
        return self.run.school

    @property
    def owner_user_id(self) -> int | None:
        return self.staff.user_id


# --- database guards ---------------------------------------------------------------------------------
# A locked pay run, and every line of it, never changes and is never deleted; no line is added to it. The
# migration holds frozen copies of these statements; the listeners give create_all() (the tests) the same.
PG_PAY_RUN_GUARD = """
CREATE OR REPLACE FUNCTION pay_runs_refuse_locked_change() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'locked' THEN
        RAISE EXCEPTION 'pay run % is locked (% refused)', OLD.id, TG_OP;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER pay_runs_locked
    BEFORE UPDATE OR DELETE ON pay_runs
    FOR EACH ROW EXECUTE FUNCTION pay_runs_refuse_locked_change();
"""
PG_PAY_LINE_GUARD = """
CREATE OR REPLACE FUNCTION pay_lines_refuse_locked_change() RETURNS trigger AS $$
DECLARE
    run_status text;
BEGIN
    SELECT status INTO run_status FROM pay_runs
        WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.run_id ELSE NEW.run_id END;
    IF run_status = 'locked' THEN
        RAISE EXCEPTION 'the lines of a locked pay run cannot change (% refused)', TG_OP;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.run_id <> NEW.run_id THEN
        RAISE EXCEPTION 'a pay line cannot move to another run';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER pay_lines_locked
    BEFORE INSERT OR UPDATE OR DELETE ON pay_lines
    FOR EACH ROW EXECUTE FUNCTION pay_lines_refuse_locked_change();
"""
SQLITE_PAY_RUN_GUARDS = (
    "CREATE TRIGGER pay_runs_locked_update BEFORE UPDATE ON pay_runs WHEN OLD.status = 'locked' "
    "BEGIN SELECT RAISE(ABORT, 'a locked pay run cannot change'); END;",
    "CREATE TRIGGER pay_runs_locked_delete BEFORE DELETE ON pay_runs WHEN OLD.status = 'locked' "
    "BEGIN SELECT RAISE(ABORT, 'a locked pay run cannot be deleted'); END;",
)
SQLITE_PAY_LINE_GUARDS = (
    "CREATE TRIGGER pay_lines_locked_insert BEFORE INSERT ON pay_lines "
    "WHEN (SELECT status FROM pay_runs WHERE id = NEW.run_id) = 'locked' "
    "BEGIN SELECT RAISE(ABORT, 'the lines of a locked pay run cannot change'); END;",
    "CREATE TRIGGER pay_lines_locked_update BEFORE UPDATE ON pay_lines "
    "WHEN (SELECT status FROM pay_runs WHERE id = OLD.run_id) = 'locked' OR NEW.run_id <> OLD.run_id "
    "BEGIN SELECT RAISE(ABORT, 'the lines of a locked pay run cannot change'); END;",
    "CREATE TRIGGER pay_lines_locked_delete BEFORE DELETE ON pay_lines "
    "WHEN (SELECT status FROM pay_runs WHERE id = OLD.run_id) = 'locked' "
    "BEGIN SELECT RAISE(ABORT, 'the lines of a locked pay run cannot change'); END;",
)
SQLITE_TRIGGER_NAMES = ("pay_runs_locked_update", "pay_runs_locked_delete", "pay_lines_locked_insert",
                        "pay_lines_locked_update", "pay_lines_locked_delete")


install_guards(PayRun.__table__, PG_PAY_RUN_GUARD, SQLITE_PAY_RUN_GUARDS)
install_guards(PayLine.__table__, PG_PAY_LINE_GUARD, SQLITE_PAY_LINE_GUARDS)
