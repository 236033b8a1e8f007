"""The reassignment plan, its confirmation and the deliveries, through HTTP as the school's administrator."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.notifications.models import Notification
from app.school.classes.models import Assignment
from app.school.offboarding.models import CaseStatus, ChecklistTemplateItem, ParentNotice
from app.school.offboarding.services import plan
from app.school.teaching.models import Lesson, Term, TimetableSlot
from app.school.teaching.services.ledger import generate_term
from tests import factories
from tests.school.offboarding.conftest import mark_outbox, to_handover, to_reassigned
from tests.school.teaching.conftest import TUE, make_slot

SECRET = "moving in with my partner in Chengdu"


@pytest.fixture
def handover(departure, today, login_as):
    case = to_handover(departure, private_reason=SECRET)
    login_as(user=departure.admin)
    db.session.commit()  # the setup survives a view's rollback
    return case


def _candidates(html: str, assignment_id: int) -> list[int]:
    line = html.split(f'data-assignment-id="{assignment_id}"', 1)[1].split('data-testid="plan-line"', 1)[0]
    return [int(n) for n in re.findall(r'data-testid="candidate" data-staff-id="(\d+)"', line)]


def _choose(client, case, assignment, staff, reason=""):
    db.session.refresh(case)
    return client.post(f"/departures/{case.id}/plan/choose", data={
        "assignment_id": assignment.id, "staff_id": staff.id if staff else "", "override_reason": reason,
        "version": case.version})


def _choose_all(client, d, case, to=None):
    for assignment in (d.maths_a, d.maths_b, d.homeroom_a):
        assert _choose(client, case, assignment, to or d.colleague).status_code == 302


def _confirm(client, case, version):
    return client.post(f"/departures/{case.id}/plan/confirm", data={"version": version})


def _outbox_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.template == "offboarding/messages/parent_notice"))


def _notice_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ParentNotice))


def test_plan_page_ranks_candidates_with_their_reasons(client, departure, handover):
    d = departure
    response = client.get(f"/departures/{handover.id}/plan")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for assignment in (d.maths_a, d.maths_b, d.homeroom_a):
        ranked = _candidates(html, assignment.id)
        assert ranked[:2] == [d.colleague.id, d.other.id]  # same department first
    assert "same department" in html and "free in the timetable" in html and "qualified" in html
    assert "spare periods" in html
    assert "Confirm reassignment and notify parents" in html
    assert SECRET not in html


def test_plan_page_shows_a_clash_and_the_loads(client, departure, handover, org):
    d = departure
    term = db.session.scalar(sa.select(Term).where(Term.school_id == org.school_a.id))
    class_c = factories.make_class(org.school_a, name="8(1)")
    make_slot(term, TUE, 2, class_c, d.maths, d.other)  # when 7(3) has Maths with the leaving teacher
    _choose_all(client, d, handover)
    html = client.get(f"/departures/{handover.id}/plan").get_data(as_text=True)
    line_b = html.split(f'data-assignment-id="{d.maths_b.id}"', 1)[1].split('data-testid="plan-line"', 1)[0]
    assert "timetable clash" in line_b
    assert 'data-testid="loads"' in html and f"0 → {5 + 5 + 2}" in html
    assert "Chosen: " in html


def test_choose_and_confirm_hand_over_the_classes_and_write_one_notice_per_guardian(client, departure, handover):
    d = departure
    _choose_all(client, d, handover)
    db.session.refresh(handover)
    response = _confirm(client, handover, handover.version)
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/departures/{handover.id}/deliveries")
    db.session.refresh(handover)
    assert handover.status == CaseStatus.REASSIGNED
    new = db.session.scalars(sa.select(Assignment).where(Assignment.staff_id == d.colleague.id)).all()
    assert {(a.class_id, a.subject_id) for a in new} == {(d.class_a.id, d.maths.id), (d.class_b.id, d.maths.id),
                                                           (d.class_a.id, None)}
    assert _notice_count() == len(d.guardians) + 1
    twin = db.session.scalar(sa.select(ParentNotice).where(ParentNotice.guardian_id == d.twin_guardian.id))
    assert sorted(child["child"] for child in twin.changes) == sorted(
        s.full_name for s in d.students if s.given_name.startswith("Twin"))
    assert SECRET not in str(db.session.scalars(sa.select(Notification.body_text)).all())
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"{len(d.guardians) + 1} parents notified" in page
    assert page.count('data-testid="delivery"') == len(d.guardians) + 1
    assert SECRET not in page


def test_a_refused_line_leaves_assignments_lessons_and_outbox_untouched(client, departure, handover, org):
    d = departure
    term = db.session.scalar(sa.select(Term).where(Term.school_id == org.school_a.id))
    class_c = factories.make_class(org.school_a, name="8(1)")
    make_slot(term, TUE, 2, class_c, d.maths, d.other)  # Zhao teaches 8(1) when 7(3) has Maths
    generate_term(term, d.admin)
    lessons_before = sorted(db.session.execute(sa.select(Lesson.id, Lesson.scheduled_staff_id)).all())
    slots_before = sorted(db.session.execute(sa.select(TimetableSlot.id, TimetableSlot.staff_id)).all())
    assert _choose(client, handover, d.maths_a, d.colleague).status_code == 302
    assert _choose(client, handover, d.homeroom_a, d.colleague).status_code == 302
    assert _choose(client, handover, d.maths_b, d.other).status_code == 302
    db.session.refresh(handover)
    response = _confirm(client, handover, handover.version)
    assert response.status_code in (409, 422)
    html = response.get_data(as_text=True)
    line_b = html.split(f'data-assignment-id="{d.maths_b.id}"', 1)[1].split('data-testid="plan-line"', 1)[0]
    assert 'data-testid="line-error"' in line_b and "already teaches" in line_b
    db.session.expire_all()
    assert handover.status == CaseStatus.HANDOVER
    assert all(a.ends_on is None and a.staff_id == d.leaving.id for a in (d.maths_a, d.maths_b, d.homeroom_a))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assignment).where(
        Assignment.staff_id.in_([d.colleague.id, d.other.id]))) == 0
    assert sorted(db.session.execute(sa.select(Lesson.id, Lesson.scheduled_staff_id)).all()) == lessons_before
    assert sorted(db.session.execute(sa.select(TimetableSlot.id, TimetableSlot.staff_id)).all()) == slots_before
    assert _outbox_count() == 0 and _notice_count() == 0


def test_a_second_press_of_confirm_gets_the_conflict_and_sends_nothing_more(client, departure, handover):
    d = departure
    _choose_all(client, d, handover)
    db.session.refresh(handover)
    version = handover.version
    assert _confirm(client, handover, version).status_code == 302
    written, outbox = _notice_count(), _outbox_count()
    second = _confirm(client, handover, version)
    assert second.status_code == 409
    assert "Someone else acted on this departure" in second.get_data(as_text=True)
    assert (_notice_count(), _outbox_count()) == (written, outbox)


def test_a_stale_choice_is_refused_with_the_conflict(client, departure, handover):
    d = departure
    db.session.refresh(handover)
    version = handover.version
    assert _choose(client, handover, d.maths_a, d.colleague).status_code == 302
    response = client.post(f"/departures/{handover.id}/plan/choose", data={
        "assignment_id": d.maths_b.id, "staff_id": d.other.id, "version": version})
    assert response.status_code == 409
    assert not any(row.old_assignment_id == d.maths_b.id for row in handover.plan)


def test_the_wording_is_saved_and_previewed_escaped(client, departure, handover):
    d = departure
    _choose_all(client, d, handover)
    db.session.refresh(handover)
    response = client.post(f"/departures/{handover.id}/plan/wording", data={
        "wording_en": "Dear families, <script>alert(1)</script>", "wording_zh": "", "version": handover.version})
    assert response.status_code == 302
    html = client.get(f"/departures/{handover.id}/plan").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    preview = html.split('data-testid="notice-preview"', 1)[1]
    assert "7(2)" in preview and d.colleague.full_name in preview
    assert SECRET not in html


def test_the_first_day_of_the_new_teachers_is_checked(client, departure, handover):
    db.session.refresh(handover)
    response = client.post(f"/departures/{handover.id}/plan/effective-day", data={
        "effective_on": "2027-02-01", "version": handover.version})
    assert response.status_code == 422
    assert "must start by" in response.get_data(as_text=True)
    db.session.refresh(handover)
    ok = client.post(f"/departures/{handover.id}/plan/effective-day", data={
        "effective_on": "2027-01-04", "version": handover.version})
    assert ok.status_code == 302
    db.session.refresh(handover)
    assert plan.effective_day(handover).isoformat() == "2027-01-04"


def test_the_plan_is_read_only_outside_the_handover(client, departure, today, login_as):
    case = to_reassigned(departure)
    login_as(user=departure.admin)
    db.session.commit()
    html = client.get(f"/departures/{case.id}/plan").get_data(as_text=True)
    assert 'data-testid="plan-read-only"' in html
    assert "Confirm reassignment and notify parents" not in html and ">Choose<" not in html


def test_a_head_may_see_deliveries_but_not_the_plan(client, departure, today, login_as):
    case = to_reassigned(departure)
    login_as(user=departure.head)
    db.session.commit()
    assert client.get(f"/departures/{case.id}/plan").status_code == 403
    html = client.get(f"/departures/{case.id}/deliveries").get_data(as_text=True)
    assert "Retry" not in html and "Parents notified — continue" not in html


def test_an_admin_of_another_school_is_refused(client, departure, today, org, login_as):
    case = to_handover(departure)
    login_as("admin", unit=org.school_b)
    db.session.commit()
    assert client.get(f"/departures/{case.id}/plan").status_code == 403
    assert client.get(f"/departures/{case.id}/deliveries").status_code == 403
    assert client.post(f"/departures/{case.id}/plan/confirm", data={"version": case.version}).status_code == 403


def test_deliveries_filter_retry_and_mark_parents_notified(client, departure, today, login_as):
    d = departure
    case = to_reassigned(d)
    mark_outbox(case, "sent")
    mark_outbox(case, "failed", guardian_ids=[d.twin_guardian.id], error="gateway said no")
    login_as(user=d.admin)
    db.session.commit()
    html = client.get(f"/departures/{case.id}/deliveries?state=failed").get_data(as_text=True)
    assert html.count('data-testid="delivery"') == 1 and "gateway said no" in html
    assert 'data-testid="count-failed">1<' in html
    db.session.refresh(case)
    refused = client.post(f"/departures/{case.id}/deliveries/done", data={"version": case.version},
                          follow_redirects=True)
    assert "could not be delivered" in refused.get_data(as_text=True)
    db.session.refresh(case)
    assert case.status == CaseStatus.REASSIGNED
    notice = db.session.scalar(sa.select(ParentNotice).where(ParentNotice.guardian_id == d.twin_guardian.id))
    assert client.post(f"/departures/{case.id}/deliveries/{notice.id}/retry").status_code == 302
    assert client.post(f"/departures/{case.id}/deliveries/retry-failed").status_code == 302
    mark_outbox(case, "failed", guardian_ids=[d.twin_guardian.id], error="gateway said no")
    db.session.refresh(case)
    done = client.post(f"/departures/{case.id}/deliveries/done", data={"version": case.version,
                                                                       "accept_failed": "y"})
    assert done.status_code == 302
    db.session.refresh(case)
    assert case.status in (CaseStatus.PARENTS_NOTIFIED, CaseStatus.ACCESS_REVOKED)


def test_the_templates_page_writes_nothing_and_offers_the_defaults(client, departure, login_as, org):
    login_as(user=factories.make_user("admin", unit=org.district))
    html = client.get("/departures/templates").get_data(as_text=True)
    assert 'data-testid="no-templates"' in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChecklistTemplateItem)) == 0
    assert client.post("/departures/templates/defaults").status_code == 302
    count = db.session.scalar(sa.select(sa.func.count()).select_from(ChecklistTemplateItem))
    assert count > 0
    html = client.get("/departures/templates").get_data(as_text=True)
    assert html.count('data-testid="template-item"') == count
    assert client.get("/departures/templates").status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChecklistTemplateItem)) == count


def test_template_lines_are_added_and_edited_escaped(client, departure, login_as, org):
    login_as(user=factories.make_user("admin", unit=org.district))
    db.session.commit()
    response = client.post("/departures/templates?role=teacher", data={
        "add-teacher-title": "Return the <b>lab</b> key, 100% sure", "add-teacher-owner": "it",
        "add-teacher-position": "5"})
    assert response.status_code == 302
    item = db.session.scalar(sa.select(ChecklistTemplateItem))
    html = client.get("/departures/templates").get_data(as_text=True)
    assert "Return the &lt;b&gt;lab&lt;/b&gt; key, 100% sure" in html
    bad = client.post(f"/departures/templates/{item.id}", data={
        f"item{item.id}-title": "", f"item{item.id}-owner": "it", f"item{item.id}-version": item.version})
    assert bad.status_code == 422
    ok = client.post(f"/departures/templates/{item.id}", data={
        f"item{item.id}-title": "Return the lab key", f"item{item.id}-owner": "finance",
        f"item{item.id}-position": "7", f"item{item.id}-version": item.version})
    assert ok.status_code == 302
    db.session.refresh(item)
    assert (item.title, item.owner, item.position, item.is_active) == ("Return the lab key", "finance", 7, False)


def test_the_plan_and_template_forms_carry_their_csrf_token(app, departure, handover, org):
    from app.school.offboarding.services import checklist
    from tests.general.auth.helpers import csrf_token_from, other_app

    d = departure
    chief = factories.make_user("admin", unit=org.district)  # the district's admin: plans and templates
    item = checklist.add_template_item("teacher", title="Return the lab key", owner="it", actor=chief)
    db.session.commit()
    case_id, item_id, version, assignment_id, staff_id = (handover.id, item.id, item.version, d.maths_a.id,
                                                           d.colleague.id)
    login = chief.get_id()
    admin = SimpleNamespace(get_id=lambda: login)  # the objects detach at the first request
    with other_app(app, WTF_CSRF_ENABLED=True) as csrf_app:
        browser = csrf_app.test_client()
        factories.log_in(browser, admin)
        page = browser.get(f"/departures/{case_id}/plan").get_data(as_text=True)
        version_now = int(re.search(r'name="version" value="(\d+)"', page).group(1))
        assert browser.post(f"/departures/{case_id}/plan/choose", data={
            "assignment_id": assignment_id, "staff_id": staff_id, "version": version_now}).status_code == 400
        assert browser.post(f"/departures/{case_id}/plan/choose", data={
            "assignment_id": assignment_id, "staff_id": staff_id, "version": version_now,
            "csrf_token": csrf_token_from(page)}).status_code == 302
        page = browser.get("/departures/templates").get_data(as_text=True)
        token = re.search(rf'name="item{item_id}-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        assert browser.post(f"/departures/templates/{item_id}", data={
            f"item{item_id}-csrf_token": token, f"item{item_id}-title": "Return the lab keys",
            f"item{item_id}-owner": "it", f"item{item_id}-is_active": "y",
            f"item{item_id}-version": version}).status_code == 302
    db.session.expire_all()
    assert db.session.get(ChecklistTemplateItem, item_id).title == "Return the lab keys"


def test_a_refused_choice_shows_its_message_at_the_line(client, departure, handover):
    d = departure
    response = _choose(client, handover, d.maths_b, d.leaving)
    assert response.status_code == 422
    line_b = response.get_data(as_text=True).split(f'data-assignment-id="{d.maths_b.id}"', 1)[1].split(
        'data-testid="plan-line"', 1)[0]
    assert 'data-testid="line-error"' in line_b and "Choose a colleague of the same school." in line_b
    assert not handover.plan


def test_confirming_with_classes_left_names_them_and_changes_nothing(client, departure, handover):
    d = departure
    assert _choose(client, handover, d.maths_a, d.colleague).status_code == 302
    db.session.refresh(handover)
    response = _confirm(client, handover, handover.version)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-testid="plan-error"' in html and "Choose who takes over" in html and "7(3)" in html
    db.session.refresh(handover)
    assert handover.status == CaseStatus.HANDOVER and _notice_count() == 0
