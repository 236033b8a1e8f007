"""The admin's audit viewer: filters, scope, and a neutralised, audited CSV export."""
from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from app.core.spreadsheets import neutralise
from app.general.audit.models import AuditEvent
from app.general.audit.services import record
from tests import factories


def _rows(response) -> list[list[str]]:
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text)))


def test_viewer_filters_by_action_and_subject(client, org, login_as):
    login_as("admin", unit=org.district)
    record("widget.created", subject_type="Widget", subject_id=7, changes={"name": "alpha"}, actor="system")
    record("gadget.created", subject_type="Gadget", subject_id=8, changes={"name": "beta"}, actor="system")
    body = client.get("/audit/?action=widget").get_data(as_text=True)
    assert "widget.created" in body and "gadget.created" not in body
    body = client.get("/audit/?subject_type=Gadget&subject_id=8").get_data(as_text=True)
    assert "gadget.created" in body and "widget.created" not in body


def test_viewer_rejects_an_inverted_date_range_with_a_message(client, org, login_as):
    login_as("admin", unit=org.district)
    body = client.get("/audit/?date_from=2026-05-02&date_to=2026-05-01").get_data(as_text=True)
    assert "The end date is before the start date." in body


def test_school_admin_sees_only_events_of_their_school(client, org, login_as):
    login_as("admin", unit=org.school_a)
    record("thing.in_a", subject=org.dept_a, actor="system")
    record("thing.in_b", subject=org.dept_b, actor="system")
    record("thing.unscoped", actor="system")
    body = client.get("/audit/").get_data(as_text=True)
    assert "thing.in_a" in body
    assert "thing.in_b" not in body
    assert "thing.unscoped" not in body


def test_export_neutralises_formula_cells_and_is_itself_audited(client, org, login_as, db):
    login_as("admin", unit=org.district)
    record("widget.renamed", subject_type="Widget", subject_id=1, changes={"name": "=HYPERLINK(\"x\")"}, actor="system")
    evil_actor = factories.make_user("teacher", unit=org.school_a, email="@evil@example.test")
    record("widget.touched", subject_type="Widget", subject_id=2, actor=evil_actor)
    response = client.get("/audit/export.csv?subject_type=Widget")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = _rows(response)
    actors = [row[2] for row in rows[1:]]
    assert "'@evil@example.test" in actors
    exported = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "audit.exported")).all()
    assert len(exported) == 1 and exported[0].changes["rows"] == 2


def test_export_requires_a_fresh_login(client, org, login_as):
    login_as("admin", unit=org.district, fresh=False)
    response = client.get("/audit/export.csv")
    assert response.status_code == 302
    assert "/auth/reauthenticate" in response.headers["Location"]


def test_teachers_heads_and_parents_cannot_open_the_audit_log(client, org, login_as):
    for role in ("teacher", "head", "parent"):
        login_as(role)
        assert client.get("/audit/").status_code == 403
        assert client.get("/audit/export.csv").status_code == 403


def test_neutralise_covers_every_dangerous_first_character():
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\nx", "\x00x"):
        assert neutralise(text) == "'" + text
    assert neutralise("O'Hara") == "O'Hara"
    assert neutralise(42) == 42
