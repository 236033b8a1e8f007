"""The notice rule (Labour Contract Law art. 37) and what submitting a departure checks: 30 days' notice, 3 in
probation, the contract's own notice days, a contract end's agreed last day, none for a dismissal; an earlier last
day needs a waiver that only the school records; one open case per person; the person goes on notice."""
from __future__ import annotations

from datetime import UTC, date

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, NotAllowed, ValidationFailed
from app.extensions import db
from app.school.offboarding.models import CaseStatus, DepartureCase, NoticeRule
from app.school.offboarding.services import cases
from tests.school.offboarding.conftest import TODAY, make_contract, open_case

GIVEN = date(2026, 12, 7)


def test_statutory_notice_is_30_days(departure):
    notice = cases.notice_for(departure.leaving, "resignation", GIVEN)
    assert (notice.rule, notice.days, notice.earliest) == (NoticeRule.STATUTORY, 30, date(2027, 1, 6))


def test_statutory_rule_also_for_retirement_and_transfer(departure):
    for kind in ("retirement", "transfer"):
        assert cases.notice_for(departure.leaving, kind, GIVEN).earliest == date(2027, 1, 6)


def test_probation_on_the_staff_record_gives_three_days(departure):
    departure.leaving.probation_ends_on = date(2026, 12, 7)  # the last day of probation still counts
    notice = cases.notice_for(departure.leaving, "resignation", GIVEN)
    assert (notice.rule, notice.days, notice.earliest) == (NoticeRule.PROBATION, 3, date(2026, 12, 10))


def test_probation_that_ended_the_day_before_gives_the_full_notice(departure):
    departure.leaving.probation_ends_on = date(2026, 12, 6)
    assert cases.notice_for(departure.leaving, "resignation", GIVEN).rule == NoticeRule.STATUTORY


def test_probation_in_the_labour_contract_terms_gives_three_days(departure):
    contract = make_contract(departure.leaving, terms={"probation_ends_on": "2027-02-28"},
                             starts_on=date(2026, 9, 1))
    notice = cases.notice_for(departure.leaving, "resignation", GIVEN, contract)
    assert (notice.rule, notice.earliest) == (NoticeRule.PROBATION, date(2026, 12, 10))


def test_contract_notice_days_override_the_statutory_rule(departure):
    contract = make_contract(departure.leaving, terms={"notice_days": 60})
    notice = cases.notice_for(departure.leaving, "resignation", GIVEN, contract)
    assert (notice.rule, notice.days, notice.earliest) == (NoticeRule.CONTRACT, 60, date(2027, 2, 5))


def test_contract_end_uses_the_contracts_agreed_end(departure):
    contract = make_contract(departure.leaving, terms={"notice_days": 60}, ends_on=date(2027, 1, 31))
    notice = cases.notice_for(departure.leaving, "contract_end", GIVEN, contract)
    assert (notice.rule, notice.earliest) == (NoticeRule.CONTRACT_END, date(2027, 1, 31))
    assert notice.days == (date(2027, 1, 31) - GIVEN).days


def test_dismissal_has_no_notice(departure):
    contract = make_contract(departure.leaving, terms={"notice_days": 60})
    notice = cases.notice_for(departure.leaving, "dismissal", GIVEN, contract)
    assert (notice.rule, notice.days, notice.earliest) == (NoticeRule.NONE, 0, GIVEN)


def test_submit_reads_the_labour_contract_in_force(departure, today):
    make_contract(departure.leaving, terms={"notice_days": 60})
    with pytest.raises(ValidationFailed) as raised:
        open_case(departure, actor=departure.leaving_user, last_day=date(2027, 2, 4))
    assert raised.value.field == "last_working_day"
    case = open_case(departure, actor=departure.leaving_user, last_day=date(2027, 2, 5))
    assert (case.notice_rule, case.notice_days, case.earliest_last_day) == ("contract", 60, date(2027, 2, 5))


def test_an_ended_labour_contract_is_not_read(departure, today):
    make_contract(departure.leaving, terms={"notice_days": 60}, status="ended")
    case = open_case(departure, actor=departure.leaving_user, last_day=date(2027, 1, 6))
    assert case.notice_rule == "statutory"


def test_submit_records_the_notice_and_puts_the_person_on_notice(departure, today):
    case = open_case(departure, actor=departure.leaving_user, private_reason="Moving to Shenzhen")
    assert case.status == CaseStatus.SUBMITTED
    assert (case.submitted_on, case.earliest_last_day, case.last_working_day) == (TODAY, date(2027, 1, 6),
                                                                                   date(2027, 1, 8))
    assert case.waiver_reason is None and not case.waived
    assert departure.leaving.status == "on_notice"
    assert case.submitted_by_id == departure.leaving_user.id


def test_an_earlier_last_day_without_a_waiver_is_refused(departure, today):
    with pytest.raises(ValidationFailed) as raised:
        open_case(departure, last_day=date(2027, 1, 5))
    assert raised.value.field == "waiver_reason"
    assert "2027-01-06" in raised.value.message
    assert departure.leaving.status == "active"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DepartureCase)) == 0


def test_an_admin_may_waive_the_notice_with_a_reason(departure, today):
    case = open_case(departure, last_day=date(2026, 12, 20), waiver_reason="Agreed at the exit meeting")
    assert case.waived and case.waiver_reason == "Agreed at the exit meeting"
    assert case.waived_by_id == departure.admin.id
    assert case.earliest_last_day == date(2027, 1, 6)


def test_a_waiver_reason_is_dropped_when_no_waiver_is_needed(departure, today):
    case = open_case(departure, last_day=date(2027, 1, 6), waiver_reason="not needed")
    assert case.waiver_reason is None and case.waived_by_id is None


def test_a_teacher_resigning_cannot_waive(departure, today):
    with pytest.raises(ValidationFailed) as raised:
        open_case(departure, actor=departure.leaving_user, last_day=date(2026, 12, 20),
                  waiver_reason="I would like to leave sooner")
    assert raised.value.field == "last_working_day"
    assert "school office" in raised.value.message
    assert departure.leaving.status == "active"


def test_a_teacher_can_only_resign(departure, today):
    with pytest.raises(NotAllowed):
        open_case(departure, actor=departure.leaving_user, kind="dismissal", last_day=TODAY)


def test_a_teacher_cannot_file_for_a_colleague(departure, today, org):
    from tests import factories

    other_teacher = factories.make_user("teacher", unit=org.school_a)
    with pytest.raises(NotAllowed):
        open_case(departure, actor=other_teacher)


def test_an_admin_of_another_school_cannot_file(departure, today, org):
    from tests import factories

    with pytest.raises(NotAllowed):
        open_case(departure, actor=factories.make_user("admin", unit=org.school_b))


def test_a_past_last_day_is_refused(departure, today):
    with pytest.raises(ValidationFailed) as raised:
        open_case(departure, kind="dismissal", last_day=date(2026, 12, 6))
    assert raised.value.field == "last_working_day"


def test_a_dismissal_may_end_today(departure, today):
    case = open_case(departure, kind="dismissal", last_day=TODAY)
    assert (case.notice_rule, case.last_working_day, case.waived) == ("none", TODAY, False)


def test_an_unknown_kind_is_refused(departure, today):
    with pytest.raises(ValidationFailed) as raised:
        open_case(departure, kind="sabbatical")
    assert "kind" in (getattr(raised.value, "errors", None) or {raised.value.field: 1})


def test_a_second_open_case_is_refused(departure, today):
    open_case(departure, actor=departure.leaving_user)
    with pytest.raises(Conflict, match="already has a departure under way"):
        open_case(departure)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DepartureCase)) == 1


def test_the_database_also_refuses_a_second_open_case(departure, today):
    first = open_case(departure)
    twin = DepartureCase(staff_id=departure.leaving.id, school_id=first.school_id, kind="resignation",
                         status="approved", submitted_on=TODAY, notice_rule="statutory", notice_days=30,
                         earliest_last_day=date(2027, 1, 6), last_working_day=date(2027, 1, 8), notice_wording={})
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            db.session.add(twin)
            db.session.flush()


def test_a_second_case_that_slips_past_the_check_is_a_conflict_not_an_error(departure, today, monkeypatch):
    open_case(departure)
    monkeypatch.setattr(cases, "open_case_of", lambda staff: None)  # as when two filings read at the same time
    with pytest.raises(Conflict, match="already has a departure under way"):
        open_case(departure)


def test_a_finished_case_does_not_block_a_new_one(departure, today):
    first = open_case(departure, actor=departure.leaving_user)
    cases.withdraw(first, actor=departure.leaving_user, reason="Staying after all")
    second = open_case(departure)
    assert second.id != first.id and second.status == CaseStatus.SUBMITTED
    assert departure.leaving.status == "on_notice"


def test_withdraw_puts_the_person_back_to_active(departure, today):
    case = open_case(departure, actor=departure.leaving_user)
    cases.approve(case, actor=departure.head)
    cases.withdraw(case, actor=departure.admin, reason="Changed their mind")
    assert case.status == CaseStatus.WITHDRAWN and case.ended_at is not None and case.revoke_access_at is None
    assert departure.leaving.status == "active"


def test_reject_puts_the_person_back_to_active(departure, today):
    case = open_case(departure, kind="dismissal", last_day=TODAY)
    cases.reject(case, actor=departure.head, note="Not supported")
    assert case.status == CaseStatus.REJECTED
    assert departure.leaving.status == "active"
    assert departure.leaving_user.is_active_account


def test_someone_who_has_left_cannot_be_given_a_case(departure, today):
    departure.leaving.status = "departed"
    db.session.flush()
    with pytest.raises(Conflict, match="already left"):
        open_case(departure)


def test_change_last_day_earlier_needs_a_waiver(departure, today):
    case = open_case(departure)
    with pytest.raises(ValidationFailed) as raised:
        cases.change_last_day(case, last_working_day=date(2026, 12, 31), actor=departure.admin)
    assert raised.value.field == "waiver_reason"
    assert case.last_working_day == date(2027, 1, 8)
    cases.change_last_day(case, last_working_day=date(2026, 12, 31), actor=departure.admin,
                          waiver_reason="Garden leave agreed")
    assert case.waived and case.waiver_reason == "Garden leave agreed"
    cases.change_last_day(case, last_working_day=date(2027, 1, 15), actor=departure.admin)
    assert not case.waived and case.waiver_reason is None


def test_change_last_day_moves_the_scheduled_end_of_access(departure, today):
    case = open_case(departure)
    cases.approve(case, actor=departure.head)
    first = case.revoke_access_at
    cases.change_last_day(case, last_working_day=date(2027, 1, 15), actor=departure.admin)
    assert case.revoke_access_at != first
    assert case.revoke_access_at == cases.end_of_day(date(2027, 1, 15))


def test_end_of_day_is_midnight_in_the_schools_zone(db):
    from datetime import datetime

    # Asia/Shanghai is UTC+8: the end of 8 January is 16:00 UTC that day.
    assert cases.end_of_day(date(2027, 1, 8)) == datetime(2027, 1, 8, 16, 0, tzinfo=UTC)
