"""User administration (admins only): lists within the admin's scopes, create with invitation, edit,
(de)activate; extra posted fields are ignored and other schools' users are out of reach."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.core.navigation import _ITEMS
from app.extensions import db
from app.general.auth.models import User
from tests import factories
from tests.general.auth.helpers import events, reload


def _listed(html: str) -> set[str]:
    return set(re.findall(r'href="/auth/users/(\d+)"', html))


def test_users_appear_in_the_navigation_for_admins_only(client, login_as):
    assert any(item.endpoint == "auth.users" for item in _ITEMS)
    login_as("admin")
    assert 'href="/auth/users/"' in client.get("/auth/account").get_data(as_text=True)


@pytest.mark.parametrize("role", ["head", "teacher", "parent"])
def test_other_roles_are_refused_user_administration(client, org, login_as, role):
    other = factories.make_user("teacher", unit=org.school_a)
    login_as(role)
    assert client.get("/auth/users/").status_code == 403
    assert client.get(f"/auth/users/{other.id}").status_code == 403
    assert client.post(f"/auth/users/{other.id}/deactivate").status_code == 403
    assert reload(other).is_active_account


def test_a_school_admin_lists_only_users_of_their_school(client, org, login_as):
    in_a = factories.make_user("teacher", unit=org.dept_a)
    in_b = factories.make_user("teacher", unit=org.school_b)
    district_head = factories.make_user("head", unit=org.district)
    both = factories.make_user("teacher", unit=org.school_a)
    both.scopes.append(factories.UserScope(org_unit=org.school_b))
    db.session.flush()
    admin = login_as("admin", unit=org.school_a)
    listed = _listed(client.get("/auth/users/?status=all").get_data(as_text=True))
    assert listed == {str(in_a.id), str(admin.id)}
    for outsider in (in_b, district_head, both):
        assert client.get(f"/auth/users/{outsider.id}").status_code == 404


def test_a_district_admin_sees_every_user_of_the_district(client, org, login_as):
    users = [factories.make_user("teacher", unit=unit) for unit in (org.school_a, org.school_b, org.dept_b)]
    admin = login_as("admin", unit=org.district)
    listed = _listed(client.get("/auth/users/").get_data(as_text=True))
    assert listed == {str(u.id) for u in users} | {str(admin.id)}


def test_search_and_filters_narrow_the_list(client, org, login_as):
    login_as("admin", unit=org.district)
    ada = factories.make_user("teacher", unit=org.school_a, email="ada.lovelace@example.test")
    ada.display_name = "Ada Lovelace"
    head = factories.make_user("head", unit=org.school_b)
    gone = factories.make_user("teacher", unit=org.school_b)
    gone.is_active_account = False
    db.session.flush()
    assert _listed(client.get("/auth/users/?q=lovelace").get_data(as_text=True)) == {str(ada.id)}
    assert _listed(client.get("/auth/users/?q=ADA.LOVE").get_data(as_text=True)) == {str(ada.id)}
    assert _listed(client.get("/auth/users/?q=%25").get_data(as_text=True)) == set()  # % is not a wildcard
    assert _listed(client.get("/auth/users/?role=head").get_data(as_text=True)) == {str(head.id)}
    assert _listed(client.get("/auth/users/?status=inactive").get_data(as_text=True)) == {str(gone.id)}
    assert str(gone.id) not in _listed(client.get("/auth/users/").get_data(as_text=True))


def test_the_list_is_paginated(client, org, login_as):
    login_as("admin", unit=org.school_b)
    for _ in range(30):
        factories.make_user("parent", unit=org.school_b, password=None)
    first = _listed(client.get("/auth/users/").get_data(as_text=True))
    second = _listed(client.get("/auth/users/?page=2").get_data(as_text=True))
    assert len(first) == 25 and len(second) == 6 and not first & second


def test_the_list_never_shows_secrets(client, org, login_as):
    login_as("admin", unit=org.school_a)
    head = factories.make_user("head", unit=org.school_a)
    html = client.get("/auth/users/").get_data(as_text=True) + client.get(f"/auth/users/{head.id}").get_data(
        as_text=True)
    assert head.password_hash not in html and head.totp_secret not in html


def test_creating_a_user_gives_scopes_and_sends_an_invitation(client, org, login_as):
    admin = login_as("admin", unit=org.school_a)
    response = client.post("/auth/users/new", data={
        "email": " Grace@Example.org ", "display_name": "Grace Hopper", "role": "head", "locale": "zh",
        "scopes": [org.school_a.id, org.dept_a.id], "phone": "+86 138 0000 0000",
        "is_active": "0", "session_epoch": "77", "password_hash": "x"})
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "grace@example.org"))
    assert (user.role, user.locale, user.phone, user.password_hash, user.is_active_account, user.session_epoch) == (
        "head", "zh", "+86 138 0000 0000", None, True, 1)
    assert sorted(s.org_unit_id for s in user.scopes) == sorted([org.school_a.id, org.dept_a.id])
    assert response.headers["Location"] == f"/auth/users/{user.id}"
    created = events("auth.user_created")[0]
    assert created.actor_id == admin.id and created.changes["role"] == "head"
    assert events("auth.invitation_sent")


def test_an_admin_cannot_hand_out_a_scope_outside_their_own(client, org, login_as):
    login_as("admin", unit=org.school_a)
    response = client.post("/auth/users/new", data={
        "email": "sneaky@example.org", "display_name": "Sneaky", "role": "admin", "locale": "en",
        "scopes": [org.district.id]})
    assert response.status_code == 200
    assert db.session.scalar(sa.select(User).where(User.email == "sneaky@example.org")) is None


def test_a_second_account_with_the_same_email_is_refused(client, org, login_as):
    login_as("admin", unit=org.school_a)
    existing = factories.make_user("teacher", unit=org.school_b, email="taken@example.org")
    response = client.post("/auth/users/new", data={
        "email": "TAKEN@example.org", "display_name": "Copy", "role": "teacher", "locale": "en",
        "scopes": [org.school_a.id]})
    assert response.status_code == 200
    assert "already exists" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.email.ilike("taken@example.org"))) == 1
    assert existing.display_name != "Copy"


def test_editing_changes_only_the_editable_fields(client, org, login_as):
    login_as("admin", unit=org.school_a)
    user = factories.make_user("teacher", unit=org.school_a)
    before = (user.email, user.password_hash, user.session_epoch, user.is_active_account)
    response = client.post(f"/auth/users/{user.id}", data={
        "display_name": "Renamed", "role": "head", "scopes": [org.dept_a.id], "phone": "123", "locale": "zh",
        "email": "hijack@example.org", "password_hash": "x", "session_epoch": "50", "is_active": "0",
        "school_id": org.school_b.id})
    assert response.status_code == 302
    user = reload(user)
    assert (user.display_name, user.role, user.phone, user.locale) == ("Renamed", "head", "123", "zh")
    assert [s.org_unit_id for s in user.scopes] == [org.dept_a.id]
    assert (user.email, user.password_hash, user.session_epoch, user.is_active_account) == before
    assert events("auth.user_updated")[0].changes["role"] == ["teacher", "head"]


def test_editing_keeps_scopes_that_stay(client, org, login_as):
    login_as("admin", unit=org.district)
    user = factories.make_user("teacher", unit=org.school_a)
    client.post(f"/auth/users/{user.id}", data={
        "display_name": user.display_name, "role": "teacher", "scopes": [org.school_a.id, org.school_b.id],
        "locale": "en"})
    assert sorted(s.org_unit_id for s in reload(user).scopes) == sorted([org.school_a.id, org.school_b.id])


def test_an_admin_cannot_change_their_own_role_or_scopes(client, org, login_as):
    admin = login_as("admin", unit=org.district)
    response = client.post(f"/auth/users/{admin.id}", data={
        "display_name": admin.display_name, "role": "teacher", "scopes": [org.district.id], "locale": "en"})
    assert response.status_code == 200
    assert reload(admin).role == "admin"


def test_deactivate_and_reactivate_are_audited(client, org, login_as):
    login_as("admin", unit=org.school_a)
    user = factories.make_user("teacher", unit=org.school_a)
    epoch = user.session_epoch
    assert client.post(f"/auth/users/{user.id}/deactivate").status_code == 302
    user = reload(user)
    assert not user.is_active_account and user.deactivated_at and user.session_epoch == epoch + 1
    assert client.post(f"/auth/users/{user.id}/reactivate").status_code == 302
    user = reload(user)
    assert user.is_active_account and user.deactivated_at is None
    assert events("auth.user_deactivated") and events("auth.user_reactivated")


def test_an_admin_cannot_deactivate_themselves(client, org, login_as):
    admin = login_as("admin", unit=org.school_a)
    db.session.commit()  # the refusal rolls the request's transaction back
    response = client.post(f"/auth/users/{admin.id}/deactivate")
    assert response.status_code == 302
    assert reload(admin).is_active_account
    with client.session_transaction() as sess:
        assert "You cannot deactivate your own account." in str(sess["_flashes"])


def test_users_outside_the_scope_cannot_be_changed(client, org, login_as):
    login_as("admin", unit=org.school_a)
    outsider = factories.make_user("teacher", unit=org.school_b)
    for path in ("", "/deactivate", "/invite"):
        assert client.post(f"/auth/users/{outsider.id}{path}", data={
            "display_name": "Mine now", "role": "teacher", "scopes": [org.school_a.id], "locale": "en"}
        ).status_code == 404
    outsider = reload(outsider)
    assert outsider.is_active_account and outsider.display_name != "Mine now"


def test_the_create_and_edit_pages_offer_only_units_in_reach(client, org, login_as):
    login_as("admin", unit=org.school_a)
    html = client.get("/auth/users/new").get_data(as_text=True)
    offered = set(re.findall(r'<option[^>]*value="(\d+)"', html))
    assert offered == {str(org.school_a.id), str(org.dept_a.id)}


def test_a_user_on_a_deactivated_unit_can_still_be_edited(client, org, login_as):
    login_as("admin", unit=org.school_a)
    user = factories.make_user("teacher", unit=org.dept_a)
    org.dept_a.is_active = False
    db.session.flush()
    offered = set(re.findall(r'<option[^>]*value="(\d+)"', client.get("/auth/users/new").get_data(as_text=True)))
    assert offered == {str(org.school_a.id)}
    response = client.post(f"/auth/users/{user.id}", data={
        "display_name": "Kept", "role": "teacher", "scopes": [org.dept_a.id], "locale": "en"})
    assert response.status_code == 302
    assert reload(user).display_name == "Kept"
