"""Demo staff: one record per demo teacher (linked to their account), a few without an account, and the
subjects they teach. Idempotent: records are matched by school and employee number, subjects by code, and
what exists is left as it is. Created through the services, so everything is audited as "system"."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from app.core.names import is_cjk
from app.extensions import db
from app.general.audit.services import SYSTEM
from app.general.auth.models import User
from app.general.org.models import OrgUnit
from app.school.classes.models import Subject
from app.school.staff import queries, services
from app.school.staff.models import StaffMember

log = logging.getLogger(__name__)

DEMO_DOMAIN = "demo.staffroom.test"

SUBJECTS = (("MATH", "Maths"), ("CHN", "Chinese"), ("ENG", "English"), ("SCI", "Science"), ("ART", "Art"),
            ("PE", "PE"))
# What each demo department teaches (department codes end in these suffixes).
DEPARTMENT_SUBJECTS = {"MATH": ("MATH",), "CHN": ("CHN",), "ENG": ("ENG",), "SCI": ("SCI",), "ARTPE": ("ART", "PE")}


@dataclass(frozen=True)
class DemoStaff:
    number: int
    department_code: str
    name: str
    hired_on: date | None  # None: hired recently, still in probation
    periods: int = 16
    local_part: str | None = None  # the demo account to link (teacherNN); None: no account
    email: str | None = None

    @property
    def school_code(self) -> str:
        return self.department_code.split("-", 1)[0]

    @property
    def employee_number(self) -> str:
        return f"{self.school_code}-T{self.number:03d}"


STAFF = (
    DemoStaff(1, "RS1-MATH", "李伟", date(2009, 9, 1), 18, "teacher01"),
    DemoStaff(2, "RS1-CHN", "张敏", date(2012, 9, 1), 16, "teacher02"),
    DemoStaff(3, "RS1-ENG", "Emily Johnson", date(2018, 8, 20), 16, "teacher03"),
    DemoStaff(4, "RS1-SCI", "刘洋", date(2015, 9, 1), 18, "teacher04"),
    DemoStaff(5, "RS1-ARTPE", "陈静", date(2020, 9, 1), 20, "teacher05"),
    DemoStaff(6, "RS1-MATH", "David Smith", None, 14, "teacher06"),
    DemoStaff(7, "RS2-MATH", "杨磊", date(2011, 2, 20), 16, "teacher07"),
    DemoStaff(8, "RS2-ENG", "Laura Brown", date(2016, 9, 1), 16, "teacher08"),
    DemoStaff(9, "RS2-CHN", "赵丽", date(2007, 9, 1), 14, "teacher09"),
    DemoStaff(10, "RS2-SCI", "Michael Green", None, 14, "teacher10"),
    DemoStaff(11, "RS1-SCI", "黄强", date(2004, 9, 1), 12, email=f"huang.qiang@{DEMO_DOMAIN}"),
    DemoStaff(12, "RS1-ENG", "Olivia Taylor", date(2022, 2, 14), 16),
    DemoStaff(13, "RS2-ARTPE", "吴娜", date(2019, 9, 1), 18, email=f"wu.na@{DEMO_DOMAIN}"),
)


def split_name(name: str) -> tuple[str, str]:
    """(family, given): a Chinese name is family name first; a Western one, last."""
    if is_cjk(name):
        return name[0], name[1:]
    given, _sep, family = name.rpartition(" ")
    return family, given


def load_subjects(result) -> dict[str, Subject]:
    """The demo subjects by code, created through the classes module when missing."""
    from app.school.classes import services as class_services

    stmt = sa.select(Subject).where(Subject.code.in_([code for code, _name in SUBJECTS]))
    found = {subject.code: subject for subject in db.session.scalars(stmt)}
    for code, name in SUBJECTS:
        if code not in found:
            found[code] = class_services.create_subject(code=code, name=name, actor=SYSTEM)
            result.add("subjects")
    return found


def _dates(spec: DemoStaff, today: date) -> tuple[date, date | None]:
    """Fixed dates for established staff; recent hires are placed so that they are still in probation."""
    if spec.hired_on is None:
        hired = today - timedelta(days=45 * spec.number // 5)
        return hired, hired + timedelta(days=182)
    return spec.hired_on, spec.hired_on + timedelta(days=182)


def _create(spec: DemoStaff, units: dict[str, OrgUnit], users: dict[str, User], subjects: dict[str, Subject],
            today: date) -> StaffMember:
    department = units[spec.department_code]
    user = users.get(f"{spec.local_part}@{DEMO_DOMAIN}") if spec.local_part else None
    family, given = split_name(spec.name)
    hired_on, probation_ends_on = _dates(spec, today)
    suffix = spec.department_code.split("-", 1)[1]
    staff = services.create_staff(
        actor=SYSTEM, school_id=department.parent_id, department_id=department.id,
        subject_ids=[subjects[code].id for code in DEPARTMENT_SUBJECTS[suffix]],
        employee_number=spec.employee_number, family_name=family, given_name=given,
        email=user.email if user else spec.email, phone=f"+86 138 0000 {spec.number:04d}", hired_on=hired_on,
        probation_ends_on=probation_ends_on, max_weekly_periods=spec.periods,
    )
    if user is not None and queries.staff_for_user(user) is None:
        services.link_account(staff, user, actor=SYSTEM)
    return staff


def load(units: dict[str, OrgUnit], users: dict[str, User], result) -> None:
    """Demo step: subjects, then one staff record per demo teacher and a few without accounts."""
    subjects = load_subjects(result)
    today = queries.local_today()
    created = 0
    for spec in STAFF:
        school = units[spec.school_code]
        exists = db.session.scalar(sa.select(StaffMember.id).where(
            StaffMember.school_id == school.id, StaffMember.employee_number == spec.employee_number))
        if exists is None:
            _create(spec, units, users, subjects, today)
            created += 1
    result.add("staff", created)
    log.info("demo: %d staff members created", created)
