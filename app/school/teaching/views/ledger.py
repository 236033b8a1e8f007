"""The lesson ledger: the lessons of a school over a date range with their adjustments, a lesson's page with its
history, and the adjustments themselves (cover, cancel, restore, add and remove duties)."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.core.errors import DomainError
from app.core.views import actor, show_errors  # noqa: F401  (the other teaching views import them from here)
from app.extensions import db
from app.general.audit.queries import events_for_subject
from app.general.auth.policy import authorize, can, requires
from app.general.org.models import OrgUnit
from app.school.classes.models import SchoolClass, Subject
from app.school.classes.queries.common import local_today, schools_for
from app.school.staff.models import StaffMember, StaffStatus
from app.school.teaching import forms
from app.school.teaching.calendar import iso_week_start
from app.school.teaching.models import ADDED_KINDS, Lesson, LessonKind
from app.school.teaching.services import ledger as services
from app.school.teaching.views import bp

PER_PAGE = 50  # a school's day is many lessons: a page holds about one class-week
ADJUSTABLE = (LessonKind.REGULAR, LessonKind.COVER, LessonKind.CANCELLED)






def chosen_school(school_id: int | None) -> tuple[OrgUnit | None, list[OrgUnit]]:
    """The school asked for if it is one of the user's (else their first) and the user's schools."""
    schools = schools_for(actor())
    chosen = next((s for s in schools if s.id == school_id), schools[0] if schools else None)
    return chosen, schools


def staff_choices(school_id: int, blank: str | None = None, *, exclude: int | None = None,
                  departed: bool = False) -> list[SelectChoice]:
    """The school's current teachers (and, with `departed`, those who left: the ledger's past), by name."""
    stmt = sa.select(StaffMember).where(StaffMember.school_id == school_id, StaffMember.id != (exclude or 0))
    if not departed:
        stmt = stmt.where(StaffMember.status != StaffStatus.DEPARTED)
    people = db.session.scalars(stmt.order_by(StaffMember.family_name, StaffMember.given_name))
    return ([SelectChoice("", blank)] if blank is not None else []) + [
        SelectChoice(p.id, f"{p.full_name} ({p.employee_number})") for p in people]


def class_choices(school_id: int, blank: str | None = None) -> list[SelectChoice]:
    classes = db.session.scalars(sa.select(SchoolClass).where(SchoolClass.school_id == school_id)
                                 .order_by(SchoolClass.academic_year.desc(), SchoolClass.grade, SchoolClass.name))
    return ([SelectChoice("", blank)] if blank is not None else []) + [
        SelectChoice(c.id, f"{c.name} · {c.academic_year}") for c in classes]


def _filter_form(school: OrgUnit | None, schools: list[OrgUnit]) -> forms.LedgerFilterForm:
    form = forms.LedgerFilterForm(request.args)
    form.validate()
    monday = iso_week_start(local_today())
    form.first.data = form.first.data or monday
    form.last.data = form.last.data if form.last.data and form.last.data >= form.first.data \
        else form.first.data + timedelta(days=6)
    form.school.choices = [SelectChoice(s.id, s.name) for s in schools]
    form.school.data = school.id if school else None
    form.teacher.choices = staff_choices(school.id, _("All teachers"), departed=True) if school else []
    form.school_class.choices = class_choices(school.id, _("All classes")) if school else []
    form.kind.choices = [SelectChoice("", _("All kinds"))] + [
        SelectChoice(k, label) for k, label in services.kind_labels().items()]
    return form


def _lessons(school: OrgUnit, form: forms.LedgerFilterForm) -> sa.Select:
    stmt = sa.select(Lesson).where(Lesson.school_id == school.id, Lesson.day >= form.first.data,
                                   Lesson.day <= form.last.data)
    if form.teacher.data:
        stmt = stmt.where(sa.or_(Lesson.taught_by_id == form.teacher.data,
                                 Lesson.scheduled_staff_id == form.teacher.data))
    if form.school_class.data:
        stmt = stmt.where(Lesson.class_id == form.school_class.data)
    if form.kind.data in {k.value for k in LessonKind}:
        stmt = stmt.where(Lesson.kind == form.kind.data)
    return stmt.order_by(Lesson.day, Lesson.period, Lesson.class_id, Lesson.id)


@bp.get("/lessons")
@requires("teaching.view")
def lessons():
    """The ledger of a school over a date range (this week unless chosen): who was scheduled, who taught, the kind
    and the reason of every adjustment."""
    school, schools = chosen_school(request.args.get("school", type=int))
    form = _filter_form(school, schools)
    page = db.paginate(_lessons(school, form), per_page=PER_PAGE, error_out=False) if school else None
    return render_template("teaching/ledger.html", form=form, school=school, page=page,
                           labels=services.kind_labels(), week=form.first.data,
                           may_manage=school is not None and can(actor(), "teaching.manage", school))


def load_lesson(lesson_id: int, permission: str = "teaching.view") -> Lesson:
    """The lesson, or 404; 403 unless the user may do `permission` to its school."""
    lesson = db.get_or_404(Lesson, lesson_id)
    authorize(permission, lesson)
    return lesson


def _lesson_page(lesson: Lesson, *, cover: forms.CoverForm | None = None,
                 cancel: forms.CancelLessonForm | None = None, status: int = 200):
    versioned = {"version": lesson.version}
    cover = cover or forms.CoverForm(data=versioned)
    cover.staff_id.choices = staff_choices(lesson.school_id, "—", exclude=lesson.scheduled_staff_id)
    if not cover.reason.data and lesson.scheduled_staff:
        cover.reason.data = _("Cover for %(name)s", name=lesson.scheduled_staff.full_name)
    return render_template("teaching/lesson.html", lesson=lesson, labels=services.kind_labels(),
                           history=list(reversed(events_for_subject("Lesson", lesson.id))),
                           may_manage=can(actor(), "teaching.manage", lesson), adjustable=lesson.kind in ADJUSTABLE
                           and lesson.slot_id is not None, cover=cover,
                           cancel=cancel or forms.CancelLessonForm(data=versioned),
                           confirm=forms.ConfirmForm(data=versioned)), status


@bp.get("/lessons/<int:lesson_id>")
@requires("teaching.view")
def lesson(lesson_id: int):
    """A lesson: when and what, scheduled teacher and who taught, its history, and the adjustments it allows."""
    return _lesson_page(load_lesson(lesson_id))


def _done(lesson_id: int, message: str):
    flash(message, "success")
    _warn_if_locked(lesson_id)
    return redirect(url_for(".lesson", lesson_id=lesson_id))


def _warn_if_locked(lesson_id: int) -> None:
    """After a change: say so when the lesson's month is paid already (a correction pays the difference)."""
    lesson = db.session.get(Lesson, lesson_id)
    notice = services.locked_notice(lesson) if lesson is not None else None
    if notice:
        flash(notice, "warning")


@bp.post("/lessons/<int:lesson_id>/cover")
@requires("teaching.manage")
def cover_lesson(lesson_id: int):
    """Give the lesson to a colleague; they are told through the outbox."""
    lesson = load_lesson(lesson_id, "teaching.manage")
    form = forms.CoverForm()
    if form.validate_on_submit():
        covering = db.session.get(StaffMember, form.staff_id.data) or abort(404)
        try:
            services.assign_cover(lesson, covering, form.reason.data, actor(), expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            return _done(lesson_id, _("%(name)s covers this lesson.", name=covering.full_name))
    return _lesson_page(db.get_or_404(Lesson, lesson_id), cover=form, status=422)


@bp.post("/lessons/<int:lesson_id>/cancel")
@requires("teaching.manage")
def cancel_lesson(lesson_id: int):
    """The lesson did not take place: it counts for nobody."""
    lesson = load_lesson(lesson_id, "teaching.manage")
    form = forms.CancelLessonForm()
    if form.validate_on_submit():
        try:
            services.cancel_lesson(lesson, form.reason.data, actor(), expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            return _done(lesson_id, _("The lesson is cancelled."))
    return _lesson_page(db.get_or_404(Lesson, lesson_id), cancel=form, status=422)


def _confirmed(lesson_id: int, action, message: str):
    """Run a bare confirmed action (restore, remove) with the version the page showed; errors are flashed."""
    lesson = load_lesson(lesson_id, "teaching.manage")
    form = forms.ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        action(lesson, actor(), expected_version=form.version.data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for(".lesson", lesson_id=lesson_id))
    flash(message, "success")
    _warn_if_locked(lesson_id)
    return None


@bp.post("/lessons/<int:lesson_id>/restore")
@requires("teaching.manage")
def restore_lesson(lesson_id: int):
    """Undo a cover or a cancellation: the scheduled teacher teaches it again."""
    return _confirmed(lesson_id, services.restore_lesson, _("The lesson is back with its scheduled teacher.")) \
        or redirect(url_for(".lesson", lesson_id=lesson_id))


@bp.post("/lessons/<int:lesson_id>/remove")
@requires("teaching.manage")
def remove_lesson(lesson_id: int):
    """Take back an added lesson recorded by mistake."""
    if db.session.get(Lesson, lesson_id) is None:  # a second click: the first removed it
        flash(_("This was already removed (perhaps by your first click)."), "info")
        return redirect(url_for(".lessons"))
    lesson = load_lesson(lesson_id, "teaching.manage")
    back = url_for(".lessons", school=lesson.school_id, first=iso_week_start(lesson.day).isoformat())
    return _confirmed(lesson_id, services.remove_added_lesson, _("The lesson is removed.")) or redirect(back)


def _added_kind_choices() -> list[SelectChoice]:
    labels = services.kind_labels()
    return [SelectChoice(k.value, labels[k]) for k in ADDED_KINDS]


def _add(form: forms.AddedLessonForm, school: OrgUnit) -> Lesson:
    staff = db.session.get(StaffMember, form.staff_id.data) if form.staff_id.data else None
    school_class = db.session.get(SchoolClass, form.class_id.data) if form.class_id.data else None
    subject = db.session.get(Subject, form.subject_id.data) if form.subject_id.data else None
    return services.add_lesson(school_id=school.id, kind=form.kind.data, day=form.day.data, period=form.period.data,
                               staff=staff, school_class=school_class, subject=subject, periods=form.periods.data,
                               reason=form.reason.data, actor=actor())


@bp.route("/lessons/new", methods=["GET", "POST"])
@requires("teaching.manage")
def new_lesson():
    """Record an extra lesson, an open class, an exam invigilation or homeroom duties for a teacher."""
    school, _schools = chosen_school(request.args.get("school", type=int))
    if school is None:
        abort(404)
    authorize("teaching.manage", school)
    form = forms.AddedLessonForm(kind=request.args.get("kind"), day=request.args.get("day", type=date.fromisoformat))
    form.kind.choices = _added_kind_choices()
    form.staff_id.choices = staff_choices(school.id, "—")
    form.class_id.choices = class_choices(school.id, _("None"))
    form.subject_id.choices = [SelectChoice("", _("None"))] + [
        SelectChoice(s.id, s.name) for s in db.session.scalars(
            sa.select(Subject).where(Subject.is_active.is_(True)).order_by(Subject.name))]
    if form.validate_on_submit():
        try:
            lesson = _add(form, school)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            return _done(lesson.id, _("The lesson is recorded."))
    status = 422 if form.errors or form.form_errors else 200
    intro = _("%(school)s: it counts toward the teacher's hours and pay.", school=school.name)
    return render_template("_form_page.html", form=form, title=_("Add a lesson or duty"), intro=intro,
                           back_url=url_for(".lessons", school=school.id), back_label=_("Lessons")), status
