"""`flask users create-admin` (the only way to get the first administrator) and `flask users deactivate`.

No account exists by default: nothing here or anywhere else seeds one.
"""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.core.errors import DomainError
from app.extensions import db
from app.general.audit.services import SYSTEM
from app.general.auth import queries, services

users_cli = AppGroup("users", help="Accounts.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")


@users_cli.command("create-admin")
@click.option("--email", required=True, help="The administrator's e-mail (their login).")
@click.option("--name", "display_name", required=True, help="The name shown to others.")
@click.option("--scope", "scope_code", default=None,
              help="Code of the org unit the admin covers (default: every top-level district or school).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def create_admin(email: str, display_name: str, scope_code: str | None, password_stdin: bool) -> None:
    """Create an administrator with a password (12-128 characters, not a common one)."""
    password = _read_password(password_stdin)
    try:
        user = services.create_admin(email=email, display_name=display_name, password=password, scope_code=scope_code)
    except DomainError as exc:  # refused before anything was written
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    scopes = ", ".join(s.org_unit.code for s in user.scopes)
    click.echo(f"administrator {user.email} created (scopes: {scopes}); "
               "they set up two-step verification at their first login")


@users_cli.command("deactivate")
@click.argument("email")
def deactivate(email: str) -> None:
    """Deactivate an account: it can no longer log in and its sessions end at once."""
    user = queries.user_by_email(email)
    if user is None:
        raise click.ClickException(f"no account has the e-mail {email}")
    services.deactivate_user(user, actor=SYSTEM)
    db.session.commit()
    click.echo(f"{user.email} is deactivated")


COMMANDS = (users_cli,)
