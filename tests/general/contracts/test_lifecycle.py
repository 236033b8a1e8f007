"""The contract workflow: guarded transitions, locked text after issue, optimistic locking, audit."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from app.core.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from app.extensions import db
from app.general.audit.queries import events_for_subject
from app.general.contracts import rendering, services
from app.general.contracts.models import Contract, ContractLocked, Signature
from app.general.notifications.models import Notification
from tests import factories
from tests.general.contracts import factories as cf


def test_a_draft_is_issued_signed_countersigned_and_becomes_active(org, admin, teacher):
    contract = cf.make_contract(org.school_a, teacher)
    assert contract.status == "draft" and contract.rendered_text is None
    services.issue_contract(contract, actor=admin)
    assert contract.status == "issued" and contract.issued_at is not None
    assert contract.rendered_sha256 == rendering.sha256_text(contract.rendered_text)
    assert teacher.display_name in contract.rendered_text and "School A" in contract.rendered_text
    services.request_signing_code(contract, user=teacher)
    services.sign_as_party(contract, code=cf.last_code(contract), user=teacher, ip=cf.IP, user_agent=cf.AGENT)
    assert contract.status == "signed"
    services.countersign(contract, actor=admin, ip="198.51.100.7", user_agent="Admin")
    assert contract.status == "active" and contract.activated_at is not None
    actions = [e.action for e in events_for_subject("Contract", contract.id)]
    assert actions[:2] == ["contracts.created", "contracts.issued"]
    assert {"contracts.signing_code_sent", "contracts.signed", "contracts.countersigned"} <= set(actions)


def test_issuing_tells_the_party_in_the_inbox_and_by_email_with_a_link(org, admin, teacher):
    contract = services.issue_contract(cf.make_contract(org.school_a, teacher), actor=admin)
    rows = db.session.scalars(sa.select(Notification).where(
        Notification.idempotency_key.like(f"contract:{contract.id}:issued:%"))).all()
    assert {row.channel for row in rows} == {"inbox", "email"}
    assert all(row.recipient_user_id == teacher.id for row in rows)
    assert all(f"/contracts/mine/{contract.id}" in row.body_text for row in rows)


@pytest.mark.parametrize("action", ["sign", "countersign", "end", "expire"])
def test_a_draft_cannot_skip_ahead(org, admin, teacher, action):
    contract = cf.make_contract(org.school_a, teacher)
    calls = {
        "sign": lambda: services.sign_as_party(contract, code="123456", user=teacher, ip="1.2.3.4", user_agent=""),
        "countersign": lambda: services.countersign(contract, actor=admin, ip="1.2.3.4", user_agent=""),
        "end": lambda: services.end_contract(contract, actor=admin),
        "expire": lambda: services.expire_contract(contract, on=date(2030, 1, 1)),
    }
    with pytest.raises(InvalidTransition):
        calls[action]()
    assert contract.status == "draft"


def test_issuing_twice_and_countersigning_before_the_party_are_refused(org, admin, teacher):
    contract = cf.issued(org.school_a, teacher)
    with pytest.raises(InvalidTransition):
        services.issue_contract(contract, actor=admin)
    with pytest.raises(InvalidTransition):
        services.countersign(contract, actor=admin, ip="1.2.3.4", user_agent="")


def test_a_finished_contract_stays_finished(org, admin):
    contract = cf.active(org.school_a)
    services.terminate_contract(contract, actor=admin, reason="Moved away", on=date(2027, 1, 31))
    assert contract.status == "terminated" and contract.ended_on == date(2027, 1, 31)
    for call in (lambda: services.end_contract(contract, actor=admin),
                 lambda: services.terminate_contract(contract, actor=admin, reason="again")):
        with pytest.raises(InvalidTransition):
            call()


def test_termination_needs_a_reason(org, admin):
    contract = cf.active(org.school_a)
    with pytest.raises(ValidationFailed) as refused:
        services.terminate_contract(contract, actor=admin, reason="  ")
    assert refused.value.field == "reason"


def test_an_active_contract_expires_only_after_its_last_day(org):
    contract = cf.active(org.school_a, ends_on=date(2027, 8, 31))
    with pytest.raises(InvalidTransition):
        services.expire_contract(contract, on=date(2027, 8, 31))
    services.expire_contract(contract, on=date(2027, 9, 1))
    assert contract.status == "expired" and contract.ended_on == date(2027, 8, 31)


def test_edits_after_issue_are_refused_by_the_service(org, admin, teacher):
    contract = cf.issued(org.school_a, teacher)
    with pytest.raises(InvalidTransition):
        services.update_draft(contract, actor=admin, title="Changed", starts_on=contract.starts_on,
                              ends_on=contract.ends_on, terms={"notice_days": 3})
    with pytest.raises(InvalidTransition):
        services.delete_draft(contract, actor=admin)


@pytest.mark.parametrize("field,value", [
    ("rendered_text", "A different text"), ("rendered_sha256", "0" * 64), ("terms", {"notice_days": 3}),
    ("title", "Changed"), ("ends_on", date(2030, 1, 1)), ("status", "draft"),
])
def test_edits_after_signing_are_refused_by_the_model(org, field, value):
    contract = cf.signed(org.school_a)
    setattr(contract, field, value)
    with pytest.raises(ContractLocked):
        db.session.flush()
    db.session.rollback()


def _raw(statement: str, **params) -> None:
    with db.session.begin_nested():
        db.session.execute(sa.text(statement), params)


def test_the_database_refuses_to_change_a_signed_text_or_a_signature(org):
    contract = cf.signed(org.school_a)
    db.session.flush()
    for statement in (
        "UPDATE contracts SET rendered_text = 'forged' WHERE id = :id",
        "UPDATE contracts SET terms = '{}' WHERE id = :id",
        "UPDATE contracts SET status = 'draft' WHERE id = :id",
        "DELETE FROM contracts WHERE id = :id",
        "UPDATE contract_signatures SET text_sha256 = 'x' WHERE contract_id = :id",
        "UPDATE contract_signatures SET ip = '10.0.0.1' WHERE contract_id = :id",
        "DELETE FROM contract_signatures WHERE contract_id = :id",
    ):
        with pytest.raises(sa.exc.DatabaseError):
            _raw(statement, id=contract.id)
    db.session.expire_all()
    fresh = db.session.get(Contract, contract.id)
    assert fresh.rendered_sha256 == rendering.sha256_text(fresh.rendered_text)
    assert len(fresh.signatures) == 1


def test_status_and_bookkeeping_columns_may_still_change_after_issue(org):
    contract = cf.signed(org.school_a)
    _raw("UPDATE contracts SET party_email = 'new@example.test' WHERE id = :id", id=contract.id)


def test_changing_the_template_after_signing_does_not_change_what_was_signed(org, admin):
    contract = cf.active(org.school_a)
    text, digest, version = contract.rendered_text, contract.rendered_sha256, contract.template_version
    new = services.update_template(contract.template, actor=admin, name=contract.template.name, locale="en",
                                   body="Completely new wording for {{ party_name }}.")
    assert new.version == version + 1 and new.id != contract.template_id
    db.session.expire_all()
    again = db.session.get(Contract, contract.id)
    assert (again.rendered_text, again.rendered_sha256, again.template_version) == (text, digest, version)
    assert all(s.text_sha256 == digest and s.template_version == version for s in again.signatures)
    later = cf.make_contract(org.school_a, template=new)
    services.issue_contract(later, actor=admin)
    assert later.rendered_text.startswith("Completely new wording") and later.template_version == version + 1


def test_old_template_versions_stay_and_only_the_newest_is_used_for_new_contracts(org, admin, template):
    new = services.update_template(template, actor=admin, name="Renamed", locale="en", body=template.body + "\nMore.")
    assert not template.is_active and new.is_active and new.family == template.family
    with pytest.raises(ValidationFailed) as refused:
        cf.make_contract(org.school_a, template=template)
    assert refused.value.field == "template"
    with pytest.raises(Conflict):
        services.update_template(template, actor=admin, name="Old", locale="en", body="stale {{ party_name }}")


def test_an_unchanged_template_is_not_a_new_version(admin, template):
    same = services.update_template(template, actor=admin, name=template.name, locale=template.locale,
                                    body=template.body.replace("\n", "\r\n"))
    assert same is template


def test_a_stale_form_gets_a_conflict(org, admin, teacher):
    contract = cf.make_contract(org.school_a, teacher)
    seen = contract.row_version
    services.update_draft(contract, actor=admin, expected_version=seen, title="First", starts_on=contract.starts_on,
                          ends_on=contract.ends_on, terms={"notice_days": 30})
    with pytest.raises(Conflict):
        services.update_draft(contract, actor=admin, expected_version=seen, title="Second",
                              starts_on=contract.starts_on, ends_on=contract.ends_on, terms={"notice_days": 30})
    with pytest.raises(Conflict):
        services.issue_contract(contract, actor=admin, expected_version=seen)


def test_two_sessions_changing_the_same_contract_one_gets_a_conflict(app, org, admin, teacher):
    contract = cf.make_contract(org.school_a, teacher)
    db.session.flush()
    # a second admin's unit of work (on the test's connection, so that the rollback after the test undoes it)
    other = orm.Session(bind=db.session.connection(), join_transaction_mode="create_savepoint")
    theirs = other.get(Contract, contract.id)
    theirs.title = "Changed elsewhere"
    other.commit()
    other.close()
    with pytest.raises(Conflict):
        services.update_draft(contract, actor=admin, title="Mine", starts_on=contract.starts_on,
                              ends_on=contract.ends_on, terms={"notice_days": 30})


def test_an_admin_of_another_school_cannot_act_on_the_contract(org):
    contract = cf.make_contract(org.school_a)
    outsider = factories.make_user("admin", unit=org.school_b)
    with pytest.raises(NotAllowed):
        services.issue_contract(contract, actor=outsider)
    with pytest.raises(NotAllowed):
        cf.make_contract(org.school_b, template=contract.template,
                         actor=factories.make_user("admin", unit=org.school_a))


def test_the_party_cannot_countersign_their_own_contract(org):
    head = factories.make_user("head", unit=org.school_a)
    contract = cf.signed(org.school_a, head)
    with pytest.raises(NotAllowed):
        services.countersign(contract, actor=head, ip="1.2.3.4", user_agent="")


@pytest.mark.parametrize("terms,field", [
    ({"notice_days": -1}, "notice_days"),
    ({"notice_days": "soon"}, "notice_days"),
    ({"probation_ends_on": "2020-01-01"}, "probation_ends_on"),
    ({"non_compete_months": 25, "non_compete_monthly_compensation": "3000"}, "non_compete_months"),
    ({"non_compete_months": 12}, "non_compete_monthly_compensation"),
    ({"non_compete_monthly_compensation": "3000"}, "non_compete_months"),
    ({"non_compete_months": 6, "non_compete_monthly_compensation": "3,000.x"}, "non_compete_monthly_compensation"),
    ({"currency": "yuan"}, "currency"),
])
def test_bad_terms_are_refused_at_their_field(org, terms, field):
    with pytest.raises(ValidationFailed) as refused:
        cf.make_contract(org.school_a, terms=terms)
    assert refused.value.field == field


def test_terms_are_stored_as_json_with_money_as_a_decimal_string(org):
    contract = cf.make_contract(org.school_a, kind="non_compete",
                                terms={"non_compete_months": "12", "non_compete_monthly_compensation": "3000.5"})
    assert contract.terms["non_compete_months"] == 12
    assert contract.terms["non_compete_monthly_compensation"] == "3000.50"
    assert contract.terms["currency"] == "CNY"


def test_a_non_compete_agreement_needs_its_months(org):
    with pytest.raises(ValidationFailed) as refused:
        cf.make_contract(org.school_a, kind="non_compete", terms={})
    assert refused.value.field == "non_compete_months"


def test_a_draft_can_be_deleted_and_the_deletion_is_audited(org, admin):
    contract = cf.make_contract(org.school_a)
    contract_id = contract.id
    services.delete_draft(contract, actor=admin)
    assert db.session.get(Contract, contract_id) is None
    assert events_for_subject("Contract", contract_id)[-1].action == "contracts.draft_deleted"


def test_signatures_belong_to_their_contract_once_per_role(org):
    contract = cf.active(org.school_a)
    roles = db.session.scalars(sa.select(Signature.signer_role).where(Signature.contract_id == contract.id)).all()
    assert sorted(roles) == ["party", "school"]
