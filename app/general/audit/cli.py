"""`flask audit verify` and `flask audit checkpoint`."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db
from app.general.audit import services

audit_cli = AppGroup("audit", help="The audit log.")


@audit_cli.command("verify")
@click.option("--checkpoints", default=None, help="Checkpoint file (default: AUDIT_CHECKPOINT_PATH).")
def verify(checkpoints: str | None) -> None:
    """Walk the chain; print the first broken link and exit 1 if there is one."""
    try:
        result = services.verify_chain(checkpoints)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(result.describe())
    if not result.ok:
        raise SystemExit(1)


@audit_cli.command("checkpoint")
def checkpoint() -> None:
    """Export the current head (sequence number + hash) to the checkpoint file."""
    entry = services.write_checkpoint()
    db.session.rollback()
    click.echo("audit log is empty" if entry is None else f"checkpoint #{entry['seq']} {entry['hash']}")


COMMANDS = (audit_cli,)
