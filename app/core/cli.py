"""Registers each module's command group on the `flask` CLI."""
from __future__ import annotations

import importlib
import secrets
import time

import click
from flask import Flask
from flask.cli import with_appcontext

CLI_MODULES = (
    "app.general.auth.cli",
    "app.general.audit.cli",
    "app.general.notifications.cli",
    "app.general.org.cli",
    "app.school.demo",
)


@click.command("worker-health")
@click.option("--timeout", default=60, show_default=True, help="Seconds to wait for a worker to answer.")
@with_appcontext
def worker_health(timeout: int) -> None:
    """Send a canary task and wait until a worker has written it back (exit 1 if none does)."""
    from app.core.health import WorkerHeartbeat
    from app.core.tasks import canary
    from app.extensions import db

    nonce = secrets.token_hex(8)
    canary.delay(nonce, "cli")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        beat = db.session.get(WorkerHeartbeat, "cli")
        if beat is not None and beat.nonce == nonce:
            click.echo(f"worker answered canary {nonce}")
            return
        time.sleep(0.5)
    raise click.ClickException(f"no worker answered within {timeout}s")


def register(app: Flask) -> None:
    app.cli.add_command(worker_health)
    for module_name in CLI_MODULES:
        module = importlib.import_module(module_name)
        for command in module.COMMANDS:
            app.cli.add_command(command)
