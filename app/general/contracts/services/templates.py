"""Contract templates: create, save a new version, retire and reuse. Old versions stay as they were."""
from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.core.errors import Conflict, ValidationFailed
from app.extensions import db
from app.general.contracts import rendering
from app.general.contracts.models import ContractKind, ContractTemplate
from app.general.contracts.services.common import SYSTEM, require_can
from app.general.org.models import OrgUnit

log = logging.getLogger(__name__)

NAME_MAX = 200


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed(_("Enter a name."), field="name")
    if len(name) > NAME_MAX:
        raise ValidationFailed(_("A name has at most %(n)d characters.", n=NAME_MAX), field="name")
    return name


def _clean_kind(kind: str | None) -> ContractKind:
    try:
        return ContractKind(kind)
    except ValueError:
        raise ValidationFailed(_("Choose the kind of contract."), field="kind") from None


def _clean_locale(locale: str | None) -> str:
    if locale not in current_app.config.get("LANGUAGES", {"en": "English"}):
        raise ValidationFailed(_("Choose the language of the text."), field="locale")
    return locale


def _audit(action: str, template: ContractTemplate, actor: Any, **changes: Any) -> None:
    from app.general.audit.services import record

    record(f"contracts.{action}", subject=template, actor=actor, changes=changes)


def latest_version(family: str) -> ContractTemplate | None:
    """The newest version of a template family."""
    stmt = sa.select(ContractTemplate).where(ContractTemplate.family == family)
    return db.session.scalar(stmt.order_by(ContractTemplate.version.desc()).limit(1))


def create_template(*, actor: Any, org_unit: OrgUnit, kind: str, name: str, locale: str, body: str) -> ContractTemplate:
    """A new template (version 1) owned by `org_unit`.

    :raises ValidationFailed: for a bad field, e.g. an unknown placeholder in the body.
    """
    require_can(actor, "contracts.manage", org_unit)
    template = ContractTemplate(
        family=uuid.uuid4().hex, version=1, kind=_clean_kind(kind), name=_clean_name(name),
        locale=_clean_locale(locale), body=rendering.check_body(body), org_unit=org_unit, is_active=True,
        created_by_id=None if actor == SYSTEM else actor.id,
    )
    db.session.add(template)
    db.session.flush()
    _audit("template_created", template, actor, name=template.name, kind=template.kind, version=1)
    log.info("contract template %s created", template.id)
    return template


def update_template(template: ContractTemplate, *, actor: Any, name: str, locale: str, body: str) -> ContractTemplate:
    """Save a changed template as a new version (the old one stays, for the contracts that used it).

    Returns the new version, or `template` itself when nothing changed.

    :raises Conflict: when `template` is not the newest version (someone saved in the meantime).
    """
    require_can(actor, "contracts.manage", template)
    name, locale, body = _clean_name(name), _clean_locale(locale), rendering.check_body(body)
    if (name, locale, body) == (template.name, template.locale, template.body):
        return template
    latest = latest_version(template.family)
    if latest is None or latest.id != template.id:
        raise Conflict(_("A newer version of this template was saved in the meantime: open it and edit that one."))
    new = ContractTemplate(
        family=template.family, version=template.version + 1, kind=template.kind, name=name, locale=locale,
        body=body, org_unit_id=template.org_unit_id, is_active=template.is_active,
        created_by_id=None if actor == SYSTEM else actor.id,
    )
    template.is_active = False  # new contracts use the newest version; issued ones keep theirs
    try:
        with db.session.begin_nested():
            db.session.add(new)
    except sa.exc.IntegrityError:
        raise Conflict(_("A newer version of this template was saved in the meantime: open it and edit that one.")) \
            from None
    _audit("template_version_saved", new, actor, family=new.family, version=new.version,
           previous_version=template.version, name=name)
    log.info("contract template %s saved as version %s", new.family, new.version)
    return new


def set_template_active(template: ContractTemplate, *, actor: Any, active: bool) -> ContractTemplate:
    """Retire the newest version of a template (no new contracts use it) or bring it back.

    :raises Conflict: when `template` is an older version.
    """
    require_can(actor, "contracts.manage", template)
    latest = latest_version(template.family)
    if latest is None or latest.id != template.id:
        raise Conflict(_("Only the newest version of a template can be retired or reused."))
    if template.is_active != active:
        template.is_active = active
        db.session.flush()
        _audit("template_activated" if active else "template_retired", template, actor, version=template.version)
    return template
