"""Pay schemes, the bonus catalogue and bonus awards through the pages."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.school.teaching.models import AwardStatus, BonusAward, BonusType, PayScheme
from app.school.teaching.services import payruns
from tests.school.pay_views import OCTOBER, SCHEME, build_month, field_error


@pytest.fixture
def month(org):
    return build_month(org)


def _form(**overrides) -> dict:
    data = {k: v for k, v in SCHEME.items()}
    data.update({"effective_from": "2027-01-01", "name": "2027 scheme"})
    for n in range(4):
        data.update({f"multipliers-{n}-basis": "class_size", f"multipliers-{n}-low": "",
                     f"multipliers-{n}-high": "", f"multipliers-{n}-factor": ""})
    data.update(overrides)
    return data


def _schemes(school) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(PayScheme).where(PayScheme.school_id == school.id))


def _lock(month, on=OCTOBER):
    run = payruns.open_run(month.school, on, month.admin)
    payruns.calculate_run(run, month.admin)
    payruns.approve_run(run, month.head)
    payruns.lock_run(run, month.admin)
    db.session.commit()
    return run


def test_the_list_shows_the_scheme_in_effect_and_the_catalogue(client, login_as, month):
    db.session.add(BonusType(school_id=month.school.id, code="OPEN", name="Open class", amount=Decimal("300")))
    db.session.commit()
    login_as(user=month.head)
    page = client.get("/teaching/pay/schemes").get_data(as_text=True)
    row = page.split(f'data-scheme-id="{month.scheme.id}"')[1].split("</tr>")[0]
    assert "In effect today" in row and "¥50.00" in row
    assert "Open class" in page and "¥300.00" in page
    assert "/teaching/pay/schemes/new" not in page  # a head reads, an administrator changes


def test_a_new_scheme_starts_prefilled_from_the_one_in_effect(client, login_as, month):
    login_as(user=month.admin)
    page = client.get(f"/teaching/pay/schemes/new?school={month.school.id}").get_data(as_text=True)
    assert 'value="2026 scheme"' in page and 'id="rate_regular"' in page and 'value="50.00"' in page
    response = client.post("/teaching/pay/schemes/new", data=_form(school=month.school.id, rate_regular="52.5",
                                                                  **{"multipliers-0-low": "45",
                                                                     "multipliers-0-high": "60",
                                                                     "multipliers-0-factor": "1.1"}))
    assert response.status_code == 302
    scheme = db.session.scalar(sa.select(PayScheme).where(PayScheme.effective_from == date(2027, 1, 1)))
    assert scheme.rate_for("regular") == Decimal("52.50") and scheme.school_id == month.school.id
    assert [(m.basis, m.low, m.high, m.factor) for m in scheme.multipliers] == [("class_size", 45, 60,
                                                                                 Decimal("1.100"))]


def test_scheme_errors_show_at_their_field_and_nothing_is_saved(client, login_as, month):
    login_as(user=month.admin)
    before = _schemes(month.school)
    response = client.post("/teaching/pay/schemes/new", data=_form(
        school=month.school.id, rate_cover="sixty", effective_from="2026-09-01",
        **{"multipliers-2-low": "9", "multipliers-2-high": "1", "multipliers-2-factor": "1.2"}))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "rate_cover") and "Enter an amount such as 45" in html
    assert not field_error(html, "rate_regular")
    row = html.split('data-multiplier-row="2"')[1].split('data-multiplier-row="3"')[0]
    assert 'data-testid="multiplier-error"' in row and "A multiplier needs a basis" in row
    assert _schemes(month.school) == before


def test_a_scheme_starting_on_the_day_of_another_is_refused_at_the_date(client, login_as, month):
    login_as(user=month.admin)
    response = client.post("/teaching/pay/schemes/new", data=_form(school=month.school.id,
                                                                  effective_from="2026-09-01"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and field_error(html, "effective_from") and "already starts on" in html


def test_an_unused_scheme_can_be_corrected(client, login_as, month):
    login_as(user=month.admin)
    page = client.get(f"/teaching/pay/schemes/{month.scheme.id}/edit").get_data(as_text=True)
    assert 'data-testid="scheme-form"' in page and 'name="school"' not in page
    response = client.post(f"/teaching/pay/schemes/{month.scheme.id}/edit", data=_form(
        name="2026 scheme", effective_from="2026-09-01", overtime_rate="35", version=month.scheme.version))
    assert response.status_code == 302
    db.session.refresh(month.scheme)
    assert month.scheme.overtime_rate == Decimal("35.00")


def test_a_used_scheme_is_read_only_with_a_new_version_button(client, login_as, month):
    _lock(month)
    login_as(user=month.admin)
    page = client.get(f"/teaching/pay/schemes/{month.scheme.id}/edit").get_data(as_text=True)
    assert 'data-testid="scheme-read-only"' in page and 'data-testid="scheme-form"' not in page
    assert f"/teaching/pay/schemes/new?from={month.scheme.id}" in page
    response = client.post(f"/teaching/pay/schemes/{month.scheme.id}/edit", data=_form(
        name="2026 scheme", effective_from="2026-09-01", rate_regular="99", version=month.scheme.version))
    assert response.status_code == 409
    db.session.refresh(month.scheme)
    assert month.scheme.rate_for("regular") == Decimal("50.00")
    page = client.get(f"/teaching/pay/schemes/new?from={month.scheme.id}").get_data(as_text=True)
    assert 'value="2026 scheme"' in page and 'value="50.00"' in page
    assert "Used: read-only" in client.get("/teaching/pay/schemes").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/teaching/pay/schemes/new", "/teaching/pay/bonus-types/new"])
def test_a_head_cannot_change_the_catalogue(client, login_as, month, path):
    login_as(user=month.head)
    assert client.get(path).status_code == 403


def test_a_bonus_type_needs_an_amount_or_points(client, login_as, month):
    login_as(user=month.admin)
    response = client.post("/teaching/pay/bonus-types/new", data={
        "school": month.school.id, "code": "PAPER", "name": "Published paper", "amount": "500", "points": "10",
        "is_active": "y"})
    assert response.status_code == 422 and field_error(response.get_data(as_text=True), "amount")
    response = client.post("/teaching/pay/bonus-types/new", data={
        "school": month.school.id, "code": "PAPER", "name": "Published paper", "points": "10",
        "monthly_cap": "800", "is_active": "y"})
    assert response.status_code == 302
    paper = db.session.scalar(sa.select(BonusType).where(BonusType.code == "PAPER"))
    assert paper.points == Decimal("10.00") and paper.amount is None and paper.monthly_cap == Decimal("800.00")
    response = client.post(f"/teaching/pay/bonus-types/{paper.id}/edit", data={
        "code": "PAPER", "name": "Published paper", "points": "12", "monthly_cap": "", "version": paper.version,
        "is_active": "y"})
    assert response.status_code == 302
    db.session.refresh(paper)
    assert paper.points == Decimal("12.00") and paper.monthly_cap is None


def test_a_bonus_is_proposed_then_approved_or_declined_by_a_head(client, login_as, month):
    bonus = BonusType(school_id=month.school.id, code="OPEN", name="Open class", amount=Decimal("300"))
    db.session.add(bonus)
    db.session.commit()
    login_as(user=month.admin)
    assert "Open class" in client.get("/teaching/pay/bonuses/new").get_data(as_text=True)
    for text in ("Open class on fractions", "Second open class"):
        response = client.post("/teaching/pay/bonuses/new", data={
            "staff_id": month.wang.id, "bonus_type_id": bonus.id, "earned_on": "2026-10-20", "description": text,
            "evidence": "Teaching office record 2026-31"})
        assert response.status_code == 302
    first, second = db.session.scalars(sa.select(BonusAward).order_by(BonusAward.id)).all()
    assert first.status == AwardStatus.PROPOSED
    assert client.post(f"/teaching/pay/bonuses/{first.id}/approve", data={"version": first.version}).status_code \
        == 403  # administrators propose, heads decide

    login_as(user=month.head)
    page = client.get("/teaching/pay/bonuses?status=proposed").get_data(as_text=True)
    assert f'data-award-id="{first.id}"' in page and "Approve" in page
    assert client.post(f"/teaching/pay/bonuses/{first.id}/approve", data={"version": first.version}).status_code \
        == 302
    db.session.refresh(first)
    assert first.status == AwardStatus.APPROVED and first.amount == Decimal("300.00")
    assert first.pay_month == OCTOBER
    response = client.post(f"/teaching/pay/bonuses/{second.id}/reject", data={"note": "", "version": second.version})
    assert response.status_code == 422 and field_error(response.get_data(as_text=True), "note")
    response = client.post(f"/teaching/pay/bonuses/{second.id}/reject", data={"note": "Same class as the first",
                                                                              "version": second.version})
    assert response.status_code == 302
    db.session.refresh(second)
    assert second.status == AwardStatus.REJECTED
    page = client.get("/teaching/pay/bonuses?status=approved&month=2026-10").get_data(as_text=True)
    assert f'data-award-id="{first.id}"' in page and f'data-award-id="{second.id}"' not in page


def test_the_empty_bonus_list_says_what_to_do(client, login_as, month):
    login_as(user=month.head)
    page = client.get("/teaching/pay/bonuses").get_data(as_text=True)
    assert "The bonus catalogue is empty" in page
