"""Reads of the credentials pages (shared by views, reports and tasks); importable from here."""
from app.school.credentials.queries.lists import (
    STATUS_FILTERS,
    CredentialFilter,
    credential_types,
    credentials_for,
    local_today,
    open_renewals,
    queue_counts,
    renewals_queue,
    same_credential,
    same_document,
    same_training,
    schools_for,
    staff_by_number,
    staff_in_scope,
    status_of,
    statuses,
    training_queue,
    warning_days,
)
from app.school.credentials.queries.pages import (
    Certificate,
    CredentialPage,
    MyCertificates,
    credential_page,
    credentials_of,
    documents_by,
    missing_required,
    my_certificates,
    open_credentials_of,
    periods_of,
    training_of,
    upcoming_expiries,
)

__all__ = [
    "STATUS_FILTERS", "Certificate", "CredentialFilter", "CredentialPage", "MyCertificates", "credential_page",
    "credential_types", "credentials_for", "credentials_of", "documents_by", "local_today", "missing_required",
    "my_certificates", "open_credentials_of", "open_renewals", "periods_of", "queue_counts", "renewals_queue",
    "same_credential", "same_document", "same_training", "schools_for", "staff_by_number", "staff_in_scope",
    "status_of", "statuses",
    "training_of", "training_queue", "upcoming_expiries", "warning_days",
]
