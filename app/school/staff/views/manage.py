"""The staff list, and adding and editing staff records and their portal accounts (admins)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.core.errors import Conflict, DomainError
from app.extensions import db
from app.general.auth.policy import requires
from app.general.org import queries as org_queries
from app.general.org.models import OrgUnitKind
from app.school.classes.models import Subject
from app.school.staff import forms, queries, services
from app.school.staff.models import StaffMember
from app.school.staff.views import bp
from app.school.staff.views.common import actor, load_staff, show_errors

PER_PAGE = 25


def _departments(user, school_id: int | None = None) -> list:
    departments = org_queries.units_in_reach(user, kinds={OrgUnitKind.DEPARTMENT})
    return [d for d in departments if school_id is None or d.parent_id == school_id]


def _subjects(current: list[Subject] = ()) -> list[Subject]:
    """Active subjects, plus those the person already has (even if deactivated since)."""
    active = list(db.session.scalars(sa.select(Subject).where(Subject.is_active.is_(True)).order_by(Subject.name)))
    return active + [s for s in current if not s.is_active]


def _list_arguments(form: forms.StaffFilterForm) -> dict:
    """The filters as staff_list arguments; a garbled filter is ignored rather than refused."""
    form.validate()

    def value(field):
        return None if field.errors else field.data

    return {"search": value(form.q) or "", "school_id": value(form.school),
            "department_id": value(form.department), "status": value(form.status) or "current",
            "sort": request.args.get("sort", "name"), "direction": request.args.get("dir", "asc")}


@bp.get("/")
@requires("staff.view")
def index():
    """Staff within the user's scopes: search, filter by school, department and status, sort by column."""
    form = forms.StaffFilterForm(request.args)
    form.set_unit_choices(org_queries.schools_in_reach(actor()), org_queries.department_rows(actor()))
    arguments = _list_arguments(form)
    page = queries.staff_page(actor(), per_page=PER_PAGE, **arguments)
    filtered = bool(arguments["search"] or arguments["school_id"] or arguments["department_id"]
                    or arguments["status"] != "current")
    return render_template("staff/index.html", form=form, page=page, sort=arguments["sort"],
                           direction=arguments["direction"], filtered=filtered)


def _render_form(form, staff: StaffMember | None, status: int | None = None):
    return render_template("staff/form.html", form=form, staff=staff), status or (422 if form.errors else 200)


@bp.route("/new", methods=["GET", "POST"])
@requires("staff.manage")
def create():
    """Add a staff member (optionally creating their account and sending the invitation)."""
    form = forms.NewStaffForm(school=request.args.get("school", type=int))
    form.set_school_choices(org_queries.schools_in_reach(actor()))
    form.set_choices(_departments(actor()), _subjects())
    if form.validate_on_submit():
        try:
            staff = services.create_staff(actor=actor(), **form.service_fields())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s has been added.", name=staff.full_name), "success")
            return redirect(url_for(".profile", staff_id=staff.id))
    return _render_form(form, None)


def _initial(staff: StaffMember) -> dict:
    return {"version": staff.version, "department": staff.department_id, "employee_number": staff.employee_number,
            "family_name": staff.family_name, "given_name": staff.given_name, "email": staff.email,
            "phone": staff.phone, "hired_on": staff.hired_on, "probation_ends_on": staff.probation_ends_on,
            "max_weekly_periods": staff.max_weekly_periods, "subjects": [s.id for s in staff.subjects]}


@bp.route("/<int:staff_id>/edit", methods=["GET", "POST"])
@requires("staff.manage")
def edit(staff_id: int):
    """Edit a record; a form loaded before someone else saved is refused (optimistic locking)."""
    staff = load_staff(staff_id, "staff.manage")
    form = forms.StaffForm(data=None if request.method == "POST" else _initial(staff))
    departments = _departments(actor(), staff.school_id)
    form.set_choices(departments + [d for d in [staff.department] if d and d not in departments],
                     _subjects(staff.subjects))
    if form.validate_on_submit():
        try:
            services.update_staff(staff, actor=actor(), expected_version=form.expected_version(),
                                  **form.service_fields())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
            return _render_form(form, staff, 409 if isinstance(error, Conflict) and not error.field else None)
        flash(_("%(name)s has been saved.", name=staff.full_name), "success")
        return redirect(url_for(".profile", staff_id=staff.id))
    return _render_form(form, staff)


@bp.post("/<int:staff_id>/account/create")
@requires("staff.manage")
def account_create(staff_id: int):
    """Create the person's teacher account from their record and e-mail the invitation."""
    staff = load_staff(staff_id, "staff.manage")
    form = forms.CreateAccountForm()
    if form.validate_on_submit():
        services.create_account_for(staff, actor=actor(), locale=form.locale.data)
        db.session.commit()
        flash(_("The account is created and an invitation is on its way to %(email)s.", email=staff.email),
              "success")
    return redirect(url_for(".profile", staff_id=staff.id, _anchor="account"))


@bp.post("/<int:staff_id>/account/link")
@requires("staff.manage")
def account_link(staff_id: int):
    """Link an existing teacher or head account of the same school."""
    staff = load_staff(staff_id, "staff.manage")
    form = forms.LinkAccountForm()
    if form.validate_on_submit():
        user = services.link_account_by_email(staff, form.email.data, actor=actor())
        db.session.commit()
        flash(_("%(email)s is now linked to this record.", email=user.email), "success")
    return redirect(url_for(".profile", staff_id=staff.id, _anchor="account"))


@bp.post("/<int:staff_id>/account/unlink")
@requires("staff.manage")
def account_unlink(staff_id: int):
    """Detach the account from the record (the account itself is managed on the Users page)."""
    staff = load_staff(staff_id, "staff.manage")
    if forms.ConfirmForm().validate_on_submit():
        services.unlink_account(staff, actor=actor())
        db.session.commit()
        flash(_("The account is no longer linked to this record."), "success")
    return redirect(url_for(".profile", staff_id=staff.id, _anchor="account"))
