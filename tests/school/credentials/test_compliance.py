"""Compliance: who must hold which type, against the credentials that count today; scoped; the page and its export."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.models import utcnow
from app.school.credentials import reports
from app.school.credentials.models import Credential
from app.school.credentials.reports import Filters, compliance_for
from app.school.credentials.status import expiry_for
from tests import factories
from tests.school.credentials.conftest import TODAY, make_credential

FAR = TODAY.replace(year=TODAY.year + 2)


@pytest.fixture
def school_a_people(db, catalogue):
    """School A: a compliant maths teacher, a homeroom teacher lacking first aid (and safeguarding due in 20 days),
    three staff with safeguarding due in 45 / 80 days or expired 10 days ago, one whose check was revoked.
    School B: a maths teacher without the teaching certificate."""
    c = catalogue
    class_a = factories.make_class(c.school_a, grade=7)
    class_b = factories.make_class(c.school_b, grade=3)
    factories.make_assignment(class_a, c.teacher_a, subject=c.math)
    factories.make_assignment(class_a, c.teacher_a2)  # homeroom
    factories.make_assignment(class_b, c.teacher_b, subject=c.math)
    make_credential(c.teacher_a, c.teach, issued_on=TODAY.replace(year=2024), expires_on=FAR)
    make_credential(c.teacher_a, c.safe, issued_on=TODAY.replace(year=2025), expires_on=FAR)
    make_credential(c.teacher_a2, c.safe, issued_on=TODAY.replace(year=2024), expires_on=TODAY + timedelta(days=20))
    make_credential(c.teacher_b, c.safe, issued_on=TODAY.replace(year=2025), expires_on=FAR)
    people = {}
    for name, days in (("Sixty", 45), ("Ninety", 80), ("Lapsed", -10), ("Revoked", 400)):
        people[name] = factories.make_staff(c.school_a, family_name=name)
        credential = make_credential(people[name], c.safe, issued_on=TODAY.replace(year=2024),
                                     expires_on=TODAY + timedelta(days=days))
        if name == "Revoked":
            credential.revoked_at, credential.revoked_reason = utcnow(), "failed check"
    factories.make_staff(c.school_a, family_name="Gone", status="departed")  # never counted
    db.session.flush()
    return people


def _problems(result) -> set[tuple[int, str, str]]:
    return {(r.staff_id, r.type_code, r.problem) for r in result.export_rows()}


def test_counts_of_the_whole_district(db, org, catalogue, school_a_people):
    c, p = catalogue, school_a_people
    result = compliance_for(factories.make_user("admin", unit=org.district), TODAY)
    total = result.total
    assert (total.staff, total.compliant) == (7, 3)  # teacher_a, Sixty and Ninety
    assert (total.expiring_30, total.expiring_60, total.expiring_90) == (1, 2, 3)
    assert (total.expired, total.missing) == (1, 3)
    assert _problems(result) == {
        (c.teacher_a2.id, "FIRSTAID", "missing"), (p["Revoked"].id, "SAFE", "missing"),
        (c.teacher_b.id, "TEACH", "missing"), (p["Lapsed"].id, "SAFE", "expired"),
        (c.teacher_a2.id, "SAFE", "expiring_30"), (p["Sixty"].id, "SAFE", "expiring_60"),
        (p["Ninety"].id, "SAFE", "expiring_90")}
    by_school = {s.code: s for s in result.schools}
    assert (by_school[c.school_a.code].staff, by_school[c.school_a.code].compliant) == (6, 3)
    assert by_school[c.school_a.code].percent == 50
    assert (by_school[c.school_b.code].staff, by_school[c.school_b.code].percent) == (1, 0)


def test_the_list_is_sorted_worst_first_and_filtered(db, org, catalogue, school_a_people):
    admin = factories.make_user("admin", unit=org.district)
    rows = list(compliance_for(admin, TODAY).export_rows())
    assert [r.problem for r in rows] == ["missing"] * 3 + ["expired", "expiring_30", "expiring_60", "expiring_90"]
    within_60 = compliance_for(admin, TODAY, Filters(problem="expiring_60"))
    assert {r.problem for r in within_60.export_rows()} == {"expiring_30", "expiring_60"}
    teach = compliance_for(admin, TODAY, Filters(type_id=catalogue.teach.id))
    assert _problems(teach) == {(catalogue.teacher_b.id, "TEACH", "missing")}
    school_b = compliance_for(admin, TODAY, Filters(school_id=catalogue.school_b.id))
    assert {r.school_code for r in school_b.export_rows()} == {catalogue.school_b.code}


def test_grace_days_count_as_compliant(db, org, catalogue, school_a_people):
    catalogue.safe.grace_days = 14
    db.session.flush()
    result = compliance_for(factories.make_user("admin", unit=org.district), TODAY)
    lapsed = school_a_people["Lapsed"].id
    assert (lapsed, "SAFE", "expiring_30") in _problems(result)
    assert result.total.expired == 0 and result.total.compliant == 4


def test_a_credential_issued_later_or_revoked_does_not_count(db, org, catalogue):
    person = factories.make_staff(catalogue.school_a, family_name="Future")
    make_credential(person, catalogue.safe, issued_on=TODAY + timedelta(days=1))
    revoked = make_credential(person, catalogue.safe, issued_on=TODAY.replace(year=2025))
    revoked.revoked_at = utcnow()
    db.session.flush()
    result = compliance_for(factories.make_user("admin", unit=org.district), TODAY)
    assert (person.id, "SAFE", "missing") in _problems(result)


def test_an_approved_renewal_starting_after_today_is_no_longer_expiring(db, org, catalogue, school_a_people):
    expiring = school_a_people["Sixty"]
    current = db.session.scalar(sa.select(Credential).where(Credential.staff_id == expiring.id))
    successor = make_credential(expiring, catalogue.safe, issued_on=current.expires_on + timedelta(days=1),
                                expires_on=expiry_for(current.expires_on + timedelta(days=1), 3))
    current.superseded_by_id = successor.id
    db.session.flush()
    result = compliance_for(factories.make_user("admin", unit=org.district), TODAY)
    assert not any(staff_id == expiring.id for staff_id, _, _ in _problems(result))


@pytest.mark.parametrize("role", ["admin", "head"])
def test_school_a_never_sees_school_b(db, org, catalogue, school_a_people, role):
    result = compliance_for(factories.make_user(role, unit=org.school_a), TODAY)
    rows = list(result.export_rows())
    assert rows and {r.school_code for r in rows} == {catalogue.school_a.code}
    assert catalogue.teacher_b.id not in {r.staff_id for r in rows}
    assert [s.code for s in result.schools] == [catalogue.school_a.code] and result.total.staff == 6
    foreign = compliance_for(factories.make_user(role, unit=org.school_a), TODAY,
                             Filters(school_id=catalogue.school_b.id))
    assert list(foreign.export_rows()) == []


def test_a_department_head_sees_only_their_department(db, org, catalogue, school_a_people):
    result = compliance_for(factories.make_user("head", unit=org.dept_a), TODAY)
    assert result.total.staff == 1 and {r.staff_id for r in result.export_rows()} <= {catalogue.teacher_a.id}


def test_the_frame_is_rebuilt_when_a_credential_is_recorded(app, db, org, catalogue, school_a_people, monkeypatch):
    monkeypatch.setitem(app.config, "COMPLIANCE_CACHE", True)
    monkeypatch.setitem(app.config, "COMPLIANCE_RECHECK", 0)  # ask the database every time
    monkeypatch.setattr(reports, "_cached", {"key": None, "frames": None, "checked": 0.0, "summaries": {}})
    admin = factories.make_user("admin", unit=org.district)
    assert compliance_for(admin, TODAY).total.missing == 3
    assert reports.district_frames(TODAY) is reports.district_frames(TODAY)  # unchanged data: the same frame
    make_credential(catalogue.teacher_b, catalogue.teach, issued_on=TODAY.replace(year=2025))
    assert compliance_for(admin, TODAY).total.missing == 2


# --- the page and the export --------------------------------------------------------------------------------


def test_the_page_shows_school_a_rows_only(client, login_as, org, catalogue, school_a_people):
    login_as("admin", unit=org.school_a)
    page = client.get("/credentials/compliance")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="compliance-chart"' in html and "Revoked" in html and "Lapsed" in html
    assert "Yang" not in html and catalogue.school_b.name not in html
    assert f'data-staff-id="{catalogue.teacher_b.id}"' not in html


def test_the_page_filters_and_pages(client, login_as, org, catalogue, school_a_people):
    login_as("admin", unit=org.district)
    html = client.get(f"/credentials/compliance?problem=missing&type={catalogue.teach.id}").get_data(as_text=True)
    assert html.count('data-problem="missing"') == 1 and f'data-staff-id="{catalogue.teacher_b.id}"' in html
    assert client.get("/credentials/compliance?page=99&problem=bogus&school=x").status_code == 200


def test_the_page_has_an_empty_state(client, login_as, org):
    login_as("head", unit=org.school_b)
    html = client.get("/credentials/compliance").get_data(as_text=True)
    assert 'data-testid="compliance-empty"' in html


@pytest.mark.parametrize("role, status", [("teacher", 403), ("parent", 403)])
def test_teachers_and_parents_cannot_see_compliance(client, login_as, org, role, status):
    login_as(role)
    assert client.get("/credentials/compliance").status_code == status
    assert client.get("/credentials/compliance/export.csv").status_code == status


def test_the_export_neutralises_cells_and_is_audited(client, login_as, org, catalogue, school_a_people, db):
    from app.general.audit.models import AuditEvent

    school_a_people["Revoked"].given_name = "=cmd|' /C calc'!A0"
    db.session.flush()
    admin = login_as("admin", unit=org.school_a)
    answer = client.get("/credentials/compliance/export.csv?problem=missing")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["school_code", "employee_number", "name"]
    names = [r[2] for r in rows[1:]]
    assert any(n.startswith("'=cmd") for n in names) and not any(n.startswith("=") for n in names)
    assert {r[0] for r in rows[1:]} == {catalogue.school_a.code}
    event = db.session.query(AuditEvent).filter_by(action="exports.downloaded", actor_id=admin.id).one()
    assert event.changes["kind"] == "credential_compliance" and event.changes["filters"] == {"problem": "missing"}
    assert event.changes["rows"] == len(rows) - 1
    excel = client.get("/credentials/compliance/export.xlsx")
    assert excel.status_code == 200 and excel.data[:2] == b"PK"


def test_the_export_needs_a_fresh_login(client, login_as, org, catalogue):
    login_as("admin", unit=org.school_a, fresh=False)
    answer = client.get("/credentials/compliance/export.csv")
    assert answer.status_code == 302 and "reauthenticate" in answer.headers["Location"]


def test_the_cached_summary_follows_the_data(app, client, login_as, org, catalogue, school_a_people, monkeypatch):
    monkeypatch.setitem(app.config, "COMPLIANCE_CACHE", True)
    monkeypatch.setitem(app.config, "COMPLIANCE_RECHECK", 0)
    monkeypatch.setattr(reports, "_cached", {"key": None, "frames": None, "checked": 0.0, "summaries": {}})
    login_as("admin", unit=org.district)
    assert 'data-missing="3"' in client.get("/credentials/compliance").get_data(as_text=True)
    assert 'data-missing="3"' in client.get("/credentials/compliance?page=2").get_data(as_text=True)
    make_credential(catalogue.teacher_b, catalogue.teach, issued_on=TODAY.replace(year=2025))
    assert 'data-missing="2"' in client.get("/credentials/compliance").get_data(as_text=True)
