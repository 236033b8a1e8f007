"""Writing to the audit chain, verifying it, and exporting checkpoints outside the database."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request
from flask_login import current_user

from app.core.models import utcnow
from app.extensions import db
from app.general.audit.models import GENESIS_HASH, SQLITE_TRIGGERS, AuditEvent

log = logging.getLogger(__name__)

# Any constant works; it names the advisory lock that serialises the chain head on PostgreSQL.
_PG_CHAIN_LOCK = 0x5354_4146_4155_4400 & 0x7FFF_FFFF_FFFF_FFFF
SYSTEM = "system"


def _key() -> bytes:
    key = current_app.config.get("AUDIT_HMAC_KEY") or ""
    if not key:
        raise RuntimeError("AUDIT_HMAC_KEY is not configured")
    return key.encode()


def _plain(value: Any) -> Any:
    """JSON-safe copy (Decimals, dates and sets become strings) so what is stored is what was hashed."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def canonical(event: AuditEvent) -> bytes:
    """The exact bytes that the event's HMAC covers."""
    fields = {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "ip": event.ip,
        "request_id": event.request_id,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "scope_path": event.scope_path,
        "changes": event.changes,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(key: bytes, prev_hash: str, event: AuditEvent) -> str:
    """HMAC-SHA256 over the previous hash and the canonical event."""
    return hmac.new(key, prev_hash.encode() + canonical(event), hashlib.sha256).hexdigest()


def _actor_fields(actor: Any) -> tuple[int | None, str]:
    if actor == SYSTEM:
        return None, SYSTEM
    if actor is None and has_request_context() and current_user and current_user.is_authenticated:
        actor = current_user
    if actor is None:
        return None, SYSTEM if not has_request_context() else "anonymous"
    return actor.id, actor.email


def _scope_path(unit: Any, subject: Any) -> str | None:
    from app.general.auth.policy import scope_unit_of

    unit = unit if unit is not None else scope_unit_of(subject)
    return getattr(unit, "path", None)


def _lock_head() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})


def record(
    action: str,
    *,
    subject: Any = None,
    subject_type: str | None = None,
    subject_id: Any = None,
    changes: dict | None = None,
    actor: Any = None,
    unit: Any = None,
) -> AuditEvent:
    """Append one event to the chain in the current transaction (the caller commits).

    `actor` is a user, the string "system", or None for whoever is logged in. `unit` is the org
    unit the event concerns (derived from the subject when it declares one).
    """
    if subject is not None:
        subject_type = subject_type or type(subject).__name__
        subject_id = subject_id if subject_id is not None else getattr(subject, "id", None)
    actor_id, actor_label = _actor_fields(actor)
    _lock_head()
    head = db.session.execute(
        sa.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
    event = AuditEvent(
        seq=seq,
        at=utcnow(),
        actor_id=actor_id,
        actor_label=actor_label,
        ip=request.remote_addr if has_request_context() else None,
        request_id=g.get("request_id") if has_request_context() else None,
        action=action,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        scope_path=_scope_path(unit, subject),
        changes=_plain(changes or {}),
        prev_hash=prev_hash,
    )
    event.hash = compute_hash(_key(), prev_hash, event)
    db.session.add(event)
    db.session.flush()
    log.info("audit %s %s:%s by %s", action, subject_type, subject_id, actor_label)
    return event


# --- verification ------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"audit chain OK: {self.checked} events verified"
        where = f"event #{self.first_bad_seq}" if self.first_bad_seq is not None else "the log"
        return f"audit chain BROKEN at {where}: {self.reason} ({self.checked} events checked)"


def _walk(key: bytes) -> tuple[VerifyResult, dict[int, str]]:
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    hashes: dict[int, str] = {}
    stmt = sa.select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=2000)
    for event in db.session.scalars(stmt):
        if event.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"missing event (next found is #{event.seq})"), hashes
        if event.prev_hash != prev_hash:
            return VerifyResult(False, checked, event.seq, "prev_hash does not match the event before it"), hashes
        if not hmac.compare_digest(event.hash, compute_hash(key, prev_hash, event)):
            return VerifyResult(False, checked, event.seq, "contents do not match its keyed hash"), hashes
        hashes[event.seq] = event.hash
        prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    return VerifyResult(True, checked), hashes


def _trigger_problem() -> str | None:
    bind = db.session.get_bind()
    if bind.dialect.name == "sqlite":
        count = db.session.execute(
            sa.text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'")
        ).scalar()
        return None if count == len(SQLITE_TRIGGERS) else "the append-only triggers are missing"
    if bind.dialect.name != "postgresql":
        return None
    state = db.session.execute(
        sa.text(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_events_append_only' "
            "AND tgrelid = 'audit_events'::regclass"
        )
    ).scalar()
    if state is None:
        return "the append-only trigger is missing"
    if state == "D":
        return "the append-only trigger is disabled"
    return None


def verify_chain(checkpoint_path: str | None = None) -> VerifyResult:
    """Walk the whole chain, then hold it against the checkpoints exported outside the database."""
    key = _key()
    result, hashes = _walk(key)
    if not result.ok:
        return result
    for checkpoint in read_checkpoints(checkpoint_path, key):
        seq, head = checkpoint["seq"], checkpoint["hash"]
        if seq > result.checked:
            return VerifyResult(
                False, result.checked, result.checked + 1,
                f"log truncated: it ends at #{result.checked} but checkpoint of {checkpoint['at']} records #{seq}",
            )
        if not hmac.compare_digest(hashes[seq], head):
            return VerifyResult(False, result.checked, seq, "differs from the exported checkpoint")
    problem = _trigger_problem()
    if problem:
        return VerifyResult(False, result.checked, None, problem)
    return result


# --- checkpoints ---------------------------------------------------------------------------------


def _checkpoint_mac(key: bytes, seq: int, head: str, at: str) -> str:
    return hmac.new(key, f"checkpoint|{seq}|{head}|{at}".encode(), hashlib.sha256).hexdigest()


def read_checkpoints(path: str | None, key: bytes) -> list[dict]:
    """Checkpoints from the export file; a line whose MAC is wrong is itself a failure."""
    path = path or current_app.config["AUDIT_CHECKPOINT_PATH"]
    if not path or not os.path.exists(path):
        return []
    checkpoints = []
    for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        data = json.loads(line)
        if not hmac.compare_digest(data["mac"], _checkpoint_mac(key, data["seq"], data["hash"], data["at"])):
            raise ValueError(f"checkpoint line {n} in {path} is not authentic")
        checkpoints.append(data)
    return checkpoints


def write_checkpoint(path: str | None = None) -> dict | None:
    """Append the current head (seq + hash) to the checkpoint file; returns it, or None for an empty log."""
    path = path or current_app.config["AUDIT_CHECKPOINT_PATH"]
    head = db.session.execute(
        sa.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    if head is None:
        return None
    at = datetime.now().astimezone().isoformat()
    entry = {"seq": head.seq, "hash": head.hash, "at": at, "mac": _checkpoint_mac(_key(), head.seq, head.hash, at)}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return entry


def canonical_changes(event: AuditEvent) -> str:
    """The event's changes as compact, stable JSON (for display and export)."""
    return json.dumps(event.changes, sort_keys=True, ensure_ascii=False)
