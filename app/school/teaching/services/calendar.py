"""Terms and their closures (holidays, and make-up days that follow another weekday's timetable).

A school's terms never overlap; a closure lies inside its term and overlaps no other closure of it. Lessons
already generated keep their dates: a term cannot shrink past them, and a closure added after generation
takes effect when the term is generated again (the generation drops the unadjusted lessons of closed days).
"""
from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import Conflict, NotAllowed, ValidationFailed
from app.extensions import db
from app.general.audit.services import record
from app.general.org.models import OrgUnit, OrgUnitKind
from app.school.classes.services.common import lock_row
from app.school.teaching.calendar import first_of_month, next_month
from app.school.teaching.models import Closure, Lesson, Term
from app.school.teaching.services.common import (
    check_reach,
    clean_date,
    clean_int,
    clean_text,
    guarded_flush,
    lock,
    locked_month,
    raise_if,
)

log = logging.getLogger(__name__)

TERM_DAYS_MAX = 366
WINDOW_MIN, WINDOW_MAX = 1, 60  # the column's check constraint
TERM_FIELDS = ("name", "starts_on", "ends_on", "cover_window_days")


# --- terms -------------------------------------------------------------------------------------------------


def clean_term(data: dict) -> dict:
    """Name, dates and cover window checked together.

    :raises ClassesInvalid: with `errors` by field.
    """
    clean, errors = {}, {}
    clean["name"], errors["name"] = clean_text(data.get("name"), missing=_("Enter the term's name, such as "
                                                                           "“2026-2027 autumn term”."))
    clean["starts_on"], errors["starts_on"] = clean_date(data.get("starts_on"), missing=_("Enter the first day."))
    clean["ends_on"], errors["ends_on"] = clean_date(data.get("ends_on"), missing=_("Enter the last day."))
    clean["cover_window_days"], errors["cover_window_days"] = clean_int(
        data.get("cover_window_days"), low=WINDOW_MIN, high=WINDOW_MAX,
        message=_("Enter a number of school days from %(low)d to %(high)d.", low=WINDOW_MIN, high=WINDOW_MAX))
    first, last = clean["starts_on"], clean["ends_on"]
    if not errors["starts_on"] and not errors["ends_on"]:
        if last < first:
            errors["ends_on"] = _("The last day cannot be before the first day.")
        elif (last - first).days >= TERM_DAYS_MAX:
            errors["ends_on"] = _("A term lasts at most a year: check the dates.")
    raise_if(errors)
    return clean


def _overlapping_term(school_id: int, first: date, last: date, exclude_id: int | None) -> Term | None:
    stmt = sa.select(Term).where(Term.school_id == school_id, Term.starts_on <= last, Term.ends_on >= first)
    if exclude_id is not None:
        stmt = stmt.where(Term.id != exclude_id)
    return db.session.scalars(stmt.order_by(Term.starts_on).limit(1)).first()


def _same_name(school_id: int, name: str, exclude_id: int | None) -> Term | None:
    stmt = sa.select(Term).where(Term.school_id == school_id, sa.func.lower(Term.name) == name.lower())
    if exclude_id is not None:
        stmt = stmt.where(Term.id != exclude_id)
    return db.session.scalars(stmt.limit(1)).first()


def _name_conflict(name: str) -> Conflict:
    return Conflict(_("This school already has a term called “%(name)s”.", name=name), field="name")


def _check_term_dates(school: OrgUnit, clean: dict, term: Term | None) -> None:
    """No overlap with another term of the school; an existing term keeps its lessons and closures inside."""
    other = _overlapping_term(school.id, clean["starts_on"], clean["ends_on"], term.id if term else None)
    if other is not None:
        raise ValidationFailed(_("These dates overlap %(name)s (%(first)s to %(last)s): a school has one term at a "
                                 "time.", name=other.name, first=other.starts_on.isoformat(),
                                 last=other.ends_on.isoformat()), field="starts_on")
    if term is None:
        return
    first, last = clean["starts_on"], clean["ends_on"]
    outside = db.session.scalar(sa.select(sa.func.count()).select_from(Lesson).where(
        Lesson.term_id == term.id, sa.or_(Lesson.day < first, Lesson.day > last)))
    if outside:
        raise ValidationFailed(_("%(n)d lessons of this term lie outside the new dates: the term cannot shrink past "
                                 "lessons already in the ledger.", n=outside), field="starts_on")
    closure = next((c for c in term.closures if c.starts_on < first or c.ends_on > last), None)
    if closure is not None:
        raise ValidationFailed(_("%(name)s (%(first)s to %(last)s) would lie outside the term: remove it first.",
                                 name=closure.name, first=closure.starts_on.isoformat(),
                                 last=closure.ends_on.isoformat()), field="starts_on")


def _term_values(term: Term) -> dict:
    return {name: getattr(term, name) for name in TERM_FIELDS}


def save_term(school: OrgUnit | None, *, name: Any, starts_on: Any, ends_on: Any, cover_window_days: Any,
              actor: Any, term: Term | None = None, expected_version: int | None = None) -> Term:
    """Create a term of `school` (`term` None) or change `term` (its school stays); audited with what changed.

    Saving the same new term twice (a double submit) returns the first one.
    :raises ClassesInvalid: name, dates or cover window. :raises ValidationFailed: overlap with another term,
    or lessons or closures left outside. :raises Conflict: name taken, or the term changed meanwhile.
    """
    school = term.school if term is not None else school
    if school is None or school.kind != OrgUnitKind.SCHOOL:
        raise ValidationFailed(_("Choose a school."), field="school")
    check_reach(actor, "teaching.manage", school)
    clean = clean_term({"name": name, "starts_on": starts_on, "ends_on": ends_on,
                        "cover_window_days": cover_window_days})
    lock_row(OrgUnit, school.id)  # PostgreSQL: two admins adding terms to one school take turns (overlap check)
    same = _same_name(school.id, clean["name"], term.id if term else None)
    if same is not None:
        if term is None and _term_values(same) == clean:
            return same  # the same form submitted twice
        raise _name_conflict(clean["name"])
    if term is not None:
        lock(Term, term, expected_version)
    _check_term_dates(school, clean, term)
    creating = term is None
    before = {} if creating else _term_values(term)
    if creating:
        term = Term(school=school)
        db.session.add(term)
    for field, value in clean.items():
        setattr(term, field, value)
    guarded_flush({"uq_terms_school_id_name": _name_conflict(clean["name"]),
                   "terms.school_id, terms.name": _name_conflict(clean["name"])})
    after = _term_values(term)
    changes = after if creating else {k: [before[k], v] for k, v in after.items() if before[k] != v}
    record("teaching.term_created" if creating else "teaching.term_updated", subject=term, actor=actor,
           changes={**changes, "school": school.code})
    log.info("term %s of school %s %s", term.id, school.id, "created" if creating else "updated")
    return term


# --- closures ----------------------------------------------------------------------------------------------


def _clean_closure(term: Term, data: dict) -> dict:
    clean, errors = {}, {}
    clean["name"], errors["name"] = clean_text(data.get("name"), missing=_("Enter a name, such as “National Day”."))
    clean["starts_on"], errors["starts_on"] = clean_date(data.get("starts_on"), missing=_("Enter the first day."))
    ends_on = data.get("ends_on") or clean["starts_on"]  # a single day needs one date
    clean["ends_on"], errors["ends_on"] = clean_date(ends_on, missing=_("Enter the last day."))
    follows = data.get("follows_weekday")
    clean["follows_weekday"] = None
    if follows not in (None, ""):
        clean["follows_weekday"], errors["follows_weekday"] = clean_int(
            follows, low=1, high=7, message=_("Choose the weekday whose timetable is taught."))
    first, last = clean["starts_on"], clean["ends_on"]
    if not errors["starts_on"] and not errors["ends_on"]:
        if last < first:
            errors["ends_on"] = _("The last day cannot be before the first day.")
        elif clean["follows_weekday"] is not None and last != first:
            errors["ends_on"] = _("A make-up day is a single day: enter the same date twice, or add one per day.")
        elif first < term.starts_on or last > term.ends_on:
            errors["starts_on"] = _("%(term)s runs from %(first)s to %(last)s: choose days within it.",
                                    term=term.name, first=term.starts_on.isoformat(), last=term.ends_on.isoformat())
    raise_if(errors)
    return clean


def _check_locked_months(term: Term, first: date, last: date) -> None:
    """A closure changes which lessons exist: not in a month whose pay is locked, once lessons exist."""
    if term.generated_at is None:
        return
    month = first_of_month(first)
    while month <= last:
        if locked_month(term.school_id, month):
            raise NotAllowed(_("The pay for %(month)s is locked: its school days can no longer change.",
                               month=month.strftime("%Y-%m")), field="starts_on")
        month = next_month(month)


def _overlapping_closure(term: Term, first: date, last: date) -> Closure | None:
    return next((c for c in term.closures if c.starts_on <= last and c.ends_on >= first), None)


def add_closure(term: Term, *, name: Any, starts_on: Any, ends_on: Any = None, follows_weekday: Any = None,
                actor: Any) -> Closure:
    """Close the school on some days of the term (a holiday), or, with `follows_weekday`, open it on one day that
    follows that weekday's timetable (a make-up day). Adding the same closure twice returns the first one.

    Lessons already generated are not touched here: the term must be generated again (the caller says so).
    :raises ClassesInvalid: name, dates, weekday. :raises ValidationFailed: overlap with another closure.
    :raises NotAllowed: a locked pay month. :raises Conflict: the term changed meanwhile.
    """
    check_reach(actor, "teaching.manage", term)
    clean = _clean_closure(term, {"name": name, "starts_on": starts_on, "ends_on": ends_on,
                                  "follows_weekday": follows_weekday})
    lock(Term, term)
    db.session.refresh(term, ["closures"])
    same = next((c for c in term.closures if (c.name, c.starts_on, c.ends_on, c.follows_weekday) == (
        clean["name"], clean["starts_on"], clean["ends_on"], clean["follows_weekday"])), None)
    if same is not None:
        return same  # the same form submitted twice
    other = _overlapping_closure(term, clean["starts_on"], clean["ends_on"])
    if other is not None:
        raise ValidationFailed(_("This overlaps %(name)s (%(first)s to %(last)s): change or remove it first.",
                                 name=other.name, first=other.starts_on.isoformat(),
                                 last=other.ends_on.isoformat()), field="starts_on")
    _check_locked_months(term, clean["starts_on"], clean["ends_on"])
    closure = Closure(term=term, **clean)
    db.session.add(closure)
    guarded_flush()
    record("teaching.closure_added", subject=closure, actor=actor, unit=term.school,
           changes={"term_id": term.id, "term": term.name, **clean})
    log.info("closure %s added to term %s", closure.id, term.id)
    return closure


def remove_closure(closure: Closure, *, actor: Any) -> Term:
    """Remove a holiday or make-up day; returns its term (generate it again to bring the lessons in line).

    :raises NotAllowed: outside the actor's scope, or a locked pay month.
    """
    term = closure.term
    check_reach(actor, "teaching.manage", term)
    lock(Term, term)
    _check_locked_months(term, closure.starts_on, closure.ends_on)
    snapshot = {"term_id": term.id, "term": term.name, "name": closure.name, "starts_on": closure.starts_on,
                "ends_on": closure.ends_on, "follows_weekday": closure.follows_weekday}
    closure_id = closure.id
    term.closures.remove(closure)
    db.session.delete(closure)
    guarded_flush()
    record("teaching.closure_removed", subject_type="Closure", subject_id=closure_id, actor=actor, unit=term.school,
           changes=snapshot)
    log.info("closure %s removed from term %s", closure_id, term.id)
    return term


def closure_days(closure: Closure) -> int:
    """How many calendar days a closure spans."""
    return (closure.ends_on - closure.starts_on + timedelta(days=1)).days
