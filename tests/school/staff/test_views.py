"""Staff pages: list, add, edit, profile and My profile; scope (checks 11 and 12) and escaping (check 16)."""
from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.notifications.models import Notification
from app.school.staff.models import StaffMember
from tests import factories

NASTY = {
    "script": ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    "template": ("{{7*7}}", "{{7*7}}"),
    "quote": ("O'Hara", "O&#39;Hara"),
    "kana": ("ねこ", "ねこ"),
}


def _form(**overrides) -> dict:
    data = {"employee_number": "T100", "family_name": "Johnson", "given_name": "Emily", "email": "emily@example.org",
            "phone": "", "hired_on": "2024-09-01", "probation_ends_on": "2025-03-01", "max_weekly_periods": "16",
            "department": "", "account_locale": "en"}
    data.update(overrides)
    return data


def _ids_on(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'data-staff-id="(\d+)"', html)}


def _settle() -> None:
    """Commit the test's data (to the test's savepoint): a refused request rolls back only its own work."""
    db.session.commit()


@pytest.fixture
def two_schools(org):
    pair = (factories.make_staff(org.school_a, department=org.dept_a, family_name="Li", given_name="Wei"),
            factories.make_staff(org.school_b, department=org.dept_b, family_name="Zhao", given_name="Li"))
    _settle()
    return pair


# --- the list ------------------------------------------------------------------------------------------


def test_the_list_shows_only_rows_in_scope(client, org, login_as, two_schools):
    mine, theirs = two_schools
    login_as("admin", unit=org.school_a)
    for query in ("", "?status=all", "?q=Li", f"?school={org.school_b.id}", f"?department={org.dept_b.id}",
                  "?sort=school&dir=desc", "?page=2"):
        response = client.get(f"/staff/{query}")
        assert response.status_code == 200
        assert theirs.id not in _ids_on(response.get_data(as_text=True)), query
    assert _ids_on(client.get("/staff/").get_data(as_text=True)) == {mine.id}


def test_the_list_is_paginated_25_to_a_page(client, org, login_as):
    for n in range(30):
        factories.make_staff(org.school_a, employee_number=f"P{n:03d}")
    login_as("admin", unit=org.school_a)
    first = _ids_on(client.get("/staff/?sort=number").get_data(as_text=True))
    second = _ids_on(client.get("/staff/?sort=number&page=2").get_data(as_text=True))
    assert len(first) == 25 and len(second) == 5 and not first & second


def test_the_list_filters_and_searches(client, org, login_as, two_schools):
    mine, _theirs = two_schools
    other = factories.make_staff(org.school_a, family_name="Green", given_name="Michael", status="departed")
    login_as("admin", unit=org.district)
    assert _ids_on(client.get("/staff/?q=green").get_data(as_text=True)) == set()
    assert _ids_on(client.get("/staff/?q=green&status=departed").get_data(as_text=True)) == {other.id}
    assert _ids_on(client.get(f"/staff/?department={org.dept_a.id}").get_data(as_text=True)) == {mine.id}
    assert client.get("/staff/?school=abc&status=bogus&sort=x&dir=y&page=zz").status_code == 200


def test_an_empty_list_says_what_to_do_next(client, org, login_as):
    login_as("admin", unit=org.school_a)
    html = client.get("/staff/").get_data(as_text=True)
    assert "Add a staff member or import a spreadsheet." in html
    assert "/staff/new" in html


def test_a_head_sees_the_list_but_no_add_button(client, org, login_as, two_schools):
    login_as("head", unit=org.school_a)
    html = client.get("/staff/").get_data(as_text=True)
    assert _ids_on(html) == {two_schools[0].id} and "/staff/new" not in html
    assert client.get("/staff/new").status_code == 403
    assert client.get(f"/staff/{two_schools[0].id}/edit").status_code == 403


@pytest.mark.parametrize("role", ["teacher", "parent"])
def test_self_service_roles_cannot_open_the_list(client, org, login_as, role):
    login_as(role, unit=org.school_a)
    assert client.get("/staff/").status_code == 403


# --- create and edit ----------------------------------------------------------------------------------------


def test_create_then_land_on_the_profile(client, org, login_as):
    maths = factories.make_subject("MATH", "Maths")
    login_as("admin", unit=org.school_a)
    response = client.post("/staff/new", data=_form(school=org.school_a.id, department=org.dept_a.id,
                                                    subjects=[maths.id]))
    staff = db.session.scalar(sa.select(StaffMember))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/staff/{staff.id}")
    assert (staff.full_name, staff.department, staff.subjects) == ("Emily Johnson", org.dept_a, [maths])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0


def test_create_with_an_account_writes_one_invitation_to_the_outbox(client, org, login_as):
    login_as("admin", unit=org.school_a)
    client.post("/staff/new", data=_form(school=org.school_a.id, create_account="y"))
    mails = db.session.scalars(sa.select(Notification)).all()
    assert [(m.template, m.recipient_address) for m in mails] == [("auth/messages/invitation", "emily@example.org")]
    assert db.session.scalar(sa.select(StaffMember)).user.email == "emily@example.org"


def test_bad_input_is_answered_next_to_the_fields_and_nothing_is_written(client, org, login_as):
    factories.make_staff(org.school_a, employee_number="T100")
    login_as("admin", unit=org.school_a)
    _settle()
    response = client.post("/staff/new", data=_form(school=org.school_a.id))
    assert response.status_code == 422
    assert "already used in this school" in response.get_data(as_text=True)
    response = client.post("/staff/new", data=_form(school=org.school_a.id, employee_number="T101",
                                                    hired_on="2024-09-01", probation_ends_on="2024-01-01",
                                                    max_weekly_periods="70", email="nope"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and html.count("invalid-feedback") >= 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffMember)) == 1


def test_a_school_outside_scope_cannot_be_chosen(client, org, login_as):
    login_as("admin", unit=org.school_a)
    response = client.post("/staff/new", data=_form(school=org.school_b.id))
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffMember)) == 0


def test_edit_saves_and_ignores_extra_fields(client, org, login_as, two_schools):
    staff, _theirs = two_schools
    teacher = factories.make_user("teacher", unit=org.school_b)
    login_as("admin", unit=org.district)
    form = _form(version=staff.version, department=org.dept_a.id, school=org.school_b.id,
                 school_id=org.school_b.id, status="departed", user_id=teacher.id, version_id=99)
    response = client.post(f"/staff/{staff.id}/edit", data=form)
    assert response.status_code == 302
    db.session.refresh(staff)
    assert (staff.school, staff.status, staff.user_id) == (org.school_a, "active", None)
    assert staff.full_name == "Emily Johnson"


def test_edit_refuses_a_department_of_another_school(client, org, login_as, two_schools):
    staff, _theirs = two_schools
    login_as("admin", unit=org.district)
    response = client.post(f"/staff/{staff.id}/edit", data=_form(version=staff.version, department=org.dept_b.id))
    assert response.status_code == 422
    db.session.refresh(staff)
    assert staff.department == org.dept_a


def test_a_stale_edit_form_is_refused_with_a_clear_message(client, org, login_as, two_schools):
    staff, _theirs = two_schools
    login_as("admin", unit=org.school_a)
    old_version = staff.version
    assert client.post(f"/staff/{staff.id}/edit", data=_form(version=old_version)).status_code == 302
    response = client.post(f"/staff/{staff.id}/edit", data=_form(version=old_version, given_name="Stale"))
    assert response.status_code == 409
    assert "Someone else changed this record" in response.get_data(as_text=True)
    db.session.refresh(staff)
    assert staff.given_name == "Emily"
    missing = client.post(f"/staff/{staff.id}/edit", data={k: v for k, v in _form().items()})
    assert missing.status_code == 409


# --- scope on object pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/staff/{id}", "/staff/{id}/edit"])
def test_an_admin_of_school_a_cannot_open_school_b_staff(client, org, login_as, two_schools, path):
    _mine, theirs = two_schools
    login_as("admin", unit=org.school_a)
    assert client.get(path.format(id=theirs.id)).status_code in (403, 404)
    assert client.post(path.format(id=theirs.id) if "edit" in path else f"/staff/{theirs.id}/edit",
                       data=_form(version=theirs.version)).status_code in (403, 404)
    db.session.refresh(theirs)
    assert theirs.family_name == "Zhao"


@pytest.mark.parametrize("action", ["account/create", "account/link", "account/unlink"])
def test_account_actions_on_school_b_staff_are_refused(client, org, login_as, two_schools, action):
    _mine, theirs = two_schools
    login_as("admin", unit=org.school_a)
    assert client.post(f"/staff/{theirs.id}/{action}", data={"email": "x@example.org"}).status_code in (403, 404)


def test_unknown_staff_is_404(client, org, login_as):
    login_as("admin", unit=org.district)
    assert client.get("/staff/999999").status_code == 404


# --- profile and My profile -----------------------------------------------------------------------------------


def test_the_profile_shows_record_account_and_history(client, org, login_as, in_request):
    login_as("admin", unit=org.school_a)
    client.post("/staff/new", data=_form(school=org.school_a.id, create_account="y"))
    staff = db.session.scalar(sa.select(StaffMember))
    html = client.get(f"/staff/{staff.id}").get_data(as_text=True)
    assert "Emily Johnson" in html and "T100" in html and "Invited" in html
    assert "Record created" in html and "Account linked" in html
    assert 'id="assignments"' in html and 'id="timeline"' in html


def test_a_teacher_sees_only_their_own_profile(client, org, login_as, two_schools):
    mine, theirs = two_schools
    teacher = factories.make_user("teacher", unit=org.dept_a)
    mine.user = teacher
    db.session.flush()
    login_as(user=teacher)
    html = client.get("/staff/me").get_data(as_text=True)
    assert "Li" in html and mine.employee_number in html and 'id="timeline"' not in html
    assert f"/staff/{mine.id}/edit" not in html
    for path in (f"/staff/{mine.id}", f"/staff/{theirs.id}", f"/staff/{mine.id}/edit", "/staff/"):
        assert client.get(path).status_code == 403, path


def test_a_teacher_without_a_record_is_told_so(client, org, login_as):
    login_as("teacher", unit=org.school_a)
    response = client.get("/staff/me")
    assert response.status_code == 200 and "not linked to a staff record" in response.get_data(as_text=True)


def test_my_profile_is_in_the_teachers_navigation_and_staff_in_the_admins(client, org, login_as):
    login_as("teacher", unit=org.school_a)
    assert 'href="/staff/me"' in client.get("/").get_data(as_text=True)
    login_as("admin", unit=org.school_a)
    html = client.get("/").get_data(as_text=True)
    assert 'href="/staff/"' in html and 'href="/staff/me"' not in html


def test_link_and_unlink_from_the_profile(client, org, login_as, two_schools):
    staff, _theirs = two_schools
    teacher = factories.make_user("teacher", unit=org.dept_a, email="wei@example.org")
    login_as("admin", unit=org.school_a)
    assert client.post(f"/staff/{staff.id}/account/link", data={"email": "WEI@example.org"}).status_code == 302
    db.session.refresh(staff)
    assert staff.user == teacher
    assert client.post(f"/staff/{staff.id}/account/unlink").status_code == 302
    db.session.refresh(staff)
    assert staff.user is None


def test_create_account_from_the_profile_writes_one_invitation(client, org, login_as):
    staff = factories.make_staff(org.school_a, email="late@example.org", hired_on=date(2023, 9, 1))
    login_as("admin", unit=org.school_a)
    _settle()
    client.post(f"/staff/{staff.id}/account/create", data={"locale": "zh"})
    client.post(f"/staff/{staff.id}/account/create", data={"locale": "zh"})  # pressed twice: refused the 2nd time
    mails = db.session.scalars(sa.select(Notification)).all()
    assert len(mails) == 1 and mails[0].locale == "zh"


# --- escaping (check 16) --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(NASTY))
def test_names_render_escaped_on_list_profile_and_edit(client, org, login_as, key):
    raw, escaped = NASTY[key]
    staff = factories.make_staff(org.school_a, family_name=raw, given_name=raw, employee_number="X1")
    login_as("admin", unit=org.school_a)
    for path in ("/staff/", f"/staff/{staff.id}", f"/staff/{staff.id}/edit"):
        html = client.get(path).get_data(as_text=True)
        assert escaped in html, path
        if raw != escaped:
            assert raw not in html, path
    if key == "template":
        assert "49" not in client.get(f"/staff/{staff.id}").get_data(as_text=True).split("<main", 1)[1]


def test_the_import_link_shows_only_when_the_import_page_exists_and_the_user_may_run_it(app, client, org, login_as):
    login_as("admin", unit=org.school_a)
    html = client.get("/staff/").get_data(as_text=True)
    if "imports.index" in app.view_functions:
        assert "Import a spreadsheet" in html
    else:
        assert "Import a spreadsheet" not in html
    login_as("head", unit=org.school_a)
    assert "Import a spreadsheet" not in client.get("/staff/").get_data(as_text=True)


def test_later_modules_add_cards_to_the_profile(app, client, org, login_as, monkeypatch):
    from jinja2 import ChoiceLoader, DictLoader

    from app.school.staff.views import profile

    staff = factories.make_staff(org.school_a)
    cards = []
    monkeypatch.setattr(profile, "PROFILE_CARDS", cards)
    card_html = '<section id="test-card">{{ card.word }} {{ staff.employee_number }}</section>'
    monkeypatch.setattr(app.jinja_env, "loader", ChoiceLoader([DictLoader({"test/_card.html": card_html}),
                                                               app.jinja_env.loader]))
    app.jinja_env.cache.clear()
    profile.register_profile_card("test/_card.html", order=30,
                                  context=lambda person, viewer, own: None if own else {"word": "credentials"})
    login_as("admin", unit=org.school_a)
    html = client.get(f"/staff/{staff.id}").get_data(as_text=True)
    assert f'<section id="test-card">credentials {staff.employee_number}</section>' in html
    teacher = factories.make_user("teacher", unit=org.school_a)
    staff.user = teacher
    db.session.flush()
    login_as(user=teacher)
    assert 'id="test-card"' not in client.get("/staff/me").get_data(as_text=True)


def test_the_profile_lists_classes_now_and_before_with_links_for_admins_only(app, client, org, login_as):
    staff = factories.make_staff(org.school_a, max_weekly_periods=20)
    klass = factories.make_class(org.school_a, name="7-3")
    factories.make_assignment(klass, staff, subject=factories.make_subject("PHY", "Physics"), weekly_periods=5,
                              starts_on=date(2020, 9, 1))
    factories.make_assignment(klass, staff, weekly_periods=2, starts_on=date(2019, 9, 1), ends_on=date(2020, 7, 1))
    login_as("admin", unit=org.school_a)
    html = client.get(f"/staff/{staff.id}").get_data(as_text=True)
    assert "Physics" in html and "1 earlier assignment" in html and "5 of at most 20 weekly periods" in html
    if "classes.detail" in app.view_functions:
        assert f'href="/classes/{klass.id}"' in html
    teacher = factories.make_user("teacher", unit=org.school_a)
    staff.user = teacher
    db.session.flush()
    login_as(user=teacher)
    html = client.get("/staff/me").get_data(as_text=True)
    assert "Physics" in html and f'href="/classes/{klass.id}"' not in html
