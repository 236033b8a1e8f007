"""The credentials services (writes and rules); importable from here."""
from app.school.credentials.services.records import (
    attach_document,
    correct_credential,
    documents_of,
    record_credential,
    revoke_credential,
)
from app.school.credentials.services.renewals import (
    HoursProgress,
    approve_renewal,
    hours_progress,
    new_period_start,
    open_renewal,
    reject_renewal,
    start_renewal,
    withdraw_renewal,
)
from app.school.credentials.services.training import reject_training, submit_training, verify_training
from app.school.credentials.services.types import clean_offsets, may_configure, save_type

__all__ = [
    "HoursProgress", "approve_renewal", "attach_document", "clean_offsets", "correct_credential", "documents_of",
    "hours_progress", "may_configure", "new_period_start", "open_renewal", "record_credential", "reject_renewal",
    "reject_training", "revoke_credential", "save_type", "start_renewal", "submit_training", "verify_training",
    "withdraw_renewal",
]
