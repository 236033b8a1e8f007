"""The timetable of a term: a weekday × period grid for one class or one teacher, and the slot forms."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from wtforms.fields.choices import SelectChoice

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import authorize, requires
from app.school.classes.models import SchoolClass, Subject
from app.school.classes.services.common import academic_year_bounds
from app.school.staff.models import StaffMember, StaffStatus
from app.school.teaching import forms
from app.school.teaching.models import Term, TimetableSlot
from app.school.teaching.services import timetable as services
from app.school.teaching.views import bp
from app.school.teaching.views.calendar import actor, form_page, load_term, regenerate_hint, show_errors

MIN_PERIODS = 8  # rows the grid always shows


def _classes(term: Term) -> list[SchoolClass]:
    """The classes of the term's school whose academic year covers the term."""
    years = [c for c in db.session.scalars(sa.select(SchoolClass).where(SchoolClass.school_id == term.school_id)
                                          .order_by(SchoolClass.grade, SchoolClass.name))]
    return [c for c in years if academic_year_bounds(c.academic_year)[0] <= term.starts_on
            and term.ends_on <= academic_year_bounds(c.academic_year)[1]]


def _teachers(term: Term) -> list[StaffMember]:
    stmt = (sa.select(StaffMember).where(StaffMember.school_id == term.school_id,
                                         StaffMember.status != StaffStatus.DEPARTED)
            .order_by(StaffMember.family_name, StaffMember.given_name, StaffMember.id))
    return list(db.session.scalars(stmt).unique())


def _subjects(keep_id: int | None = None) -> list[Subject]:
    stmt = sa.select(Subject).where(sa.or_(Subject.is_active.is_(True), Subject.id == keep_id)).order_by(Subject.name)
    return list(db.session.scalars(stmt))


def _filter(term: Term, classes: list[SchoolClass], teachers: list[StaffMember]) -> forms.TimetableFilterForm:
    form = forms.TimetableFilterForm(request.args)
    form.class_id.choices = [SelectChoice("", _("Choose a class"))] + [SelectChoice(c.id, c.name) for c in classes]
    form.staff_id.choices = [SelectChoice("", _("Choose a teacher"))] + [
        SelectChoice(s.id, f"{s.full_name} ({s.employee_number})") for s in teachers]
    if not form.validate():
        form.class_id.data = form.staff_id.data = None
    if form.staff_id.data not in {s.id for s in teachers}:
        form.staff_id.data = None
    if form.class_id.data not in {c.id for c in classes}:
        form.class_id.data = None
    if form.staff_id.data is None and form.class_id.data is None and classes:
        form.class_id.data = classes[0].id
    return form


def _grid(term: Term, *, class_id: int | None, staff_id: int | None) -> tuple[dict, list[int], list[int]]:
    """The slots shown, by (weekday, period), with the weekdays and periods the grid spans."""
    stmt = sa.select(TimetableSlot).where(TimetableSlot.term_id == term.id)
    mine = TimetableSlot.staff_id == staff_id if staff_id else TimetableSlot.class_id == class_id
    stmt = stmt.where(mine)
    cells = {(s.weekday, s.period): s for s in db.session.scalars(stmt).unique()}
    weekdays = sorted({1, 2, 3, 4, 5} | {d for d, _p in cells} | {c.follows_weekday for c in term.closures
                                                                   if c.follows_weekday})
    periods = list(range(1, max([MIN_PERIODS, *(p for _d, p in cells)]) + 1))
    return cells, weekdays, periods


@bp.get("/terms/<int:term_id>/timetable")
@requires("teaching.view")
def timetable(term_id: int):
    """One class's or one teacher's week in the term, with add, change and delete for administrators."""
    term = load_term(term_id)
    classes, teachers = _classes(term), _teachers(term)
    form = _filter(term, classes, teachers)
    staff_id = form.staff_id.data
    class_id = None if staff_id else form.class_id.data
    cells, weekdays, periods = _grid(term, class_id=class_id, staff_id=staff_id)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(TimetableSlot)
                              .where(TimetableSlot.term_id == term.id))
    return render_template("teaching/timetable.html", term=term, form=form, cells=cells, weekdays=weekdays,
                           periods=periods, class_id=class_id, staff_id=staff_id, has_classes=bool(classes),
                           slot_count=count, weekday_name=services.weekday_name, confirm=forms.ConfirmForm())


def _slot_form(term: Term, slot: TimetableSlot | None) -> forms.SlotForm:
    data = None
    if request.method != "POST":
        data = ({"weekday": slot.weekday, "period": slot.period, "class_id": slot.class_id,
                 "subject_id": slot.subject_id, "staff_id": slot.staff_id, "version": slot.version} if slot else
                {name: request.args.get(name, type=int) for name in ("weekday", "period", "class_id", "staff_id")})
    form = forms.SlotForm(data=data)
    blank = [SelectChoice("", "")]
    form.class_id.choices = blank + [SelectChoice(c.id, c.name) for c in _classes(term)]
    form.subject_id.choices = blank + [SelectChoice(s.id, f"{s.name} ({s.code})")
                                       for s in _subjects(slot.subject_id if slot else None)]
    form.staff_id.choices = blank + [SelectChoice(s.id, f"{s.full_name} ({s.employee_number})")
                                     for s in _teachers(term)]
    return form


def _save(term: Term, form: forms.SlotForm, slot: TimetableSlot | None) -> TimetableSlot:
    def get(model, value):
        return db.session.get(model, value) if value else None

    return services.save_slot(term, weekday=form.weekday.data, period=form.period.data,
                              school_class=get(SchoolClass, form.class_id.data),
                              subject=get(Subject, form.subject_id.data), staff=get(StaffMember, form.staff_id.data),
                              actor=actor(), slot=slot, expected_version=form.version.data if slot else None)


def _back(term: Term, slot: TimetableSlot | None = None) -> str:
    """Back to the teacher's week when the form was opened from it, else to the class's."""
    if request.args.get("view") == "staff" and (slot or request.args.get("staff_id")):
        return url_for(".timetable", term_id=term.id, staff_id=slot.staff_id if slot else request.args.get("staff_id"))
    class_id = slot.class_id if slot else request.args.get("class_id", type=int)
    return url_for(".timetable", term_id=term.id, class_id=class_id) if class_id else \
        url_for(".timetable", term_id=term.id)


def _saved(term: Term) -> None:
    flash(_("Saved."), "success")
    regenerate_hint(term)


@bp.route("/terms/<int:term_id>/slots/new", methods=["GET", "POST"])
@requires("teaching.manage")
def new_slot(term_id: int):
    """Add a lesson to the weekly timetable."""
    term = load_term(term_id, "teaching.manage")
    form = _slot_form(term, None)
    if form.validate_on_submit():
        try:
            slot = _save(term, form, None)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            _saved(term)
            return redirect(_back(term, slot))
    return form_page(form, title=_("Add a lesson to the timetable"), back_url=_back(term), back_label=_("Timetable"))


@bp.route("/slots/<int:slot_id>/edit", methods=["GET", "POST"])
@requires("teaching.manage")
def edit_slot(slot_id: int):
    """Change a slot's time, class, subject or teacher."""
    slot = db.get_or_404(TimetableSlot, slot_id)
    authorize("teaching.manage", slot)
    term = slot.term
    form = _slot_form(term, slot)
    if form.validate_on_submit():
        try:
            _save(term, form, slot)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            _saved(term)
            return redirect(_back(term, slot))
    return form_page(form, title=_("Change a lesson of the timetable"), back_url=_back(term, slot),
                     back_label=_("Timetable"))


@bp.post("/slots/<int:slot_id>/delete")
@requires("teaching.manage")
def delete_slot(slot_id: int):
    """Remove a slot from which no lesson was generated yet."""
    slot = db.session.get(TimetableSlot, slot_id)
    if slot is None:  # a second click: the first removed it
        flash(_("This was already removed (perhaps by your first click)."), "info")
        return redirect(url_for(".index"))
    authorize("teaching.manage", slot)
    back = _back(slot.term, slot)
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        try:
            removed = services.delete_slot(slot, actor=actor(), expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            flash(ngettext("The lesson was removed from the timetable, with %(num)d coming lesson of the ledger.",
                           "The lesson was removed from the timetable, with %(num)d coming lessons of the ledger.",
                           removed) if removed else _("The lesson was removed from the timetable."), "success")
    return redirect(back)
