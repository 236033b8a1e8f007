"""Credentials (certification periods) and their documents: record, correct, revoke, attach evidence."""
from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core import documents
from app.core.errors import Conflict, InvalidTransition, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import record
from app.school.credentials.models import (
    Credential,
    CredentialDocument,
    CredentialType,
    Renewal,
    RenewalStatus,
    TrainingRecord,
    TrainingStatus,
)
from app.school.credentials.services.common import (
    actor_id,
    check_can,
    clean_date,
    clean_optional_text,
    clean_text,
    guarded_flush,
    lock,
    raise_if,
)
from app.school.credentials.status import expiry_for
from app.school.staff.models import StaffMember, StaffStatus

log = logging.getLogger(__name__)

EDITABLE = ("number", "issuer", "issued_on", "expires_on", "note")


def clean_credential(credential_type: CredentialType, data: dict) -> dict:
    """Number, issuer, dates and note, checked. A blank expiry is computed from the type's validity.

    :raises ClassesInvalid: with `errors` by field.
    """
    clean, errors = {}, {}
    clean["number"], errors["number"] = clean_optional_text(data.get("number"), 60)
    clean["issuer"], errors["issuer"] = clean_optional_text(data.get("issuer"), 200)
    clean["note"], errors["note"] = clean_optional_text(data.get("note"), 500)
    clean["issued_on"], errors["issued_on"] = clean_date(data.get("issued_on"), missing=_("Enter the date of issue."))
    expires = data.get("expires_on")
    if expires in (None, ""):
        clean["expires_on"] = expiry_for(clean["issued_on"], credential_type.validity_years) \
            if clean["issued_on"] and not errors["issued_on"] else None
    else:
        # a date that does not parse is an error, never "no expiry"
        clean["expires_on"], errors["expires_on"] = clean_date(
            expires, missing=_("Enter the expiry date as a date, or leave it blank to compute it from the type."))
        if credential_type.validity_years is None and not errors["expires_on"]:
            errors["expires_on"] = _("%(type)s does not expire: leave the expiry date blank.",
                                     type=credential_type.name)
    if clean["issued_on"] and clean.get("expires_on") and not errors["issued_on"] and not errors.get("expires_on") \
            and clean["expires_on"] < clean["issued_on"]:
        errors["expires_on"] = _("The expiry date cannot be before the date of issue.")
    raise_if(errors)
    return clean


def record_credential(staff: StaffMember, credential_type: CredentialType, *, data: dict, actor: Any) -> Credential:
    """Record a credential a staff member holds (admin entry or import); audited.

    :raises NotAllowed: outside the actor's scope. :raises ValidationFailed: bad fields or an inactive type.
    """
    check_can(actor, "credentials.manage", staff)
    if not credential_type.is_active:
        raise ValidationFailed(_("%(type)s is no longer in use: choose another type.", type=credential_type.name),
                               field="type")
    if staff.status == StaffStatus.DEPARTED:
        raise ValidationFailed(_("%(name)s has left the school.", name=staff.full_name), field="staff")
    clean = clean_credential(credential_type, data)
    credential = Credential(staff=staff, type=credential_type, **clean)
    db.session.add(credential)
    guarded_flush()
    record("credential.recorded", subject=credential, actor=actor, changes={
        "staff": staff.employee_number, "type": credential_type.code, **clean})
    return credential


def correct_credential(credential: Credential, *, data: dict, actor: Any,
                       expected_version: int | None = None) -> Credential:
    """Correct a typing mistake in an open credential's details (never a renewed or revoked one); audited."""
    check_can(actor, "credentials.manage", credential)
    if not credential.is_open:
        raise Conflict(_("A renewed or revoked credential is history and cannot be changed."))
    lock(Credential, credential, expected_version)
    clean = clean_credential(credential.type, data)
    changes = {k: [getattr(credential, k), v] for k, v in clean.items() if getattr(credential, k) != v}
    for name, value in clean.items():
        setattr(credential, name, value)
    guarded_flush()
    record("credential.corrected", subject=credential, actor=actor, changes=changes)
    return credential


def revoke_credential(credential: Credential, *, reason: Any, actor: Any,
                      expected_version: int | None = None) -> Credential:
    """Withdraw a credential (e.g. a failed background check); it no longer qualifies; audited."""
    check_can(actor, "credentials.manage", credential)
    text, problem = clean_text(reason, missing=_("Say why the credential is revoked."), maximum=300)
    raise_if({"reason": problem})
    if credential.revoked_at is not None:
        return credential  # a second press changes nothing
    lock(Credential, credential, expected_version)
    credential.revoked_at, credential.revoked_reason = utcnow(), text
    guarded_flush()
    record("credential.revoked", subject=credential, actor=actor, changes={"reason": text})
    return credential


# --- documents --------------------------------------------------------------------------------------------


def _owner_fields(owner: Any) -> dict:
    if isinstance(owner, Credential):
        return {"credential_id": owner.id}
    if isinstance(owner, TrainingRecord):
        return {"training_id": owner.id}
    if isinstance(owner, Renewal):
        return {"renewal_id": owner.id}
    raise TypeError(f"documents attach to credentials, training records or renewals, not {owner!r}")


def _staff_of(owner: Any) -> StaffMember:
    return owner.credential.staff if isinstance(owner, Renewal) else owner.staff


def attach_document(owner: Credential | TrainingRecord | Renewal, *, data: bytes, filename: str | None,
                    actor: Any) -> CredentialDocument:
    """Store an uploaded PDF/image as evidence of `owner`; the teacher may attach to their own records.

    The file is written first and removed again if the transaction is rolled back.
    :raises ValidationFailed: (field "document") empty, too large, wrong type. :raises InvalidTransition: a
    renewal or training record already decided.
    """
    check_can(actor, "credentials.attach", owner)
    # the evidence a decision saw stays as it was
    if isinstance(owner, Renewal) and owner.status != RenewalStatus.SUBMITTED:
        raise InvalidTransition(_("This renewal was already decided: no more evidence can be added."))
    if isinstance(owner, TrainingRecord) and owner.status != TrainingStatus.SUBMITTED:
        raise InvalidTransition(_("This training record was already decided: no more evidence can be added."))
    stored = documents.store_document(data, filename)
    documents.discard_if_rolled_back(db.session(), stored.stored_name)
    document = CredentialDocument(
        staff_id=_staff_of(owner).id, stored_name=stored.stored_name, original_name=stored.original_name,
        content_type=stored.content_type, size=stored.size, sha256=stored.sha256, uploaded_by_id=actor_id(actor),
        **_owner_fields(owner))
    db.session.add(document)
    db.session.flush()
    record("credential_document.uploaded", subject=document, actor=actor, changes={
        "name": stored.original_name, "type": stored.content_type, "size": stored.size, "sha256": stored.sha256,
        **_owner_fields(owner)})
    return document


def documents_of(owner: Credential | TrainingRecord | Renewal) -> list[CredentialDocument]:
    """The documents attached to one record, oldest first."""
    (column, value), = _owner_fields(owner).items()
    return list(db.session.scalars(sa.select(CredentialDocument).where(
        getattr(CredentialDocument, column) == value).order_by(CredentialDocument.id)))
