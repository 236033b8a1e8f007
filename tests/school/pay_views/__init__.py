"""The pay pages through the views: runs, schemes and bonuses, statements. `build_month` makes one school's October
2026: two teachers of maths (Wang teaches 3 periods a week, Li is homeroom teacher), the term generated, a scheme."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from app.extensions import db
from app.general.auth.models import User
from app.general.org.models import OrgUnit
from app.school.classes.models import SchoolClass
from app.school.staff.models import StaffMember
from app.school.teaching.models import Closure, PayRun, PayScheme, Term, TimetableSlot
from app.school.teaching.services import ledger, schemes
from tests.factories import make_assignment, make_class, make_staff, make_subject, make_user

OCTOBER = date(2026, 10, 1)
SCHEME = {"name": "2026 scheme", "effective_from": "2026-09-01", "standard_monthly_periods": "10",
          "overtime_rate": "30", "homeroom_allowance": "600", "point_value": "5", "rate_regular": "50",
          "rate_cover": "60", "rate_extra": "55", "rate_open_class": "100", "rate_invigilation": "20",
          "rate_homeroom": "40"}


@dataclass
class Month:
    school: OrgUnit
    admin: User
    head: User
    wang: StaffMember
    li: StaffMember
    klass: SchoolClass
    term: Term
    scheme: PayScheme


def build_month(org) -> Month:
    school = org.school_a
    admin = make_user("admin", unit=org.district)
    head = make_user("head", unit=school)
    maths = make_subject("MATH", "Maths")
    wang = make_staff(school, department=org.dept_a, family_name="Wang", given_name="Fang", subjects=[maths],
                      user=make_user("teacher", unit=school))
    li = make_staff(school, family_name="Li", given_name="Lei", subjects=[maths],
                    user=make_user("teacher", unit=school))
    klass = make_class(school, name="7(2)")
    make_assignment(klass, wang, subject=maths)
    make_assignment(klass, li)  # homeroom
    term = Term(school=school, name="Autumn 2026", starts_on=date(2026, 9, 1), ends_on=date(2027, 1, 22))
    term.closures.append(Closure(name="National Day", starts_on=date(2026, 10, 1), ends_on=date(2026, 10, 7)))
    db.session.add(term)
    db.session.flush()
    for weekday in (1, 3, 5):
        db.session.add(TimetableSlot(term=term, weekday=weekday, period=2, school_class=klass, subject=maths,
                                     staff=wang))
    db.session.flush()
    ledger.generate_term(term, admin)
    scheme = schemes.save_scheme(school, dict(SCHEME), admin)
    db.session.commit()  # a view that rolls back an error keeps all this (the test's transaction is rolled back)
    return Month(school, admin, head, wang, li, klass, term, scheme)


def run_of(month: Month, on: date = OCTOBER) -> PayRun | None:
    return db.session.scalar(db.select(PayRun).where(PayRun.school_id == month.school.id, PayRun.month == on)
                             .order_by(PayRun.number.desc()).limit(1))


def post_step(client, run: PayRun, step: str, version: int | None = None):
    """POST a run's step as its page's button does (the version the page showed)."""
    db.session.refresh(run)
    return client.post(f"/teaching/pay/runs/{run.id}/{step}",
                       data={"version": run.version if version is None else version})


def field_error(html: str, field_id: str) -> bool:
    """The field is marked invalid on the page (its message follows it)."""
    return re.search(rf'id="{re.escape(field_id)}"[^>]*is-invalid|is-invalid[^>]*id="{re.escape(field_id)}"',
                     html) is not None
