"""The database's own check on a pay line's total: the parts must add up to it — to the cent, on SQLite too, where
the sum is done in binary floating point (350.00 + 445.16 is 795.1599999… there)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.school.teaching.models import PayLine, PayRun
from tests import factories


def _line(run: PayRun, staff, lesson: str, allowance: str, total: str) -> None:
    db.session.execute(sa.insert(PayLine).values(
        run_id=run.id, staff_id=staff.id, periods=Decimal("10.0"), lesson_amount=Decimal(lesson),
        overtime_periods=Decimal("0"), overtime_amount=Decimal("0"), allowance_amount=Decimal(allowance),
        bonus_amount=Decimal("0"), total=Decimal(total), proration=Decimal("1"), detail={}))


@pytest.fixture
def run(db, org):
    pay_run = PayRun(school_id=org.school_a.id, month=date(2026, 11, 1), number=1, status="calculated")
    db.session.add(pay_run)
    db.session.flush()
    return pay_run


@pytest.mark.parametrize(("lesson", "allowance", "total"), [("350.00", "445.16", "795.16"), ("0.10", "0.20", "0.30"),
                                                             ("12345.67", "0.01", "12345.68")])
def test_a_line_whose_parts_add_up_is_stored(run, org, lesson, allowance, total):
    _line(run, factories.make_staff(org.school_a), lesson, allowance, total)
    db.session.flush()
    assert db.session.scalar(sa.select(PayLine.total).where(PayLine.run_id == run.id)) == Decimal(total)


def test_a_line_off_by_a_cent_is_refused(run, org):
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        _line(run, factories.make_staff(org.school_a), "350.00", "445.16", "795.17")
