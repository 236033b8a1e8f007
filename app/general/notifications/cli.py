"""`flask notifications sweep` and `flask notifications status`."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db
from app.general.notifications import dispatch as delivery
from app.general.notifications import outbox, queries

notifications_cli = AppGroup("notifications", help="The notification outbox.")


@notifications_cli.command("sweep")
@click.option("--grace", default=0, show_default=True, help="Skip pending rows younger than this many seconds.")
def sweep(grace: int) -> None:
    """Reclaim stuck deliveries and enqueue every due pending row now."""
    ids = delivery.sweep(grace_seconds=grace)
    db.session.commit()
    queued = outbox.enqueue(ids)
    click.echo(f"{len(ids)} notification(s) due, {queued} enqueued")
    if queued < len(ids):
        raise click.ClickException("the broker did not take every message; run the sweep again when it is back")


@notifications_cli.command("status")
def status() -> None:
    """Counts of outbox rows by status and channel."""
    rows = queries.status_counts()
    if not rows:
        click.echo("the outbox is empty")
        return
    width = max(len(s) for s, _c, _n in rows)
    for state, channel, count in rows:
        click.echo(f"{state:<{width}}  {channel:<5}  {count}")


COMMANDS = (notifications_cli,)
