"""A worker killed in the middle of an import leaves nothing half-written, and the redelivered task applies the
file once (RELIABILITY.md check 19).

The worker is a real process running the task, killed by PID with SIGKILL after it has written the rows in its
data transaction but before the commit. Everything here is committed for real (the worker is another process),
so the test creates its own school and deletes what it made afterwards (audit events stay: that table refuses
DELETE).
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.core.imports import jobs
from app.core.jobs import Job
from app.extensions import db
from app.general.audit.models import AuditEvent
from app.general.auth.models import User
from app.general.org.models import OrgUnit
from app.school.classes.models import Subject
from app.school.imports_kinds import context_for, spec_for
from app.school.imports_tasks import apply_file
from app.school.staff.models import StaffMember, staff_subjects
from tests import factories
from tests.school.imports.conftest import csv_bytes, staff_row

ROWS = 3_000
ROOT = Path(__file__).resolve().parents[3]

# The worker: the real task, with the first bulk insert followed by a long pause in which it gets killed.
WORKER = """
import sys, time
import app.school.staff.imports as staff_imports
real = staff_imports.insert_returning_ids

def insert_then_hang(*args, **kwargs):
    ids = real(*args, **kwargs)
    open(sys.argv[3], "w").write(str(len(ids)))
    time.sleep(300)
    return ids

staff_imports.insert_returning_ids = insert_then_hang
from app import create_app
from config import TestConfig
application = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=sys.argv[1], UPLOAD_FOLDER=sys.argv[2])
with application.app_context():
    from app.school.imports_tasks import apply_file
    apply_file.run(int(sys.argv[4]))
"""


@pytest.fixture
def committed_school(app, tmp_path, monkeypatch):
    """A school, its admin and a subject, committed; removed again with everything imported into the school."""
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    suffix = secrets.token_hex(3).upper()
    with app.app_context():
        school = factories.make_unit("school", f"Killed-worker school {suffix}", code=f"KW{suffix}")
        admin = factories.make_user("admin", unit=school, email=f"kw-{suffix.lower()}@example.test", password=None)
        subject = factories.make_subject(f"KW{suffix}")
        db.session.commit()
        ids = {"school": school.id, "admin": admin.id, "subject": subject.id, "code": school.code,
               "subject_code": subject.code}
        try:
            yield ids
        finally:
            db.session.rollback()
            staff = sa.select(StaffMember.id).where(StaffMember.school_id == ids["school"])
            db.session.execute(sa.delete(staff_subjects).where(staff_subjects.c.staff_id.in_(staff)))
            db.session.execute(sa.delete(StaffMember).where(StaffMember.school_id == ids["school"]))
            db.session.execute(sa.delete(Job).where(Job.requested_by_id == ids["admin"]))
            db.session.execute(sa.delete(User).where(User.id == ids["admin"]))
            db.session.execute(sa.delete(OrgUnit).where(OrgUnit.id == ids["school"]))
            db.session.execute(sa.delete(Subject).where(Subject.id == ids["subject"]))
            db.session.commit()
            db.session.remove()


def _staff_in(school_id: int) -> int:
    db.session.rollback()  # a fresh look at what is committed
    return db.session.scalar(sa.select(sa.func.count()).select_from(StaffMember)
                             .where(StaffMember.school_id == school_id))


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"the worker ended early ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail("the worker did not reach the writes")
        time.sleep(0.1)


def test_a_worker_killed_mid_import_leaves_nothing_and_the_redelivered_task_applies_once(app, committed_school,
                                                                                        tmp_path):
    school_id = committed_school["school"]
    school = _Code(committed_school["code"])
    data = csv_bytes([staff_row(school, n, subjects=committed_school["subject_code"]) for n in range(1, ROWS + 1)])
    with app.app_context():
        admin = db.session.get(User, committed_school["admin"])
        job = jobs.stage_upload(spec_for("staff"), data, "staff.csv", ctx=context_for(admin))
        db.session.commit()
        assert jobs.confirm(job, token=job.params["token"], spec=spec_for("staff"), ctx=context_for(admin)) == "queued"
        db.session.commit()
        job_id = job.id
        db.session.remove()

    marker = tmp_path / "written"
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, app.config["SQLALCHEMY_DATABASE_URI"], app.config["UPLOAD_FOLDER"],
         str(marker), str(job_id)],
        cwd=ROOT, env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_for(marker, proc)
        assert marker.read_text() == str(ROWS)  # the rows are written, in a transaction not yet committed
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # only the process this test started
        proc.wait(timeout=30)

    with app.app_context():
        assert _staff_in(school_id) == 0  # nothing half-written
        job = db.session.get(Job, job_id)
        assert job.status == "running" and job.done >= ROWS  # its progress was committed apart from the data
        db.session.remove()

        assert apply_file.run(job_id) == "applied"  # the task, delivered again (acks_late, reject on worker lost)
        assert _staff_in(school_id) == ROWS
        assert apply_file.run(job_id) == "already"
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "imports.applied",
                                                                AuditEvent.subject_id == str(job_id))).all()
        assert len(events) == 1 and events[0].changes["counts"]["staff"]["create"] == ROWS
        job = db.session.get(Job, job_id)
        assert job.status == "succeeded" and not (jobs.upload_folder() / job.params["file"]).exists()
        db.session.remove()


class _Code:
    """Stands in for an org unit in `staff_row` (which reads `.code`)."""

    def __init__(self, code: str):
        self.code = code
