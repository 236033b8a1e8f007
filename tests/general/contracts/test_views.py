"""The contract pages: signing in the browser (fresh login, code, evidence through ProxyFix), admin pages,
escaping, navigation."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app import register_proxy
from app.extensions import db
from app.general.contracts.models import Contract, ContractTemplate, Signature, SigningCode
from tests import factories
from tests.general.contracts import factories as cf

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def _sign_in_browser(client, contract, *, headers=None, code=None):
    """Ask for a code on the signing page, then sign with it, as a browser would."""
    assert client.post(f"/contracts/mine/{contract.id}/code", headers=headers).status_code == 302
    return client.post(f"/contracts/mine/{contract.id}/sign", headers=headers,
                       data={"code": code or cf.last_code(contract), "text_sha256": contract.rendered_sha256})


def _signature(contract) -> Signature | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(Signature).where(Signature.contract_id == contract.id,
                                                        Signature.signer_role == "party"))


def test_the_teacher_reviews_the_exact_text_and_signs_with_the_emailed_code(client, org, teacher):
    contract = cf.issued(org.school_a, teacher)
    factories.log_in(client, teacher)
    page = client.get(f"/contracts/mine/{contract.id}/sign").get_data(as_text=True)
    assert contract.rendered_sha256 in page and teacher.display_name in page
    response = _sign_in_browser(client, contract, headers={"User-Agent": BROWSER})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/contracts/mine/{contract.id}")
    signature = _signature(contract)
    assert signature.ip == "127.0.0.1" and signature.user_agent == BROWSER
    assert signature.text_sha256 == contract.rendered_sha256 and signature.otp_confirmed_at is not None
    assert db.session.get(Contract, contract.id).status == "signed"


def test_the_ip_comes_through_proxyfix_with_the_configured_hops_and_a_forged_hop_is_ignored(
        app, client, org, teacher, monkeypatch):
    monkeypatch.setitem(app.config, "PROXY_FIX_HOPS", 1)
    monkeypatch.setattr(app, "wsgi_app", app.wsgi_app)  # restored after the test
    register_proxy(app)
    contract = cf.issued(org.school_a, teacher)
    factories.log_in(client, teacher)
    # "10.6.6.6" was written by the client; "203.0.113.50" was appended by our one trusted proxy
    _sign_in_browser(client, contract, headers={"X-Forwarded-For": "10.6.6.6, 203.0.113.50", "User-Agent": BROWSER})
    assert _signature(contract).ip == "203.0.113.50"


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(client, org, teacher):
    contract = cf.issued(org.school_a, teacher)
    factories.log_in(client, teacher)
    _sign_in_browser(client, contract, headers={"X-Forwarded-For": "10.6.6.6"})
    assert _signature(contract).ip == "127.0.0.1"


@pytest.mark.parametrize("method,path", [("GET", "sign"), ("POST", "code"), ("POST", "sign")])
def test_signing_needs_a_fresh_login(client, org, teacher, method, path):
    contract = cf.issued(org.school_a, teacher)
    factories.log_in(client, teacher, fresh=False)
    response = client.open(f"/contracts/mine/{contract.id}/{path}", method=method,
                           data={"code": "123456", "text_sha256": contract.rendered_sha256})
    assert response.status_code == 302 and "/auth/reauthenticate" in response.headers["Location"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SigningCode)) == 0
    assert _signature(contract) is None


def test_a_wrong_code_is_answered_next_to_the_field_and_the_attempt_is_kept(client, org, teacher):
    contract = cf.issued(org.school_a, teacher)
    factories.log_in(client, teacher)
    client.post(f"/contracts/mine/{contract.id}/code")
    wrong = f"{(int(cf.last_code(contract)) + 1) % 10**6:06d}"
    response = client.post(f"/contracts/mine/{contract.id}/sign",
                           data={"code": wrong, "text_sha256": contract.rendered_sha256})
    assert response.status_code == 422 and "Wrong code" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(SigningCode.attempts)) == 1
    assert _signature(contract) is None


def test_the_sixth_code_within_an_hour_is_refused(client, org, teacher):
    contract = cf.issued(org.school_a, teacher)
    factories.log_in(client, teacher)
    for _ in range(5):
        assert client.post(f"/contracts/mine/{contract.id}/code").status_code == 302
    response = client.post(f"/contracts/mine/{contract.id}/code", headers={"Referer": "http://localhost/"})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SigningCode)) == 5


def test_the_school_countersigns_with_a_fresh_login(client, org, admin, teacher):
    contract = cf.signed(org.school_a, teacher)
    factories.log_in(client, admin, fresh=False)
    response = client.post(f"/contracts/{contract.id}/countersign", data={"row_version": contract.row_version})
    assert "/auth/reauthenticate" in response.headers["Location"]
    factories.log_in(client, admin)
    response = client.post(f"/contracts/{contract.id}/countersign", data={"row_version": contract.row_version},
                           headers={"User-Agent": "Office browser"})
    assert response.status_code == 302
    db.session.expire_all()
    contract = db.session.get(Contract, contract.id)
    school = contract.signature_of("school")
    assert contract.status == "active" and school.signer_user_id == admin.id
    assert school.ip == "127.0.0.1" and school.user_agent == "Office browser"


def test_an_admin_drafts_edits_and_issues_a_contract_in_the_browser(client, org, admin, teacher, template):
    factories.log_in(client, admin)
    form = client.get(f"/contracts/new?party=User:{teacher.id}").get_data(as_text=True)
    assert f'value="User:{teacher.id}"' in form
    response = client.post("/contracts/new", data={
        "party": f"User:{teacher.id}", "template": template.id, "employer": org.school_a.id,
        "starts_on": "2026-09-01", "ends_on": "2028-08-31", "notice_days": "30", "currency": "CNY"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    contract = db.session.scalar(sa.select(Contract).where(Contract.party_user_id == teacher.id))
    assert contract.status == "draft" and contract.terms["notice_days"] == 30
    response = client.post(f"/contracts/{contract.id}/edit", data={
        "template": template.id, "employer": org.school_a.id, "starts_on": "2026-09-01", "ends_on": "2029-08-31",
        "notice_days": "60", "currency": "CNY", "row_version": contract.row_version})
    assert response.status_code == 302
    db.session.expire_all()
    contract = db.session.get(Contract, contract.id)
    assert contract.ends_on == date(2029, 8, 31) and contract.terms["notice_days"] == 60
    assert client.post(f"/contracts/{contract.id}/issue", data={"row_version": contract.row_version}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Contract, contract.id).status == "issued"
    assert client.get(f"/contracts/{contract.id}/edit").status_code == 409


def test_a_stale_issue_button_changes_nothing(client, org, admin):
    contract = cf.make_contract(org.school_a)
    db.session.commit()  # the error handler rolls back the request's work: keep the test's data out of it
    factories.log_in(client, admin)
    stale = contract.row_version - 1
    response = client.post(f"/contracts/{contract.id}/issue", data={"row_version": stale},
                           headers={"Referer": f"http://localhost/contracts/{contract.id}"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Contract, contract.id).status == "draft"


def test_bad_draft_input_is_answered_next_to_the_field(client, org, admin, teacher, template):
    factories.log_in(client, admin)
    response = client.post("/contracts/new", data={
        "party": f"User:{teacher.id}", "template": template.id, "employer": org.school_a.id,
        "starts_on": "2026-09-01", "ends_on": "2026-08-01"})
    assert response.status_code == 422
    assert "cannot be before the first" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 0


def test_a_template_with_unknown_placeholders_is_refused_with_their_names(client, org, admin):
    factories.log_in(client, admin)
    response = client.post("/contracts/templates/new", data={
        "name": "Broken", "kind": "labour", "org_unit": org.school_a.id, "locale": "en",
        "body": "Dear {{ party_nmae }}, you start on {{ start_date }}."})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "party_nmae" in page and "start_date" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ContractTemplate)) == 0


def test_editing_a_template_saves_a_new_version(client, org, admin, template):
    factories.log_in(client, admin)
    response = client.post(f"/contracts/templates/{template.id}/edit", data={
        "name": template.name, "locale": "en", "body": template.body + "\nSigned in two copies.\n"})
    assert response.status_code == 302
    versions = db.session.scalars(sa.select(ContractTemplate).where(ContractTemplate.family == template.family)
                                  .order_by(ContractTemplate.version)).all()
    assert [v.version for v in versions] == [1, 2]
    assert response.headers["Location"].endswith(f"/contracts/templates/{versions[1].id}")
    page = client.get(f"/contracts/templates/{versions[1].id}").get_data(as_text=True)
    assert "Signed in two copies." in page and f"/contracts/templates/{versions[0].id}" in page


def test_names_are_escaped_on_the_contract_page_and_the_printable_copy(client, org, admin):
    party = cf.make_teacher(org.dept_a)
    party.display_name = "<script>alert(1)</script> {{7*7}} O'Hara ねこ"
    contract = cf.active(org.school_a, party)
    factories.log_in(client, admin)
    for url in (f"/contracts/{contract.id}", f"/contracts/{contract.id}/print", "/contracts/"):
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page, url
        assert "{{7*7}}" in page and "ねこ" in page


def test_the_printable_copy_shows_the_signature_trace(client, org, admin, teacher):
    contract = cf.active(org.school_a, teacher, countersigner=admin)
    factories.log_in(client, teacher)
    page = client.get(f"/contracts/mine/{contract.id}/print").get_data(as_text=True)
    assert "@media print" in page and contract.rendered_sha256 in page
    for signature in contract.signatures:
        assert signature.ip in page and signature.user_agent in page and signature.signer_name in page
    assert "v1" in page


def test_a_draft_has_no_printable_copy(client, org, admin):
    contract = cf.make_contract(org.school_a)
    factories.log_in(client, admin)
    assert client.get(f"/contracts/{contract.id}/print").status_code == 404
    assert "Preview" in client.get(f"/contracts/{contract.id}").get_data(as_text=True)


def test_the_contract_page_shows_its_timeline_from_the_audit_log(client, org, admin, teacher):
    contract = cf.active(org.school_a, teacher, countersigner=admin)
    factories.log_in(client, admin)
    page = client.get(f"/contracts/{contract.id}").get_data(as_text=True)
    for label in ("Draft created", "Issued to the party", "Signed by the party", "Countersigned by the school"):
        assert label in page


def test_navigation_offers_contracts_by_role(client, org, admin, teacher):
    factories.log_in(client, admin)
    page = client.get("/contracts/").get_data(as_text=True)
    assert 'href="/contracts/"' in page and 'href="/contracts/mine"' not in page
    factories.log_in(client, teacher)
    page = client.get("/contracts/mine").get_data(as_text=True)
    assert 'href="/contracts/mine"' in page and 'href="/contracts/"' not in page


def test_my_contracts_puts_those_waiting_for_a_signature_first(client, org, teacher):
    waiting = cf.issued(org.school_a, teacher)
    cf.active(org.school_a, teacher)
    factories.log_in(client, teacher)
    page = client.get("/contracts/mine").get_data(as_text=True)
    assert page.index(f"/contracts/mine/{waiting.id}/sign") < page.index("badge text-bg-success")


def test_extra_form_fields_cannot_change_status_party_or_text(client, org, admin, teacher, template):
    contract = cf.make_contract(org.school_a, teacher, template=template)
    other = cf.make_teacher(org.dept_a)
    factories.log_in(client, admin)
    response = client.post(f"/contracts/{contract.id}/edit", data={
        "template": template.id, "employer": org.school_a.id, "starts_on": "2026-09-01", "notice_days": "30",
        "currency": "CNY", "row_version": contract.row_version, "status": "active", "party_user_id": other.id,
        "party_id": other.id, "rendered_text": "forged", "rendered_sha256": "0" * 64})
    assert response.status_code == 302
    db.session.expire_all()
    contract = db.session.get(Contract, contract.id)
    assert (contract.status, contract.party_user_id, contract.party_id) == ("draft", teacher.id, teacher.id)
    assert contract.rendered_text is None and contract.rendered_sha256 is None


def test_the_signing_form_ignores_a_posted_ip_time_or_signer(client, org, teacher):
    contract = cf.issued(org.school_a, teacher)
    factories.log_in(client, teacher)
    client.post(f"/contracts/mine/{contract.id}/code")
    client.post(f"/contracts/mine/{contract.id}/sign", data={
        "code": cf.last_code(contract), "text_sha256": contract.rendered_sha256, "ip": "8.8.8.8",
        "signed_at": "2000-01-01T00:00:00", "signer_user_id": "1", "user_agent": "forged"})
    signature = _signature(contract)
    assert signature.ip == "127.0.0.1" and signature.signed_at.year > 2000
    assert signature.signer_user_id == teacher.id and signature.user_agent != "forged"
