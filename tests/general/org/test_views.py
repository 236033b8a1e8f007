"""Organisation pages: scoped tree, create/edit/deactivate through the browser, and the horizontal checks."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.general.org.models import OrgUnit
from tests import factories


def _unit(code: str) -> OrgUnit | None:
    return _db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))


def _keep_setup() -> None:
    """Commit the test's setup (inside the outer test transaction, still rolled back at the end) so that a
    view's own rollback after a refused change discards only the request's work, as it does in production."""
    _db.session.commit()


def _listed_codes(html: str) -> set[str]:
    import re

    return set(re.findall(r'data-unit-code="([^"]+)"', html))


def test_admin_of_school_a_sees_only_school_a_in_the_tree(client, org, login_as):
    login_as("admin", unit=org.school_a)
    response = client.get("/org/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _listed_codes(html) == {org.school_a.code, org.dept_a.code}
    assert "School B" not in html and "Maths B" not in html and "Test District" not in html


def test_deactivate_is_offered_only_for_units_with_nothing_active_inside(client, org, login_as):
    login_as("admin", unit=org.school_a)
    html = client.get("/org/").get_data(as_text=True)
    assert f"/org/{org.school_a.id}/deactivate" not in html
    assert f"/org/{org.dept_a.id}/deactivate" in html


def test_district_admin_sees_the_whole_district(client, org, login_as):
    login_as("admin", unit=org.district)
    html = client.get("/org/").get_data(as_text=True)
    assert _listed_codes(html) == {u.code for u in (org.district, org.school_a, org.school_b, org.dept_a, org.dept_b)}


def test_head_sees_the_tree_without_management_buttons(client, org, login_as):
    login_as("head", unit=org.school_a)
    html = client.get("/org/").get_data(as_text=True)
    assert _listed_codes(html) == {org.school_a.code, org.dept_a.code}
    assert "/deactivate" not in html and "/edit" not in html
    assert client.get("/org/new").status_code == 403


@pytest.mark.parametrize("role", ["teacher", "parent"])
def test_self_service_roles_cannot_open_the_organisation(client, org, login_as, role):
    login_as(role, unit=org.school_a)
    assert client.get("/org/").status_code == 403


def test_admin_of_school_a_cannot_open_or_change_school_b(client, org, login_as):
    login_as("admin", unit=org.school_a)
    for unit in (org.school_b, org.dept_b, org.district):
        response = client.get(f"/org/{unit.id}/edit")
        assert response.status_code in (403, 404)
        assert unit.name not in response.get_data(as_text=True)
    assert client.post(f"/org/{org.dept_b.id}/edit", data={"name": "Taken", "code": "TAKEN",
                                                         "parent": org.school_b.id}).status_code == 403
    assert client.post(f"/org/{org.dept_b.id}/deactivate").status_code == 403
    assert client.post(f"/org/{org.dept_b.id}/reactivate").status_code == 403
    _db.session.expire_all()
    assert (org.dept_b.name, org.dept_b.is_active) == ("Maths B", True)


def test_admin_of_school_a_cannot_add_a_unit_to_school_b_or_move_one_there(client, org, login_as):
    login_as("admin", unit=org.school_a)
    _keep_setup()
    response = client.post("/org/new", data={"kind": "department", "name": "Sneaky", "code": "SNEAKY",
                                             "parent": org.school_b.id})
    assert response.status_code == 422
    assert _unit("SNEAKY") is None
    response = client.post(f"/org/{org.dept_a.id}/edit", data={"name": "Maths A", "code": org.dept_a.code,
                                                               "parent": org.school_b.id})
    assert response.status_code == 422
    _db.session.expire_all()
    assert org.dept_a.parent_id == org.school_a.id
    assert "School B" not in response.get_data(as_text=True)


def test_admin_creates_a_department_in_their_school(client, org, login_as):
    admin = login_as("admin", unit=org.school_a)
    form_page = client.get(f"/org/new?kind=department&parent={org.school_a.id}")
    assert form_page.status_code == 200 and "School B" not in form_page.get_data(as_text=True)
    response = client.post("/org/new", data={"kind": "department", "name": "Science A", "code": "sci-a",
                                             "parent": org.school_a.id})
    assert response.status_code == 302
    unit = _unit("SCI-A")
    assert unit is not None and unit.path == f"{org.school_a.path}{unit.id}/"
    event = _db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "org.unit_created",
                                                           AuditEvent.subject_id == str(unit.id)))
    assert event.actor_id == admin.id


def test_a_duplicate_code_is_shown_at_the_code_field_and_nothing_is_written(client, org, login_as):
    login_as("admin", unit=org.school_a)
    _keep_setup()
    before = _db.session.scalar(sa.select(sa.func.count()).select_from(OrgUnit))
    response = client.post("/org/new", data={"kind": "department", "name": "Maths again",
                                             "code": org.dept_a.code.lower(), "parent": org.school_a.id})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="code"' in html and "is-invalid" in html and "already used by another unit" in html
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(OrgUnit)) == before


def test_a_department_must_be_put_in_a_school(client, org, login_as):
    login_as("admin", unit=org.district)
    _keep_setup()
    response = client.post("/org/new", data={"kind": "department", "name": "Floating", "code": "FLOAT",
                                             "parent": org.district.id})
    assert response.status_code == 422
    assert "A department belongs to a school" in response.get_data(as_text=True)
    assert _unit("FLOAT") is None


def test_district_admin_moves_a_department_to_the_other_school(client, org, login_as):
    login_as("admin", unit=org.district)
    response = client.post(f"/org/{org.dept_a.id}/edit", data={"name": "Maths (moved)", "code": org.dept_a.code,
                                                               "parent": org.school_b.id})
    assert response.status_code == 302
    _db.session.expire_all()
    assert org.dept_a.parent_id == org.school_b.id
    assert org.dept_a.path == f"{org.school_b.path}{org.dept_a.id}/"


def test_a_school_with_active_departments_is_not_deactivated(client, org, login_as):
    login_as("admin", unit=org.school_a)
    _keep_setup()
    response = client.post(f"/org/{org.school_a.id}/deactivate", follow_redirects=True)
    assert response.status_code == 200
    assert "deactivate or move them first" in response.get_data(as_text=True)
    _db.session.expire_all()
    assert org.school_a.is_active


def test_deactivate_then_reactivate_a_department(client, org, login_as):
    login_as("admin", unit=org.school_a)
    assert client.post(f"/org/{org.dept_a.id}/deactivate").status_code == 302
    _db.session.expire_all()
    assert not org.dept_a.is_active
    assert org.dept_a.code not in _listed_codes(client.get("/org/").get_data(as_text=True))
    assert org.dept_a.code in _listed_codes(client.get("/org/?show=all").get_data(as_text=True))
    assert client.post(f"/org/{org.dept_a.id}/reactivate").status_code == 302
    _db.session.expire_all()
    assert org.dept_a.is_active


def test_get_requests_change_nothing(client, org, login_as):
    login_as("admin", unit=org.school_a)
    count = _db.session.scalar(sa.select(sa.func.count()).select_from(OrgUnit))
    assert client.get(f"/org/new?kind=department&parent={org.school_a.id}&name=X&code=GETX").status_code == 200
    assert client.get(f"/org/{org.dept_a.id}/deactivate").status_code == 405
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(OrgUnit)) == count


def test_an_admin_without_any_scope_gets_an_empty_state(client, org, login_as):
    user = factories.make_user(role="admin")
    login_as(user=user)
    html = client.get("/org/").get_data(as_text=True)
    assert _listed_codes(html) == set()
    assert "not assigned to a district, school or department" in html


def test_the_tree_speaks_chinese_to_a_chinese_user(client, org):
    user = factories.make_user(role="admin", unit=org.school_a, locale="zh")
    factories.log_in(client, user)
    html = client.get("/org/").get_data(as_text=True)
    assert "组织架构" in html and "添加部门" in html
