"""Demo credentials: the four credential types of the issue, credentials for every demo staff member, and the
training hours of the demo teacher (teacher01, 李伟), whose teaching certificate expires in 28 days.

Most credentials are valid; a few expire within 30, 60 or 90 days, one safeguarding check has expired and
one person has none (the compliance page has something to show). Dates are counted from the day the demo is
loaded. Idempotent: types are matched by code, a person's credentials by type (a person who holds any
credential of a type gets none of it again), teacher01's training by its topic. Everything goes through the
services, so it is audited as "system".
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.general.audit.services import SYSTEM
from app.general.auth.models import User
from app.general.org.models import OrgUnit
from app.school.credentials import services
from app.school.credentials.models import Credential, CredentialType, RequiredFor, TrainingRecord
from app.school.credentials.status import add_years
from app.school.staff.demo import STAFF
from app.school.staff.models import StaffMember
from app.school.staff.queries import local_today

log = logging.getLogger(__name__)

DEMO_TEACHER = "RS1-T001"  # teacher01@demo.staffroom.test, 李伟
DEMO_TEACHER_DAYS_LEFT = 28
ISSUER = "河畔区教育局 Riverside District Education Bureau"

TYPES = (
    {"code": "TEACH", "name": "教师资格证 Teaching certificate", "validity_years": 5, "grace_days": 0,
     "reminder_offsets": "90,30,7", "renewal_hours": "360", "required_for": RequiredFor.TEACHING,
     "description": "Re-registered every 5 years with 360 hours of verified training in the cycle "
                    "(教师资格定期注册，每五年一次，周期内培训满360学时)."},
    {"code": "SAFE", "name": "安全背景审查 Safeguarding check", "validity_years": 3, "grace_days": 0,
     "reminder_offsets": "90,30,7", "required_for": RequiredFor.ALL,
     "description": "Background check of everyone working with children, renewed every 3 years."},
    {"code": "FIRSTAID", "name": "急救证书 First aid", "validity_years": 3, "grace_days": 30,
     "reminder_offsets": "60,14", "required_for": RequiredFor.HOMEROOM,
     "description": "Required of homeroom teachers; 30 days' grace after expiry."},
    {"code": "TITLE", "name": "专业技术职称 Professional title", "validity_years": None, "grace_days": 0,
     "reminder_offsets": "90", "required_for": RequiredFor.NONE,
     "description": "Teacher's professional title (e.g. 一级教师); recorded, never expires, not required."},
)


@dataclass(frozen=True)
class Plan:
    """Days left on each credential of one demo staff member (None: not held); title: held or not."""

    teach: int | None
    safe: int | None
    first_aid: int | None
    title: str | None = None


# By staff number (RS1-T001 …, RS2-T007 …, as in app/school/staff/demo.py). Days left are from load day.
PLANS = {
    1: Plan(DEMO_TEACHER_DAYS_LEFT, 700, 400, "一级教师 First-grade teacher"),
    2: Plan(1200, 500, 800, "高级教师 Senior teacher"),
    3: Plan(900, 20, 650),  # safeguarding within 30 days
    4: Plan(55, 800, 300),  # teaching certificate within 60 days
    5: Plan(1500, 600, 75),  # first aid within 90 days
    6: Plan(1700, 1000, 1000),
    7: Plan(1100, 450, 500, "一级教师 First-grade teacher"),
    8: Plan(85, 900, 700),  # teaching certificate within 90 days
    9: Plan(1300, -12, 900, "高级教师 Senior teacher"),  # safeguarding expired 12 days ago
    10: Plan(1600, 1000, 1000),
    11: Plan(400, 300, 200, "正高级教师 Professor-level teacher"),
    12: Plan(1000, 700, 600),  # Olivia Taylor: the offboarding demo's closed departure (out of compliance counts)
    13: Plan(800, None, 50),  # no safeguarding check recorded at all; first aid within 60 days
}

# teacher01's training in the current cycle: 312 hours verified, 40 still awaiting verification.
TRAINING = (
    ("2022-03-12", "区教师发展中心 District teacher development centre", "新课标解读 New curriculum standards", "48",
     True),
    ("2022-11-05", "国家中小学智慧教育平台 National smart education platform", "信息技术应用能力 ICT in teaching",
     "60", True),
    ("2023-07-15", "省教育厅 Provincial education department", "班主任专业能力 Homeroom teacher skills", "72", True),
    ("2024-04-20", "区教师发展中心 District teacher development centre", "数学核心素养 Maths core competencies", "64",
     True),
    ("2025-08-10", "华东师范大学 East China Normal University", "课堂观察与评价 Classroom observation", "68", True),
    ("{recent1}", "区教研室 District teaching research office", "作业设计 Homework design", "24", False),
    ("{recent2}", "学校校本培训 School-based training", "心理健康教育 Mental health education", "16", False),
)


def load_types(result) -> dict[str, CredentialType]:
    """The four demo types by code, created through the types service when missing."""
    found = {t.code: t for t in db.session.scalars(
        sa.select(CredentialType).where(CredentialType.code.in_([spec["code"] for spec in TYPES])))}
    for spec in TYPES:
        if spec["code"] not in found:
            found[spec["code"]] = services.save_type(None, data=dict(spec), actor=SYSTEM)
            result.add("credential_types")
    return found


def _period(days_left: int, validity_years: int, today: date) -> dict:
    """Issue and expiry dates such that the credential has `days_left` days to run (negative: expired)."""
    expires = today + timedelta(days=days_left)
    return {"issued_on": add_years(expires + timedelta(days=1), -validity_years), "expires_on": expires}


def _number(code: str, staff: StaffMember, issued: date) -> str:
    school = 44 if staff.employee_number.startswith("RS1") else 45
    return f"{issued.year}{school}{code[:2]}{int(staff.employee_number[-3:]):06d}"


def _credentials(staff: StaffMember, plan: Plan, types: dict[str, CredentialType], today: date) -> int:
    held = set(db.session.scalars(sa.select(Credential.type_id).where(Credential.staff_id == staff.id)))
    made = 0
    for code, days_left in (("TEACH", plan.teach), ("SAFE", plan.safe), ("FIRSTAID", plan.first_aid)):
        credential_type = types[code]
        if days_left is None or credential_type.id in held:
            continue
        period = _period(days_left, credential_type.validity_years, today)
        services.record_credential(staff, credential_type, actor=SYSTEM, data={
            **period, "number": _number(code, staff, period["issued_on"]), "issuer": ISSUER})
        made += 1
    title = types["TITLE"]
    if plan.title and title.id not in held:
        services.record_credential(staff, title, actor=SYSTEM, data={
            "issued_on": date(2019, 12, 20), "number": f"ZC-{staff.employee_number}", "issuer": ISSUER,
            "note": plan.title})
        made += 1
    return made


def _training(staff: StaffMember, today: date) -> int:
    """teacher01's training records (matched by topic): most verified, the two latest awaiting verification."""
    done = set(db.session.scalars(sa.select(TrainingRecord.topic).where(TrainingRecord.staff_id == staff.id)))
    recent = {"recent1": (today - timedelta(days=40)).isoformat(), "recent2": (today - timedelta(days=9)).isoformat()}
    made = 0
    for day, provider, topic, hours, verified in TRAINING:
        if topic in done:
            continue
        training = services.submit_training(staff, actor=SYSTEM, today=today, data={
            "completed_on": day.format(**recent), "provider": provider, "topic": topic, "hours": hours})
        if verified:
            services.verify_training(training, actor=SYSTEM)
        made += 1
    return made


def load(units: dict[str, OrgUnit], users: dict[str, User], result) -> None:
    """Demo step: the credential types, everyone's credentials, teacher01's training hours."""
    types = load_types(result)
    today = local_today()
    numbers = {spec.employee_number: spec.number for spec in STAFF}
    staff = {s.employee_number: s for s in db.session.scalars(sa.select(StaffMember).where(
        StaffMember.employee_number.in_(sorted(numbers))))}
    credentials = training = 0
    for number, person in sorted(staff.items()):
        plan = PLANS.get(numbers[number])
        if plan is not None and person.status != "departed":
            credentials += _credentials(person, plan, types, today)
    if DEMO_TEACHER in staff:
        training = _training(staff[DEMO_TEACHER], today)
    result.add("credentials", credentials)
    result.add("training_records", training)
    log.info("demo: %d credentials and %d training records created", credentials, training)
    _send_todays_reminders(today, result)


def _send_todays_reminders(today: date, result) -> None:
    """Run today's reminder scan now, as the daily job would have: teacher01 finds the 30-day reminder in the
    inbox (and by e-mail) without waiting for the nightly run. Idempotent like the job itself."""
    from app.school.credentials.services.reminders import send_credential_reminders

    counts = send_credential_reminders(today)
    result.add("credential_reminders", counts.get("reminders", 0))
