"""A lesson of a locked month may still be corrected: the locked run keeps its figures, the page says so, and a
correction of the run pays the difference."""
from datetime import date
from decimal import Decimal

from app.extensions import db
from app.school.teaching.models import Lesson, PayLine, PayRunStatus
from app.school.teaching.services import ledger, payruns
from tests.factories import log_in
from tests.school.pay.test_pay_flow import _scheme, school_month  # noqa: F401  (the fixture)


def _lines(run):
    rows = db.session.scalars(db.select(PayLine).where(PayLine.run_id == run.id))
    return {line.staff_id: line.total for line in rows}


def test_a_change_after_locking_leaves_the_run_and_a_correction_pays_the_difference(school_month, client):  # noqa: F811
    school, admin, head, wang, li, term = school_month
    ledger.generate_term(term, admin, from_day=term.starts_on)
    _scheme(school, admin, standard_monthly_periods="5")  # Wang works above the load: overtime counts
    run = payruns.open_run(school, date(2026, 10, 1), admin)
    payruns.calculate_run(run, admin)
    payruns.approve_run(run, head)
    payruns.lock_run(run, admin)
    locked = _lines(run)
    db.session.commit()

    lesson = db.session.scalar(db.select(Lesson).where(
        Lesson.day >= date(2026, 10, 8), Lesson.day <= date(2026, 10, 31), Lesson.taught_by_id == wang.id)
        .order_by(Lesson.day))
    log_in(client, admin)
    page = client.post(f"/teaching/lessons/{lesson.id}/cover",
                       data={"staff_id": li.id, "reason": "Wang at a training day", "version": lesson.version},
                       follow_redirects=True).get_data(as_text=True)
    assert "already locked and does not include this change" in page
    assert _lines(run) == locked  # the locked run did not move

    correction = payruns.start_correction(run, "October cover recorded late", admin)
    payruns.calculate_run(correction, admin)
    changes = payruns.differences(correction, payruns.baseline(correction))
    assert changes[wang.id].change == Decimal("-50.00") - Decimal("30.00")  # a regular period and its overtime
    assert changes[li.id].change == Decimal("60.00")
    assert correction.status == PayRunStatus.CALCULATED and correction.number == 2
