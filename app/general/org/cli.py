"""`flask org create` (how the first district or school of a fresh installation is made) and `flask org tree`."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app.core.errors import DomainError
from app.extensions import db
from app.general.audit.services import SYSTEM
from app.general.org import services
from app.general.org.models import OrgUnit, OrgUnitKind

org_cli = AppGroup("org", help="Organisation units (district, schools, departments).")


@org_cli.command("create")
@click.option("--kind", type=click.Choice([kind.value for kind in OrgUnitKind]), required=True)
@click.option("--name", required=True, help="The unit's name, e.g. \"Riverside District\".")
@click.option("--code", required=True, help="A short unique code, e.g. RIVERSIDE.")
@click.option("--parent", "parent_code", default=None, help="Code of the unit it belongs to (none: top level).")
def create(kind: str, name: str, code: str, parent_code: str | None) -> None:
    """Create a unit (audited as "system"); the web pages then manage what lies inside an admin's scope."""
    parent = None
    if parent_code:
        parent = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == services.normalise_code(parent_code)))
        if parent is None:
            raise click.ClickException(f"no unit has the code {parent_code!r}")
    try:
        unit = services.create_unit(kind=kind, name=name, code=code, parent=parent, actor=SYSTEM)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc.field or 'error'}: {exc.message}") from exc
    db.session.commit()
    click.echo(f"created {unit.kind} {unit.code} ({unit.name}), path {unit.path}")


@org_cli.command("tree")
@click.option("--all", "show_all", is_flag=True, help="Include deactivated units.")
def tree(show_all: bool) -> None:
    """Print every unit, indented under the one it belongs to."""
    stmt = sa.select(OrgUnit).order_by(OrgUnit.path)
    if not show_all:
        stmt = stmt.where(OrgUnit.is_active.is_(True))
    units = list(db.session.scalars(stmt))
    if not units:
        click.echo("no organisation units yet: start with  flask org create --kind district --name ... --code ...")
    for unit in units:
        depth = unit.path.strip("/").count("/")
        flag = "" if unit.is_active else "  [deactivated]"
        click.echo(f"{'  ' * depth}{unit.code:<16} {unit.kind:<10} {unit.name}{flag}")


COMMANDS = (org_cli,)
