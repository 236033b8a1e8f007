"""The daily credential reminder task sent through Redis to a real `celery worker` subprocess: it writes the
reminder rows, its e-mails reach the loopback SMTP sink exactly once, and a second send of the task adds nothing.

Every row here is really committed (the worker is another process); the fixture deletes them afterwards.
"""
from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.auth.models import UserScope
from app.general.notifications.backends import delivery_key
from app.general.notifications.models import Notification
from app.general.org.models import OrgUnit
from app.school.credentials.models import Credential, CredentialReminder, CredentialType
from app.school.staff.models import StaffMember
from tests import factories

pytestmark = pytest.mark.redis

ON = date(2031, 3, 2)
TIMEOUT = 60


class Scene:
    """A school with an admin, a teacher with an account and one without, each with a credential due on ON."""

    def __init__(self, committed_db):
        tag = committed_db.prefix[-8:]
        district = factories.make_unit("district", "Worker District", code=f"D-{tag}")
        self.school = factories.make_unit("school", "Worker School", district, code=f"S-{tag}")
        self.units = [self.school.id, district.id]
        self.admin = committed_db.user("admin", unit=self.school)
        teacher = committed_db.user("teacher", unit=self.school)
        self.type = CredentialType(code=f"W{tag}", name="Safeguarding check", validity_years=3,
                                   reminder_offsets="90,30,7", required_for="all")
        db.session.add(self.type)
        self.staff = [factories.make_staff(self.school, user=teacher, family_name="Worker"),
                      factories.make_staff(self.school, email=f"{committed_db.prefix}-staff@example.test")]
        self.credentials = []
        for person, days in zip(self.staff, (7, 30), strict=True):
            expires = ON + timedelta(days=days)
            self.credentials.append(Credential(staff=person, type=self.type, issued_on=expires - timedelta(days=1000),
                                               expires_on=expires))
        db.session.add_all(self.credentials)
        db.session.commit()
        self.ids = [c.id for c in self.credentials]

    def keys_like(self) -> sa.ColumnElement[bool]:
        patterns = [f"credential:{i}:%" for i in self.ids] + [f"credentials:digest:{self.admin.id}:%"]
        return sa.or_(*(Notification.idempotency_key.like(p) for p in patterns))

    def notifications(self) -> list[tuple[str, str]]:
        db.session.rollback()
        stmt = sa.select(Notification.idempotency_key, Notification.status).where(self.keys_like())
        return sorted(tuple(row) for row in db.session.execute(stmt))

    def reminders(self) -> list[tuple[int, int]]:
        db.session.rollback()
        stmt = sa.select(CredentialReminder.credential_id, CredentialReminder.offset_days).where(
            CredentialReminder.credential_id.in_(self.ids))
        return sorted(tuple(row) for row in db.session.execute(stmt))

    def cleanup(self) -> None:
        db.session.rollback()
        db.session.execute(sa.delete(Notification).where(self.keys_like()))
        db.session.execute(sa.delete(CredentialReminder).where(CredentialReminder.credential_id.in_(self.ids)))
        db.session.execute(sa.delete(Credential).where(Credential.id.in_(self.ids)))
        db.session.execute(sa.delete(CredentialType).where(CredentialType.id == self.type.id))
        db.session.execute(sa.delete(StaffMember).where(StaffMember.id.in_([s.id for s in self.staff])))
        db.session.execute(sa.delete(UserScope).where(UserScope.org_unit_id.in_(self.units)))
        for unit_id in self.units:  # the school before the district (RESTRICT acts at once on SQLite)
            db.session.execute(sa.delete(OrgUnit).where(OrgUnit.id == unit_id))
        db.session.commit()


@pytest.fixture
def scene(committed_db):
    data = Scene(committed_db)
    try:
        yield data
    finally:
        data.cleanup()


def _send_task(integration_app, worker) -> None:
    integration_app.extensions["celery"].send_task("credentials.send_reminders", args=[ON.isoformat()],
                                                   queue=worker.queue)


def _delivered(smtp_sink, keys: list[str]) -> list[int]:
    received = [item.key for item in smtp_sink.state.received]
    return [received.count(delivery_key(key)) for key in keys]


def test_the_reminder_task_on_a_real_worker_sends_each_email_once(worker, scene, integration_app, smtp_sink):
    _send_task(integration_app, worker)
    first, second = scene.ids
    worker.wait_for(lambda: len(scene.notifications()) == 5
                    and all(status == "sent" for _key, status in scene.notifications()),
                    TIMEOUT, "the reminders to be written and e-mailed")
    assert scene.reminders() == [(first, 7), (second, 30)]
    keys = {key for key, _status in scene.notifications()}
    digest = f"credentials:digest:{scene.admin.id}:{ON.isoformat()}:"  # + what this run's digest is about
    digests = sorted(key for key in keys if key.startswith(digest))
    assert [key.rsplit(":", 1)[1] for key in digests] == ["email", "inbox"]
    emails = [f"credential:{first}:reminder:7:email", f"credential:{second}:reminder:30:email", digests[0]]
    assert keys == {*emails, f"credential:{first}:reminder:7:inbox", digests[1]}
    worker.wait_for(lambda: _delivered(smtp_sink, emails) == [1, 1, 1], TIMEOUT, "the sink to receive each e-mail")

    before = scene.notifications()
    _send_task(integration_app, worker)
    worker.canary(timeout=TIMEOUT)  # one process, one queue: the canary runs after the second task has finished
    time.sleep(1)  # anything the second run had enqueued would have been delivered by now
    assert scene.notifications() == before
    assert scene.reminders() == [(first, 7), (second, 30)]
    assert _delivered(smtp_sink, emails) == [1, 1, 1]
