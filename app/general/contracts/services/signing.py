"""E-signature: a one-time code e-mailed to the party, the party's signature, the school's countersignature.

Each signature stores the evidence: signer, server time, client IP (as ProxyFix resolved it), user agent,
the SHA-256 of the exact text, the template version and when the one-time code was confirmed.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.core.errors import Conflict, DomainError, InvalidTransition, NotAllowed, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.general.auth.models import Role, User
from app.general.contracts import rendering
from app.general.contracts.models import Contract, ContractStatus, Signature, SignerRole, SigningCode
from app.general.contracts.services.common import admins_of, audit, check_version, flush, link, require_can
from app.general.contracts.services.lifecycle import activate, transition
from app.general.notifications.services import notify, notify_user

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=10)
CODES_PER_HOUR = 5
MAX_ATTEMPTS = 5
USER_AGENT_MAX = 500
_CODE = re.compile(r"^\d{6}$")


class SigningCodeRejected(ValidationFailed):
    """A wrong, expired or used code. The attempt was counted: the caller commits before answering."""


class TooManyCodes(DomainError):
    """More codes asked for than the hourly limit allows."""

    status_code = 429


def _digest(salt: str, contract_id: int, user_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"contract-signing|{contract_id}|{user_id}|{salt}|{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def hash_code(contract_id: int, user_id: int, code: str) -> str:
    """A keyed, salted hash: six digits are too few for a plain hash to protect."""
    salt = secrets.token_hex(8)
    return f"hmac-sha256${salt}${_digest(salt, contract_id, user_id, code)}"


def code_matches(stored: str, contract_id: int, user_id: int, code: str) -> bool:
    """Constant-time check of a submitted code against the stored hash."""
    try:
        _algorithm, salt, digest = stored.split("$", 2)
    except ValueError:
        return False
    return hmac.compare_digest(digest, _digest(salt, contract_id, user_id, code))


def _require_party(contract: Contract, user: User) -> None:
    if contract.party_user_id is None or user.id != contract.party_user_id:
        raise NotAllowed(_("Only the party named in the contract can sign it."))


def _require_issued(contract: Contract) -> None:
    if contract.status != ContractStatus.ISSUED:
        raise InvalidTransition(_("This contract is not waiting for your signature."))


def _mask(address: str) -> str:
    name, _sep, domain = address.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"


def request_signing_code(contract: Contract, *, user: User) -> SigningCode:
    """E-mail a fresh 6-digit code (valid 10 minutes) to the party; earlier unused codes stop working.

    :raises TooManyCodes: after five codes within an hour. :raises InvalidTransition: unless issued.
    """
    _require_party(contract, user)
    _require_issued(contract)
    now = utcnow()
    recent = db.session.scalar(
        sa.select(sa.func.count()).select_from(SigningCode)
        .where(SigningCode.user_id == user.id, SigningCode.created_at > now - timedelta(hours=1))
    )
    if recent >= CODES_PER_HOUR:
        raise TooManyCodes(_("You have asked for %(n)d codes within an hour. Wait a while, then ask again.",
                             n=CODES_PER_HOUR))
    db.session.execute(
        sa.update(SigningCode)
        .where(SigningCode.contract_id == contract.id, SigningCode.user_id == user.id,
               SigningCode.used_at.is_(None), SigningCode.expires_at > now)
        .values(expires_at=now)
        .execution_options(synchronize_session="fetch")
    )
    code = f"{secrets.randbelow(10**6):06d}"
    address = contract.party_email or user.email
    row = SigningCode(contract_id=contract.id, user_id=user.id, code_hash=hash_code(contract.id, user.id, code),
                      sent_to=address, created_at=now, expires_at=now + CODE_TTL, attempts=0)
    db.session.add(row)
    flush()
    notify(template="contracts/messages/signing_code", channel="email", key=f"contract:{contract.id}:code:{row.id}",
           user=user, address=address, context={"code": code, "title": contract.title,
                                                 "minutes": int(CODE_TTL.total_seconds() // 60)})
    audit("signing_code_sent", contract, user, code_id=row.id, sent_to=_mask(address))
    log.info("signing code %s sent for contract %s", row.id, contract.id)
    return row


def _current_code(contract: Contract, user: User) -> SigningCode | None:
    stmt = (
        sa.select(SigningCode)
        .where(SigningCode.contract_id == contract.id, SigningCode.user_id == user.id, SigningCode.used_at.is_(None))
        .order_by(SigningCode.created_at.desc(), SigningCode.id.desc())
        .limit(1)
    )
    return db.session.scalar(stmt)


def _consume_code(contract: Contract, user: User, code: str) -> SigningCode:
    """The matching current code, marked used; a wrong one counts an attempt.

    :raises SigningCodeRejected: wrong, expired, used up, or never asked for.
    """
    row, now = _current_code(contract, user), utcnow()
    if row is None or row.expires_at <= now:
        raise SigningCodeRejected(_("This code has expired or was not asked for: ask for a new code."), field="code")
    if row.attempts >= MAX_ATTEMPTS:
        raise SigningCodeRejected(_("Too many wrong codes: ask for a new code."), field="code")
    code = re.sub(r"\s", "", code or "")
    if not _CODE.match(code) or not code_matches(row.code_hash, contract.id, user.id, code):
        row.attempts += 1
        flush()
        audit("signing_code_wrong", contract, user, code_id=row.id, attempts=row.attempts)
        left = MAX_ATTEMPTS - row.attempts
        message = (_("Wrong code. %(n)d attempt(s) left.", n=left) if left
                   else _("Wrong code. Too many wrong codes: ask for a new code."))
        raise SigningCodeRejected(message, field="code")
    row.used_at = now
    return row


def text_matches(contract: Contract) -> bool:
    """True when the frozen text still hashes to its stored SHA-256."""
    return contract.rendered_text is not None and hmac.compare_digest(
        rendering.sha256_text(contract.rendered_text), contract.rendered_sha256 or "")


def check_text(contract: Contract, shown_sha256: str | None = None) -> None:
    """The frozen text still hashes to the stored SHA-256 (and to what the signer was shown).

    :raises Conflict: when they differ.
    """
    if not text_matches(contract):
        log.error("contract %s: the stored text does not match its SHA-256", contract.id)
        raise Conflict(_("The contract's text does not match its fingerprint. It cannot be signed: "
                         "contact the school."))
    if shown_sha256 is not None and not hmac.compare_digest(shown_sha256, contract.rendered_sha256):
        raise Conflict(_("The text changed after you opened the page. Read it again, then sign."))


def _signature(contract: Contract, role: str, user: User, *, ip: str, user_agent: str, at, otp_at=None) -> Signature:
    signature = Signature(
        contract=contract, signer_role=role, signer_user_id=user.id, signer_name=user.display_name,
        signer_email=user.email, signed_at=at, ip=(ip or "unknown")[:64],
        user_agent=(user_agent or "")[:USER_AGENT_MAX],
        text_sha256=contract.rendered_sha256, template_version=contract.template_version, otp_confirmed_at=otp_at,
    )
    db.session.add(signature)
    return signature


def sign_as_party(contract: Contract, *, code: str, user: User, ip: str, user_agent: str,
                  shown_sha256: str | None = None) -> Signature:
    """The party signs the exact issued text after confirming the one-time code; the school is told.

    :raises SigningCodeRejected: for a wrong/expired/used code (commit, to keep the attempt count).
    """
    _require_party(contract, user)
    _require_issued(contract)
    check_text(contract, shown_sha256)
    code_row = _consume_code(contract, user, code)
    now = utcnow()
    signature = _signature(contract, SignerRole.PARTY, user, ip=ip, user_agent=user_agent, at=now,
                           otp_at=code_row.used_at)
    transition(contract, "sign")
    contract.signed_at = now
    flush()
    for admin in admins_of(contract.employer, (Role.ADMIN, Role.HEAD)):
        notify_user(admin, template="contracts/messages/signed", key=f"contract:{contract.id}:signed:{admin.id}",
                    context={"title": contract.title, "party_name": contract.party_name,
                             "employer_name": contract.employer.name,
                             "link": link("contracts.show", contract_id=contract.id)})
    audit("signed", contract, user, role=SignerRole.PARTY, signature_id=signature.id, sha256=signature.text_sha256,
          ip=signature.ip, user_agent=signature.user_agent, template_version=signature.template_version,
          code_id=code_row.id)
    log.info("contract %s signed by the party", contract.id)
    return signature


def countersign(contract: Contract, *, actor: User, ip: str, user_agent: str,
                expected_version: int | None = None) -> Signature:
    """The school signs after the party: the contract comes into force and its obligations are created.

    :raises InvalidTransition: unless signed by the party. :raises NotAllowed: for the party themself.
    """
    check_version(contract, expected_version)
    require_can(actor, "contracts.countersign", contract)
    if actor.id == contract.party_user_id:
        raise NotAllowed(_("The party cannot countersign their own contract."))
    if contract.status != ContractStatus.SIGNED:
        raise InvalidTransition(_("The school countersigns after the party has signed."))
    check_text(contract)
    party = contract.signature_of(SignerRole.PARTY)
    if party is None or party.text_sha256 != contract.rendered_sha256:
        raise Conflict(_("The party's signature does not cover this text."))
    signature = _signature(contract, SignerRole.SCHOOL, actor, ip=ip, user_agent=user_agent, at=utcnow())
    activate(contract, actor=actor)
    audit("countersigned", contract, actor, role=SignerRole.SCHOOL, signature_id=signature.id,
          sha256=signature.text_sha256, ip=signature.ip, user_agent=signature.user_agent,
          template_version=signature.template_version)
    log.info("contract %s countersigned and active", contract.id)
    return signature
