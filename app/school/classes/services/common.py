"""Shared plumbing of the classes services: field rules, scope checks, guarded flushes, class locking.

Field rules are pure (no database): each returns the cleaned value and the problem, if any, so that a
spreadsheet import can collect every error of a row without writing anything.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from app.core.errors import Conflict, NotAllowed, ValidationFailed
from app.extensions import db
from app.general.audit.services import SYSTEM
from app.school.classes.models import SchoolClass

ACADEMIC_YEAR_PATTERN = re.compile(r"^(\d{4})-(\d{4})$")
NAME_MAX = 100


class ClassesInvalid(ValidationFailed):
    """Several fields break rules at once; `errors` maps each field name to its message."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = dict(errors)


def raise_if(errors: dict[str, str | None]) -> None:
    """Raise one ClassesInvalid carrying every problem found (None values are no problem)."""
    problems = {name: message for name, message in errors.items() if message}
    if problems:
        raise ClassesInvalid(problems)


# --- pure field rules -------------------------------------------------------------------------------


def clean_text(value: Any, *, missing: str, maximum: int = NAME_MAX) -> tuple[str, str | None]:
    """Blanks collapsed; required; at most `maximum` characters; no control characters."""
    text = " ".join(("" if value is None else str(value)).split())
    if not text:
        return text, missing
    if len(text) > maximum:
        return text, _("At most %(n)d characters.", n=maximum)
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        return text, _("Control characters are not allowed here.")
    return text, None


def as_date(value: Any) -> date | None:
    """A date from a date, a datetime or an ISO string; None when it is none of these."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def clean_date(value: Any, *, missing: str) -> tuple[date | None, str | None]:
    """A required date in a sensible range; `missing` is the message when there is none."""
    day = as_date(value)
    if day is None:
        return None, missing
    if not 1990 <= day.year <= 2100:
        return day, _("Enter a real date.")
    return day, None


def clean_academic_year(value: Any) -> tuple[str, str | None]:
    """"2026-2027": two consecutive years."""
    text = ("" if value is None else str(value)).strip().replace("/", "-")
    match = ACADEMIC_YEAR_PATTERN.match(text)
    if not match or int(match[2]) != int(match[1]) + 1 or not 2000 <= int(match[1]) <= 2098:
        return text, _("Enter the academic year as two consecutive years, such as 2026-2027.")
    return text, None


def academic_year_bounds(academic_year: str) -> tuple[date, date]:
    """The first and last day of an academic year: 1 August to 31 July."""
    first = int(academic_year[:4])
    return date(first, 8, 1), date(first + 1, 7, 31)


def within_year(school_class: SchoolClass, day: date | None) -> str | None:
    """The problem when `day` lies outside the class's academic year."""
    if day is None:
        return None
    first, last = academic_year_bounds(school_class.academic_year)
    if first <= day <= last:
        return None
    return _("%(year)s runs from %(first)s to %(last)s: choose a date within it.",
             year=school_class.academic_year, first=first.isoformat(), last=last.isoformat())


def clean_int(value: Any, *, low: int, high: int, message: str) -> tuple[int | None, str | None]:
    """A whole number from `low` to `high` (a bool or blank is no number); `message` names the rule."""
    if isinstance(value, bool) or value in (None, ""):
        return None, message
    try:
        number = int(str(value).strip())
    except ValueError:
        return None, message
    return (number, None) if low <= number <= high else (number, message)


def day_before(day: date) -> date:
    """The last day of a row that a change ends the day before `day`."""
    return day - timedelta(days=1)


# --- scope -------------------------------------------------------------------------------------------


def check_reach(actor: Any, permission: str, obj: Any) -> None:
    """The actor may do `permission` to `obj` (the system may do anything).

    :raises NotAllowed: outside the actor's scope.
    """
    from app.general.auth.policy import can

    if actor != SYSTEM and not can(actor, permission, obj):
        raise NotAllowed(_("This is outside your scope."))


# --- writing -----------------------------------------------------------------------------------------


def stale_class_message() -> str:
    """What the losing writer of a concurrent change to a class is told."""
    return _("Someone else changed the teachers or students of this class at the same time. Nothing was "
             "saved: reload the page to see the class as it is now, then try again.")


def is_postgres() -> bool:
    """True on PostgreSQL (row locks exist there; SQLite relies on the version check)."""
    return db.session.get_bind().dialect.name == "postgresql"


def lock_class(school_class: SchoolClass, expected_version: int | None = None) -> None:
    """Serialise changes to one class's teachers and students, and refuse a change based on an old view of it.

    PostgreSQL: the row is locked (`FOR UPDATE`) until commit, so a second writer waits and then sees the
    new version. Everywhere (SQLite too): the version the caller holds must still be the stored one, and
    `touch_class` makes the flush bump it with a `WHERE version = …` guard.
    :raises Conflict: the class changed since the caller loaded it (or since `expected_version`).
    """
    stmt = sa.select(SchoolClass.version).where(SchoolClass.id == school_class.id)
    if is_postgres():
        stmt = stmt.with_for_update()
    stored = db.session.scalar(stmt)
    held = school_class.version
    if stored != held or (expected_version is not None and expected_version != held):
        raise Conflict(stale_class_message())


def lock_row(model: type, row_id: int) -> None:
    """On PostgreSQL, hold the row until commit (two admins loading the same teacher wait for each other)."""
    if is_postgres():
        db.session.execute(sa.select(model.id).where(model.id == row_id).with_for_update())


def touch_class(school_class: SchoolClass) -> None:
    """Mark the class written so that the flush bumps its version (optimistic lock on every backend)."""
    flag_modified(school_class, "name")


def guarded_flush(unique: dict[str, Conflict] | None = None, *, stale: str | None = None) -> None:
    """Flush in a savepoint: a stale version or a concurrent duplicate becomes a Conflict, not a 500.

    `unique` maps a constraint or column name found in the database's message to the Conflict to raise;
    `stale` is what the losing writer is told (by default, the class message).
    """
    try:
        with db.session.begin_nested():
            db.session.flush()
    except StaleDataError:
        raise Conflict(stale or stale_class_message()) from None
    except sa.exc.IntegrityError as error:
        text = str(error.orig)
        for needle, conflict in (unique or {}).items():
            if needle in text:
                raise conflict from None
        raise
