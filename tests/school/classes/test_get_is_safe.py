"""GET never changes state (RELIABILITY check 13) on the classes pages: every GET route, as a district
administrator, leaves every table as it was; the only trace is the audit of reading a student's record."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.school.classes.models import Enrollment
from tests import factories


def _snapshot() -> dict[str, list[tuple]]:
    _db.session.flush()
    _db.session.expire_all()
    return {table.name: [tuple(row) for row in _db.session.execute(sa.select(table).order_by(*table.primary_key))]
            for table in _db.metadata.sorted_tables if table.name != "audit_events"}


def test_get_requests_change_nothing_but_the_read_audit(app, client, org, login_as, year):
    login_as("admin", unit=org.district)
    student = factories.make_student(year.school_a, school_class=year.class_a)
    guardian = factories.make_guardian(student)
    assignment = factories.make_assignment(year.class_a, year.teacher_a, subject=year.math)
    enrolment = _db.session.scalars(sa.select(Enrollment)).one()
    values = {"class_id": year.class_a.id, "assignment_id": assignment.id, "enrolment_id": enrolment.id,
              "student_id": student.id, "guardian_id": guardian.id, "subject_id": year.math.id}
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("classes.") and "GET" in r.methods]
    urls = sorted(r.build({name: values[name] for name in r.arguments}, append_unknown=False)[1] for r in rules)
    assert len(urls) >= 18
    _db.session.commit()
    before, last_seq = _snapshot(), _db.session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
    for url in urls + ["/classes/?grade=7&academic_year=2026-2027&q=x", "/classes/students/?q=S&status=all",
                       "/classes/load?on=2026-11-02&sort=name", "/classes/1/assign?role=homeroom"]:
        assert client.get(url).status_code < 500, url
    assert _snapshot() == before
    actions = set(_db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.seq > (last_seq or 0))))
    assert actions <= {"classes.student_viewed", "security.forbidden"}
