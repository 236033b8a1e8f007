"""A month's pay through the pages: open, calculate, approve (head), lock (admin), the Excel; pressing twice adds
nothing; the review page against the baseline; a correction."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.audit.models import AuditEvent
from app.general.notifications.models import Notification
from app.school.teaching.models import Lesson, LessonKind, PayLine, PayRunStatus
from app.school.teaching.services import payruns
from tests import factories
from tests.school.pay_views import build_month, post_step, run_of

STATEMENT = "teaching/messages/statement"


@pytest.fixture
def month(org):
    return build_month(org)


def _statements() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                             .where(Notification.template == STATEMENT))


def _lines(run) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(PayLine).where(PayLine.run_id == run.id))


def _open(client, month):
    response = client.post("/teaching/pay/runs/open", data={"school": month.school.id, "month": "2026-10"})
    assert response.status_code == 302
    run = run_of(month)
    assert response.headers["Location"].endswith(f"/teaching/pay/runs/{run.id}")
    return run


def _locked(client, login_as, month):
    login_as(user=month.admin)
    run = _open(client, month)
    assert post_step(client, run, "calculate").status_code == 302
    login_as(user=month.head)
    assert post_step(client, run, "approve").status_code == 302
    login_as(user=month.admin)
    assert post_step(client, run, "lock").status_code == 302
    db.session.refresh(run)
    assert run.status == PayRunStatus.LOCKED
    return run


def test_a_month_is_opened_calculated_approved_locked_and_exported(client, login_as, month):
    login_as(user=month.admin)
    run = _open(client, month)
    page = client.get(f"/teaching/pay/runs/{run.id}").get_data(as_text=True)
    assert "Not calculated yet" in page and "Calculate" in page

    assert post_step(client, run, "calculate").status_code == 302
    db.session.refresh(run)
    assert run.status == PayRunStatus.CALCULATED and run.line_count == 2
    page = client.get(f"/teaching/pay/runs/{run.id}").get_data(as_text=True)
    assert month.wang.full_name in page and "¥600.00" in page  # Li's homeroom allowance
    assert "Approve" not in page.split('data-testid="run-actions"')[1].split("</div>")[0]  # an admin does not approve

    login_as(user=month.head)
    page = client.get(f"/teaching/pay/runs/{run.id}").get_data(as_text=True)
    assert "/approve" in page and "/lock" not in page
    assert post_step(client, run, "approve").status_code == 302
    db.session.refresh(run)
    assert run.status == PayRunStatus.APPROVED

    login_as(user=month.admin)
    assert post_step(client, run, "lock").status_code == 302
    db.session.refresh(run)
    assert run.status == PayRunStatus.LOCKED

    response = client.get(f"/teaching/pay/runs/{run.id}/export.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith('-2026-10-v1-locked.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    lines, summary = book.worksheets
    rows = list(lines.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert len(body) == 2
    totals = [Decimal(str(row[header.index("Total")])) for row in body]
    assert sum(totals) == run.total
    wang = next(row for row in body if row[1] == month.wang.full_name)
    assert wang[0] == month.wang.employee_number and wang[2] == month.wang.department.name
    assert Decimal(str(wang[header.index("Lesson amount")])) == db.session.scalar(
        sa.select(PayLine.lesson_amount).where(PayLine.run_id == run.id, PayLine.staff_id == month.wang.id))
    items = {row[0]: row[1] for row in summary.iter_rows(values_only=True)}
    assert Decimal(str(items["Total"])) == run.total and items["Month"] == "2026-10"
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "exports.downloaded")
                              .order_by(AuditEvent.seq.desc()).limit(1))
    assert event.changes["kind"] == "pay_run" and event.changes["rows"] == 2


def test_pressing_approve_or_lock_twice_adds_no_line_and_no_message(client, login_as, month):
    run = _locked(client, login_as, month)
    lines, messages = _lines(run), _statements()
    assert lines == 2 and messages > 0
    stale = run.version - 1
    login_as(user=month.head)
    assert post_step(client, run, "approve", version=stale).status_code == 302
    login_as(user=month.admin)
    assert post_step(client, run, "lock", version=stale).status_code == 302
    assert post_step(client, run, "lock").status_code == 302
    assert (_lines(run), _statements()) == (lines, messages)
    db.session.refresh(run)
    assert run.status == PayRunStatus.LOCKED


def test_recalculating_replaces_the_lines(client, login_as, month):
    login_as(user=month.admin)
    run = _open(client, month)
    post_step(client, run, "calculate")
    post_step(client, run, "calculate")
    assert _lines(run) == 2
    assert _open(client, month).id == run.id  # opening again goes to the same run


def test_a_calculation_without_a_scheme_says_what_to_do(client, login_as, month):
    login_as(user=month.admin)
    run = payruns.open_run(month.school, date(2026, 8, 1), month.admin)
    db.session.add(Lesson(school_id=month.school.id, term_id=month.term.id, day=date(2026, 8, 31), period=3,
                          kind=LessonKind.EXTRA, class_id=month.klass.id, scheduled_staff_id=month.wang.id,
                          taught_by_id=month.wang.id, periods=Decimal("1")))
    db.session.commit()  # the failed calculation rolls back to here
    response = post_step(client, run, "calculate")
    assert response.status_code == 302
    page = client.get(f"/teaching/pay/runs/{run.id}").get_data(as_text=True)
    assert "has no pay scheme in effect on 2026-08-31" in page
    db.session.refresh(run)
    assert run.status == PayRunStatus.DRAFT


@pytest.mark.parametrize(("who", "step"), [("head", "calculate"), ("head", "lock"), ("admin", "approve")])
def test_each_step_belongs_to_its_role(client, login_as, month, who, step):
    login_as(user=month.admin)
    run = _open(client, month)
    post_step(client, run, "calculate")
    if step == "lock":
        login_as(user=month.head)
        post_step(client, run, "approve")
    login_as(user=getattr(month, who))
    before = run.status
    assert post_step(client, run, step).status_code == 403
    db.session.refresh(run)
    assert run.status == before


def test_a_head_of_another_school_cannot_see_the_run(client, login_as, org, month):
    login_as(user=month.admin)
    run = _open(client, month)
    login_as("head", unit=org.school_b)
    assert client.get(f"/teaching/pay/runs/{run.id}").status_code == 403
    assert client.get("/teaching/pay/").get_data(as_text=True).count('data-run-id=') == 0


def test_the_export_needs_a_recent_password(client, login_as, month):
    run = _locked(client, login_as, month)
    with client.session_transaction() as session:
        session.pop("_fresh_at")  # the password was typed long ago
    response = client.get(f"/teaching/pay/runs/{run.id}/export.xlsx")
    assert response.status_code == 302 and "reauthenticate" in response.headers["Location"]


def test_the_runs_list_shows_status_and_total(client, login_as, month):
    run = _locked(client, login_as, month)
    page = client.get("/teaching/pay/").get_data(as_text=True)
    assert f'data-run-id="{run.id}"' in page and 'data-status="locked"' in page
    assert f"¥{run.total:,.2f}" in page


def test_the_empty_runs_list_says_what_to_do(client, login_as, org):
    login_as("admin", unit=org.district)
    page = client.get("/teaching/pay/").get_data(as_text=True)
    assert "No pay run yet" in page and "Open the run" in page


def test_a_correction_shows_each_difference_and_sorts_changes_first(client, login_as, month):
    run = _locked(client, login_as, month)
    response = client.post(f"/teaching/pay/runs/{run.id}/correct", data={"reason": ""})
    assert response.status_code == 422 and "is-invalid" in response.get_data(as_text=True)
    response = client.post(f"/teaching/pay/runs/{run.id}/correct", data={"reason": "A missed extra lesson"})
    correction = run_of(month)
    assert response.status_code == 302 and correction.number == 2 and correction.corrects_id == run.id
    db.session.add(Lesson(school_id=month.school.id, term_id=month.term.id, day=date(2026, 10, 30), period=5,
                          kind=LessonKind.EXTRA, class_id=month.klass.id, scheduled_staff_id=month.wang.id,
                          taught_by_id=month.wang.id, periods=Decimal("1")))
    db.session.flush()
    post_step(client, correction, "calculate")
    page = client.get(f"/teaching/pay/runs/{correction.id}?sort=changed").get_data(as_text=True)
    wang_line = db.session.scalar(sa.select(PayLine.id).where(PayLine.run_id == correction.id,
                                                              PayLine.staff_id == month.wang.id))
    li_line = db.session.scalar(sa.select(PayLine.id).where(PayLine.run_id == correction.id,
                                                            PayLine.staff_id == month.li.id))
    assert page.index(f'data-line-id="{wang_line}"') < page.index(f'data-line-id="{li_line}"')
    row = page.split(f'data-line-id="{wang_line}"')[1].split("</tr>")[0]
    assert 'data-changed="1"' in row and "+¥85.00" in row  # ¥55 extra lesson + ¥30 overtime
    assert 'data-changed' not in page.split(f'data-line-id="{li_line}"')[1].split("</tr>")[0]
    assert "Start a correction" not in client.get(f"/teaching/pay/runs/{run.id}").get_data(as_text=True)


def test_the_review_compares_with_last_month_and_charts_the_months(client, login_as, month):
    september = payruns.open_run(month.school, date(2026, 9, 1), month.admin)
    payruns.calculate_run(september, month.admin)
    payruns.approve_run(september, month.head)
    payruns.lock_run(september, month.admin)
    db.session.commit()
    login_as(user=month.admin)
    run = _open(client, month)
    post_step(client, run, "calculate")
    page = client.get(f"/teaching/pay/runs/{run.id}").get_data(as_text=True)
    assert "Compared with the locked pay of 2026-09" in page and 'id="trend-chart"' in page
    assert "<title>2026-09: " in page and "<title>2026-10: " in page
    assert 'data-changed="1"' in page  # September had more lessons than the holiday month


def test_exported_text_cells_cannot_run_as_formulas(client, login_as, month):
    month.wang.given_name = "=HYPERLINK(1)"
    db.session.commit()
    run = _locked(client, login_as, month)
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/teaching/pay/runs/{run.id}/export.xlsx").data))
    names = [row[1] for row in book.worksheets[0].iter_rows(min_row=2, values_only=True)]
    assert any(name.startswith("'=HYPERLINK") for name in names)
    assert not any(str(name).startswith("=") for name in names)


def test_opening_a_locked_month_leads_to_its_run(client, login_as, month):
    run = _locked(client, login_as, month)
    response = client.post("/teaching/pay/runs/open", data={"school": month.school.id, "month": "2026-10"},
                           follow_redirects=True)
    assert response.request.path == f"/teaching/pay/runs/{run.id}"
    assert "start a correction from the locked run" in response.get_data(as_text=True)


def test_an_approved_run_is_sent_back_with_a_reason(client, login_as, month):
    login_as(user=month.admin)
    run = _open(client, month)
    post_step(client, run, "calculate")
    login_as(user=month.head)
    post_step(client, run, "approve")
    login_as(user=month.admin)
    db.session.refresh(run)
    response = client.post(f"/teaching/pay/runs/{run.id}/return", data={"reason": "", "version": run.version})
    assert response.status_code == 422
    response = client.post(f"/teaching/pay/runs/{run.id}/return",
                           data={"reason": "A cover was missing", "version": run.version})
    assert response.status_code == 302
    db.session.refresh(run)
    assert run.status == PayRunStatus.CALCULATED and run.approved_by_id is None


def test_a_district_admin_calculates_every_school_at_once(client, org, month):
    from app.school.teaching.models import PayRun

    admin = factories.make_user("admin", unit=org.district)
    factories.log_in(client, admin)
    assert 'data-testid="calculate-month"' in client.get("/teaching/pay/").get_data(as_text=True)
    page = client.post("/teaching/pay/runs/month", data={"month": "2026-10"}, follow_redirects=True)
    assert "runs of 2026-10 calculated" in page.get_data(as_text=True)
    runs = db.session.scalars(sa.select(PayRun).where(PayRun.month == date(2026, 10, 1))).all()
    assert {run.school_id for run in runs} >= {month.school.id} and all(run.status == "calculated" for run in runs)
