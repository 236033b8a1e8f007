"""Import jobs: preview, confirm once, apply in one transaction (inline or by the task), audit once, all or nothing.

The services commit nothing; like the views and the task, the tests commit (a savepoint of the test's
transaction, rolled back at the end).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.core.errors import NotAllowed, ValidationFailed
from app.core.imports import jobs
from app.core.imports.progress import JobProgress
from app.core.jobs import Job
from app.core.spreadsheets import SpreadsheetRejected
from app.general.audit.models import AuditEvent
from app.school.classes.models import Assignment
from app.school.imports_kinds import context_for, spec_for
from app.school.imports_tasks import apply_file
from app.school.staff.models import StaffMember
from tests import factories
from tests.school.imports.conftest import csv_bytes, staff_row

STAFF = spec_for("staff")


def _staff_count(db, school=None) -> int:
    stmt = sa.select(sa.func.count()).select_from(StaffMember)
    if school is not None:
        stmt = stmt.where(StaffMember.school_id == school.id)
    return db.session.scalar(stmt)


def _events(db, action="imports.applied") -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def _stage(db, admin, data: bytes, name: str = "staff.csv") -> Job:
    job = jobs.stage_upload(STAFF, data, name, ctx=context_for(admin))
    db.session.commit()
    return job


def _uploads() -> list[Path]:
    return list(jobs.upload_folder().iterdir())


@pytest.fixture
def small_file(org):
    return csv_bytes([staff_row(org.school_a, n) for n in range(1, 4)])


def test_an_upload_is_previewed_and_kept_under_a_random_name_outside_static(db, org, admin, subjects, small_file):
    job = _stage(db, admin, small_file, "../../教师 名单.csv")
    assert jobs.state(job) == "preview" and job.params["filename"] == "教师 名单.csv"
    assert job.result["counts"]["staff"]["create"] == 3 and len(job.result["preview"]) == 3
    stored, checked = sorted(_uploads(), key=lambda p: p.suffix != ".csv")
    assert stored.name == job.params["file"] and stored.read_bytes() == small_file
    assert checked.name == job.params["parsed"] and checked.stem == stored.stem  # the checked rows, kept for the apply
    for path in (stored, checked):
        assert "static" not in path.parts and oct(path.stat().st_mode & 0o777) == "0o600"
    assert _staff_count(db) == 0


def test_the_apply_reuses_the_rows_checked_at_preview(db, org, admin, subjects, small_file):
    job = _stage(db, admin, small_file)
    (jobs.upload_folder() / job.params["file"]).unlink()  # only the checked rows are left
    assert jobs.confirm(job, token=job.params["token"], spec=STAFF, ctx=context_for(admin)) == "applied"
    assert _staff_count(db) == 3


@pytest.mark.parametrize("spoil", ["another day", "tampered"])
def test_checked_rows_from_another_day_or_altered_are_not_trusted(db, org, admin, subjects, small_file, spoil):
    job = _stage(db, admin, small_file)
    if spoil == "another day":
        job.params = {**job.params, "parsed_on": "2000-01-01"}
        db.session.commit()
    else:
        path = jobs.upload_folder() / job.params["parsed"]
        path.write_bytes(path.read_bytes().replace("王".encode(), "李".encode()))
    (jobs.upload_folder() / job.params["file"]).unlink()
    with pytest.raises(jobs.UploadGone):  # it went back to the file
        jobs.confirm(job, token=job.params["token"], spec=STAFF, ctx=context_for(admin))


def test_an_unsafe_upload_records_nothing(db, org, admin):
    with pytest.raises(SpreadsheetRejected):
        _stage(db, admin, b"<html><script>x</script></html>", "staff.xlsx")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_a_rejected_upload_keeps_the_report_and_no_file(db, org, admin, subjects):
    job = _stage(db, admin, csv_bytes([staff_row(org.school_a, 1, hired_on="yesterday")]))
    assert jobs.state(job) == "rejected"
    assert job.result["errors"] == [[2, "hired_on", "“yesterday” is not a date: write it as YYYY-MM-DD."]]
    assert _uploads() == []


def test_confirming_applies_the_file_once_and_audits_one_event(db, org, admin, subjects, small_file):
    job = _stage(db, admin, small_file)
    token = job.params["token"]
    assert jobs.confirm(job, token=token, spec=STAFF, ctx=context_for(admin)) == "applied"
    db.session.commit()
    assert jobs.state(job) == "succeeded" and _staff_count(db, org.school_a) == 3
    (event,) = _events(db)
    assert event.changes["kind"] == "staff" and event.changes["file"] == "staff.csv"
    assert event.changes["sha256"] == job.params["sha256"] and len(event.changes["sha256"]) == 64
    assert event.changes["counts"]["staff"]["create"] == 3 and event.actor_id == admin.id
    assert event.scope_path == org.school_a.path
    assert jobs.confirm(job, token=token, spec=STAFF, ctx=context_for(admin)) == "already"
    db.session.commit()
    assert len(_events(db)) == 1 and _staff_count(db) == 3


def test_only_the_uploader_with_the_previews_token_confirms(db, org, admin, subjects, small_file):
    job = _stage(db, admin, small_file)
    with pytest.raises(ValidationFailed):
        jobs.confirm(job, token="forged", spec=STAFF, ctx=context_for(admin))
    other = factories.make_user("admin", unit=org.school_a)
    with pytest.raises(NotAllowed):
        jobs.confirm(job, token=job.params["token"], spec=STAFF, ctx=context_for(other))
    assert _staff_count(db) == 0


def test_a_discarded_preview_cannot_be_confirmed(db, org, admin, subjects, small_file):
    job = _stage(db, admin, small_file)
    token = job.params["token"]
    assert jobs.cancel(job, actor=admin)
    db.session.commit()
    assert jobs.state(job) == "cancelled" and _uploads() == []
    assert jobs.confirm(job, token=token, spec=STAFF, ctx=context_for(admin)) == "already"
    assert _staff_count(db) == 0


def test_a_change_between_preview_and_confirm_rejects_the_file_whole(db, org, admin, subjects):
    school_class = factories.make_class(org.school_a, name="7-1")
    person = factories.make_staff(org.school_a, employee_number="T00002", family_name="王", given_name="芳2")
    data = csv_bytes([staff_row(org.school_a, n, max_weekly_periods="4") for n in range(1, 4)])
    job = _stage(db, admin, data)
    factories.make_assignment(school_class, person, weekly_periods=6)  # someone assigns classes meanwhile
    db.session.commit()
    with pytest.raises(jobs.ImportRejected) as rejected:
        jobs.confirm(job, token=job.params["token"], spec=STAFF, ctx=context_for(admin))
    db.session.rollback()
    jobs.record_rejection(job.id, rejected.value)
    db.session.commit()
    assert jobs.state(job) == "rejected" and job.result["errors"][0][:2] == [3, "max_weekly_periods"]
    assert _staff_count(db) == 1 and _events(db) == []


def test_a_10000_row_file_with_row_9999_bad_writes_nothing(db, org, admin, subjects):
    rows = [staff_row(org.school_a, n) for n in range(1, 10_001)]
    rows[9_997]["hired_on"] = "2021-13-01"  # the spreadsheet's row 9,999 (row 1 is the header)
    job = _stage(db, admin, csv_bytes(rows))
    assert jobs.state(job) == "rejected"
    assert job.result["errors"] == [[9_999, "hired_on", "“2021-13-01” is not a date: write it as YYYY-MM-DD."]]
    assert _staff_count(db) == 0 and _events(db) == []


# --- large files: the task -------------------------------------------------------------------------------


@pytest.fixture
def large(app, monkeypatch, progress_on_test_connection):
    """Files of more than five rows count as large."""
    monkeypatch.setitem(app.config, "IMPORT_BACKGROUND_ROWS", 5)
    seen: list[int] = []
    original = JobProgress.write

    def spy(self, *, done=None, force=False, **values):
        if done is not None:
            seen.append(done)
        return original(self, done=done, force=True, **values)

    monkeypatch.setattr(JobProgress, "write", spy)
    return seen


def test_a_large_file_is_applied_by_the_task_with_progress_and_only_once(db, org, admin, subjects, large):
    job = _stage(db, admin, csv_bytes([staff_row(org.school_a, n) for n in range(1, 2_501)]))
    assert jobs.confirm(job, token=job.params["token"], spec=STAFF, ctx=context_for(admin)) == "queued"
    db.session.commit()
    assert jobs.state(job) == "waiting" and _staff_count(db) == 0
    assert apply_file.run(job.id) == "applied"
    db.session.expire_all()
    assert jobs.state(job) == "succeeded" and job.done == job.total == 5_000 and job.percent == 100
    assert _staff_count(db) == 2_500 and len(_events(db)) == 1
    assert large[0] == 0 and large == sorted(large) and large[-1] >= 2_500  # checking, then writing
    assert not (jobs.upload_folder() / job.params["file"]).exists()
    assert apply_file.run(job.id) == "already"  # delivered twice (acks_late): nothing more happens
    assert _staff_count(db) == 2_500 and len(_events(db)) == 1


def test_the_task_never_runs_an_unconfirmed_preview(db, org, admin, subjects, large):
    job = _stage(db, admin, csv_bytes([staff_row(org.school_a, n) for n in range(1, 10)]))
    assert apply_file.run(job.id) == "skipped"
    assert jobs.state(job) == "preview" and _staff_count(db) == 0


def test_a_crash_in_the_middle_of_writing_leaves_nothing_and_a_rerun_applies(db, org, admin, subjects, large,
                                                                             monkeypatch):
    from app.core.imports import bulk

    job = _stage(db, admin, csv_bytes([staff_row(org.school_a, n) for n in range(1, 2_501)]))
    jobs.confirm(job, token=job.params["token"], spec=STAFF, ctx=context_for(admin))
    db.session.commit()
    real_update = bulk.update_many

    def crash_after_inserts(*args, **kwargs):
        assert _staff_count(db) == 2_500  # written in the data transaction, not committed
        raise RuntimeError("worker lost")

    monkeypatch.setattr("app.school.staff.imports.update_many", crash_after_inserts)
    with pytest.raises(RuntimeError):
        apply_file.run(job.id)
    assert _staff_count(db) == 0 and _events(db) == []
    db.session.expire_all()
    assert jobs.state(job) == "failed" and "Nothing was changed" in job.result["message"]
    monkeypatch.setattr("app.school.staff.imports.update_many", real_update)


def test_a_rerun_after_a_killed_worker_applies_the_file(db, org, admin, subjects, large):
    """A worker killed mid-import leaves the job running (its progress was committed apart); the redelivered
    task takes it over."""
    job = _stage(db, admin, csv_bytes([staff_row(org.school_a, n) for n in range(1, 20)]))
    jobs.confirm(job, token=job.params["token"], spec=STAFF, ctx=context_for(admin))
    job.status, job.done = "running", 7  # what the killed run left behind
    db.session.commit()
    assert apply_file.run(job.id) == "applied"
    assert _staff_count(db) == 19 and len(_events(db)) == 1


def test_the_task_records_a_rejection_when_the_data_changed(db, org, admin, subjects, large):
    rows = [staff_row(org.school_a, n, department_code=org.dept_a.code) for n in range(1, 10)]
    job = _stage(db, admin, csv_bytes(rows))
    jobs.confirm(job, token=job.params["token"], spec=STAFF, ctx=context_for(admin))
    org.dept_a.is_active = False  # the department is closed before the worker gets to the file
    db.session.commit()
    assert apply_file.run(job.id) == "rejected"
    db.session.expire_all()
    assert jobs.state(job) == "rejected" and len(job.result["errors"]) == 9
    assert _staff_count(db) == 0 and not (jobs.upload_folder() / job.params["file"]).exists()


def test_stale_previews_are_purged_with_their_files(db, org, admin, subjects, small_file):
    from datetime import timedelta

    from app.core.models import utcnow

    job = _stage(db, admin, small_file)
    assert jobs.purge_stale_previews() == 0
    assert jobs.purge_stale_previews(now=utcnow() + timedelta(days=2)) == 1
    db.session.commit()
    assert jobs.state(job) == "cancelled" and _uploads() == []


def test_assignments_are_applied_in_one_transaction(db, org, admin, subjects):
    spec = spec_for("assignments")
    school_class = factories.make_class(org.school_a, name="7-1")
    factories.make_staff(org.school_a, employee_number="T00001", subjects=[subjects["MATH"]])
    from tests.school.imports.conftest import assignment_row

    job = jobs.stage_upload(spec, csv_bytes([assignment_row(org.school_a)]), "a.csv", ctx=context_for(admin))
    db.session.commit()
    version = school_class.version
    assert jobs.confirm(job, token=job.params["token"], spec=spec, ctx=context_for(admin)) == "applied"
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assignment)) == 1
    assert school_class.version == version + 1  # a class page opened before the import refuses to save over it


def test_uploads_folder_is_private(app, db):
    folder = jobs.upload_folder()
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert os.path.commonpath([folder, app.static_folder]) != app.static_folder


def test_confirmed_imports_whose_task_was_lost_are_handed_over_again(app, db, org, admin, subjects, small_file,
                                                                      monkeypatch):
    from datetime import timedelta

    from app.core.models import utcnow
    from app.school.imports_tasks import resume_stalled

    sent: list[int] = []
    monkeypatch.setattr(apply_file, "delay", sent.append)
    monkeypatch.setitem(app.config, "IMPORT_BACKGROUND_ROWS", 1)
    job = _stage(db, admin, small_file)
    jobs.confirm(job, token=job.params["token"], spec=STAFF, ctx=context_for(admin))
    db.session.commit()
    assert resume_stalled.run() == 0  # just handed over: not stalled
    job.started_at = utcnow() - timedelta(hours=1)  # the message was lost an hour ago (e.g. Redis restarted)
    db.session.commit()
    assert resume_stalled.run() == 1 and sent == [job.id]


def test_a_concurrent_writer_taking_the_same_numbers_fails_the_job_cleanly(db, org, admin, subjects, large,
                                                                         monkeypatch):
    job = _stage(db, admin, csv_bytes([staff_row(org.school_a, n) for n in range(1, 20)]))
    jobs.confirm(job, token=job.params["token"], spec=STAFF, ctx=context_for(admin))
    db.session.commit()

    def duplicate(*_args, **_kwargs):
        raise sa.exc.IntegrityError("INSERT", {}, Exception("duplicate key value (employee_number)"))

    monkeypatch.setattr("app.school.staff.imports.insert_returning_ids", duplicate)
    assert apply_file.run(job.id) == "rejected"
    db.session.expire_all()
    assert jobs.state(job) == "failed" and "Someone else changed" in job.result["message"]
    assert _staff_count(db) == 0
