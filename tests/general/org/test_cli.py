"""`flask org create` makes the first units of a fresh installation; `flask org tree` lists them."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db as _db
from app.general.org.models import OrgUnit


def _unit(code: str) -> OrgUnit | None:
    return _db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))


def test_create_a_district_then_a_school_inside_it(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["org", "create", "--kind", "district", "--name", "Lakeside", "--code", "lake"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["org", "create", "--kind", "school", "--name", "Lakeside No.1", "--code", "LK1",
                                 "--parent", "LAKE"])
    assert result.exit_code == 0, result.output
    district, school = _unit("LAKE"), _unit("LK1")
    assert school.parent_id == district.id and school.path == f"/{district.id}/{school.id}/"
    tree = runner.invoke(args=["org", "tree"]).output
    assert tree.index("LAKE") < tree.index("  LK1")


def test_create_reports_the_broken_rule_and_writes_nothing(app, db):
    runner = app.test_cli_runner()
    runner.invoke(args=["org", "create", "--kind", "district", "--name", "Lakeside", "--code", "LAKE"])
    result = runner.invoke(args=["org", "create", "--kind", "department", "--name", "Maths", "--code", "LK-M",
                                 "--parent", "LAKE"])
    assert result.exit_code != 0 and "parent" in result.output
    assert _unit("LK-M") is None
    result = runner.invoke(args=["org", "create", "--kind", "school", "--name", "X", "--code", "Y", "--parent", "NOPE"])
    assert result.exit_code != 0 and "no unit has the code" in result.output
