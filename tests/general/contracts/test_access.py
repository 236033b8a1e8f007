"""Horizontal access (check 11): a teacher sees and signs only their own contracts; an admin or head of school A
never sees school B's. Lists are checked by their rows, not only by status codes."""
from __future__ import annotations

import pytest

from app.extensions import db
from tests import factories
from tests.general.contracts import factories as cf


@pytest.fixture
def world(org):
    """Two schools, two teachers each with contracts; admins and heads of each school; a district admin."""
    teachers = {"a1": cf.make_teacher(org.dept_a), "a2": cf.make_teacher(org.dept_a),
                "b1": cf.make_teacher(org.dept_b)}
    contracts = {
        "a1": cf.issued(org.school_a, teachers["a1"]),
        "a1_active": cf.active(org.school_a, teachers["a1"]),
        "a2": cf.issued(org.school_a, teachers["a2"]),
        "a2_draft": cf.make_contract(org.school_a, teachers["a2"]),
        "b1": cf.signed(org.school_b, teachers["b1"]),
    }
    for contract in contracts.values():
        contract.party_name = f"Party of contract {contract.id}"
    db.session.flush()
    people = {
        "admin_a": factories.make_user("admin", unit=org.school_a),
        "head_a": factories.make_user("head", unit=org.school_a),
        "admin_b": factories.make_user("admin", unit=org.school_b),
        "district": factories.make_user("admin", unit=org.district),
        "parent": factories.make_user("parent", unit=org.school_a),
    }
    return teachers, contracts, people


def _admin_urls(contract) -> list[tuple[str, str]]:
    cid = contract.id
    return [("GET", f"/contracts/{cid}"), ("GET", f"/contracts/{cid}/print"), ("GET", f"/contracts/{cid}/edit"),
            ("POST", f"/contracts/{cid}/issue"), ("POST", f"/contracts/{cid}/countersign"),
            ("POST", f"/contracts/{cid}/end"), ("POST", f"/contracts/{cid}/terminate"),
            ("POST", f"/contracts/{cid}/delete"), ("POST", f"/contracts/{cid}/obligations")]


def _own_urls(contract) -> list[tuple[str, str]]:
    cid = contract.id
    return [("GET", f"/contracts/mine/{cid}"), ("GET", f"/contracts/mine/{cid}/print"),
            ("GET", f"/contracts/mine/{cid}/sign"), ("POST", f"/contracts/mine/{cid}/code"),
            ("POST", f"/contracts/mine/{cid}/sign")]


def test_a_teacher_cannot_see_or_sign_another_teachers_contract(client, world):
    teachers, contracts, _people = world
    factories.log_in(client, teachers["a2"])
    for key in ("a1", "a1_active", "b1"):
        for method, url in _own_urls(contracts[key]) + _admin_urls(contracts[key]):
            response = client.open(url, method=method, data={"code": "123456", "text_sha256": "0" * 64})
            assert response.status_code in (403, 404), (key, method, url, response.status_code)
    assert contracts["a1"].status == "issued" and not contracts["a1"].signatures
    assert client.get(f"/contracts/mine/{contracts['a2'].id}").status_code == 200


def test_my_contracts_lists_only_my_issued_contracts(client, world):
    teachers, contracts, _people = world
    factories.log_in(client, teachers["a2"])
    page = client.get("/contracts/mine").get_data(as_text=True)
    assert contracts["a2"].title in page and f"/contracts/mine/{contracts['a2'].id}" in page
    for other in ("a1", "a1_active", "b1", "a2_draft"):
        assert f"/contracts/mine/{contracts[other].id}\"" not in page
        assert f"/contracts/mine/{contracts[other].id}/" not in page


def test_a_draft_is_not_shown_to_its_party(client, world):
    teachers, contracts, _people = world
    factories.log_in(client, teachers["a2"])
    assert client.get(f"/contracts/mine/{contracts['a2_draft'].id}").status_code == 404


@pytest.mark.parametrize("who", ["admin_b", "parent"])
def test_people_outside_school_a_cannot_open_its_contracts(client, world, who):
    _teachers, contracts, people = world
    factories.log_in(client, people[who])
    for key in ("a1", "a1_active", "a2_draft"):
        for method, url in _admin_urls(contracts[key]):
            assert client.open(url, method=method).status_code == 403, (who, key, method, url)
    assert contracts["a2_draft"].status == "draft" and contracts["a1"].status == "issued"


def test_admins_and_heads_lists_contain_only_their_schools_rows(client, world):
    _teachers, contracts, people = world
    expected = {
        "admin_a": {"a1", "a1_active", "a2", "a2_draft"},
        "head_a": {"a1", "a1_active", "a2", "a2_draft"},
        "admin_b": {"b1"},
        "district": set(contracts),
    }
    for who, keys in expected.items():
        factories.log_in(client, people[who])
        page = client.get("/contracts/?status=").get_data(as_text=True)
        shown = {key for key, contract in contracts.items() if f"Party of contract {contract.id}<" in page}
        assert shown == keys, who


def test_the_employer_filter_cannot_reach_outside_the_scope(client, world, org):
    _teachers, contracts, people = world
    factories.log_in(client, people["admin_a"])
    page = client.get(f"/contracts/?employer={org.school_b.id}").get_data(as_text=True)
    assert f"Party of contract {contracts['b1'].id}<" not in page


def test_a_head_of_school_a_can_read_but_not_manage(client, world):
    _teachers, contracts, people = world
    factories.log_in(client, people["head_a"])
    assert client.get(f"/contracts/{contracts['a1'].id}").status_code == 200
    assert client.post(f"/contracts/{contracts['a2_draft'].id}/issue").status_code == 403
    assert client.get("/contracts/new").status_code == 403
    assert contracts["a2_draft"].status == "draft"


def test_the_countersign_button_needs_scope(client, world):
    _teachers, contracts, people = world
    factories.log_in(client, people["admin_a"])
    assert client.post(f"/contracts/{contracts['b1'].id}/countersign").status_code == 403
    assert contracts["b1"].status == "signed"


def test_obligations_of_another_school_cannot_be_closed(client, world, org):
    _teachers, _contracts, people = world
    contract = cf.active(org.school_b, kind="confidentiality", ends_on=None)
    obligation = contract.obligations[0]
    factories.log_in(client, people["admin_a"])
    for action in ("done", "waive"):
        response = client.post(f"/contracts/obligations/{obligation.id}/{action}", data={"note": "x"})
        assert response.status_code == 403
    assert obligation.status == "open"


def test_templates_of_another_school_are_not_found(client, org):
    template_b = cf.make_template(org.school_b)
    district_template = cf.make_template(org.district)
    factories.log_in(client, factories.make_user("admin", unit=org.school_a))
    assert client.get(f"/contracts/templates/{template_b.id}").status_code == 404
    assert client.get(f"/contracts/templates/{template_b.id}/edit").status_code == 404
    assert client.get(f"/contracts/templates/{district_template.id}").status_code == 200  # owned above: readable
    assert client.get(f"/contracts/templates/{district_template.id}/edit").status_code == 403  # not editable
    page = client.get("/contracts/templates").get_data(as_text=True)
    assert f"/contracts/templates/{template_b.id}\"" not in page
    assert f"/contracts/templates/{district_template.id}\"" in page
