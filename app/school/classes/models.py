"""Subjects, classes, students, guardians, enrolments and teaching assignments.

Assignments and enrolments are dated: a change ends one row and starts another, never overwrites.
"""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import names
from app.core.models import concat, postgresql_only, trigram_index, utcnow
from app.extensions import db
from app.general.auth.models import User
from app.general.org.models import OrgUnit
from app.school.staff.models import StaffMember


class Subject(db.Model):
    """A subject of the district's catalogue (Maths, Chinese, …)."""

    __tablename__ = "subjects"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)

    def __repr__(self) -> str:
        return f"<Subject {self.code}>"


class SchoolClass(db.Model):
    """A class of one school in one academic year, e.g. Grade 7 Class 2 of 2026-2027."""

    __tablename__ = "school_classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    academic_year: Mapped[str] = mapped_column(sa.String(9), nullable=False)  # "2026-2027"
    grade: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    school: Mapped[OrgUnit] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.UniqueConstraint("school_id", "academic_year", "name"),
        sa.CheckConstraint("grade >= 1 AND grade <= 12", name="grade"),
    )

    def __repr__(self) -> str:
        return f"<SchoolClass {self.id} {self.academic_year} {self.name}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.school


class Student(db.Model):
    __tablename__ = "students"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    student_number: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    family_name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    given_name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    born_on: Mapped[date | None] = mapped_column(nullable=True)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    school: Mapped[OrgUnit] = relationship(lazy="joined")
    guardian_links: Mapped[list[StudentGuardian]] = relationship(back_populates="student", lazy="selectin")

    __table_args__ = (sa.UniqueConstraint("school_id", "student_number"),)

    def __repr__(self) -> str:
        return f"<Student {self.id} {self.student_number}>"

    @property
    def full_name(self) -> str:
        return names.full_name(self.family_name, self.given_name)

    @property
    def scope_unit(self) -> OrgUnit:
        return self.school


# What the student search compares a word with (queries/students.py): both names with a space between them (no
# search word holds a space, so a word matches within one of the names), and the names written together (王小明).
# The space is SQL text, not a bound parameter, so the query's expressions are the trigram indexes' expressions.
STUDENT_NAMES = concat(Student.family_name, sa.text("' '"), Student.given_name)
STUDENT_FULL_NAME = concat(Student.family_name, Student.given_name)
trigram_index("ix_students_names_trgm", STUDENT_NAMES)
trigram_index("ix_students_full_name_trgm", STUDENT_FULL_NAME)
# Number prefixes (LIKE '2026%') from a btree: the database's collation may not be C, so it needs the pattern class.
postgresql_only(sa.Index("ix_students_number_prefix", Student.student_number,
                         postgresql_ops={"student_number": "varchar_pattern_ops"}))


class ContactChannel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Guardian(db.Model):
    """A parent or other guardian; may have a portal account (role parent)."""

    __tablename__ = "guardians"

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    email: Mapped[str | None] = mapped_column(sa.String(254), nullable=True, index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(40), nullable=True, index=True)
    preferred_channel: Mapped[str] = mapped_column(sa.String(8), nullable=False, default=ContactChannel.EMAIL)
    locale: Mapped[str] = mapped_column(sa.String(8), nullable=False, default="zh")
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, unique=True
    )
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    user: Mapped[User | None] = relationship()
    student_links: Mapped[list[StudentGuardian]] = relationship(back_populates="guardian", lazy="selectin")

    __table_args__ = (
        sa.CheckConstraint("preferred_channel in ('email', 'sms')", name="preferred_channel"),
        sa.CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="contact"),
    )

    def __repr__(self) -> str:
        return f"<Guardian {self.id} {self.full_name}>"

    @property
    def owner_user_id(self) -> int | None:
        return self.user_id


class StudentGuardian(db.Model):
    __tablename__ = "student_guardians"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(
        sa.ForeignKey("students.id", ondelete="CASCADE"), nullable=False, index=True
    )
    guardian_id: Mapped[int] = mapped_column(
        sa.ForeignKey("guardians.id", ondelete="CASCADE"), nullable=False, index=True
    )
    relationship_kind: Mapped[str] = mapped_column("relationship", sa.String(20), nullable=False, default="guardian")

    student: Mapped[Student] = relationship(back_populates="guardian_links")
    guardian: Mapped[Guardian] = relationship(back_populates="student_links")

    __table_args__ = (sa.UniqueConstraint("student_id", "guardian_id"),)

    def __repr__(self) -> str:
        return f"<StudentGuardian student={self.student_id} guardian={self.guardian_id}>"


class Enrollment(db.Model):
    """A student in a class from `starts_on` until `ends_on` (inclusive; open when null)."""

    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(
        sa.ForeignKey("students.id", ondelete="CASCADE"), nullable=False, index=True
    )
    class_id: Mapped[int] = mapped_column(
        sa.ForeignKey("school_classes.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    starts_on: Mapped[date] = mapped_column(nullable=False)
    ends_on: Mapped[date | None] = mapped_column(nullable=True)

    student: Mapped[Student] = relationship(lazy="joined")
    school_class: Mapped[SchoolClass] = relationship(lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("student_id", "class_id", "starts_on"),
        sa.CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates"),
    )

    def __repr__(self) -> str:
        return f"<Enrollment student={self.student_id} class={self.class_id} {self.starts_on}..{self.ends_on}>"


class AssignmentRole(enum.StrEnum):
    HOMEROOM = "homeroom"
    SUBJECT = "subject"


class Assignment(db.Model):
    """A teacher teaching a subject to (or being homeroom teacher of) a class, over a date range."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(
        sa.ForeignKey("school_classes.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    staff_id: Mapped[int] = mapped_column(
        sa.ForeignKey("staff_members.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    role: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    subject_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("subjects.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    weekly_periods: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    starts_on: Mapped[date] = mapped_column(nullable=False)
    ends_on: Mapped[date | None] = mapped_column(nullable=True, index=True)
    end_reason: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    qualification_override: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    school_class: Mapped[SchoolClass] = relationship(lazy="joined")
    staff: Mapped[StaffMember] = relationship(lazy="joined")
    subject: Mapped[Subject | None] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint("role in ('homeroom', 'subject')", name="role"),
        sa.CheckConstraint(
            "(role = 'homeroom' AND subject_id IS NULL) OR (role = 'subject' AND subject_id IS NOT NULL)",
            name="role_subject",
        ),
        sa.CheckConstraint("weekly_periods >= 0 AND weekly_periods <= 40", name="weekly_periods"),
        sa.CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates"),
        sa.Index("ix_assignments_class_current", "class_id", "role", "ends_on"),
    )

    def __repr__(self) -> str:
        return f"<Assignment {self.id} {self.role} class={self.class_id} staff={self.staff_id}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.school_class.school

    def is_current(self, on: date) -> bool:
        """True when the assignment covers `on` (ends_on is the last day taught)."""
        return self.starts_on <= on and (self.ends_on is None or self.ends_on >= on)
