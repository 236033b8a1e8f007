"""The departure case pages through the client: the board (scope, risk list), opening a case, the case page's
steps (fresh login for the approval, stale versions, field errors), the checklist and blockers, and the teacher's
own case and resignation."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.school.offboarding.models import Blocker, CaseStatus, DepartureCase
from app.school.offboarding.services import cases, checklist
from tests import factories
from tests.school.offboarding.conftest import TODAY

LAST_DAY = TODAY + timedelta(days=40)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    for module in ("app.school.offboarding.services.cases", "app.school.offboarding.services.plan",
                   "app.school.offboarding.views.cases", "app.school.offboarding.views.own"):
        monkeypatch.setattr(f"{module}.local_today", lambda: TODAY)


def _ids(html: str, attribute: str) -> set[int]:
    return {int(x) for x in re.findall(rf'{attribute}="(\d+)"', html)}


def _open_case(d, **kwargs) -> DepartureCase:
    case = cases.submit(d.leaving, kind=kwargs.pop("kind", "resignation"), last_working_day=LAST_DAY,
                        actor=d.leaving_user, private_reason=kwargs.pop("private_reason", "moving to Shenzhen"),
                        given_on=TODAY)
    db.session.commit()  # a view that rolls back (a refused step) must not take the test's own rows with it
    return case


def _in_handover(d) -> DepartureCase:
    case = _open_case(d)
    cases.approve(case, actor=d.head)
    cases.start_handover(case, actor=d.admin)
    db.session.commit()
    return case


def _school_b_case(org) -> tuple[DepartureCase, object]:
    admin_b = factories.make_user("admin", unit=org.school_b)
    staff_b = factories.make_staff(org.school_b, department=org.dept_b, family_name="Li", given_name="Bo",
                                   user=factories.make_user("teacher", unit=org.school_b))
    case = cases.submit(staff_b, kind="resignation", last_working_day=LAST_DAY, actor=admin_b, given_on=TODAY)
    db.session.commit()
    return case, admin_b


def _version(case: DepartureCase) -> int:
    db.session.refresh(case)
    return case.version


# --- the board -------------------------------------------------------------------------------------------------


def test_board_lists_only_the_cases_of_the_admins_own_school(client, departure, org):
    case_a = _open_case(departure)
    case_b, admin_b = _school_b_case(org)
    factories.log_in(client, departure.admin)
    page = client.get("/departures/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _ids(html, "data-case-id") == {case_a.id}
    assert "Li Bo" not in html
    factories.log_in(client, admin_b)
    html = client.get("/departures/?state=all").get_data(as_text=True)
    assert _ids(html, "data-case-id") == {case_b.id}
    assert departure.leaving.full_name not in html


def test_board_risk_list_names_every_class_without_a_replacement_with_days_left(client, departure):
    case = _open_case(departure)
    factories.log_in(client, departure.head)
    html = client.get("/departures/").get_data(as_text=True)
    risk = html[html.index('data-testid="risk-list"'):]
    assert _ids(risk, "data-assignment-id") == {departure.maths_a.id, departure.maths_b.id, departure.homeroom_a.id}
    assert "in 40 days" in risk
    assert 'data-testid="upcoming"' not in html  # 40 days away: not within the next 30
    html = client.get("/departures/?within=60").get_data(as_text=True)
    upcoming = html[html.index('data-testid="upcoming"'):html.index('data-testid="no-cases"') if 'no-cases' in html
                    else html.index('data-testid="cases"')]
    assert _ids(upcoming, "data-case-id") == {case.id}


def test_board_without_cases_says_what_to_do_next(client, departure):
    factories.log_in(client, departure.admin)
    html = client.get("/departures/").get_data(as_text=True)
    assert 'data-testid="no-cases"' in html
    assert "/departures/new" in html
    assert 'data-testid="no-risks"' in html


def test_board_filters_by_state(client, departure):
    case = _open_case(departure)
    factories.log_in(client, departure.admin)
    assert _ids(client.get("/departures/?state=submitted").get_data(as_text=True), "data-case-id") >= {case.id}
    html = client.get("/departures/?state=closed").get_data(as_text=True)
    assert 'data-testid="cases"' not in html


# --- opening a case ---------------------------------------------------------------------------------------------


def test_admin_checks_the_notice_then_opens_a_departure(client, departure):
    d = departure
    factories.log_in(client, d.admin)
    assert str(d.leaving.id) in client.get("/departures/new").get_data(as_text=True)
    checked = client.post("/departures/new", data={"staff_id": d.leaving.id, "kind": "resignation", "check": "1"})
    assert checked.status_code == 200
    assert "Earliest last working day" in checked.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DepartureCase)) == 0
    response = client.post("/departures/new", data={"staff_id": d.leaving.id, "kind": "resignation",
                                                    "last_working_day": LAST_DAY.isoformat(),
                                                    "private_reason": "paper letter", "submit": "1"})
    case = db.session.scalar(sa.select(DepartureCase))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/departures/{case.id}")
    assert case.private_reason == "paper letter" and case.status == CaseStatus.SUBMITTED


def test_an_early_last_day_without_a_waiver_is_refused_at_the_field(client, departure):
    factories.log_in(client, departure.admin)
    response = client.post("/departures/new", data={"staff_id": departure.leaving.id, "kind": "resignation",
                                                    "last_working_day": (TODAY + timedelta(days=5)).isoformat(),
                                                    "submit": "1"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'name="waiver_reason"[^>]*is-invalid|is-invalid[^>]*name="waiver_reason"', html)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DepartureCase)) == 0


def test_admin_cannot_open_a_departure_for_staff_of_another_school(client, departure, org):
    other = factories.make_staff(org.school_b, family_name="Far")
    factories.log_in(client, departure.admin)
    response = client.post("/departures/new", data={"staff_id": other.id, "kind": "resignation",
                                                    "last_working_day": LAST_DAY.isoformat(), "submit": "1"})
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DepartureCase)) == 0


# --- the case page --------------------------------------------------------------------------------------------


def test_case_page_shows_facts_steps_and_a_readable_timeline(client, departure):
    case = _open_case(departure)
    factories.log_in(client, departure.admin)
    html = client.get(f"/departures/{case.id}").get_data(as_text=True)
    assert "moving to Shenzhen" in html  # the private reason, for admins and heads
    assert "30 days&#39; written notice" in html or "30 days' written notice" in html
    assert 'data-current="submitted"' in html
    timeline = html[html.index('data-testid="timeline"'):]
    assert "Departure filed (resignation)" in timeline
    assert "{&#34;" not in timeline and '{"' not in timeline and "moving to Shenzhen" not in timeline


@pytest.mark.parametrize("who", ["admin_b", "head_b", "teacher", "parent"])
def test_case_page_is_refused_to_everyone_outside_the_school(client, departure, org, who):
    case = _open_case(departure)
    role, unit = {"admin_b": ("admin", org.school_b), "head_b": ("head", org.school_b),
                  "teacher": ("teacher", org.school_a), "parent": ("parent", org.school_a)}[who]
    factories.log_in(client, factories.make_user(role, unit=unit))
    assert client.get(f"/departures/{case.id}").status_code == 403
    assert client.post(f"/departures/{case.id}/withdraw", data={"withdraw-version": case.version}).status_code == 403
    assert client.get("/departures/999999").status_code in (403, 404)
    assert case.status == CaseStatus.SUBMITTED


def test_the_departing_teacher_cannot_open_the_case_page(client, departure):
    case = _open_case(departure)
    factories.log_in(client, departure.leaving_user)
    assert client.get(f"/departures/{case.id}").status_code == 403


def test_a_missing_case_answers_404(client, departure):
    factories.log_in(client, departure.admin)
    assert client.get("/departures/999999").status_code == 404


def test_approval_needs_a_fresh_login(client, departure):
    case = _open_case(departure)
    factories.log_in(client, departure.head, fresh=False)
    response = client.post(f"/departures/{case.id}/approve", data={"approve-version": case.version},
                           headers={"Referer": f"http://localhost/departures/{case.id}"})
    assert response.status_code == 302 and "/auth/reauthenticate" in response.headers["Location"]
    assert _version(case) and case.status == CaseStatus.SUBMITTED
    factories.log_in(client, departure.head, fresh=True)
    response = client.post(f"/departures/{case.id}/approve", data={"approve-version": case.version})
    assert response.status_code == 302
    db.session.refresh(case)
    assert case.status == CaseStatus.APPROVED and case.decided_by_id == departure.head.id


def test_an_admin_cannot_approve(client, departure):
    case = _open_case(departure)
    factories.log_in(client, departure.admin)
    assert client.post(f"/departures/{case.id}/approve", data={"approve-version": case.version}).status_code == 403
    assert "data-testid=\"approve\"" not in client.get(f"/departures/{case.id}").get_data(as_text=True)


def test_a_step_pressed_on_an_old_page_gets_the_conflict_message_and_changes_nothing(client, departure):
    case = _open_case(departure)
    seen = case.version
    cases.change_last_day(case, last_working_day=LAST_DAY + timedelta(days=3), actor=departure.admin)
    db.session.commit()
    factories.log_in(client, departure.head)
    response = client.post(f"/departures/{case.id}/approve", data={"approve-version": seen},
                           follow_redirects=True)
    assert "Someone else acted on this departure at the same time" in response.get_data(as_text=True)
    db.session.refresh(case)
    assert case.status == CaseStatus.SUBMITTED and case.decided_at is None


def test_two_admins_starting_the_handover_one_wins_the_other_is_told(client, departure):
    case = _open_case(departure)
    cases.approve(case, actor=departure.head)
    db.session.commit()
    seen = _version(case)
    factories.log_in(client, departure.admin)
    first = client.post(f"/departures/{case.id}/handover", data={"handover-version": seen}, follow_redirects=True)
    assert "Handover started" in first.get_data(as_text=True)
    second = client.post(f"/departures/{case.id}/handover", data={"handover-version": seen}, follow_redirects=True)
    assert "Someone else acted on this departure" in second.get_data(as_text=True)
    db.session.refresh(case)
    assert case.status == CaseStatus.HANDOVER and len(case.items) == 8


def test_a_rejection_without_a_reason_is_refused_at_the_field(client, departure):
    case = _open_case(departure)
    factories.log_in(client, departure.head)
    response = client.post(f"/departures/{case.id}/reject", data={"reject-version": case.version, "reject-note": ""})
    assert response.status_code == 422
    assert re.search(r'name="reject-note"[^>]*is-invalid|is-invalid[^>]*name="reject-note"',
                     response.get_data(as_text=True))
    db.session.refresh(case)
    assert case.status == CaseStatus.SUBMITTED


def test_the_head_rejects_with_a_reason_and_the_timeline_says_so(client, departure):
    case = _open_case(departure)
    factories.log_in(client, departure.head)
    client.post(f"/departures/{case.id}/reject", data={"reject-version": case.version, "reject-note": "not agreed"})
    db.session.refresh(case)
    assert case.status == CaseStatus.REJECTED and departure.leaving.status == "active"
    html = client.get(f"/departures/{case.id}").get_data(as_text=True)
    assert "Rejected by the head" in html and "not agreed" in html


def test_admin_changes_the_last_day_with_a_waiver(client, departure):
    case = _open_case(departure)
    factories.log_in(client, departure.admin)
    early = TODAY + timedelta(days=10)
    refused = client.post(f"/departures/{case.id}/last-day", data={"lastday-version": case.version,
                                                                   "lastday-last_working_day": early.isoformat()})
    assert refused.status_code == 422
    client.post(f"/departures/{case.id}/last-day", data={"lastday-version": case.version,
                                                         "lastday-last_working_day": early.isoformat(),
                                                         "lastday-waiver_reason": "agreed with the head"})
    db.session.refresh(case)
    assert case.last_working_day == early and case.waiver_reason == "agreed with the head"
    assert "Last working day moved from" in client.get(f"/departures/{case.id}").get_data(as_text=True)


def _snapshot() -> dict[str, list[tuple]]:
    db.session.flush()
    db.session.expire_all()
    return {table.name: [tuple(row) for row in db.session.execute(
        sa.select(table).order_by(*table.primary_key.columns)).all()] for table in db.metadata.sorted_tables}


def test_get_pages_change_nothing(client, departure):
    case = _in_handover(departure)
    checklist.raise_blocker(departure.leaving, kind="asset", description="projector", actor=departure.admin)
    db.session.commit()
    before = _snapshot()
    for user, urls in ((departure.admin, ("/departures/", "/departures/?state=all&within=60", f"/departures/{case.id}",
                                          "/departures/new", f"/departures/new?staff={departure.other.id}")),
                       (departure.head, ("/departures/", f"/departures/{case.id}")),
                       (departure.leaving_user, ("/departures/mine", "/departures/resign"))):
        factories.log_in(client, user)
        for url in urls:
            assert client.get(url).status_code in (200, 302), url
    assert _snapshot() == before


# --- checklist and blockers ---------------------------------------------------------------------------------------


def test_admin_ticks_items_off_with_evidence_and_amount_and_reopens_one(client, departure):
    case = _in_handover(departure)
    keys = next(i for i in case.items if i.owner == "it")
    money = next(i for i in case.items if i.is_money)
    factories.log_in(client, departure.admin)
    client.post(f"/departures/{case.id}/items/{keys.id}/done",
                data={f"tick{keys.id}-version": keys.version, f"tick{keys.id}-evidence": "laptop SN 123 returned"})
    db.session.refresh(keys)
    assert keys.is_done and keys.evidence == "laptop SN 123 returned" and keys.done_by_id == departure.admin.id
    no_amount = client.post(f"/departures/{case.id}/items/{money.id}/done",
                            data={f"tick{money.id}-version": money.version, f"tick{money.id}-evidence": "paid"})
    assert no_amount.status_code == 422
    db.session.refresh(money)
    assert not money.is_done
    client.post(f"/departures/{case.id}/items/{money.id}/done",
                data={f"tick{money.id}-version": money.version, f"tick{money.id}-evidence": "paid",
                      f"tick{money.id}-amount": "-120.50"})
    db.session.refresh(money)
    assert str(money.amount) == "-120.50"
    html = client.get(f"/departures/{case.id}").get_data(as_text=True)
    assert "laptop SN 123 returned" in html and "-¥120.50" in html
    client.post(f"/departures/{case.id}/items/{keys.id}/reopen",
                data={f"reopen{keys.id}-version": keys.version, f"reopen{keys.id}-reason": "wrong laptop"})
    db.session.refresh(keys)
    assert not keys.is_done


def test_a_head_may_tick_only_the_heads_items(client, departure):
    case = _in_handover(departure)
    interview = next(i for i in case.items if i.owner == "head")
    keys = next(i for i in case.items if i.owner == "it")
    factories.log_in(client, departure.head)
    response = client.post(f"/departures/{case.id}/items/{keys.id}/done",
                           data={f"tick{keys.id}-version": keys.version, f"tick{keys.id}-evidence": "x"},
                           follow_redirects=True)
    assert "This item is for IT to tick off" in response.get_data(as_text=True)
    client.post(f"/departures/{case.id}/items/{interview.id}/done",
                data={f"tick{interview.id}-version": interview.version, f"tick{interview.id}-evidence": "held"})
    db.session.refresh(keys)
    db.session.refresh(interview)
    assert interview.is_done and not keys.is_done


def test_an_item_of_another_case_answers_404(client, departure, org):
    case = _in_handover(departure)
    other, _admin_b = _school_b_case(org)
    item = case.items[0]
    factories.log_in(client, departure.admin)
    assert client.post(f"/departures/{other.id}/items/{item.id}/done").status_code == 403
    admin = departure.admin
    other_a = factories.make_staff(org.school_a, family_name="Sun")
    case_2 = cases.submit(other_a, kind="retirement", last_working_day=LAST_DAY, actor=admin, given_on=TODAY)
    db.session.commit()
    assert client.post(f"/departures/{case_2.id}/items/{item.id}/done",
                       data={f"tick{item.id}-evidence": "x"}).status_code == 404


def test_admin_adds_an_extra_item(client, departure):
    case = _in_handover(departure)
    factories.log_in(client, departure.admin)
    client.post(f"/departures/{case.id}/items", data={"additem-title": "Violin on loan returned",
                                                      "additem-owner": "teacher"})
    db.session.refresh(case)
    assert "Violin on loan returned" in [i.title for i in case.items]


def test_blockers_are_raised_and_resolved_from_the_case_page(client, departure):
    case = _open_case(departure)
    factories.log_in(client, departure.head)
    client.post(f"/departures/{case.id}/blockers", data={"blocker-kind": "complaint",
                                                         "blocker-description": "Parent complaint about marks"})
    blocker = db.session.scalar(sa.select(Blocker))
    assert blocker.is_open and blocker.staff_id == departure.leaving.id
    html = client.get(f"/departures/{case.id}").get_data(as_text=True)
    assert "Parent complaint about marks" in html and "Blocker raised: open parent complaint" in html
    refused = client.post(f"/departures/{case.id}/blockers/{blocker.id}/resolve",
                          data={f"resolve{blocker.id}-version": blocker.version})
    assert refused.status_code == 422
    client.post(f"/departures/{case.id}/blockers/{blocker.id}/resolve",
                data={f"resolve{blocker.id}-version": blocker.version,
                      f"resolve{blocker.id}-resolution": "talked it through"})
    db.session.refresh(blocker)
    assert not blocker.is_open and blocker.resolution == "talked it through"


# --- the teacher's own case -------------------------------------------------------------------------------------


def test_the_teacher_resigns_through_the_form_and_sees_their_case(client, departure):
    d = departure
    factories.log_in(client, d.leaving_user)
    empty = client.get("/departures/mine").get_data(as_text=True)
    assert 'data-testid="resign-link"' in empty
    form = client.get("/departures/resign").get_data(as_text=True)
    earliest = TODAY + timedelta(days=30)
    assert f'value="{earliest.isoformat()}"' in form
    assert "never shown to parents" in form
    response = client.post("/departures/resign", data={"last_working_day": LAST_DAY.isoformat(),
                                                       "private_reason": "family"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/departures/mine")
    case = db.session.scalar(sa.select(DepartureCase))
    assert case.staff_id == d.leaving.id and case.private_reason == "family" and case.kind == "resignation"
    html = client.get("/departures/mine").get_data(as_text=True)
    assert 'data-current="submitted"' in html and 'data-testid="withdraw"' in html
    assert "/departures/resign" not in html.split('data-testid="my-facts"')[1]
    assert client.get("/departures/resign").status_code == 302


def test_a_teacher_cannot_resign_earlier_than_the_notice(client, departure):
    factories.log_in(client, departure.leaving_user)
    response = client.post("/departures/resign", data={"last_working_day": (TODAY + timedelta(days=3)).isoformat()})
    assert response.status_code == 422
    assert "ask the school office to record a waiver" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DepartureCase)) == 0


def test_another_teacher_sees_only_their_own_departure(client, departure, org):
    case = _in_handover(departure)
    colleague_user = factories.make_user("teacher", unit=org.school_a)
    departure.colleague.user = colleague_user
    db.session.commit()
    factories.log_in(client, colleague_user)
    html = client.get("/departures/mine").get_data(as_text=True)
    assert 'data-testid="no-case"' in html and departure.leaving.full_name not in html
    item = next(i for i in case.items if i.owner == "teacher")
    assert client.post(f"/departures/mine/items/{item.id}/done",
                       data={f"tick{item.id}-evidence": "x"}).status_code == 404
    assert client.post("/departures/mine/withdraw").status_code == 404
    db.session.refresh(item)
    assert not item.is_done and case.status == CaseStatus.HANDOVER


def test_the_teacher_ticks_their_own_items_but_not_others(client, departure):
    case = _in_handover(departure)
    own = next(i for i in case.items if i.owner == "teacher")
    keys = next(i for i in case.items if i.owner == "it")
    factories.log_in(client, departure.leaving_user)
    html = client.get("/departures/mine").get_data(as_text=True)
    assert f"/departures/mine/items/{own.id}/done" in html and f"/departures/mine/items/{keys.id}/done" not in html
    assert "Chen Jing" not in html and "Zhao Lei" not in html  # never the reassignment candidates
    client.post(f"/departures/mine/items/{own.id}/done",
                data={f"tick{own.id}-version": own.version, f"tick{own.id}-evidence": "grade book on the drive"})
    refused = client.post(f"/departures/mine/items/{keys.id}/done",
                          data={f"tick{keys.id}-version": keys.version, f"tick{keys.id}-evidence": "x"},
                          follow_redirects=True)
    assert "This item is for IT to tick off" in refused.get_data(as_text=True)
    db.session.refresh(own)
    db.session.refresh(keys)
    assert own.is_done and own.done_by_id == departure.leaving_user.id and not keys.is_done
    assert client.post(f"/departures/{case.id}/items/{keys.id}/done").status_code == 403


def test_the_teacher_withdraws_their_resignation(client, departure):
    case = _open_case(departure)
    factories.log_in(client, departure.leaving_user)
    response = client.post("/departures/mine/withdraw", data={"withdraw-version": case.version},
                           follow_redirects=True)
    assert "Your resignation is withdrawn" in response.get_data(as_text=True)
    db.session.refresh(case)
    assert case.status == CaseStatus.WITHDRAWN and departure.leaving.status == "active"


def test_the_teacher_cannot_withdraw_a_dismissal(client, departure):
    case = cases.submit(departure.leaving, kind="dismissal", last_working_day=TODAY + timedelta(days=1),
                        actor=departure.admin, given_on=TODAY)
    db.session.commit()
    factories.log_in(client, departure.leaving_user)
    assert 'data-testid="withdraw"' not in client.get("/departures/mine").get_data(as_text=True)
    client.post("/departures/mine/withdraw", data={"withdraw-version": case.version})
    db.session.refresh(case)
    assert case.status == CaseStatus.SUBMITTED


def test_checklist_template_items_are_shown_translated_and_owner_labelled(client, departure):
    case = _in_handover(departure)
    factories.log_in(client, departure.admin)
    html = client.get(f"/departures/{case.id}").get_data(as_text=True)
    assert "Keys, badge and devices returned" in html and "For IT" in html
    assert 'data-testid="checklist-progress"' in html
    assert checklist.open_items(case)


# --- a whole case, page by page ------------------------------------------------------------------------------------


def test_the_case_page_follows_a_whole_departure_to_closed(client, departure, monkeypatch):
    from decimal import Decimal

    from app.general.notifications.models import Notification
    from app.school.offboarding.services import access, plan, settlement

    d = departure
    case = _in_handover(d)
    factories.log_in(client, d.admin)

    def page() -> str:
        response = client.get(f"/departures/{case.id}")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    assert 'data-current="handover"' in page()
    for line in plan.lines(case):
        plan.choose(case, line.assignment, d.colleague, actor=d.admin)
    plan.confirm(case, actor=d.admin)
    db.session.commit()
    html = page()
    assert 'data-current="reassigned"' in html and 'data-testid="handed-over"' in html
    assert 'data-testid="delivery-counts"' in html
    db.session.execute(sa.update(Notification).values(status="sent"))
    access.tick(now=datetime(2027, 1, 1, tzinfo=UTC))  # every notice sent: parents notified
    db.session.commit()
    db.session.refresh(case)
    assert 'data-current="parents_notified"' in page()
    client.post(f"/departures/{case.id}/revoke", data={"revoke-version": case.version, "revoke-note": "garden leave"})
    db.session.refresh(case)
    assert case.status == CaseStatus.ACCESS_REVOKED and not d.leaving_user.is_active_account
    refused = client.post(f"/departures/{case.id}/settle", data={"settle-version": case.version},
                          follow_redirects=True)
    assert "cannot be settled while these are open" in refused.get_data(as_text=True)
    for item in case.items:
        checklist.complete_item(item, actor=d.admin, evidence="done", amount="0" if item.is_money else None)
    db.session.commit()
    monkeypatch.setattr(settlement, "final_pay", lambda case: (Decimal("4321.00"), {"source": "computed",
                                                                                    "month": "2027-01-01"}))
    client.post(f"/departures/{case.id}/settle", data={"settle-version": case.version})
    db.session.refresh(case)
    assert case.status == CaseStatus.SETTLED
    html = page()
    assert "¥4,321.00" in html and 'data-testid="settlement"' in html
    client.post(f"/departures/{case.id}/close", data={"close-version": case.version})
    db.session.refresh(case)
    assert case.status == CaseStatus.CLOSED
    timeline = page().split('data-testid="timeline"')[1]
    for phrase in ("Departure filed", "Approved by the head", "Handover started", "assignments handed over",
                   "parent notices written", "Parents notified", "Portal access ended", "Settled: final pay",
                   "Case closed"):
        assert phrase in timeline, phrase
    factories.log_in(client, departure.head)
    assert 'data-current="closed"' in page()


# --- CSRF (check 13) -----------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(app, db):
    from tests.general.auth.helpers import other_app

    with other_app(app, WTF_CSRF_ENABLED=True) as application:
        yield application


def test_a_step_needs_the_token_of_its_own_form(csrf_app, departure):
    case = _open_case(departure)
    case_id, head_id = case.id, departure.head.id
    browser = csrf_app.test_client()
    factories.log_in(browser, db.session.get(type(departure.head), head_id))
    assert browser.post(f"/departures/{case_id}/approve", data={"approve-version": case.version}).status_code == 400
    db.session.expire_all()
    assert db.session.get(DepartureCase, case_id).status == CaseStatus.SUBMITTED
    page = browser.get(f"/departures/{case_id}").get_data(as_text=True)
    token = re.search(r'name="approve-csrf_token"[^>]*value="([^"]+)"', page).group(1)
    version = re.search(r'name="approve-version"[^>]*value="(\d+)"', page).group(1)
    assert browser.post(f"/departures/{case_id}/approve",
                        data={"approve-csrf_token": token, "approve-version": version}).status_code == 302
    db.session.expire_all()
    assert db.session.get(DepartureCase, case_id).status == CaseStatus.APPROVED


def _case_posts(case, item_id: int, blocker_id: int) -> list[str]:
    base = f"/departures/{case.id}"
    return [f"{base}/{step}" for step in ("approve", "reject", "handover", "last-day", "withdraw", "revoke", "settle",
                                          "close", "items", "blockers")] + [
        f"{base}/items/{item_id}/done", f"{base}/items/{item_id}/reopen", f"{base}/blockers/{blocker_id}/resolve"]


@pytest.mark.parametrize("who", ["admin_b", "head_b", "other_teacher", "parent_a"])
def test_no_step_of_a_case_is_open_to_anyone_outside_it(client, departure, org, who):
    case = _in_handover(departure)
    item = case.items[0]
    blocker = checklist.raise_blocker(departure.leaving, kind="asset", description="projector", actor=departure.admin)
    db.session.commit()
    role, unit = {"admin_b": ("admin", org.school_b), "head_b": ("head", org.school_b),
                  "other_teacher": ("teacher", org.school_a), "parent_a": ("parent", org.school_a)}[who]
    factories.log_in(client, factories.make_user(role, unit=unit))
    db.session.commit()
    before = _snapshot()
    for url in _case_posts(case, item.id, blocker.id):
        prefix = url.rsplit("/", 1)[-1]
        data = {f"{prefix}-version": "1", f"{prefix}-note": "x", f"{prefix}-reason": "x",
                f"tick{item.id}-evidence": "x", f"reopen{item.id}-reason": "x", "additem-title": "x",
                "additem-owner": "it", "blocker-kind": "asset", "blocker-description": "x",
                f"resolve{blocker.id}-resolution": "x"}
        assert client.post(url, data=data).status_code in (403, 404), url
    assert client.get(f"/departures/{case.id}").status_code == 403
    html = client.get("/departures/").get_data(as_text=True)
    assert departure.leaving.full_name not in html
    after = _snapshot()
    refusals = after.pop("audit_events")[len(before.pop("audit_events")):]  # each 403 is audited (check 21)
    assert after == before
    assert all("offboarding" not in str(row) for row in refusals)


def test_names_and_reasons_render_escaped(client, departure):
    departure.leaving.given_name = "<script>alert(1)</script>"
    case = cases.submit(departure.leaving, kind="resignation", last_working_day=LAST_DAY, actor=departure.leaving_user,
                        private_reason="{{ 7*7 }} <b>bold</b>", given_on=TODAY)
    checklist.raise_blocker(departure.leaving, kind="dispute", description="O'Hara <img src=x>", actor=departure.admin)
    db.session.commit()
    factories.log_in(client, departure.admin)
    for url in ("/departures/", f"/departures/{case.id}"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html, url
    html = client.get(f"/departures/{case.id}").get_data(as_text=True)
    reason = html.split('data-testid="private-reason"')[1][:80]
    assert "{{ 7*7 }} &lt;b&gt;bold&lt;/b&gt;" in reason and "49" not in reason
    assert "&lt;img src=x&gt;" in html and "<img src=x>" not in html
