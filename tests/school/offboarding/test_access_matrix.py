"""The horizontal matrix of RELIABILITY check 11 for departures: 2 schools × (admin, head, 2 teachers, 2 parents with
a child each). Each school has a departure whose plan is confirmed (its parents' notices written), a checklist and
a blocker. Every object route of the offboarding blueprint — listed from the url_map, so routes added later are
covered too — requested (GET and POST) for another school's or another person's object by every non-owner,
answers 403 or 404 and changes nothing; the lists (board, a parent's notices, a teacher's own case, a case's plan
and deliveries) never show another school's or another person's rows (the rendered names and ids are asserted)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.auth.models import User
from app.general.notifications.models import Notification
from app.school.offboarding.models import (
    Blocker,
    ChecklistItem,
    ChecklistTemplateItem,
    DepartureCase,
    ParentNotice,
    Reassignment,
)
from app.school.offboarding.services import cases, checklist, plan
from tests import factories

TODAY = date(2026, 12, 7)
LAST_DAY = date(2027, 1, 8)
# Not an object of a school or a person: the checklist templates are one configuration for every school (their
# access is the `departures.configure` permission's, tested with the templates), and a signed link is the guardian's
# capability by design (it carries its own proof; a forged one is refused in the notices' tests).
NOT_OWNED = {"offboarding.template_item"}
FORM = {"note": "x", "reason": "x", "version": "1", "evidence": "x", "amount": "0", "title": "x", "owner": "it",
        "description": "x", "kind": "asset", "resolution": "x", "last_working_day": "2027-02-26",
        "effective_on": "2027-01-11", "waiver_reason": "x", "accept_failed": "y", "wording_en": "x", "wording_zh": "x"}


@dataclass
class Side:
    """One school: teacher 0 is leaving (the case is theirs), teacher 1 takes the class over; parent n is the
    guardian of child n, both in the leaving teacher's class."""

    tag: str
    school: object
    admin: User
    head: User
    teachers: list[User]
    staff: list
    parents: list[User]
    children: list
    case: DepartureCase
    item: ChecklistItem
    blocker: Blocker
    notices: list[ParentNotice]  # notices[n] is parent n's

    @property
    def names(self) -> list[str]:
        """What of this school must never appear on the other school's pages."""
        return [f"Leaver{self.tag}", f"Colleague{self.tag}", f"Child{self.tag}0", f"Child{self.tag}1",
                f"Parent{self.tag}0", f"Parent{self.tag}1", f"Laptop{self.tag}"]


def _side(unit, maths, tag: str) -> Side:
    admin = factories.make_user("admin", unit=unit, password=None)
    head = factories.make_user("head", unit=unit, password=None)
    teachers = [factories.make_user("teacher", unit=unit, password=None) for _n in range(2)]
    staff = [factories.make_staff(unit, user=teachers[0], family_name=f"Leaver{tag}", given_name="Lin",
                                  subjects=[maths]),
             factories.make_staff(unit, user=teachers[1], family_name=f"Colleague{tag}", given_name="Jun",
                                  subjects=[maths], max_weekly_periods=30)]
    school_class = factories.make_class(unit, name=f"7({tag})")
    factories.make_assignment(school_class, staff[0], subject=maths, weekly_periods=5)
    parents = [factories.make_user("parent", unit=unit, password=None) for _n in range(2)]
    children, guardians = [], []
    for n, parent in enumerate(parents):
        child = factories.make_student(unit, school_class=school_class, family_name="Kid", given_name=f"Child{tag}{n}")
        children.append(child)
        guardians.append(factories.make_guardian(child, full_name=f"Parent{tag}{n}", user=parent, locale="en"))
    case = cases.submit(staff[0], kind="resignation", last_working_day=LAST_DAY, actor=admin, given_on=TODAY)
    cases.approve(case, actor=head)
    cases.start_handover(case, actor=admin)
    for line in plan.lines(case):
        plan.choose(case, line.assignment, staff[1], actor=admin)
    assert plan.confirm(case, actor=admin) == 2
    blocker = checklist.raise_blocker(staff[0], kind="asset", description=f"Laptop{tag} not returned", actor=admin)
    by_guardian = {n.guardian_id: n for n in _db.session.scalars(sa.select(ParentNotice).where(
        ParentNotice.case_id == case.id))}
    return Side(tag, unit, admin, head, teachers, staff, parents, children, case, case.items[0], blocker,
                [by_guardian[g.id] for g in guardians])


@pytest.fixture
def sides(app, org, monkeypatch):
    monkeypatch.setattr("app.school.offboarding.services.cases.local_today", lambda: TODAY)
    monkeypatch.setattr("app.school.offboarding.services.plan.local_today", lambda: TODAY)
    maths = factories.make_subject("MATH", "Maths")
    pair = _side(org.school_a, maths, "A"), _side(org.school_b, maths, "B")
    _db.session.commit()
    return pair


def _object_urls(app, target: Side, *, notice: ParentNotice | None = None,
                 endpoints: set[str] | None = None) -> list[tuple[str, str]]:
    """(method, url) of every offboarding route that takes an object, pointed at `target`'s objects."""
    values = {"case_id": target.case.id, "item_id": target.item.id, "blocker_id": target.blocker.id,
              "notice_id": (notice or target.notices[0]).id, "staff_id": target.staff[0].id}
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("offboarding.") or rule.endpoint in NOT_OWNED:
            continue
        if not rule.arguments or not rule.arguments <= set(values):
            continue  # a list, a form without an object, or a signed link
        if endpoints is not None and rule.endpoint not in endpoints:
            continue
        url = rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)[1]
        urls += [(method, url) for method in ("GET", "POST") if method in rule.methods]
    return sorted(set(urls))


def _endpoints_taking(app, *arguments: str) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("offboarding.") and set(arguments) & set(rule.arguments)}


def _snapshot() -> dict:
    _db.session.expire_all()
    tables = (DepartureCase, ChecklistItem, Blocker, Reassignment, ParentNotice, ChecklistTemplateItem)
    snapshot = {model.__name__: [tuple(row) for row in _db.session.execute(
        sa.select(model.__table__).order_by(model.__table__.c.id))] for model in tables}
    snapshot["notifications"] = _db.session.execute(sa.select(
        Notification.idempotency_key, Notification.status, Notification.attempts).order_by(Notification.id)).all()
    snapshot["accounts"] = _db.session.execute(sa.select(
        User.id, User.is_active_account, User.session_epoch).order_by(User.id)).all()
    return snapshot


def _refuses(client, user, urls) -> None:
    factories.log_in(client, user)
    for method, url in urls:
        response = client.open(url, method=method, data=FORM)
        assert response.status_code in (403, 404), (user.role, user.email, method, url, response.status_code)


def _ids(html: str, attribute: str) -> set[int]:
    return {int(n) for n in re.findall(rf'{attribute}="(\d+)"', html)}


def _page(client, user, url: str) -> str:
    factories.log_in(client, user)
    response = client.get(url)
    assert response.status_code == 200, (user.role, url, response.status_code)
    return response.get_data(as_text=True)


def test_the_matrix_covers_the_blueprints_object_routes(app, sides):
    """A guard against a matrix that silently tests nothing: the object routes of the blueprint are in it."""
    urls = _object_urls(app, sides[1])
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("offboarding.")}
    assert {"offboarding.case", "offboarding.parent_notice"} <= endpoints
    assert len(urls) >= 20, urls  # 28 when this was written: the case, its checklist, blockers, plan, deliveries
    assert ("GET", f"/departures/{sides[1].case.id}") in urls
    assert ("GET", f"/departures/notices/{sides[1].notices[0].id}") in urls


@pytest.mark.parametrize("direction", ["a_to_b", "b_to_a"])
def test_every_object_route_refuses_everyone_of_the_other_school(app, client, sides, direction):
    own, other = sides if direction == "a_to_b" else sides[::-1]
    urls = sorted({url for notice in other.notices for url in _object_urls(app, other, notice=notice)})
    before = _snapshot()
    for user in (own.admin, own.head, *own.teachers, *own.parents):
        _refuses(client, user, urls)
    assert _snapshot() == before


def test_in_the_same_school_a_colleague_and_the_parents_reach_no_case_route(app, client, sides):
    own = sides[0]
    case_routes = _endpoints_taking(app, "case_id", "item_id", "blocker_id", "staff_id")
    urls = _object_urls(app, own, endpoints=case_routes)
    assert ("GET", f"/departures/{own.case.id}") in urls
    before = _snapshot()
    for user in (own.teachers[1], *own.parents):
        _refuses(client, user, urls)
    assert _snapshot() == before


def test_a_parents_notice_is_refused_to_everyone_else_of_the_school(app, client, sides):
    own = sides[0]
    notice_routes = {e for e in _endpoints_taking(app, "notice_id") if e.startswith("offboarding.")}
    notice_routes -= _endpoints_taking(app, "case_id")  # the case's deliveries page is the school's, not the parent's
    before = _snapshot()
    for n, notice in enumerate(own.notices):
        urls = _object_urls(app, own, notice=notice, endpoints=notice_routes)
        assert ("GET", f"/departures/notices/{notice.id}") in urls
        for user in (own.parents[1 - n], *own.teachers, own.admin, own.head):
            _refuses(client, user, urls)
    assert _snapshot() == before


def test_each_parent_reads_their_own_notice_and_only_their_own_childs_name(client, sides):
    """The positive control of the refusals above, and no other child in the parent's pages."""
    for own, other in (sides, sides[::-1]):
        for n, parent in enumerate(own.parents):
            foreign = [f"Child{own.tag}{1 - n}", f"Parent{own.tag}{1 - n}", *other.names]
            listing = _page(client, parent, "/departures/notices")
            assert _ids(listing, "data-notice-id") == {own.notices[n].id}
            assert f"Child{own.tag}{n}" in listing
            assert not [name for name in foreign if name in listing]
            notice = _page(client, parent, f"/departures/notices/{own.notices[n].id}")
            assert f"Child{own.tag}{n}" in notice
            assert not [name for name in foreign if name in notice]


@pytest.mark.parametrize("role", ["admin", "head"])
def test_the_board_lists_only_the_schools_own_departures(client, sides, role):
    for own, other in (sides, sides[::-1]):
        user = getattr(own, role)
        for query in ("", "?status=all", "?status=reassigned", f"?school={other.school.id}",
                      f"?q=Leaver{other.tag}", "?page=2"):
            html = _page(client, user, f"/departures/{query}")
            ids = _ids(html, "data-case-id")
            assert other.case.id not in ids, query
            searched = [name for name in other.names if name not in query]  # the search box shows what was asked
            assert not [name for name in searched if name in html], query
            if query in ("", "?status=all"):
                assert ids == {own.case.id} and f"Leaver{own.tag}" in html, query


def test_a_case_page_plan_and_deliveries_show_nothing_of_the_other_school(app, client, sides):
    pages = [rule.rule for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("offboarding.") and rule.arguments == {"case_id"} and "GET" in rule.methods]
    assert "/departures/<int:case_id>" in pages
    for own, other in (sides, sides[::-1]):
        for user in (own.admin, own.head):
            for page in pages:
                factories.log_in(client, user)
                response = client.get(page.replace("<int:case_id>", str(own.case.id)))
                if response.status_code == 403:
                    continue  # a page of the admin's alone (the plan): the head's refusal is the policy's
                assert response.status_code == 200, (user.role, page, response.status_code)
                html = response.get_data(as_text=True)
                assert not [name for name in other.names if name in html], (user.role, page)


def test_a_teacher_sees_only_their_own_departure(client, sides):
    for own, other in (sides, sides[::-1]):
        leaving = _page(client, own.teachers[0], "/departures/mine")
        assert not [name for name in other.names if name in leaving]
        assert _ids(leaving, "data-item-id") == {item.id for item in own.case.items}  # their own checklist
        colleague = _page(client, own.teachers[1], "/departures/mine")
        assert not [name for name in (*own.names, *other.names) if name in colleague]
        assert _ids(colleague, "data-item-id") == set() and 'data-testid="no-case"' in colleague
