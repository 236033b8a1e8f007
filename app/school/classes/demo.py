"""Demo classes: for both demo schools, three classes of 2026-2027 with twenty students each, their guardians
(some preferring SMS, Chinese and English speakers, a few with two children in different classes, the demo parent
accounts among them) and teachers drawn from the demo staff: a homeroom teacher and a teacher for every subject
someone can teach, within everyone's weekly maximum, and one dated change of teacher for the history.

Idempotent: classes are matched by school, year and name, students by number, guardians by e-mail; a class that
has any assignment is left as it is. Everything goes through the services, so it is audited as "system". Without
the demo staff (the staff step runs first) nothing is created.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.general.audit.services import SYSTEM
from app.general.auth.models import User
from app.general.org.models import OrgUnit
from app.school.classes import queries, services
from app.school.classes.models import Assignment, Guardian, SchoolClass, Student, Subject
from app.school.staff.models import StaffMember, StaffStatus

log = logging.getLogger(__name__)

DEMO_DOMAIN = "demo.staffroom.test"
YEAR, FIRST_DAY, CHANGE_DAY = "2026-2027", date(2026, 9, 1), date(2026, 11, 2)
STUDENTS_PER_CLASS = 20
CLASSES = {
    "RS1": (("初一(1)班", 7), ("初一(2)班", 7), ("初二(1)班", 8)),
    "RS2": (("Grade 3 Class 1", 3), ("Grade 4 Class 1", 4), ("Grade 5 Class 1", 5)),
}
# subject code -> periods a week, in the order teachers are handed out
TIMETABLE = (("CHN", 5), ("MATH", 5), ("ENG", 4), ("SCI", 2), ("PE", 2), ("ART", 1))

CN_FAMILY = "王李张刘陈杨黄赵吴徐马朱胡郭何高林罗郑梁"
CN_GIVEN = ("子涵", "浩然", "梓萱", "宇轩", "欣怡", "一诺", "俊杰", "雨桐", "思远", "佳怡", "天佑", "诗涵", "博文",
            "若曦", "明轩", "语嫣", "嘉懿", "可馨", "子墨", "晨曦")
CN_PARENT_GIVEN = ("建国", "丽华", "伟", "静", "强", "敏", "军", "芳", "磊", "娟")
EN_GIVEN = ("Oliver", "Emma", "Noah", "Ava", "Liam", "Mia", "Lucas", "Chloe", "Ethan", "Grace")
EN_FAMILY = ("Brown", "Davis", "Evans", "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright")
EN_PARENT_GIVEN = ("Sarah", "James", "Helen", "Robert", "Linda", "Peter")


@dataclass(frozen=True)
class DemoChild:
    """A student of a demo parent: (school, class index, seat) are replaced by this name and guardian."""

    school: str
    class_index: int
    seat: int
    family_name: str
    given_name: str
    parent: str  # the demo account's local part (parent1…) or a plain guardian's e-mail local part
    guardian_name: str
    relationship: str
    locale: str
    channel: str = "email"


FAMILIES = (
    DemoChild("RS1", 0, 0, "周", "子涵", "parent1", "周杰", "father", "zh"),
    DemoChild("RS1", 2, 0, "周", "子轩", "parent1", "周杰", "father", "zh"),
    DemoChild("RS2", 0, 0, "Wilson", "Lily", "parent2", "Anna Wilson", "mother", "en"),
    DemoChild("RS1", 1, 0, "孙", "浩然", "parent3", "孙悦", "mother", "zh"),
    DemoChild("RS2", 1, 0, "孙", "梓萱", "parent3", "孙悦", "mother", "zh"),
    DemoChild("RS1", 0, 1, "林", "可馨", "lin.family", "林建国", "father", "zh", "sms"),
    DemoChild("RS1", 1, 1, "林", "明轩", "lin.family", "林建国", "father", "zh", "sms"),
    DemoChild("RS2", 1, 1, "Evans", "Noah", "evans.family", "Helen Evans", "mother", "en"),
    DemoChild("RS2", 2, 1, "Evans", "Mia", "evans.family", "Helen Evans", "mother", "en"),
)


@dataclass
class Counts:
    classes: int = 0
    students: int = 0
    guardians: int = 0
    enrolments: int = 0
    assignments: int = 0


# --- who is who -------------------------------------------------------------------------------------------------


def _student_name(school: str, class_index: int, seat: int) -> tuple[str, str]:
    n = class_index * STUDENTS_PER_CLASS + seat
    if school == "RS2" and seat % 2:
        return EN_FAMILY[n % len(EN_FAMILY)], EN_GIVEN[(n * 3) % len(EN_GIVEN)]
    return CN_FAMILY[(n * 7) % len(CN_FAMILY)], CN_GIVEN[(n * 3 + class_index) % len(CN_GIVEN)]


def _family(school: str, class_index: int, seat: int) -> DemoChild | None:
    return next((f for f in FAMILIES if (f.school, f.class_index, f.seat) == (school, class_index, seat)), None)


def _parent_number(family: DemoChild) -> int:
    """A stable number per demo family (for its phone number)."""
    return sorted({f.parent for f in FAMILIES}).index(family.parent) + 1


def _guardian_spec(school: str, class_index: int, seat: int, family_name: str) -> dict:
    """A plain guardian of one student: mostly Chinese speakers, some English, every third preferring SMS."""
    n = class_index * STUDENTS_PER_CLASS + seat
    english = family_name.isascii()
    name = (f"{EN_PARENT_GIVEN[n % len(EN_PARENT_GIVEN)]} {family_name}" if english
            else f"{family_name}{CN_PARENT_GIVEN[n % len(CN_PARENT_GIVEN)]}")
    sms = n % 3 == 0
    return {"full_name": name, "email": None if sms and n % 2 else f"guardian.{school.lower()}.{class_index}{seat:02d}"
            f"@{DEMO_DOMAIN}", "phone": f"+86 139 {class_index:02d}{seat:02d} {n:04d}",
            "preferred_channel": "sms" if sms else "email", "locale": "en" if english or n % 9 == 4 else "zh",
            "relationship": ("mother", "father", "grandparent")[n % 3]}


# --- loading --------------------------------------------------------------------------------------------------


def _class(school: OrgUnit, name: str, grade: int, counts: Counts) -> SchoolClass:
    found = db.session.scalar(sa.select(SchoolClass).where(
        SchoolClass.school_id == school.id, SchoolClass.academic_year == YEAR, SchoolClass.name == name))
    if found is not None:
        return found
    counts.classes += 1
    return services.create_class(school=school, academic_year=YEAR, grade=grade, name=name, actor=SYSTEM)


def _guardian(spec: dict, users: dict[str, User], school: OrgUnit, counts: Counts) -> Guardian:
    found = queries.guardian_by_email(spec["email"]) if spec["email"] else db.session.scalar(
        sa.select(Guardian).where(Guardian.phone == spec["phone"], Guardian.full_name == spec["full_name"]))
    if found is not None:
        return found
    counts.guardians += 1
    fields = {key: spec[key] for key in ("full_name", "email", "phone", "preferred_channel", "locale")}
    guardian = services.create_guardian(actor=SYSTEM, unit=school, **fields)
    user = users.get(spec["email"] or "")
    if user is not None and user.role == "parent" and queries.guardian_for_user(user) is None:
        services.link_guardian_account(guardian, user, actor=SYSTEM, unit=school)
    return guardian


def _link(student: Student, guardian: Guardian, relationship: str) -> None:
    if queries.guardian_link(student.id, guardian.id) is None:
        services.link_guardian(student, guardian, relationship, actor=SYSTEM)


def _student(school: OrgUnit, school_class: SchoolClass, class_index: int, seat: int, users: dict[str, User],
             counts: Counts) -> None:
    number = f"{school.code}-26{class_index + 1}{seat + 1:02d}"
    family = _family(school.code, class_index, seat)
    family_name, given_name = ((family.family_name, family.given_name) if family
                               else _student_name(school.code, class_index, seat))
    student = queries.student_by_number(school.id, number)
    if student is None:
        born_on = date(2026 - school_class.grade - 6, 1 + seat % 12, 1 + seat)
        student = services.create_student(school=school, student_number=number, family_name=family_name,
                                          given_name=given_name, born_on=born_on, actor=SYSTEM)
        services.enrol(student, school_class, FIRST_DAY, actor=SYSTEM)
        counts.students += 1
        counts.enrolments += 1
    if family is not None:
        email = f"{family.parent}@{DEMO_DOMAIN}"
        spec = {"full_name": family.guardian_name, "email": email, "preferred_channel": family.channel,
                "phone": f"+86 137 0000 {_parent_number(family):04d}", "locale": family.locale}
        _link(student, _guardian(spec, users, school, counts), family.relationship)
        return
    spec = _guardian_spec(school.code, class_index, seat, family_name)
    _link(student, _guardian(spec, users, school, counts), spec["relationship"])


# --- teachers -------------------------------------------------------------------------------------------------


def _staff_of(school: OrgUnit) -> list[StaffMember]:
    return list(db.session.scalars(sa.select(StaffMember).where(
        StaffMember.school_id == school.id, StaffMember.status == StaffStatus.ACTIVE)
        .order_by(StaffMember.employee_number)))


def _spare(staff: list[StaffMember]) -> dict[int, int]:
    return {s.id: s.max_weekly_periods - queries.weekly_load(s, FIRST_DAY) for s in staff}


def _pick(staff: list[StaffMember], spare: dict[int, int], periods: int, subject: Subject | None) -> StaffMember | None:
    """The qualified teacher with the most room left (ties by employee number); None when nobody fits."""
    fits = [s for s in staff if spare[s.id] >= periods and (subject is None or subject in s.subjects)]
    return max(fits, key=lambda s: (spare[s.id], -s.id), default=None)


def _teachers(school_class: SchoolClass, staff: list[StaffMember], spare: dict[int, int],
              subjects: dict[str, Subject], homerooms: set[int], counts: Counts) -> list[Assignment]:
    made = []
    for code, periods in TIMETABLE:
        subject = subjects.get(code)
        teacher = _pick(staff, spare, periods, subject) if subject is not None else None
        if teacher is None:
            continue
        made.append(services.assign_teacher(school_class, teacher, role="subject", subject=subject,
                                            weekly_periods=periods, starts_on=FIRST_DAY, actor=SYSTEM))
        spare[teacher.id] -= periods
    candidates = [s for s in staff if s.id not in homerooms and any(a.staff_id == s.id for a in made)]
    homeroom = _pick(candidates, spare, 1, None)
    if homeroom is not None:
        services.assign_teacher(school_class, homeroom, role="homeroom", weekly_periods=1, starts_on=FIRST_DAY,
                                actor=SYSTEM)
        spare[homeroom.id] -= 1
        homerooms.add(homeroom.id)
    counts.assignments += len(made) + (homeroom is not None)
    return made


def _one_change(made: list[Assignment], staff: list[StaffMember], spare: dict[int, int], counts: Counts) -> None:
    """Hand one subject to a colleague from CHANGE_DAY, so that the class page has a history."""
    for assignment in made:
        others = [s for s in staff if s.id != assignment.staff_id]
        colleague = _pick(others, spare, assignment.weekly_periods, assignment.subject)
        if colleague is not None:
            services.change_teacher(assignment, colleague, effective_on=CHANGE_DAY, reason="Timetable rebalanced",
                                    actor=SYSTEM)
            spare[colleague.id] -= assignment.weekly_periods  # the old teacher's periods stay taken until the change
            counts.assignments += 1
            return


def _school(school: OrgUnit, users: dict[str, User], subjects: dict[str, Subject], counts: Counts) -> None:
    staff = _staff_of(school)
    if not staff:
        log.info("demo: no staff at %s, no classes created there", school.code)
        return
    spare, homerooms = _spare(staff), set()
    for class_index, (name, grade) in enumerate(CLASSES[school.code]):
        school_class = _class(school, name, grade, counts)
        for seat in range(STUDENTS_PER_CLASS):
            _student(school, school_class, class_index, seat, users, counts)
        has_teachers = db.session.scalar(sa.select(Assignment.id).where(Assignment.class_id == school_class.id)
                                         .limit(1)) is not None
        if not has_teachers:
            made = _teachers(school_class, staff, spare, subjects, homerooms, counts)
            if class_index == 1:
                _one_change(made, staff, spare, counts)


def load(units: dict[str, OrgUnit], users: dict[str, User], result) -> None:
    """Demo step: classes, students, guardians, enrolments and assignments at both demo schools."""
    subjects = {s.code: s for s in db.session.scalars(sa.select(Subject).where(Subject.is_active.is_(True)))}
    counts = Counts()
    for code in CLASSES:
        if code in units:
            _school(units[code], users, subjects, counts)
    for what in ("classes", "students", "guardians", "enrolments", "assignments"):
        result.add(what, getattr(counts, what))
    log.info("demo: %s", counts)
