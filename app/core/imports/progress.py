"""Progress of a background job, written in its own short transaction so the page sees it while the data
transaction is still open (and keeps it if that transaction is rolled back)."""
from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from sqlalchemy import orm

from app.core.jobs import Job
from app.extensions import db

log = logging.getLogger(__name__)


def progress_session() -> orm.Session:
    """A session of its own on the engine: another connection than the data transaction's."""
    return orm.Session(bind=db.engine)


class JobProgress:
    """Writes `done` (and optionally `status`) of one job, at most every `every` seconds."""

    def __init__(self, job_id: int, *, every: float = 0.5):
        self.job_id = job_id
        self.every = every
        self.enabled = True
        self._last = 0.0
        self._last_done = -1

    def write(self, *, done: int | None = None, force: bool = False, **values) -> None:
        """Record progress now (force) or when `every` seconds have passed since the last write."""
        if not self.enabled or (done == self._last_done and not values):
            return
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        if done is not None:
            values["done"] = done
        try:
            with progress_session() as session:
                session.execute(sa.update(Job.__table__).where(Job.__table__.c.id == self.job_id).values(**values))
                session.commit()
        except Exception:  # progress is a courtesy: a failure to report it must not fail the import
            log.warning("job %s: progress could not be recorded; not trying again", self.job_id, exc_info=True)
            self.enabled = False
            return
        self._last, self._last_done = now, done if done is not None else self._last_done

    def __call__(self, done: int) -> None:
        self.write(done=done)
