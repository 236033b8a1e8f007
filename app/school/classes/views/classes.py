"""Classes: the scoped list, a class's page, create and edit."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import authorize, requires
from app.general.org.models import OrgUnit
from app.school.classes import forms, queries, services
from app.school.classes.views import bp
from app.school.classes.views.common import PER_PAGE, actor, form_page, load_class, school_choices, show_errors


def _filter(form: forms.ClassFilterForm) -> queries.ClassFilter:
    if not form.validate():
        return queries.ClassFilter()
    return queries.ClassFilter(school_id=form.school.data, academic_year=form.academic_year.data or "",
                               grade=form.grade.data, q=form.q.data or "")


@bp.get("/")
@requires("classes.view")
def index():
    """The classes of the user's schools: filter by school, year and grade; search by name."""
    user = actor()
    form = forms.ClassFilterForm(request.args)
    form.school.choices = school_choices(user, blank=_("All schools"))
    form.academic_year.choices = [SelectChoice("", _("All years"))] + [
        SelectChoice(year, year) for year in queries.academic_years(user)]
    page = db.paginate(queries.classes_for(user, _filter(form)), per_page=PER_PAGE, error_out=False)
    today = queries.local_today()
    summaries = queries.class_summaries([c.id for c in page.items], today)
    return render_template("classes/index.html", form=form, page=page, summaries=summaries, today=today)


@bp.route("/new", methods=["GET", "POST"])
@requires("classes.manage")
def create():
    """Add a class to one of the user's schools."""
    form = forms.NewClassForm(school=request.args.get("school", type=int))
    form.school.choices = school_choices(actor())
    if form.validate_on_submit():
        school = db.session.get(OrgUnit, form.school.data) or abort(404)
        authorize("classes.manage", school)
        try:
            school_class = services.create_class(school=school, academic_year=form.academic_year.data,
                                                 grade=form.grade.data, name=form.name.data, actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s has been created.", name=school_class.name), "success")
            return redirect(url_for(".detail", class_id=school_class.id))
    return form_page(form, title=_("New class"), back_url=url_for(".index"), back_label=_("Classes"))


@bp.get("/<int:class_id>")
@requires("classes.view")
def detail(class_id: int):
    """A class: its teachers now, to come and before; its students and their guardians."""
    school_class = load_class(class_id)
    page = queries.class_page(school_class, queries.local_today())
    return render_template("classes/class.html", page=page, school_class=school_class,
                           confirm=forms.ConfirmForm())


@bp.route("/<int:class_id>/edit", methods=["GET", "POST"])
@requires("classes.manage")
def edit(class_id: int):
    """Rename a class, change its grade (or, while nobody is in it, its year)."""
    school_class = load_class(class_id, "classes.manage")
    form = forms.ClassForm(data=None if request.method == "POST" else {
        "name": school_class.name, "grade": school_class.grade, "academic_year": school_class.academic_year,
        "version": school_class.version})
    if form.validate_on_submit():
        try:
            services.update_class(school_class, academic_year=form.academic_year.data, grade=form.grade.data,
                                  name=form.name.data, actor=actor(), expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".detail", class_id=class_id))
    return form_page(form, title=_("Edit %(name)s", name=school_class.name),
                     back_url=url_for(".detail", class_id=class_id), back_label=school_class.name)
