"""Builders for contract tests: templates, contracts in each state, the code from the outbox."""
from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.general.auth.models import User
from app.general.contracts import services
from app.general.contracts.models import Contract, ContractTemplate
from app.general.notifications.models import Notification
from app.general.org.models import OrgUnit
from tests import factories

SYSTEM = "system"
BODY = (
    "{{ title }}\n\nBetween {{ employer_name }} (the employer) and {{ party_name }} (the employee).\n"
    "From {{ starts_on }}{% if ends_on %} to {{ ends_on }}{% endif %}. Notice: {{ notice_days }} days.\n"
)
IP, AGENT = "203.0.113.9", "Mozilla/5.0 (test browser)"


def make_template(unit: OrgUnit, *, kind: str = "labour", body: str = BODY, name: str | None = None,
                  locale: str = "en") -> ContractTemplate:
    return services.create_template(actor=SYSTEM, org_unit=unit, kind=kind, name=name or f"{kind} template",
                                    locale=locale, body=body)


def make_teacher(unit: OrgUnit, **kwargs) -> User:
    return factories.make_user("teacher", unit=unit, **kwargs)


def make_contract(unit: OrgUnit, party: User | None = None, *, template: ContractTemplate | None = None,
                  kind: str = "labour", starts_on: date = date(2026, 9, 1), ends_on: date | None = date(2028, 8, 31),
                  terms: dict | None = None, actor=SYSTEM) -> Contract:
    """A draft contract at `unit` (a school) for `party` (a teacher account, made when not given)."""
    party = party or make_teacher(unit)
    template = template or make_template(unit, kind=kind)
    default_terms = {"notice_days": 30}
    if template.kind == "non_compete":
        default_terms.update(non_compete_months=12, non_compete_monthly_compensation="3000.00")
    return services.create_contract(
        actor=actor, template=template, employer=unit, party_type="User", party_id=party.id,
        party_name=party.display_name, party_user=party, starts_on=starts_on, ends_on=ends_on,
        terms=terms if terms is not None else default_terms,
    )


def issued(unit: OrgUnit, party: User | None = None, **kwargs) -> Contract:
    contract = make_contract(unit, party, **kwargs)
    return services.issue_contract(contract, actor=SYSTEM)


def last_code(contract: Contract) -> str:
    """The six digits of the newest signing code e-mailed for `contract` (read from the outbox)."""
    row = db.session.scalar(
        sa.select(Notification)
        .where(Notification.idempotency_key.like(f"contract:{contract.id}:code:%"))
        .order_by(Notification.id.desc()).limit(1)
    )
    assert row is not None, "no signing code in the outbox"
    return re.search(r"\b(\d{6})\b", row.body_text).group(1)


def signed(unit: OrgUnit, party: User | None = None, **kwargs) -> Contract:
    contract = issued(unit, party, **kwargs)
    user = contract.party_user
    services.request_signing_code(contract, user=user)
    services.sign_as_party(contract, code=last_code(contract), user=user, ip=IP, user_agent=AGENT)
    return contract


def active(unit: OrgUnit, party: User | None = None, *, countersigner: User | None = None, **kwargs) -> Contract:
    contract = signed(unit, party, **kwargs)
    admin = countersigner or factories.make_user("admin", unit=unit)
    services.countersign(contract, actor=admin, ip="198.51.100.2", user_agent="Admin browser")
    return contract
