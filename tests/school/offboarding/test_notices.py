"""Parent notices: one per guardian per case (a guardian of two children in affected classes gets one listing
both), on their channel and in their language, in the portal inbox when they have an account, never with the
private reason; a re-run writes nothing twice; the signed link, acknowledgement and retry of failed deliveries."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.core.errors import InvalidTransition, NotAllowed
from app.extensions import db
from app.general.audit.queries import events_for_subject
from app.general.auth.policy import can
from app.general.notifications.models import Notification
from app.school.classes.models import Enrollment
from app.school.offboarding.models import ParentNotice
from app.school.offboarding.services import notices, plan
from tests import factories
from tests.school.offboarding.conftest import choose_all, mark_outbox, to_handover, to_reassigned

REASON = "Burn-out after the inspection (private)"
TEMPLATE = "offboarding/messages/parent_notice"


@pytest.fixture
def parent(departure):
    """The first guardian has a portal account (in English; the guardian record says Chinese)."""
    user = factories.make_user("parent", unit=departure.class_a.school, locale="en")
    guardian = departure.guardians[0]
    guardian.user = user
    db.session.flush()
    return user


def outbox_of(case, guardian) -> dict[str, Notification]:
    rows = db.session.scalars(sa.select(Notification).where(
        Notification.idempotency_key.like(f"departure:{case.id}:guardian:{guardian.id}:%"))).all()
    return {row.channel: row for row in rows}


def notice_of(case, guardian) -> ParentNotice:
    return db.session.scalar(sa.select(ParentNotice).where(ParentNotice.case_id == case.id,
                                                           ParentNotice.guardian_id == guardian.id))


def everyone(d) -> list:
    return [*d.guardians, d.twin_guardian]


def test_one_notice_per_guardian_per_case(departure, today, parent):
    d = departure
    case = to_reassigned(d)
    rows = db.session.execute(sa.select(ParentNotice.guardian_id).where(ParentNotice.case_id == case.id)).all()
    assert sorted(r[0] for r in rows) == sorted(g.id for g in everyone(d))
    for guardian in everyone(d):
        external = [c for c in outbox_of(case, guardian) if c != "inbox"]
        assert len(external) == 1, guardian


def test_a_guardian_of_two_children_gets_one_notice_listing_both(departure, today):
    d = departure
    case = to_reassigned(d)
    notice = notice_of(case, d.twin_guardian)
    by_child = {child["child"]: child["changes"] for child in notice.changes}
    assert set(by_child) == {"Twin A Student", "Twin B Student"}
    assert sorted((c["class"], c["subject"] or "") for c in by_child["Twin A Student"]) == [("7(2)", ""),
                                                                                           ("7(2)", "Maths")]
    assert [(c["class"], c["subject"], c["old"], c["new"], c["effective_on"]) for c in by_child["Twin B Student"]] \
        == [("7(3)", "Maths", "王芳", "Jing Chen", "2027-01-09")]
    body = outbox_of(case, d.twin_guardian)["sms"].body_text
    assert "Twin A Student" in body and "Twin B Student" in body
    assert "7(2), homeroom teacher: 王芳 → Jing Chen from 2027-01-09" in body
    assert "7(3), Maths: 王芳 → Jing Chen from 2027-01-09" in body


def test_each_guardian_on_their_channel_and_the_portal_inbox_with_an_account(departure, today, parent):
    d = departure
    case = to_reassigned(d)
    sms = outbox_of(case, d.twin_guardian)
    assert set(sms) == {"sms"} and sms["sms"].recipient_address == "+8613800000001"
    emailed = d.guardians[1]
    plain = outbox_of(case, emailed)
    assert set(plain) == {"email"} and plain["email"].recipient_address == emailed.email
    portal = outbox_of(case, d.guardians[0])
    assert set(portal) == {"inbox", "email"}
    assert portal["inbox"].recipient_user_id == parent.id and portal["inbox"].status == "sent"
    from flask import current_app, url_for

    with current_app.test_request_context():
        portal_link = url_for("offboarding.parent_notice", notice_id=notice_of(case, d.guardians[0]).id)
        signed_prefix = url_for("offboarding.notice_by_link", token="TOKEN").removesuffix("TOKEN")
    assert portal_link in portal["email"].body_text
    assert signed_prefix not in portal["email"].body_text
    # a guardian without an account gets a signed link that opens their own notice
    link = next(w for w in plain["email"].body_text.split() if signed_prefix in w)
    assert notices.notice_from_token(link.rsplit("/", 1)[1]).id == notice_of(case, emailed).id


def test_sms_preferred_without_a_phone_falls_back_to_email(departure):
    guardian = departure.guardians[1]
    guardian.preferred_channel, guardian.phone = "sms", None
    assert notices.channel_of(guardian) == "email"
    guardian.phone = "+8613900000000"
    assert notices.channel_of(guardian) == "sms"


def test_notices_in_each_guardians_language_with_the_edited_wording(departure, today, parent):
    d = departure
    case = to_handover(d)
    choose_all(d, case)
    plan.set_wording(case, wording={"en": "Dear families of Grade 7,", "zh": "七年级的家长们："}, actor=d.admin)
    plan.confirm(case, actor=d.admin)
    chinese = outbox_of(case, d.guardians[1])["email"]
    assert chinese.locale == "zh" and notice_of(case, d.guardians[1]).locale == "zh"
    assert "七年级的家长们：" in chinese.body_text and "Dear families" not in chinese.body_text
    english = outbox_of(case, d.twin_guardian)["sms"]
    assert english.locale == "en"
    assert "Dear families of Grade 7," in english.body_text and "七年级" not in english.body_text
    # the portal account's own language wins over the guardian record's
    assert outbox_of(case, d.guardians[0])["inbox"].locale == "en"
    # the facts are filled in whatever the wording
    assert "7(2), Maths: 王芳 → Jing Chen from 2027-01-09" in english.body_text


def test_the_private_reason_never_reaches_a_parent(departure, today, parent):
    d = departure
    case = to_handover(d, actor=d.leaving_user, private_reason=REASON)
    choose_all(d, case)
    sample = notices.preview(case)
    assert REASON not in str(sample)
    plan.confirm(case, actor=d.admin)
    rows = db.session.scalars(sa.select(Notification).where(Notification.template == TEMPLATE)).all()
    assert len(rows) == len(everyone(d)) + 1  # + the portal inbox
    for row in rows:
        assert "Burn-out" not in row.subject + row.body_text + str(row.context)
    for notice in db.session.scalars(sa.select(ParentNotice)):
        assert "Burn-out" not in str(notice.changes) + notice.wording


def test_writing_the_notices_twice_writes_nothing_new(departure, today, parent):
    d = departure
    case = to_reassigned(d)

    def state():
        return (sorted(tuple(r) for r in db.session.execute(sa.select(Notification.id, Notification.idempotency_key))),
                sorted(tuple(r) for r in db.session.execute(sa.select(ParentNotice.id, ParentNotice.guardian_id))))

    before = state()
    notices.write_notices(case, actor=d.admin)
    notices.write_notices(case, actor=d.admin)
    assert state() == before


def test_a_student_who_left_the_class_before_the_change_is_not_notified(departure, today):
    d = departure
    leaver = factories.make_student(d.class_a.school, school_class=d.class_a, given_name="Leaver")
    gone = factories.make_guardian(leaver)
    enrolment = db.session.scalar(sa.select(Enrollment).where(Enrollment.student_id == leaver.id))
    enrolment.ends_on = date(2026, 12, 31)
    db.session.flush()
    case = to_reassigned(d)
    assert notice_of(case, gone) is None and outbox_of(case, gone) == {}


def test_preview_counts_the_guardians_from_the_current_choices(departure, today, parent):
    d = departure
    case = to_handover(d)
    assert notices.preview(case)["guardians"] == 0
    plan.choose(case, d.maths_b, d.colleague, actor=d.admin)  # only 7(3): three guardians and the twins' one
    preview = notices.preview(case)
    assert preview["guardians"] == 4 and preview["channels"] == {"email": 3, "sms": 1}
    choose_all(d, case)
    preview = notices.preview(case)
    assert (preview["guardians"], preview["with_account"]) == (7, 1)
    assert set(preview["samples"]) == {"en", "zh"}
    assert "7(2)" in preview["samples"]["en"]["body"] and "Jing Chen" in preview["samples"]["zh"]["body"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ParentNotice)) == 0  # a preview writes nothing


# --- the signed link and acknowledgement ---------------------------------------------------------------------


def test_the_signed_link_round_trip_and_a_tampered_token(departure, today):
    d = departure
    case = to_reassigned(d)
    notice = notice_of(case, d.guardians[1])
    token = notices.token_for(notice.id, notice.guardian_id)
    assert notices.notice_from_token(token).id == notice.id
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert notices.notice_from_token(tampered) is None
    assert notices.notice_from_token(notices.token_for(notice.id, d.guardians[2].id)) is None
    assert notices.notice_from_token("not-a-token") is None


def test_acknowledge_twice_records_once(departure, today):
    d = departure
    case = to_reassigned(d)
    notice = notice_of(case, d.guardians[1])
    assert notices.acknowledge(notice, via="link") is True
    first = notice.acknowledged_at
    assert notices.acknowledge(notice, via="link") is False
    db.session.refresh(notice)
    assert (notice.acknowledged_at, notice.acknowledged_via) == (first, "link")
    events = [e for e in events_for_subject("DepartureCase", case.id) if e.action == "offboarding.notice_acknowledged"]
    assert len(events) == 1
    assert notices.delivery_counts(case)["acknowledged"] == 1


def test_only_the_guardian_acknowledges_in_the_portal_and_reads_their_own_notice(departure, today, parent):
    d = departure
    stranger = factories.make_user("parent", unit=d.class_a.school)
    d.guardians[1].user = stranger
    db.session.flush()
    case = to_reassigned(d)
    mine, theirs = notice_of(case, d.guardians[0]), notice_of(case, d.guardians[1])
    with pytest.raises(NotAllowed):
        notices.acknowledge(mine, via="portal", actor=stranger)
    assert mine.acknowledged_at is None
    assert notices.acknowledge(mine, via="portal", actor=parent)
    assert can(parent, "notices.view_own", mine) and not can(parent, "notices.view_own", theirs)
    assert [n.id for n in notices.notices_of_guardian(parent)] == [mine.id]


# --- delivery and retry ------------------------------------------------------------------------------------------


def test_delivery_states_and_retry_of_a_failed_one(departure, today):
    d = departure
    case = to_reassigned(d)
    assert notices.delivery_counts(case) == {"pending": 7, "sent": 0, "failed": 0, "acknowledged": 0, "total": 7}
    mark_outbox(case, "sent")
    failed = d.guardians[2]
    mark_outbox(case, "failed", guardian_ids=[failed.id], error="mailbox full")
    assert notices.delivery_counts(case) == {"pending": 0, "sent": 6, "failed": 1, "acknowledged": 0, "total": 7}
    [delivery] = notices.deliveries(case, state="failed")
    assert delivery.notice.guardian_id == failed.id and delivery.error == "mailbox full"
    with pytest.raises(InvalidTransition):
        notices.retry(case, notice_of(case, d.guardians[1]), actor=d.admin)  # sent: nothing to retry
    notices.retry(case, delivery.notice, actor=d.admin)
    row = outbox_of(case, failed)["email"]
    assert (row.status, row.attempts) == ("pending", 0)
    assert notices.delivery_counts(case)["failed"] == 0
    with pytest.raises(NotAllowed):
        notices.retry(case, delivery.notice, actor=d.head)


def test_retry_all_failed(departure, today):
    d = departure
    case = to_reassigned(d)
    mark_outbox(case, "sent")
    mark_outbox(case, "failed", guardian_ids=[d.guardians[2].id, d.twin_guardian.id], error="gateway down")
    assert notices.retry_all_failed(case, actor=d.admin) == 2
    assert notices.delivery_counts(case) == {"pending": 2, "sent": 5, "failed": 0, "acknowledged": 0, "total": 7}
    assert notices.retry_all_failed(case, actor=d.admin) == 0
