"""The handover checklist (from the template of the person's role, configurable by admins), who may tick what off
and with what evidence, and blockers raised against the person at any time."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.errors import InvalidTransition, NotAllowed, ValidationFailed
from app.extensions import db
from app.general.audit.models import AuditEvent
from app.school.offboarding.models import ChecklistTemplateItem
from app.school.offboarding.services import cases, checklist
from tests import factories
from tests.school.offboarding.conftest import open_case, to_access_revoked, to_handover


def item_titled(case, title):
    return next(i for i in case.items if i.title == title)


def test_the_teachers_default_checklist(departure, today):
    case = to_handover(departure)
    assert [(i.title, i.owner, i.is_money) for i in case.items] == [
        (title, str(owner), money) for title, owner, money in checklist.DEFAULT_ITEMS["teacher"]]
    assert {i.owner for i in case.items} == {"it", "teacher", "finance", "head"}
    assert checklist.ensure_default_templates() == 0  # written once


def test_a_head_gets_the_heads_checklist(departure, today, org):
    head_user = factories.make_user("head", unit=org.school_a)
    staff = factories.make_staff(org.school_a, user=head_user)
    case = cases.submit(staff, kind="retirement", last_working_day="2027-01-08", actor=departure.admin)
    cases.approve(case, actor=departure.head)
    cases.start_handover(case, actor=departure.admin)
    assert "Open approvals and reviews handed to a successor" in [i.title for i in case.items]
    assert len(case.items) == len(checklist.DEFAULT_ITEMS["head"])


def test_template_changes_apply_to_later_checklists_only(departure, today, org):
    d = departure
    chief = factories.make_user("admin", unit=org.district)  # the templates serve every school: the district's
    checklist.ensure_default_templates()
    first = to_handover(d)
    checklist.add_template_item("teacher", title="Violin returned", owner="teacher", actor=chief)
    interview = next(t for t in checklist.template_items("teacher") if t.title == "Exit interview held")
    checklist.update_template_item(interview, title=interview.title, owner=interview.owner, is_money=False,
                                   position=interview.position, is_active=False, actor=chief)
    assert "Violin returned" not in [i.title for i in first.items]
    assert "Exit interview held" in [i.title for i in first.items]
    colleague_user = factories.make_user("teacher", unit=org.school_a)
    d.colleague.user = colleague_user
    second = cases.submit(d.colleague, kind="resignation", last_working_day="2027-01-08", actor=d.admin)
    cases.approve(second, actor=d.head)
    cases.start_handover(second, actor=d.admin)
    titles = [i.title for i in second.items]
    assert titles[-1] == "Violin returned" and "Exit interview held" not in titles


def test_only_district_admins_configure_templates(departure, org):
    chief = factories.make_user("admin", unit=org.district)
    with pytest.raises(NotAllowed):
        checklist.add_template_item("teacher", title="Anything", owner="it", actor=departure.head)
    with pytest.raises(NotAllowed, match="district"):  # a school's admin would rewrite every school's checklist
        checklist.add_template_item("teacher", title="Anything", owner="it", actor=departure.admin)
    with pytest.raises(ValidationFailed):
        checklist.add_template_item("parent", title="Anything", owner="it", actor=chief)
    with pytest.raises(ValidationFailed):
        checklist.add_template_item("teacher", title=" ", owner="nobody", actor=chief)
    with pytest.raises(ValidationFailed, match="money item"):  # the amount is entered by the school
        checklist.add_template_item("teacher", title="Refund", owner="teacher", is_money=True, actor=chief)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChecklistTemplateItem)) == 0


def test_who_may_tick_what(departure, today):
    d = departure
    case = to_handover(d, actor=d.leaving_user)
    grade_book = item_titled(case, "Grade book complete and handed to the new teachers")
    keys = item_titled(case, "Keys, badge and devices returned (laptop, tablet)")
    interview = item_titled(case, "Exit interview held")
    assert checklist.may_tick(d.leaving_user, grade_book) and not checklist.may_tick(d.leaving_user, keys)
    assert checklist.may_tick(d.head, interview) and not checklist.may_tick(d.head, keys)
    assert all(checklist.may_tick(d.admin, item) for item in case.items)
    with pytest.raises(NotAllowed, match="IT"):
        checklist.complete_item(keys, actor=d.leaving_user, evidence="I left them on the desk")
    assert not keys.is_done
    checklist.complete_item(grade_book, actor=d.leaving_user, evidence="Handed to Jing Chen")
    checklist.complete_item(interview, actor=d.head, evidence="Held on 4 January")
    assert grade_book.done_by_id == d.leaving_user.id and interview.done_by_id == d.head.id


def test_ticking_needs_evidence_and_a_money_item_its_amount(departure, today):
    d = departure
    case = to_handover(d)
    money = item_titled(case, "Money owed either way settled")
    keys = item_titled(case, "Keys, badge and devices returned (laptop, tablet)")
    with pytest.raises(ValidationFailed) as raised:
        checklist.complete_item(keys, actor=d.admin, evidence="")
    assert raised.value.field == "evidence"
    with pytest.raises(ValidationFailed) as raised:
        checklist.complete_item(money, actor=d.admin, evidence="Paid")
    assert raised.value.field == "amount"
    with pytest.raises(ValidationFailed):
        checklist.complete_item(money, actor=d.admin, evidence="Paid", amount="12.345")
    assert not money.is_done
    checklist.complete_item(money, actor=d.admin, evidence="Laptop deposit kept", amount="-1,200.00")
    assert str(money.amount) == "-1200.00"


def test_ticking_twice_changes_nothing(departure, today):
    d = departure
    case = to_handover(d)
    keys = item_titled(case, "Keys, badge and devices returned (laptop, tablet)")
    checklist.complete_item(keys, actor=d.admin, evidence="Returned")
    done_at = keys.done_at
    checklist.complete_item(keys, actor=d.admin, evidence="Returned again")
    assert (keys.done_at, keys.evidence) == (done_at, "Returned")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "offboarding.item_done")) == 1


def test_reopen_needs_an_admin_and_a_reason(departure, today):
    d = departure
    case = to_handover(d)
    keys = item_titled(case, "Keys, badge and devices returned (laptop, tablet)")
    checklist.complete_item(keys, actor=d.admin, evidence="Returned")
    with pytest.raises(NotAllowed):
        checklist.reopen_item(keys, actor=d.head, reason="Wrong laptop")
    with pytest.raises(ValidationFailed):
        checklist.reopen_item(keys, actor=d.admin, reason="")
    assert keys.is_done
    checklist.reopen_item(keys, actor=d.admin, reason="Wrong laptop")
    assert not keys.is_done and keys.evidence is None
    assert keys in checklist.open_items(case)


def test_an_extra_item_for_one_case(departure, today):
    d = departure
    case = to_handover(d)
    item = checklist.add_item(case, title="Violin on loan returned", owner="teacher", actor=d.admin)
    assert item in case.items and item.position > max(i.position for i in case.items if i is not item)
    with pytest.raises(ValidationFailed, match="already has that item"):
        checklist.add_item(case, title="Violin on loan returned", owner="teacher", actor=d.admin)


def test_the_checklist_is_not_worked_before_the_handover(departure, today):
    d = departure
    case = open_case(d)
    cases.approve(case, actor=d.head)
    assert case.items == []
    with pytest.raises(InvalidTransition, match="from the start of the handover"):
        checklist.add_item(case, title="Too early", owner="it", actor=d.admin)


def test_items_cannot_be_reopened_after_settling(departure, today, monkeypatch):
    from decimal import Decimal

    from app.school.offboarding.services import settlement

    d = departure
    monkeypatch.setattr(settlement, "final_pay", lambda case: (Decimal("0.00"), {"source": "computed"}))
    case = to_access_revoked(d)
    for item in case.items:
        checklist.complete_item(item, actor=d.admin, evidence="done", amount="0" if item.is_money else None)
    settlement.settle(case, actor=d.admin)
    with pytest.raises(InvalidTransition):
        checklist.reopen_item(case.items[0], actor=d.admin, reason="Oops")
    assert case.items[0].is_done


# --- blockers ----------------------------------------------------------------------------------------------------


def test_blockers_are_raised_by_admins_and_heads_at_any_time(departure, today):
    d = departure
    with pytest.raises(NotAllowed):
        checklist.raise_blocker(d.leaving, kind="asset", description="Laptop", actor=d.leaving_user)
    with pytest.raises(ValidationFailed):
        checklist.raise_blocker(d.leaving, kind="gossip", description="", actor=d.head)
    before_case = checklist.raise_blocker(d.leaving, kind="dispute", description="Overtime dispute", actor=d.head)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "offboarding.blocker_raised"))
    assert (event.subject_type, event.subject_id) == ("Blocker", str(before_case.id))
    case = open_case(d)
    during = checklist.raise_blocker(d.leaving, kind="money", description="Advance not repaid", actor=d.admin)
    assert [b.id for b in checklist.open_blockers(d.leaving.id)] == [before_case.id, during.id]
    filed = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "offboarding.blocker_raised",
                                                           AuditEvent.subject_type == "DepartureCase")).all()
    assert [e.subject_id for e in filed] == [str(case.id)]


def test_resolving_a_blocker_twice_changes_nothing(departure, today):
    d = departure
    blocker = checklist.raise_blocker(d.leaving, kind="asset", description="Projector", actor=d.head)
    with pytest.raises(ValidationFailed):
        checklist.resolve_blocker(blocker, actor=d.head, resolution=" ")
    checklist.resolve_blocker(blocker, actor=d.head, resolution="Returned")
    resolved_at = blocker.resolved_at
    checklist.resolve_blocker(blocker, actor=d.admin, resolution="Returned again")
    assert (blocker.resolved_at, blocker.resolution, blocker.resolved_by_id) == (resolved_at, "Returned", d.head.id)
    assert checklist.open_blockers(d.leaving.id) == []


def test_require_nothing_open_names_items_and_blockers(departure, today):
    d = departure
    case = to_handover(d)
    for item in case.items:
        if item.title != "Exam papers and marking handed over":
            checklist.complete_item(item, actor=d.admin, evidence="done", amount="0" if item.is_money else None)
    checklist.raise_blocker(d.leaving, kind="complaint", description="Parent of 7(2) complains about marks",
                            actor=d.head)
    with pytest.raises(InvalidTransition) as raised:
        checklist.require_nothing_open(case, "closed")
    assert raised.value.message == ("The departure cannot be closed while these are open: Exam papers and marking "
                                    "handed over; open parent complaint: Parent of 7(2) complains about marks.")
