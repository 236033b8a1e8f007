"""The organisation (district, schools, departments), the subject catalogue, accounts and staff."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta

from bench.datagen import Dataset, split_evenly
from bench.datagen.names import full_name, mobile, person
from bench.settings import BENCH_DOMAIN, BENCH_TOTP_SECRET, bench_admin_email

SUBJECTS = (
    ("CHN", "Chinese"), ("MATH", "Mathematics"), ("ENG", "English"), ("SCI", "Science"), ("PHY", "Physics"),
    ("CHEM", "Chemistry"), ("BIO", "Biology"), ("HIST", "History"), ("GEO", "Geography"),
    ("ETH", "Morality and Law"), ("MUS", "Music"), ("ART", "Art"), ("PE", "Physical Education"),
    ("IT", "Information Technology"),
)


@dataclass(frozen=True)
class DepartmentSpec:
    suffix: str
    name: str
    subjects: tuple[str, ...]  # a teacher of the department may teach one or two of these
    share: float  # of the school's teachers


DEPARTMENTS = (
    DepartmentSpec("CHN", "Chinese", ("CHN",), 0.22),
    DepartmentSpec("MATH", "Mathematics", ("MATH",), 0.22),
    DepartmentSpec("ENG", "English", ("ENG",), 0.18),
    DepartmentSpec("SCI", "Science", ("SCI", "PHY", "CHEM", "BIO"), 0.16),
    DepartmentSpec("HUM", "Humanities", ("HIST", "GEO", "ETH"), 0.10),
    DepartmentSpec("ARTPE", "Arts, PE and IT", ("MUS", "ART", "PE", "IT"), 0.12),
)
SCHOOL_KINDS = (("Primary School", range(1, 7)), ("Middle School", range(7, 10)), ("High School", range(10, 13)))

ORG_COLUMNS = ("id", "kind", "parent_id", "name", "code", "path", "is_active", "created_at")
USER_COLUMNS = ("id", "email", "display_name", "phone", "password_hash", "role", "locale", "is_active",
                "session_epoch", "totp_secret", "totp_enabled_at", "totp_last_counter", "password_changed_at",
                "created_at", "deactivated_at")
SCOPE_COLUMNS = ("id", "user_id", "org_unit_id")
STAFF_COLUMNS = ("id", "school_id", "department_id", "employee_number", "family_name", "given_name", "email",
                 "phone", "hired_on", "probation_ends_on", "status", "max_weekly_periods", "user_id",
                 "departed_on", "created_at", "updated_at", "version")


@dataclass
class School:
    id: int
    index: int  # 1-based
    code: str
    grades: range
    departments: dict[str, int] = field(default_factory=dict)  # suffix -> org unit id


@dataclass
class StaffInfo:
    """What the class builder needs to know about a staff member."""

    id: int
    school_id: int
    subjects: tuple[str, ...]
    max_periods: int
    status: str


@dataclass
class People:
    district_id: int
    schools: list[School]
    subject_ids: dict[str, int]
    staff: list[StaffInfo]


def totp_secret_for(seed: int, user_id: int) -> str:
    """A stable second-factor secret for an admin or head of the generated data."""
    digest = hashlib.sha256(f"bench-totp|{seed}|{user_id}".encode()).digest()
    return base64.b32encode(digest[:20]).decode()


def build_org(ds: Dataset) -> tuple[int, list[School]]:
    """One district, `scale.schools` schools of three kinds, `scale.departments` departments each."""
    ds.table("org_units", ORG_COLUMNS)
    at = ds.created_at
    district = ds.add("org_units", (1, "district", None, "Bench District", "BENCH", "/1/", True, at))
    schools = []
    for i in range(1, ds.scale.schools + 1):
        kind, grades = SCHOOL_KINDS[(i - 1) % len(SCHOOL_KINDS)]
        sid = ds.next_id("org_units")
        code = f"BS{i:02d}"
        ds.add("org_units", (sid, "school", district, f"Bench No.{i} {kind}", code, f"/1/{sid}/", True, at))
        schools.append(School(sid, i, code, grades))
    for school in schools:
        for spec in DEPARTMENTS[: ds.scale.departments]:
            did = ds.next_id("org_units")
            ds.add("org_units", (did, "department", school.id, spec.name, f"{school.code}-{spec.suffix}",
                                 f"/1/{school.id}/{did}/", True, at))
            school.departments[spec.suffix] = did
    return district, schools


def build_subjects(ds: Dataset) -> dict[str, int]:
    ds.table("subjects", ("id", "code", "name", "is_active"))
    return {code: ds.add("subjects", (i, code, name, True)) for i, (code, name) in enumerate(SUBJECTS, start=1)}


def _user(ds: Dataset, *, email: str, name: str, role: str, locale: str, phone: str | None = None,
          totp: str | None = None, active: bool = True) -> int:
    at = ds.created_at
    uid = ds.next_id("users")
    return ds.add("users", (uid, email, name, phone, ds.password_hash, role, locale, active, 1, totp,
                            at if totp else None, None, at, at, None if active else at))


def _scope(ds: Dataset, user_id: int, unit_id: int) -> None:
    ds.add("user_scopes", (ds.next_id("user_scopes"), user_id, unit_id))


def build_bench_admins(ds: Dataset, district_id: int) -> None:
    """The accounts the load test logs in with: district admins with a known password and TOTP secret."""
    for n in range(1, ds.scale.bench_admins + 1):
        uid = _user(ds, email=bench_admin_email(n), name=f"Bench Admin {n:02d}", role="admin", locale="en",
                    totp=BENCH_TOTP_SECRET)
        _scope(ds, uid, district_id)


# Per school, the first staff members hold these posts (role, department suffix or None, max weekly periods).
POSTS = (("head", None, 4), ("admin", None, 0), ("admin", None, 0))


def _departments_for(ds: Dataset, count: int) -> list[DepartmentSpec]:
    """Each teacher's department: the departments' shares of `count` teachers, in a shuffled order."""
    specs = DEPARTMENTS[: ds.scale.departments]
    total = sum(s.share for s in specs)
    sizes = [int(count * s.share / total) for s in specs]
    for i in range(count - sum(sizes)):
        sizes[i % len(sizes)] += 1
    return [spec for spec, size in zip(specs, sizes, strict=True) for _ in range(size)]


@dataclass
class _Member:
    school: School
    number: int
    role: str | None  # account role, None without an account
    department: DepartmentSpec | None
    max_periods: int
    status: str


def _plan_school(ds: Dataset, school: School, count: int, rng) -> list[_Member]:
    members = [_Member(school, n, role, None, periods, "active") for n, (role, _d, periods)
               in enumerate(POSTS[:count], start=1)]
    teachers = _departments_for(ds, max(count - len(POSTS), 0))
    heads_done: set[str] = set()
    for offset, spec in enumerate(teachers, start=len(members) + 1):
        if spec.suffix not in heads_done and len(heads_done) < 2:  # two department heads per school
            heads_done.add(spec.suffix)
            members.append(_Member(school, offset, "head", spec, 8, "active"))
            continue
        draw = rng.random()
        status = "departed" if draw < 0.01 else "on_notice" if draw < 0.025 else "active"
        role = "teacher" if rng.random() < ds.scale.staff_account_share else None
        members.append(_Member(school, offset, role, spec, rng.choice((12, 14, 16, 16, 18, 20)), status))
    return members


def _hired(ds: Dataset, rng) -> tuple[date, date | None]:
    hired = ds.year_start - timedelta(days=rng.randint(20, 30 * 365))
    probation = hired + timedelta(days=182) if (ds.year_start - hired).days < 365 else None
    return hired, probation


def _add_member(ds: Dataset, m: _Member, rng) -> StaffInfo:
    family, given, english = person(rng)
    name = full_name(family, given, english)
    sid = ds.next_id("staff_members")
    email = f"s{sid:05d}.{m.school.code.lower()}@{BENCH_DOMAIN}"
    phone = mobile(sid)
    user_id = None
    if m.role:
        needs_totp = m.role in ("admin", "head")
        user_id = _user(ds, email=email, name=name, role=m.role, locale="en" if english else "zh", phone=phone,
                        totp=totp_secret_for(ds.seed, ds.next_id("users")) if needs_totp else None,
                        active=m.status != "departed")
        unit = m.school.departments.get(m.department.suffix) if m.department and m.role != "admin" else None
        _scope(ds, user_id, unit or m.school.id)
    hired, probation = _hired(ds, rng)
    departed = ds.year_start - timedelta(days=rng.randint(1, 200)) if m.status == "departed" else None
    department_id = m.school.departments.get(m.department.suffix) if m.department else None
    at = ds.created_at
    ds.add("staff_members", (sid, m.school.id, department_id, f"E{m.school.index:02d}{m.number:04d}", family,
                             given, email, phone, hired, probation, m.status, m.max_periods, user_id, departed,
                             at, at, 1))
    subjects: tuple[str, ...] = ()
    if m.department:
        pool = m.department.subjects
        subjects = tuple(sorted(rng.sample(pool, min(len(pool), rng.choice((1, 1, 2))))))
    return StaffInfo(sid, m.school.id, subjects, m.max_periods, m.status)


def build_people(ds: Dataset) -> People:
    """Org units, subjects, bench admins, and every school's staff with their accounts and subjects."""
    district, schools = build_org(ds)
    subject_ids = build_subjects(ds)
    ds.table("users", USER_COLUMNS)
    ds.table("user_scopes", SCOPE_COLUMNS)
    ds.table("staff_members", STAFF_COLUMNS)
    build_bench_admins(ds, district)
    rng = ds.rng("staff")
    staff: list[StaffInfo] = []
    for school, count in zip(schools, split_evenly(ds.scale.staff, len(schools)), strict=True):
        for member in _plan_school(ds, school, count, rng):
            staff.append(_add_member(ds, member, rng))
    links = ds.table("staff_subjects", ("staff_id", "subject_id"))
    links.rows.extend((s.id, subject_ids[code]) for s in staff for code in s.subjects)
    return People(district, schools, subject_ids, staff)
