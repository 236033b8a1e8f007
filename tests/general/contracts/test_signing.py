"""Signature evidence (check 28): server time, IP, user agent, SHA-256 of the exact text, template version,
and a one-time code sent through the outbox — hashed, short-lived, limited in attempts and in number."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, InvalidTransition, NotAllowed
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.models import AuditEvent
from app.general.contracts import services
from app.general.contracts.models import Signature, SigningCode
from app.general.contracts.services import signing
from app.general.notifications.models import Notification
from tests.general.contracts import factories as cf


def _sign(contract, user, code=None, **kwargs):
    return services.sign_as_party(contract, code=cf.last_code(contract) if code is None else code, user=user,
                                  ip=kwargs.pop("ip", cf.IP), user_agent=kwargs.pop("user_agent", cf.AGENT), **kwargs)


def test_the_signature_records_server_time_ip_agent_text_hash_version_and_code(org, teacher):
    contract = cf.issued(org.school_a, teacher)
    services.request_signing_code(contract, user=teacher)
    before = utcnow()
    signature = _sign(contract, teacher)
    after = utcnow()
    assert before <= signature.signed_at <= after  # the server's clock, nothing the client sent
    assert signature.ip == cf.IP and signature.user_agent == cf.AGENT
    assert signature.text_sha256 == hashlib.sha256(contract.rendered_text.encode("utf-8")).hexdigest()
    assert signature.text_sha256 == contract.rendered_sha256
    assert signature.template_version == contract.template_version == contract.template.version
    assert signature.signer_user_id == teacher.id and signature.signer_role == "party"
    assert before <= signature.otp_confirmed_at <= after
    code_row = db.session.scalar(sa.select(SigningCode).where(SigningCode.contract_id == contract.id))
    assert code_row.used_at == signature.otp_confirmed_at


def test_the_signature_is_audited_with_its_evidence(org, teacher):
    contract = cf.signed(org.school_a, teacher)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "contracts.signed"))
    assert event.actor_id == teacher.id and event.subject_id == str(contract.id)
    assert event.changes["sha256"] == contract.rendered_sha256 and event.changes["ip"] == cf.IP


def test_the_code_goes_through_the_outbox_by_email_to_the_party_and_is_stored_hashed(org, teacher):
    contract = cf.issued(org.school_a, teacher)
    row = services.request_signing_code(contract, user=teacher)
    mail = db.session.scalar(sa.select(Notification).where(Notification.idempotency_key == f"contract:{contract.id}"
                                                                                            f":code:{row.id}"))
    assert mail.channel == "email" and mail.recipient_address == teacher.email and mail.status == "pending"
    code = cf.last_code(contract)
    assert len(code) == 6 and code not in row.code_hash
    assert signing.code_matches(row.code_hash, contract.id, teacher.id, code)
    assert not signing.code_matches(row.code_hash, contract.id + 1, teacher.id, code)  # bound to this contract
    assert row.expires_at - row.created_at == timedelta(minutes=10)
    audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "contracts.signing_code_sent"))
    assert code not in str(audit.changes)


def test_the_code_goes_to_the_contracts_party_email_when_one_is_given(org, teacher):
    contract = cf.make_contract(org.school_a, teacher)
    contract.party_email = "private@example.test"
    services.issue_contract(contract, actor="system")
    row = services.request_signing_code(contract, user=teacher)
    assert row.sent_to == "private@example.test"


def test_a_wrong_code_is_refused_and_counted(org, teacher):
    contract = cf.issued(org.school_a, teacher)
    services.request_signing_code(contract, user=teacher)
    right = cf.last_code(contract)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    with pytest.raises(services.SigningCodeRejected) as refused:
        _sign(contract, teacher, wrong)
    assert refused.value.field == "code" and "4" in refused.value.message
    assert db.session.scalar(sa.select(SigningCode.attempts)) == 1
    assert contract.status == "issued" and not contract.signatures


def test_after_five_wrong_codes_even_the_right_one_is_refused(org, teacher):
    contract = cf.issued(org.school_a, teacher)
    services.request_signing_code(contract, user=teacher)
    right = cf.last_code(contract)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(signing.MAX_ATTEMPTS):
        with pytest.raises(services.SigningCodeRejected):
            _sign(contract, teacher, wrong)
    with pytest.raises(services.SigningCodeRejected) as refused:
        _sign(contract, teacher, right)
    assert "new code" in refused.value.message
    assert contract.status == "issued"


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_are_refused(org, teacher, code):
    contract = cf.issued(org.school_a, teacher)
    services.request_signing_code(contract, user=teacher)
    with pytest.raises(services.SigningCodeRejected):
        _sign(contract, teacher, code)


def test_an_expired_code_is_refused(org, teacher, monkeypatch):
    contract = cf.issued(org.school_a, teacher)
    services.request_signing_code(contract, user=teacher)
    later = utcnow() + timedelta(minutes=10, seconds=1)
    monkeypatch.setattr(signing, "utcnow", lambda: later)
    with pytest.raises(services.SigningCodeRejected) as refused:
        _sign(contract, teacher)
    assert "expired" in refused.value.message


def test_a_code_works_once(org, teacher):
    contract = cf.issued(org.school_a, teacher)
    services.request_signing_code(contract, user=teacher)
    code = cf.last_code(contract)
    _sign(contract, teacher, code)
    with pytest.raises(InvalidTransition):
        _sign(contract, teacher, code)


def test_a_used_code_cannot_sign_another_contract(org, teacher):
    first = cf.issued(org.school_a, teacher)
    second = cf.issued(org.school_a, teacher)
    services.request_signing_code(first, user=teacher)
    code = cf.last_code(first)
    with pytest.raises(services.SigningCodeRejected):
        _sign(second, teacher, code)


def test_a_new_code_replaces_the_previous_one(org, teacher):
    contract = cf.issued(org.school_a, teacher)
    services.request_signing_code(contract, user=teacher)
    old = cf.last_code(contract)
    services.request_signing_code(contract, user=teacher)
    new = cf.last_code(contract)
    if old != new:
        with pytest.raises(services.SigningCodeRejected):
            _sign(contract, teacher, old)
    _sign(contract, teacher, new)
    assert contract.status == "signed"


def test_at_most_five_codes_an_hour(org, teacher, monkeypatch):
    contract = cf.issued(org.school_a, teacher)
    for _ in range(signing.CODES_PER_HOUR):
        services.request_signing_code(contract, user=teacher)
    with pytest.raises(services.TooManyCodes) as refused:
        services.request_signing_code(contract, user=teacher)
    assert refused.value.status_code == 429
    later = utcnow() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(signing, "utcnow", lambda: later)
    services.request_signing_code(contract, user=teacher)


def test_only_the_party_may_ask_for_a_code_or_sign(org, teacher):
    contract = cf.issued(org.school_a, teacher)
    colleague = cf.make_teacher(org.dept_a)
    with pytest.raises(NotAllowed):
        services.request_signing_code(contract, user=colleague)
    services.request_signing_code(contract, user=teacher)
    with pytest.raises(NotAllowed):
        _sign(contract, colleague)
    assert contract.status == "issued"


def test_signing_refuses_a_text_other_than_the_one_shown(org, teacher):
    contract = cf.issued(org.school_a, teacher)
    services.request_signing_code(contract, user=teacher)
    with pytest.raises(Conflict):
        _sign(contract, teacher, shown_sha256="0" * 64)
    _sign(contract, teacher, shown_sha256=contract.rendered_sha256)


def test_signing_refuses_a_text_that_no_longer_matches_its_hash(org, teacher):
    contract = cf.issued(org.school_a, teacher)
    services.request_signing_code(contract, user=teacher)
    contract.rendered_text += " tampered"  # in memory only: the database would refuse the change
    with pytest.raises(Conflict):
        _sign(contract, teacher)
    db.session.rollback()


def test_the_school_countersignature_covers_the_same_text(org, admin, teacher):
    contract = cf.signed(org.school_a, teacher)
    signature = services.countersign(contract, actor=admin, ip="198.51.100.3", user_agent="Office PC")
    assert signature.signer_role == "school" and signature.text_sha256 == contract.rendered_sha256
    assert signature.otp_confirmed_at is None
    rows = db.session.scalars(sa.select(Signature).where(Signature.contract_id == contract.id)).all()
    assert len(rows) == 2 and len({row.text_sha256 for row in rows}) == 1


def test_the_school_is_told_when_the_party_has_signed(org, admin, teacher):
    head = cf.factories.make_user("head", unit=org.school_a)
    outsider = cf.factories.make_user("admin", unit=org.school_b)
    contract = cf.signed(org.school_a, teacher)
    told = set(db.session.scalars(sa.select(Notification.recipient_user_id).where(
        Notification.idempotency_key.like(f"contract:{contract.id}:signed:%"))))
    assert {admin.id, head.id} <= told and outsider.id not in told
