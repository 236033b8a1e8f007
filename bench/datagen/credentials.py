"""Credential types, credentials and training records of the bench district (DESIGN.md: ~40,000 credentials).

The four types of the demo (teaching certificate for every subject teacher, safeguarding check for everyone,
first aid for homeroom teachers, professional title never required). About four credentials per staff member:
the current period of each type they hold, an older period renewed into it for about half of them, and a
title for some. Current periods' expiry dates are spread evenly from a few weeks before the academic year
starts to the end of their validity, so on any day some credentials reach each reminder offset; a few are
expired, revoked or simply missing. Teachers have one to three training records, most verified.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from bench.datagen import Dataset
from bench.datagen.people import People

TYPE_COLUMNS = ("id", "code", "name", "description", "validity_years", "grace_days", "reminder_offsets",
                "renewal_hours", "required_for", "grade_min", "grade_max", "is_active", "created_at", "version")
CREDENTIAL_COLUMNS = ("id", "staff_id", "type_id", "number", "issuer", "issued_on", "expires_on", "revoked_at",
                      "revoked_reason", "superseded_by_id", "note", "created_at", "version")
TRAINING_COLUMNS = ("id", "staff_id", "completed_on", "provider", "topic", "hours", "status", "created_by_id",
                    "reviewed_by_id", "reviewed_at", "rejection_reason", "created_at", "version")

# code, name, validity years, grace days, offsets, renewal hours, required for
TYPES = (
    ("TEACH", "教师资格证 Teaching certificate", 5, 0, "90,30,7", Decimal(360), "teaching"),
    ("SAFE", "安全背景审查 Safeguarding check", 3, 0, "90,30,7", None, "all"),
    ("FIRSTAID", "急救证书 First aid", 3, 30, "60,14", None, "homeroom"),
    ("TITLE", "专业技术职称 Professional title", None, 0, "90", None, "none"),
)
HISTORY_SHARE = 0.5  # current periods that replaced an earlier one (renewed)
MISSING_SHARE = 0.02  # required credentials nobody recorded
REVOKED_SHARE = 0.005
TITLE_SHARE = 0.55
OTHER_FIRST_AID_SHARE = 0.25  # teachers who are not homeroom teachers but hold first aid anyway
PROVIDERS = ("区教师发展中心 District teacher development centre", "国家中小学智慧教育平台 National platform",
             "华东师范大学 East China Normal University", "学校校本培训 School-based training")
TOPICS = ("新课标解读 New curriculum standards", "信息技术应用 ICT in teaching", "班主任工作 Homeroom work",
          "作业设计 Homework design", "心理健康教育 Mental health", "课堂评价 Classroom assessment")


@dataclass
class _Type:
    id: int
    code: str
    validity: int | None


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _types(ds: Dataset) -> dict[str, _Type]:
    ds.table("credential_types", TYPE_COLUMNS)
    types = {}
    for n, (code, name, validity, grace, offsets, hours, required) in enumerate(TYPES, start=1):
        ds.add("credential_types", (n, code, name, None, validity, grace, offsets, hours, required, None, None, True,
                                    ds.created_at, 1))
        types[code] = _Type(n, code, validity)
    return types


class _Writer:
    """Appends credential periods: the current one first, then (maybe) the earlier one it superseded."""

    def __init__(self, ds: Dataset, rng):
        self.ds, self.rng = ds, rng
        self.first = ds.year_start - timedelta(days=60)  # the earliest expiry of a current period

    def current(self, staff_id: int, t: _Type, with_history: bool) -> None:
        ds, rng = self.ds, self.rng
        if t.validity is None:
            issued = ds.year_start - timedelta(days=rng.randint(200, 6000))
            self._add(staff_id, t, issued, None, None)
            return
        expires = self.first + timedelta(days=rng.randint(0, t.validity * 365))
        issued = _add_years(expires + timedelta(days=1), -t.validity)
        revoked = ds.created_at if rng.random() < REVOKED_SHARE else None
        current_id = self._add(staff_id, t, issued, expires, None, revoked)
        if with_history:
            before = issued - timedelta(days=1)
            self._add(staff_id, t, _add_years(issued, -t.validity), before, current_id)

    def _add(self, staff_id: int, t: _Type, issued: date, expires: date | None, superseded_by: int | None,
             revoked=None) -> int:
        ds = self.ds
        cid = ds.next_id("credentials")
        return ds.add("credentials", (cid, staff_id, t.id, f"{issued.year}{t.code[:2]}{cid:09d}", "Bench Education "
                                      "Bureau", issued, expires, revoked, "bench: revoked" if revoked else None,
                                      superseded_by, None, ds.created_at, 1))


def _homeroom_teachers(ds: Dataset) -> set[int]:
    table = ds.tables.get("assignments")
    return {row[2] for row in table.rows if row[3] == "homeroom" and row[7] is None} if table else set()


def _training(ds: Dataset, staff_id: int, rng) -> None:
    for _ in range(rng.choice((1, 1, 2, 3))):
        status = "verified" if rng.random() < 0.8 else "submitted"
        done = ds.year_start - timedelta(days=rng.randint(1, 1500))
        ds.add("training_records", (ds.next_id("training_records"), staff_id, done, rng.choice(PROVIDERS),
                                    rng.choice(TOPICS), Decimal(rng.choice((8, 12, 16, 24, 32, 48, 72))), status,
                                    None, None, ds.created_at if status == "verified" else None, None,
                                    ds.created_at, 1))


def build_credentials(ds: Dataset, people: People) -> None:
    """The four types, every current staff member's credentials, and teachers' training records."""
    types = _types(ds)
    ds.table("credentials", CREDENTIAL_COLUMNS)
    ds.table("training_records", TRAINING_COLUMNS)
    rng = ds.rng("credentials")
    writer = _Writer(ds, rng)
    homeroom = _homeroom_teachers(ds)
    for staff in people.staff:
        if staff.status == "departed":
            continue
        teaches = bool(staff.subjects)
        wanted = [("SAFE", True), ("TEACH", teaches),
                  ("FIRSTAID", staff.id in homeroom or (teaches and rng.random() < OTHER_FIRST_AID_SHARE))]
        for code, holds in wanted:
            if holds and rng.random() >= MISSING_SHARE:
                writer.current(staff.id, types[code], rng.random() < HISTORY_SHARE)
        if rng.random() < TITLE_SHARE:
            writer.current(staff.id, types["TITLE"], False)
        if teaches:
            _training(ds, staff.id, rng)
