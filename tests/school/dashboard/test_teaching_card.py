"""The teaching and pay card of the dashboards."""
from datetime import date
from decimal import Decimal

from app.extensions import db
from app.school.staff.queries import local_today
from app.school.teaching.dashboard import card_for
from app.school.teaching.models import Absence, Lesson, LessonKind, PayRun, PayRunStatus, Term, TimetableSlot
from tests.factories import make_class, make_staff, make_subject, make_user


def _term(school, today):
    term = Term(school=school, name="Now", starts_on=date(today.year - 1, 1, 1), ends_on=date(today.year + 1, 12, 31))
    db.session.add(term)
    db.session.flush()
    return term


def test_teacher_sees_this_months_periods_by_kind(org):
    today = local_today()
    user = make_user("teacher")
    staff = make_staff(org.school_a, user=user)
    other = make_staff(org.school_a)
    term = _term(org.school_a, today)
    klass = make_class(org.school_a)
    db.session.add_all([
        Lesson(school_id=org.school_a.id, term_id=term.id, day=today, period=1, class_id=klass.id,
               scheduled_staff_id=staff.id, taught_by_id=staff.id, kind=LessonKind.EXTRA, periods=Decimal("1.5")),
        Lesson(school_id=org.school_a.id, term_id=term.id, day=today, period=2, class_id=klass.id,
               scheduled_staff_id=other.id, taught_by_id=other.id, kind=LessonKind.REGULAR, periods=Decimal("1")),
    ])
    db.session.flush()
    card = card_for(user)
    assert card.periods_by_kind == {"extra": Decimal("1.5")}  # the colleague's lesson is not theirs


def test_admin_sees_lessons_of_absent_teachers_without_cover(org, login_as):
    today = local_today()
    absent = make_staff(org.school_a)
    term = _term(org.school_a, today)
    klass = make_class(org.school_a)
    subject = make_subject()
    colleague = make_staff(org.school_a)
    lessons = []
    for period in (1, 2, 5):
        slot = TimetableSlot(term=term, weekday=today.isoweekday(), period=period, school_class=klass,
                             subject=subject, staff=absent)
        lesson = Lesson(school_id=org.school_a.id, term_id=term.id, day=today, period=period, class_id=klass.id,
                        scheduled_staff_id=absent.id, taught_by_id=absent.id, kind=LessonKind.REGULAR,
                        periods=Decimal("1"), slot=slot)
        db.session.add(lesson)
        lessons.append(lesson)
    db.session.add(Absence(staff_id=absent.id, day=today, first_period=1, last_period=4, reason="dentist"))
    db.session.flush()
    lessons[0].kind, lessons[0].taught_by_id = LessonKind.COVER, colleague.id
    db.session.flush()
    admin = make_user("admin", unit=org.district)
    card = card_for(admin)
    assert card.absent_today == 1
    assert card.uncovered_today == 1  # period 1 is covered, period 5 is after the absence: period 2 waits


def test_head_counts_runs_waiting_for_approval_in_scope_only(org):
    head = make_user("head", unit=org.school_a)
    db.session.add_all([PayRun(school_id=org.school_a.id, month=date(2026, 10, 1), status=PayRunStatus.CALCULATED),
                        PayRun(school_id=org.school_b.id, month=date(2026, 10, 1), status=PayRunStatus.CALCULATED)])
    db.session.flush()
    assert card_for(head).runs_to_approve == 1


def test_profile_card_shows_the_months_periods_and_the_covered_lessons(org, client, login_as):
    today = local_today()
    staff = make_staff(org.school_a, family_name="Wang", given_name="Fang")
    colleague = make_staff(org.school_a)
    term = _term(org.school_a, today)
    klass = make_class(org.school_a)
    db.session.add_all([
        Lesson(school_id=org.school_a.id, term_id=term.id, day=today, period=1, class_id=klass.id,
               scheduled_staff_id=staff.id, taught_by_id=staff.id, kind=LessonKind.REGULAR, periods=Decimal("2")),
        Lesson(school_id=org.school_a.id, term_id=term.id, day=today, period=3, class_id=klass.id,
               scheduled_staff_id=staff.id, taught_by_id=colleague.id, kind=LessonKind.COVER, periods=Decimal("1")),
    ])
    db.session.flush()
    login_as("admin")
    page = client.get(f"/staff/{staff.id}").get_data(as_text=True)
    card = page[page.index('data-testid="profile-teaching"'):]
    assert "<strong>2</strong>" in card
    assert "1 of their lessons was covered" in card
