"""Contract services: plain functions with the acting user passed in; they flush and audit, never commit."""
from app.general.contracts.services.common import local_today
from app.general.contracts.services.lifecycle import (
    TRANSITIONS,
    create_contract,
    delete_draft,
    end_contract,
    expire_contract,
    issue_contract,
    render_contract,
    require_draft,
    status_label,
    terminate_contract,
    update_draft,
)
from app.general.contracts.services.obligations import (
    add_obligation,
    mark_obligation_done,
    non_compete_periods,
    schedule_non_compete,
    waive_obligation,
)
from app.general.contracts.services.reminders import expire_due_contracts, send_expiry_reminders
from app.general.contracts.services.signing import (
    CODE_TTL,
    SigningCodeRejected,
    TooManyCodes,
    countersign,
    request_signing_code,
    sign_as_party,
    text_matches,
)
from app.general.contracts.services.templates import (
    create_template,
    latest_version,
    set_template_active,
    update_template,
)
from app.general.contracts.services.terms import clean_terms

__all__ = [
    "CODE_TTL", "SigningCodeRejected", "TRANSITIONS", "TooManyCodes", "add_obligation", "clean_terms",
    "countersign", "create_contract", "create_template", "delete_draft", "end_contract", "expire_contract",
    "expire_due_contracts", "issue_contract", "latest_version", "local_today", "mark_obligation_done",
    "non_compete_periods", "render_contract", "request_signing_code", "require_draft", "schedule_non_compete",
    "send_expiry_reminders", "set_template_active", "sign_as_party", "status_label", "terminate_contract",
    "text_matches", "update_draft", "update_template", "waive_obligation",
]
