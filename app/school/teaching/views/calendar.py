"""Terms and closures: the "Teaching" landing page (the terms of the user's schools), a term's page with its
holidays and make-up days, and the button that generates its lessons."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext, pgettext
from wtforms.fields.choices import SelectChoice

from app.core import views as core_views
from app.core.errors import DomainError
from app.core.navigation import register_nav
from app.core.views import actor, show_errors  # noqa: F401  (the timetable views import them from here)
from app.extensions import db
from app.general.auth.policy import authorize, requires
from app.general.org.models import OrgUnit
from app.school.classes.queries.common import in_scope, schools_for
from app.school.teaching import forms
from app.school.teaching.calendar import school_days
from app.school.teaching.models import Closure, Lesson, Term, TimetableSlot
from app.school.teaching.services import calendar as services
from app.school.teaching.services.timetable import weekday_name
from app.school.teaching.views import bp

register_nav("teaching.view", "teaching.index", _l("Teaching"), order=50, group="teaching")


def form_page(form, **kwargs):
    """The teaching module's small form page (see app.core.views.form_page)."""
    return core_views.form_page("teaching/form_page.html", form, **kwargs)




def load_term(term_id: int, permission: str = "teaching.view") -> Term:
    """The term, or 404; 403 unless the user may do `permission` to its school."""
    term = db.get_or_404(Term, term_id)
    authorize(permission, term)
    return term






def _terms_for(user) -> list[Term]:
    stmt = (sa.select(Term).join(OrgUnit, Term.school_id == OrgUnit.id).where(in_scope(user, OrgUnit))
            .order_by(Term.starts_on.desc(), OrgUnit.name, Term.id))
    return list(db.session.scalars(stmt).unique())


def _counts(model, column, term_ids: list[int]) -> dict[int, int]:
    if not term_ids:
        return {}
    stmt = sa.select(column, sa.func.count()).select_from(model).where(column.in_(term_ids)).group_by(column)
    return dict(db.session.execute(stmt).all())


@bp.get("/")
@requires("teaching.view")
def index():
    """The terms of the user's schools, newest first, with their slot and lesson counts."""
    terms = _terms_for(actor())
    ids = [t.id for t in terms]
    return render_template("teaching/terms.html", terms=terms, slots=_counts(TimetableSlot, TimetableSlot.term_id, ids),
                           lessons=_counts(Lesson, Lesson.term_id, ids))


def _term_data(form: forms.TermForm) -> dict:
    return {name: form[name].data for name in ("name", "starts_on", "ends_on", "cover_window_days")}


@bp.route("/terms/new", methods=["GET", "POST"])
@requires("teaching.manage")
def new_term():
    """Add a term to one of the user's schools."""
    form = forms.TermForm(school=request.args.get("school", type=int))
    form.school.choices = [SelectChoice(s.id, s.name) for s in schools_for(actor())]
    if form.validate_on_submit():
        school = db.session.get(OrgUnit, form.school.data) or abort(404)
        authorize("teaching.manage", school)
        try:
            term = services.save_term(school, **_term_data(form), actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s has been saved. Add its holidays and make-up days, then the timetable.",
                    name=term.name), "success")
            return redirect(url_for(".term", term_id=term.id))
    return form_page(form, title=_("New term"), back_url=url_for(".index"), back_label=pgettext("school year", "Terms"))


@bp.route("/terms/<int:term_id>/edit", methods=["GET", "POST"])
@requires("teaching.manage")
def edit_term(term_id: int):
    """Rename a term, move its dates (not past lessons already generated) or change its cover window."""
    term = load_term(term_id, "teaching.manage")
    form = forms.EditTermForm(data=None if request.method == "POST" else {
        "name": term.name, "starts_on": term.starts_on, "ends_on": term.ends_on,
        "cover_window_days": term.cover_window_days, "version": term.version})
    if form.validate_on_submit():
        try:
            services.save_term(None, **_term_data(form), actor=actor(), term=term, expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".term", term_id=term.id))
    return form_page(form, title=_("Edit %(name)s", name=term.name), back_url=url_for(".term", term_id=term.id),
                     back_label=term.name)


@bp.get("/terms/<int:term_id>")
@requires("teaching.view")
def term(term_id: int):
    """A term: its dates, holidays and make-up days, school days, and the lessons generated from its timetable."""
    term = load_term(term_id)
    days = school_days(term.starts_on, term.ends_on, term.closures)
    counts = {"school_days": len(days),
              "slots": _counts(TimetableSlot, TimetableSlot.term_id, [term.id]).get(term.id, 0),
              "lessons": _counts(Lesson, Lesson.term_id, [term.id]).get(term.id, 0)}
    return render_template("teaching/term.html", term=term, counts=counts, confirm=forms.ConfirmForm(),
                           generate=forms.GenerateForm(),
                           closure_days=services.closure_days, weekday_label=weekday_name)


def regenerate_hint(term: Term) -> None:
    """After a change to the calendar or the timetable of a term whose lessons exist: say how the ledger follows."""
    if term.generated_at is not None:
        flash(_("Lessons were already generated for this term: press “Generate lessons” to bring them in line "
                "with the change."), "warning")


@bp.route("/terms/<int:term_id>/closures/new", methods=["GET", "POST"])
@requires("teaching.manage")
def add_closure(term_id: int):
    """Add a holiday (no lessons on those days) or a make-up day (taught as another weekday)."""
    term = load_term(term_id, "teaching.manage")
    form = forms.ClosureForm()
    if form.validate_on_submit():
        try:
            closure = services.add_closure(term, name=form.name.data, starts_on=form.starts_on.data,
                                           ends_on=form.ends_on.data, follows_weekday=form.follows_weekday.data,
                                           actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s has been added.", name=closure.name), "success")
            regenerate_hint(term)
            return redirect(url_for(".term", term_id=term.id))
    return form_page(form, title=_("Add a holiday or make-up day"), back_url=url_for(".term", term_id=term.id),
                     back_label=term.name,
                     intro=_("%(term)s runs from %(first)s to %(last)s.", term=term.name,
                             first=term.starts_on.isoformat(), last=term.ends_on.isoformat()))


@bp.post("/closures/<int:closure_id>/remove")
@requires("teaching.manage")
def remove_closure(closure_id: int):
    """Remove a holiday or make-up day."""
    closure = db.session.get(Closure, closure_id)
    if closure is None:  # a second click: the first removed it
        flash(_("This was already removed (perhaps by your first click)."), "info")
        return redirect(url_for(".index"))
    authorize("teaching.manage", closure.term)
    term_id = closure.term_id
    if forms.ConfirmForm().validate_on_submit():
        try:
            term = services.remove_closure(closure, actor=actor())
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            flash(_("Removed."), "success")
            regenerate_hint(term)
    return redirect(url_for(".term", term_id=term_id))


@bp.post("/terms/<int:term_id>/generate")
@requires("teaching.manage")
def generate_term(term_id: int):
    """Generate the term's dated lessons from its timetable and calendar (safe to press again)."""
    from app.school.teaching.services import ledger

    term = load_term(term_id, "teaching.manage")
    form = forms.GenerateForm()
    if form.validate_on_submit():
        try:
            result = ledger.generate_term(term, actor=actor(), from_day=form.from_day.data)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            flash(_("Lessons generated: %(added)d added, %(removed)d removed, %(moved)d changed, %(kept)d kept.",
                    added=result.added, removed=result.removed, moved=result.moved, kept=result.kept), "success")
            if result.blocked:
                flash(ngettext("%(num)d lesson was left as it was because its teacher or class already has another "
                               "lesson at that time: see the lessons list.",
                               "%(num)d lessons were left as they were because their teacher or class already has "
                               "another lesson at that time: see the lessons list.", result.blocked), "warning")
    return redirect(url_for(".term", term_id=term_id))
