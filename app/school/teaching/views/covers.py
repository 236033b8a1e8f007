"""The cover screen of a day: who is away, their lessons period by period, the ranked free colleagues for each
with a one-click "Assign", the cover tally of the fairness window, and recording or removing an absence."""
from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import authorize, can, requires
from app.general.org.models import OrgUnit
from app.school.classes.queries.common import local_today
from app.school.staff.models import StaffMember
from app.school.teaching import forms
from app.school.teaching.covers import cover_board
from app.school.teaching.models import Absence, Lesson
from app.school.teaching.services import ledger as services
from app.school.teaching.views import bp
from app.school.teaching.views.ledger import actor, chosen_school, show_errors, staff_choices

WINDOW_MAX = 60  # as Term.cover_window_days


def _day(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else local_today()
    except ValueError:
        return local_today()


def _window(value) -> int | None:
    try:
        window = int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return window if window is not None and 1 <= window <= WINDOW_MAX else None


def _board_url(school_id: int, day: date, window: int | None, anchor: str | None = None) -> str:
    return url_for(".covers", school_id=school_id, day=day.isoformat(), window=window, _anchor=anchor)


def _board_page(school: OrgUnit | None, schools: list[OrgUnit], day: date, window: int | None,
                absence_form: forms.AbsenceForm | None = None, status: int = 200):
    board = cover_board(school.id, day, window=window) if school else None
    if absence_form is None:
        absence_form = forms.AbsenceForm(data={"day": day, "window": window or ""})
    if school is not None:
        absence_form.staff_id.choices = staff_choices(school.id, "—")
    return render_template("teaching/covers.html", board=board, school=school, schools=schools, day=day,
                           window=window or (board.term.cover_window_days if board and board.term else None),
                           absence_form=absence_form, assign=forms.BoardCoverForm(), confirm=forms.ConfirmForm(),
                           may_manage=school is not None and can(actor(), "teaching.manage", school),
                           labels=services.kind_labels()), status


@bp.get("/covers")
@requires("teaching.view")
def covers():
    """The cover screen for a school and day (today unless chosen), ranked over a fairness window of `window`
    school days (the term's own unless chosen)."""
    school, schools = chosen_school(request.args.get("school_id", type=int))
    return _board_page(school, schools, _day(request.args.get("day")), _window(request.args.get("window")))


@bp.post("/covers/assign")
@requires("teaching.manage")
def assign_cover():
    """One click on the board: the colleague covers the lesson (pressing twice changes nothing)."""
    form = forms.BoardCoverForm()
    if not form.validate_on_submit():
        abort(400)
    lesson = db.get_or_404(Lesson, form.lesson_id.data)
    authorize("teaching.manage", lesson)
    covering = db.get_or_404(StaffMember, form.staff_id.data)
    absent = lesson.scheduled_staff.full_name if lesson.scheduled_staff else ""
    back = _board_url(lesson.school_id, lesson.day, _window(form.window.data), f"lesson-{lesson.id}")
    try:
        services.assign_cover(lesson, covering, form.reason.data or _("Cover for %(name)s", name=absent), actor(),
                              expected_version=form.version.data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message if not getattr(error, "errors", None) else " ".join(
            m for m in error.errors.values() if m), "danger")
        return redirect(back)
    flash(_("%(name)s covers period %(period)d.", name=covering.full_name, period=lesson.period), "success")
    notice = services.locked_notice(lesson)
    if notice:
        flash(notice, "warning")
    return redirect(back)


@bp.post("/absences")
@requires("teaching.manage")
def record_absence():
    """Record a teacher as away for a day (all of it, or some periods); their lessons then wait on the board."""
    school, schools = chosen_school(request.args.get("school_id", type=int))
    if school is None:
        abort(404)
    form = forms.AbsenceForm()
    form.staff_id.choices = staff_choices(school.id, "—")
    day = form.day.data or _day(request.args.get("day"))
    if form.validate_on_submit():
        staff = db.get_or_404(StaffMember, form.staff_id.data)
        try:
            services.record_absence(staff, form.day.data, form.first_period.data, form.last_period.data,
                                    form.reason.data, actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s is recorded as absent.", name=staff.full_name), "success")
            return redirect(_board_url(school.id, form.day.data, _window(form.window.data), "absent"))
    return _board_page(school, schools, day, _window(form.window.data), absence_form=form, status=422)


@bp.post("/absences/<int:absence_id>/remove")
@requires("teaching.manage")
def remove_absence(absence_id: int):
    """The teacher came in after all: remove the absence (lessons already covered stay covered)."""
    absence = db.session.get(Absence, absence_id)
    if absence is None:  # a second click: the first removed it
        flash(_("This was already removed (perhaps by your first click)."), "info")
        return redirect(url_for(".covers"))
    authorize("teaching.manage", absence)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    school_id, day, name = absence.staff.school_id, absence.day, absence.staff.full_name
    try:
        services.remove_absence(absence, actor())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        flash(_("The absence of %(name)s is removed.", name=name), "success")
    return redirect(_board_url(school_id, day, _window(request.args.get("window"))))
