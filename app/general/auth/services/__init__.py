"""Business rules of the auth module: plain functions, the actor passed explicitly, audited, never committing."""
from app.general.auth.services.accounts import (
    create_admin,
    create_user,
    deactivate_user,
    reactivate_user,
    resend_invitation,
    reset_second_factor,
    set_locale,
    update_profile,
    update_user,
)
from app.general.auth.services.credentials import (
    change_password,
    request_password_reset,
    send_invitation,
    set_password,
)
from app.general.auth.services.signin import (
    authenticate,
    enable_second_factor,
    end_all_sessions,
    log_out,
    note_throttled,
    reauthenticate,
    regenerate_recovery_codes,
    remaining_recovery_codes,
    verify_second_factor,
)

__all__ = [
    "authenticate", "change_password", "create_admin", "create_user", "deactivate_user", "enable_second_factor",
    "end_all_sessions", "log_out", "note_throttled", "reactivate_user", "reauthenticate", "regenerate_recovery_codes",
    "remaining_recovery_codes", "request_password_reset", "resend_invitation", "reset_second_factor",
    "send_invitation", "set_locale", "set_password", "update_profile", "update_user", "verify_second_factor",
]
