"""The demo contracts: an active labour contract with a realistic signature trail for every demo staff member
with an account, some confidentiality and non-compete agreements, one contract waiting for a signature."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.general.contracts import rendering
from app.general.contracts.models import Contract, ContractTemplate, Signature
from app.school import demo
from app.school.staff import demo_contracts
from app.school.staff.models import StaffMember


def _contracts() -> list[Contract]:
    return list(db.session.scalars(sa.select(Contract).order_by(Contract.id)))


def test_nothing_happens_without_staff_members(db, org):
    demo_contracts.load({"RIVERSIDE": org.district}, {}, demo.LoadResult())
    assert _contracts() == [] and db.session.scalar(sa.select(sa.func.count()).select_from(ContractTemplate)) == 0


def test_every_linked_staff_member_has_an_active_labour_contract_signed_by_both_sides(db):
    demo.load_all()
    linked = db.session.scalars(sa.select(StaffMember).where(StaffMember.user_id.is_not(None))).all()
    assert linked
    for member in linked:
        labour = [c for c in _contracts() if c.party_type == "StaffMember" and c.party_id == member.id
                  and c.kind == "labour"]
        assert len(labour) == 1, member.full_name
        contract = labour[0]
        assert contract.status == "active" and contract.party_user_id == member.user_id
        assert contract.employer_id == member.school_id
        assert contract.rendered_sha256 == rendering.sha256_text(contract.rendered_text)
        assert member.full_name in contract.rendered_text
        assert sorted(s.signer_role for s in contract.signatures) == ["party", "school"]
        for signature in contract.signatures:
            assert (signature.ip, signature.user_agent) == ("127.0.0.1", "demo loader")
            assert signature.text_sha256 == contract.rendered_sha256
            assert signature.signed_at < contract.activated_at or signature.signer_role == "school"


def test_some_have_confidentiality_and_non_compete_agreements_with_obligations(db):
    demo.load_all()
    kinds = [c.kind for c in _contracts() if c.status == "active"]
    assert kinds.count("confidentiality") >= 2 and kinds.count("non_compete") >= 2
    non_compete = next(c for c in _contracts() if c.kind == "non_compete")
    assert non_compete.terms["non_compete_months"] == 12
    assert len([o for o in non_compete.obligations if o.kind == "non_compete_compensation"]) == 12
    assert {str(o.amount) for o in non_compete.obligations} == {"3000.00"}


def test_one_teacher_has_a_contract_waiting_for_their_signature(db):
    demo.load_all()
    [waiting] = [c for c in _contracts() if c.status == "issued"]
    assert waiting.party_user.email.startswith(demo_contracts.WAITING_FOR + "@")
    assert waiting.signatures == [] and waiting.rendered_text


def test_templates_exist_in_english_and_chinese_for_each_kind(db):
    demo.load_all()
    templates = db.session.scalars(sa.select(ContractTemplate)).all()
    assert {(t.kind, t.locale) for t in templates} == {(k, lang) for k in ("labour", "confidentiality", "non_compete")
                                                       for lang in ("en", "zh")}
    zh = next(c for c in _contracts() if c.template.locale == "zh" and c.kind == "labour")
    assert "劳动合同法" in zh.rendered_text


def test_loading_again_adds_no_contract(db):
    demo.load_all()
    counts = (len(_contracts()), db.session.scalar(sa.select(sa.func.count()).select_from(Signature)))
    again = demo.load_all()
    assert "contracts" not in again.other_created and not again.changed
    assert (len(_contracts()), db.session.scalar(sa.select(sa.func.count()).select_from(Signature))) == counts
