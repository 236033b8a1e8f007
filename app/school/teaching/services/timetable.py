"""The weekly timetable of a term: slots of weekday × period × class with their subject and teacher.

A slot is consistent with the class assignments: its teacher holds a subject assignment of that class and
subject running during the term, or is the class's homeroom teacher and lists the subject among theirs. A
teacher or a class is never in two places at once; the service names what is already there before the unique
indexes would refuse it (a race still ends as a Conflict). The import upserts by weekday, period and class: a
row replaces the subject and teacher of the slot at that place, so re-importing a file creates nothing new.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.core.errors import Conflict, ImportRejected, NotAllowed
from app.extensions import db
from app.general.audit.services import record
from app.school.classes.models import Assignment, AssignmentRole, SchoolClass, Subject
from app.school.classes.services.common import academic_year_bounds
from app.school.staff.models import StaffMember, StaffStatus
from app.school.staff.queries import local_today
from app.school.teaching.models import Lesson, LessonKind, Term, TimetableSlot
from app.school.teaching.services.common import check_reach, clean_int, guarded_flush, lock, locked_month, raise_if

log = logging.getLogger(__name__)

PERIODS = range(1, 13)  # the column's check constraint
WEEKDAY_NAMES = {1: _l("Monday"), 2: _l("Tuesday"), 3: _l("Wednesday"), 4: _l("Thursday"), 5: _l("Friday"),
                 6: _l("Saturday"), 7: _l("Sunday")}
# the columns of the import a row problem is reported under
COLUMN_OF = {"weekday": "weekday", "period": "period", "class_id": "class", "subject_id": "subject",
             "staff_id": "employee_number"}


def weekday_name(weekday: int) -> str:
    """Monday … Sunday in the user's language, for an ISO weekday number."""
    return str(WEEKDAY_NAMES.get(weekday, weekday))


@dataclass
class SlotRow:
    """One slot-to-be of a file (or a form): `row` is the number the user sees."""

    row: int
    weekday: int
    period: int
    school_class: SchoolClass
    subject: Subject
    staff: StaffMember
    existing: TimetableSlot | None = None  # the stored slot at the same weekday, period and class

    @property
    def changed(self) -> bool:
        return self.existing is None or (self.existing.subject_id, self.existing.staff_id) != (
            self.subject.id, self.staff.id)


# --- rules (no writes) -------------------------------------------------------------------------------------


def class_problem(term: Term, school_class: SchoolClass) -> str | None:
    """Why the class cannot have lessons in this term (another school, or a year not covering the term)."""
    if school_class.school_id != term.school_id:
        return _("%(name)s is a class of another school.", name=school_class.name)
    first, last = academic_year_bounds(school_class.academic_year)
    if not (first <= term.starts_on and term.ends_on <= last):
        return _("%(name)s is a class of %(year)s, which does not cover this term.", name=school_class.name,
                 year=school_class.academic_year)
    return None


def staff_problem(term: Term, staff: StaffMember) -> str | None:
    """Why the person cannot teach in this term's school."""
    if staff.school_id != term.school_id:
        return _("%(name)s works at another school.", name=staff.full_name)
    if staff.status == StaffStatus.DEPARTED:
        return _("%(name)s has left the school.", name=staff.full_name)
    return None


def _running(term: Term):
    return sa.and_(Assignment.starts_on <= term.ends_on,
                   sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= term.starts_on))


def assignments_of(term: Term, class_ids) -> dict[int, list]:
    """The assignments of these classes running at some point of the term, by class (one query)."""
    ids = sorted({i for i in class_ids if i is not None})
    found: dict[int, list] = {i: [] for i in ids}
    if not ids:
        return found
    stmt = sa.select(Assignment.class_id, Assignment.staff_id, Assignment.role, Assignment.subject_id).where(
        Assignment.class_id.in_(ids), _running(term))
    for row in db.session.execute(stmt):
        found[row.class_id].append(row)
    return found


def assignment_problem(item: SlotRow, assignments: list) -> str | None:
    """Why the teacher may not teach this subject to this class in the term (see the module's rule)."""
    staff, subject = item.staff, item.subject
    if any(a.staff_id == staff.id and a.role == AssignmentRole.SUBJECT and a.subject_id == subject.id
           for a in assignments):
        return None
    if any(a.staff_id == staff.id and a.role == AssignmentRole.HOMEROOM for a in assignments) \
            and any(s.id == subject.id for s in staff.subjects):
        return None
    return _("%(name)s is not assigned to teach %(subject)s to %(class_name)s during this term: assign the teacher "
             "to the class first (class page, “Assign teacher”).", name=staff.full_name, subject=subject.name,
             class_name=item.school_class.name)


def _teacher_clash(slot: Any, weekday: int, period: int) -> str:
    return _("%(name)s already teaches %(class_name)s %(subject)s on %(day)s period %(period)d.",
             name=slot.staff.full_name, class_name=slot.school_class.name, subject=slot.subject.name,
             day=weekday_name(weekday), period=period)


def _class_clash(slot: Any, weekday: int, period: int) -> str:
    return _("%(class_name)s already has %(subject)s with %(name)s on %(day)s period %(period)d.",
             class_name=slot.school_class.name, subject=slot.subject.name, name=slot.staff.full_name,
             day=weekday_name(weekday), period=period)


def _clean_time(weekday: Any, period: Any) -> tuple[int, int]:
    errors = {}
    day, errors["weekday"] = clean_int(weekday, low=1, high=7, message=_("Choose a weekday."))
    number, errors["period"] = clean_int(period, low=1, high=12, message=_("Choose a period from 1 to 12."))
    raise_if(errors)
    return day, number


def _row_problems(term: Term, item: SlotRow, assignments: dict[int, list]) -> dict[str, str | None]:
    """Every field problem of one slot, keyed by form field."""
    problems: dict[str, str | None] = {"class_id": class_problem(term, item.school_class),
                                       "staff_id": staff_problem(term, item.staff), "subject_id": None}
    keeps_subject = item.existing is not None and item.existing.subject_id == item.subject.id
    if not item.subject.is_active and not keeps_subject:
        problems["subject_id"] = _("%(subject)s is no longer taught: choose an active subject.",
                                   subject=item.subject.name)
    if not problems["class_id"] and not problems["staff_id"]:
        problems["staff_id"] = assignment_problem(item, assignments.get(item.school_class.id, []))
    return problems


# --- one slot ----------------------------------------------------------------------------------------------


def _stored_at(term: Term, weekday: int, period: int, exclude_id: int | None) -> list[TimetableSlot]:
    stmt = sa.select(TimetableSlot).where(TimetableSlot.term_id == term.id, TimetableSlot.weekday == weekday,
                                          TimetableSlot.period == period)
    if exclude_id is not None:
        stmt = stmt.where(TimetableSlot.id != exclude_id)
    return list(db.session.scalars(stmt))


def _conflicts() -> dict[str, Conflict]:
    teacher = Conflict(_("Someone else gave this teacher a lesson at this time a moment ago: reload the page."),
                       field="staff_id")
    klass = Conflict(_("Someone else gave this class a lesson at this time a moment ago: reload the page."),
                     field="class_id")
    return {"uq_timetable_slots_teacher_time": teacher, "timetable_slots.staff_id": teacher,
            "uq_timetable_slots_class_time": klass, "timetable_slots.class_id": klass}


def _snapshot(slot: TimetableSlot) -> dict:
    return {"term_id": slot.term_id, "weekday": slot.weekday, "period": slot.period, "class_id": slot.class_id,
            "class": slot.school_class.name, "subject": slot.subject.code, "staff_id": slot.staff_id,
            "staff": slot.staff.full_name}


def save_slot(term: Term, *, weekday: Any, period: Any, school_class: SchoolClass | None, subject: Subject | None,
              staff: StaffMember | None, actor: Any, slot: TimetableSlot | None = None,
              expected_version: int | None = None) -> TimetableSlot:
    """Add a slot to the term's timetable (`slot` None) or change one; audited. The same new slot saved twice
    (a double submit) returns the first.

    :raises ClassesInvalid: a field breaks a rule (weekday, period, class_id, subject_id, staff_id), including a
    clash with what is already there at that time. :raises Conflict: stale, or a concurrent clash.
    """
    check_reach(actor, "teaching.manage", term)
    if slot is not None and slot.term_id != term.id:
        raise NotAllowed(_("This slot belongs to another term."))
    day, number = _clean_time(weekday, period)
    raise_if({"class_id": None if school_class else _("Choose the class."),
              "subject_id": None if subject else _("Choose the subject."),
              "staff_id": None if staff else _("Choose the teacher.")})
    item = SlotRow(0, day, number, school_class, subject, staff, slot)
    raise_if(_row_problems(term, item, assignments_of(term, [school_class.id])))
    if slot is not None:
        lock(TimetableSlot, slot, expected_version)
    there = _stored_at(term, day, number, slot.id if slot else None)
    same = next((s for s in there if (s.class_id, s.subject_id, s.staff_id) == (
        school_class.id, subject.id, staff.id)), None)
    if same is not None and slot is None:
        return same  # the same form submitted twice
    raise_if({"class_id": next((_class_clash(s, day, number) for s in there if s.class_id == school_class.id), None),
              "staff_id": next((_teacher_clash(s, day, number) for s in there if s.staff_id == staff.id), None)})
    creating = slot is None
    before = {} if creating else _snapshot(slot)
    if creating:
        slot = TimetableSlot(term=term)
        db.session.add(slot)
    slot.weekday, slot.period, slot.school_class, slot.subject, slot.staff = day, number, school_class, subject, staff
    guarded_flush(_conflicts())
    after = _snapshot(slot)
    record("teaching.slot_created" if creating else "teaching.slot_updated", subject=slot, actor=actor,
           changes=after if creating else {k: [before[k], v] for k, v in after.items() if before[k] != v})
    log.info("timetable slot %s of term %s %s", slot.id, term.id, "created" if creating else "updated")
    return slot


def delete_slot(slot: TimetableSlot, *, actor: Any, expected_version: int | None = None,
                today: date | None = None) -> int:
    """Remove a slot from the timetable; audited. Its untouched lessons from `today` on go with it (as a
    regeneration would remove them); lessons already taught stay in the ledger as history. Returns how many
    lessons were removed.

    :raises NotAllowed: a lesson of the slot from today on was adjusted (a cover, a cancellation) or lies in a
    month whose pay is locked: deal with it in the ledger first. :raises Conflict: the slot changed meanwhile.
    """
    check_reach(actor, "teaching.manage", slot)
    lock(TimetableSlot, slot, expected_version)
    today = today or local_today()
    coming = list(db.session.execute(sa.select(Lesson.id, Lesson.day, Lesson.kind, Lesson.adjusted_at).where(
        Lesson.slot_id == slot.id, Lesson.day >= today)))
    adjusted = [row for row in coming if row.kind != LessonKind.REGULAR or row.adjusted_at is not None]
    if adjusted:
        raise NotAllowed(_("A lesson of this slot on %(day)s was adjusted (cover or cancellation): undo that in the "
                           "lesson ledger before deleting the slot.", day=adjusted[0].day.isoformat()))
    locked = next((row.day for row in coming if locked_month(slot.term.school_id, row.day)), None)
    if locked is not None:
        raise NotAllowed(_("The pay for %(month)s is locked: its lessons can no longer change.",
                           month=locked.strftime("%Y-%m")))
    snapshot = {**_snapshot(slot), "lessons_removed": len(coming)}
    slot_id, term = slot.id, slot.term
    if coming:
        db.session.execute(sa.delete(Lesson).where(Lesson.id.in_([row.id for row in coming])))
    db.session.delete(slot)
    guarded_flush()
    record("teaching.slot_deleted", subject_type="TimetableSlot", subject_id=slot_id, actor=actor, unit=term.school,
           changes=snapshot)
    log.info("timetable slot %s of term %s deleted with %d coming lessons", slot_id, term.id, len(coming))
    return len(coming)


# --- many slots (the import) -------------------------------------------------------------------------------


def _stored_slots(term: Term) -> list[TimetableSlot]:
    return list(db.session.scalars(sa.select(TimetableSlot).where(TimetableSlot.term_id == term.id)))


def _flag(errors: list, item: SlotRow, field: str, message: str) -> None:
    errors.append((item.row, COLUMN_OF.get(field, field), message))


def dropped_slots(stored: list[TimetableSlot], rows: list[SlotRow]) -> list[TimetableSlot]:
    """The stored slots a file removes: the file is the whole timetable of each class it lists, so a slot of such
    a class at a weekday and period the file does not have goes (a lesson moved in a corrected file is not
    doubled)."""
    classes = {r.school_class.id for r in rows}
    places = {(r.weekday, r.period, r.school_class.id) for r in rows}
    return [s for s in stored if s.class_id in classes and (s.weekday, s.period, s.class_id) not in places]


def _check_clashes(items: list[SlotRow], stored: list[TimetableSlot], errors: list,
                   dropped: list[TimetableSlot] = ()) -> None:
    """Teacher clashes in the timetable as it will be: stored slots the file neither replaces nor removes, plus
    the file."""
    replaced = {s.existing.id for s in items if s.existing is not None} | {s.id for s in dropped}
    teacher_at = {(s.weekday, s.period, s.staff_id): s for s in stored if s.id not in replaced}
    first_row: dict[tuple, SlotRow] = {}
    for item in items:
        key = (item.weekday, item.period, item.staff.id)
        if key in teacher_at:
            _flag(errors, item, "staff_id", _teacher_clash(teacher_at[key], item.weekday, item.period))
        elif key in first_row:
            _flag(errors, item, "staff_id", _("%(name)s already teaches at this time on row %(row)d.",
                                              name=item.staff.full_name, row=first_row[key].row))
        else:
            first_row[key] = item


def validate_rows(term: Term, rows: list[SlotRow]) -> tuple[list[SlotRow], list[tuple[int, str, str]]]:
    """Check slots-to-be against the rules and against each other; returns the good rows (each with the stored
    slot it replaces, if any) and every problem as (row, import column, message). No writes."""
    stored = _stored_slots(term)
    at_place = {(s.weekday, s.period, s.class_id): s for s in stored}
    assignments = assignments_of(term, [r.school_class.id for r in rows])
    errors: list[tuple[int, str, str]] = []
    seen: dict[tuple, int] = {}
    candidates = []
    for item in rows:
        place = (item.weekday, item.period, item.school_class.id)
        if place in seen:
            _flag(errors, item, "class_id", _("Same class, weekday and period as row %(row)d.", row=seen[place]))
            continue
        seen[place] = item.row
        item.existing = at_place.get(place)
        problems = {k: v for k, v in _row_problems(term, item, assignments).items() if v}
        for field, message in problems.items():
            _flag(errors, item, field, message)
        if not problems:
            candidates.append(item)
    _check_clashes(candidates, stored, errors, dropped_slots(stored, rows))
    bad = {row for row, _column, _message in errors}
    return [item for item in candidates if item.row not in bad], sorted(errors, key=lambda e: e[0])


def _free_place(slot: TimetableSlot, taken_class: set, taken_staff: set) -> tuple[int, int]:
    """A weekday and period where neither the slot's class nor its teacher has a slot (a parking place)."""
    return next((d, p) for d in range(7, 0, -1) for p in PERIODS
                if (d, p, slot.class_id) not in taken_class and (d, p, slot.staff_id) not in taken_staff)


def _apply_updates(updates: list[SlotRow], stored: list[TimetableSlot]) -> None:
    """Change the slots' teachers one flush at a time, in an order the unique indexes accept: a teacher moving
    between two classes at the same time waits until their old slot is freed; a swap parks one slot first."""
    taken_class = {(s.weekday, s.period, s.class_id) for s in stored}
    taken_staff = {(s.weekday, s.period, s.staff_id): s.id for s in stored}
    pending, rounds = list(updates), 0
    while pending:
        rounds += 1
        if rounds > 2 * len(updates):  # cannot happen for a validated file; never loop forever
            raise Conflict(_("The timetable changed while it was being imported: nothing was changed, try again."))
        ready = next((u for u in pending if taken_staff.get((u.weekday, u.period, u.staff.id), u.existing.id)
                      == u.existing.id), None)
        if ready is None:  # a cycle of swaps: park one slot elsewhere, which frees its teacher
            slot = pending[0].existing
            taken_staff.pop((slot.weekday, slot.period, slot.staff_id), None)
            taken_class.discard((slot.weekday, slot.period, slot.class_id))
            slot.weekday, slot.period = _free_place(slot, taken_class, set(taken_staff))
            taken_class.add((slot.weekday, slot.period, slot.class_id))
            taken_staff[(slot.weekday, slot.period, slot.staff_id)] = slot.id
            guarded_flush(_conflicts())
            continue
        slot = ready.existing
        taken_staff.pop((slot.weekday, slot.period, slot.staff_id), None)
        taken_class.discard((slot.weekday, slot.period, slot.class_id))
        slot.weekday, slot.period, slot.subject, slot.staff = ready.weekday, ready.period, ready.subject, ready.staff
        taken_class.add((ready.weekday, ready.period, slot.class_id))
        taken_staff[(ready.weekday, ready.period, ready.staff.id)] = slot.id  # staff_id is set by the flush
        guarded_flush(_conflicts())
        pending.remove(ready)


def replace_timetable(term: Term, rows: list[SlotRow], *, actor: Any) -> dict[str, int]:
    """Write the slots of a file into the term, all or nothing: a row at a stored weekday, period and class
    replaces that slot's subject and teacher, any other row adds a slot, and a stored slot of a class the file
    lists but not at a place the file has goes (with its coming untouched lessons, as `delete_slot`); slots of
    classes the file does not mention stay. Audited once with the counts, which it returns (created, updated,
    removed, unchanged).

    :raises ImportRejected: with every row problem, when there is any. :raises Conflict: a concurrent change.
    """
    check_reach(actor, "teaching.manage", term)
    lock(Term, term)
    clean, errors = validate_rows(term, rows)
    if errors:
        raise ImportRejected(_("The timetable was not imported: nothing was changed."), errors)
    updates = [item for item in clean if item.existing is not None and item.changed]
    creates = [item for item in clean if item.existing is None]
    dropped = dropped_slots(_stored_slots(term), clean)
    for slot in dropped:
        delete_slot(slot, actor=actor)
    _apply_updates(updates, _stored_slots(term))
    for item in creates:
        db.session.add(TimetableSlot(term=term, weekday=item.weekday, period=item.period,
                                     school_class=item.school_class, subject=item.subject, staff=item.staff))
    guarded_flush(_conflicts())
    counts = {"created": len(creates), "updated": len(updates), "removed": len(dropped),
              "unchanged": len(clean) - len(creates) - len(updates)}
    if counts["created"] or counts["updated"] or counts["removed"]:
        record("teaching.timetable_imported", subject=term, actor=actor, changes={**counts, "term": term.name})
    log.info("timetable of term %s imported: %s", term.id, counts)
    return counts

