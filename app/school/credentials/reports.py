"""Compliance: who must hold which credential type, and whether they hold one that counts today.

pandas stays here. A few set-based queries (current staff, their current assignments, the best counting
credential per person and type, the types) feed one frame of requirements — one row per staff member and
required type — with a problem: missing, expired, expiring within 30/60/90 days, or none. The district-wide
frame is kept per process while the data it was built from is unchanged (a cheap fingerprint query each
request), so the dashboard of 10,000 staff does not rebuild it for every viewer; each request narrows it to
the user's scope and the filters. Who needs what follows `qualification.applies`; what counts follows
`Credential.counts_on` (not revoked, issued on or before today, expiry + grace days not passed).
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace

import pandas as pd
import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from app.core.names import full_name
from app.extensions import db
from app.general.org.models import OrgUnit
from app.school.classes.models import Assignment, AssignmentRole, SchoolClass
from app.school.classes.queries import covering
from app.school.credentials.models import Credential, CredentialType, RequiredFor
from app.school.credentials.qualification import applies
from app.school.staff.models import StaffMember, StaffStatus

# Problems, worst first. "ok" rows are compliant and never listed.
MISSING, EXPIRED, EXPIRING_30, EXPIRING_60, EXPIRING_90, OK = (
    "missing", "expired", "expiring_30", "expiring_60", "expiring_90", "ok")
SEVERITY = (MISSING, EXPIRED, EXPIRING_30, EXPIRING_60, EXPIRING_90, OK)
PROBLEM_LABELS = {
    MISSING: _l("Missing"), EXPIRED: _l("Expired"), EXPIRING_30: _l("Expires within 30 days"),
    EXPIRING_60: _l("Expires in 31–60 days"), EXPIRING_90: _l("Expires in 61–90 days"),
}
# The list's problem filter: a band (30/60/90 are cumulative: "within 60 days" includes the first 30).
FILTERS = {
    "": (MISSING, EXPIRED, EXPIRING_30, EXPIRING_60, EXPIRING_90),
    MISSING: (MISSING,), EXPIRED: (EXPIRED,), "expiring_30": (EXPIRING_30,),
    "expiring_60": (EXPIRING_30, EXPIRING_60), "expiring_90": (EXPIRING_30, EXPIRING_60, EXPIRING_90),
}
FILTER_LABELS = {
    "": _l("Any problem"), MISSING: _l("Missing"), EXPIRED: _l("Expired"),
    "expiring_30": _l("Expiring within 30 days"), "expiring_60": _l("Expiring within 60 days"),
    "expiring_90": _l("Expiring within 90 days"),
}
NOT_COMPLIANT = (MISSING, EXPIRED)
NEVER = date(9999, 12, 31)  # the expiry of a credential that never expires
CURRENT = (StaffStatus.ACTIVE, StaffStatus.ON_NOTICE)


# --- building the district-wide frame ----------------------------------------------------------------------


@dataclass(frozen=True)
class Frames:
    """The district's current staff (one row each) and their requirements (one row per staff member and type)."""

    staff: pd.DataFrame  # staff_id, school_id, unit_id, employee_number, name
    needs: pd.DataFrame  # staff_id, type_id, expires_on, days_left, problem
    types: dict[int, SimpleNamespace]  # id -> code, name, grace_days
    schools: dict[int, SimpleNamespace]  # id -> code, name


def _staff_frame() -> pd.DataFrame:
    rows = db.session.execute(sa.select(
        StaffMember.id, StaffMember.school_id, sa.func.coalesce(StaffMember.department_id, StaffMember.school_id),
        StaffMember.employee_number, StaffMember.family_name, StaffMember.given_name)
        .where(StaffMember.status.in_(CURRENT))).all()
    return pd.DataFrame([(r[0], r[1], r[2], r[3], full_name(r[4], r[5])) for r in rows],
                        columns=["staff_id", "school_id", "unit_id", "employee_number", "name"])


def _required_types() -> list[CredentialType]:
    return list(db.session.scalars(sa.select(CredentialType).where(
        CredentialType.is_active.is_(True), CredentialType.required_for != RequiredFor.NONE)
        .order_by(CredentialType.code)))


def _teaching_frame(today: date) -> pd.DataFrame:
    """Distinct (staff, role, subject, grade) of the assignments running today, of current staff."""
    rows = db.session.execute(sa.select(Assignment.staff_id, Assignment.role, Assignment.subject_id,
                                        SchoolClass.grade)
                              .join(SchoolClass, SchoolClass.id == Assignment.class_id)
                              .join(StaffMember, StaffMember.id == Assignment.staff_id)
                              .where(covering(Assignment, today), StaffMember.status.in_(CURRENT))
                              .distinct()).all()
    return pd.DataFrame(rows, columns=["staff_id", "role", "subject_id", "grade"])


def _role_rules(teaching: pd.DataFrame, types: list[CredentialType]) -> pd.DataFrame:
    """For each distinct (role, subject, grade) taught today, the role-bound types it requires (`applies`)."""
    combos = teaching[["role", "subject_id", "grade"]].drop_duplicates()
    rules = []
    for role, subject_id, grade in combos.itertuples(index=False):
        subject = SimpleNamespace(id=int(subject_id)) if role == AssignmentRole.SUBJECT and pd.notna(subject_id) \
            else None
        for t in types:
            if t.required_for != RequiredFor.ALL and applies(t, subject, int(grade)):
                rules.append((role, subject_id, grade, t.id))
    return pd.DataFrame(rules, columns=["role", "subject_id", "grade", "type_id"])


def _requirements(staff: pd.DataFrame, types: list[CredentialType], today: date) -> pd.DataFrame:
    everyone = [t.id for t in types if t.required_for == RequiredFor.ALL]
    parts = [staff[["staff_id"]].merge(pd.DataFrame({"type_id": everyone}), how="cross")] if everyone else []
    teaching = _teaching_frame(today)
    if len(teaching) and any(t.required_for != RequiredFor.ALL for t in types):
        rules = _role_rules(teaching, types)
        if len(rules):
            parts.append(teaching.merge(rules, on=["role", "subject_id", "grade"])[["staff_id", "type_id"]])
    if not parts:
        return pd.DataFrame({"staff_id": pd.Series(dtype="int64"), "type_id": pd.Series(dtype="int64")})
    needs = pd.concat(parts, ignore_index=True).drop_duplicates()
    return needs[needs.staff_id.isin(staff.staff_id)]


def _best_credentials(type_ids: list[int], today: date) -> pd.DataFrame:
    """Per staff member and type, the latest expiry among credentials not revoked and already issued."""
    if not type_ids:
        return pd.DataFrame(columns=["staff_id", "type_id", "expires_on"])
    best = sa.func.max(sa.func.coalesce(Credential.expires_on, NEVER))
    rows = db.session.execute(sa.select(Credential.staff_id, Credential.type_id, best)
                              .join(StaffMember, StaffMember.id == Credential.staff_id)
                              .where(Credential.revoked_at.is_(None), Credential.issued_on <= today,
                                     Credential.type_id.in_(type_ids), StaffMember.status.in_(CURRENT))
                              .group_by(Credential.staff_id, Credential.type_id)).all()
    return pd.DataFrame(rows, columns=["staff_id", "type_id", "expires_on"])


def classify(days_left: int | None, grace_days: int) -> str:
    """The problem of one requirement from the days left on its best credential (None: none held)."""
    if days_left is None:
        return MISSING
    if days_left < -grace_days:
        return EXPIRED
    for limit, problem in ((30, EXPIRING_30), (60, EXPIRING_60), (90, EXPIRING_90)):
        if days_left <= limit:
            return problem
    return OK


def build_frames(today: date) -> Frames:
    """The district's requirements on `today`, from four queries (no query per staff member)."""
    staff = _staff_frame()
    types = _required_types()
    needs = _requirements(staff, types, today)
    held = _best_credentials([t.id for t in types], today)
    if len(held):
        held["expires_on"] = held.expires_on.map(_as_date)
    needs = needs.merge(held, on=["staff_id", "type_id"], how="left")
    grace = {t.id: t.grace_days for t in types}
    ordinal = today.toordinal()
    days = [None if not isinstance(e, date) else e.toordinal() - ordinal for e in needs.expires_on] \
        if "expires_on" in needs else []
    needs["days_left"] = pd.array(days, dtype="Int64")
    needs["problem"] = [classify(d, grace[t]) for d, t in zip(days, needs.type_id, strict=True)]
    needs["expires_on"] = [None if not isinstance(e, date) or e == NEVER else e for e in needs.expires_on]
    schools = {r.id: SimpleNamespace(id=r.id, code=r.code, name=r.name) for r in db.session.execute(
        sa.select(OrgUnit.id, OrgUnit.code, OrgUnit.name).where(OrgUnit.id.in_(staff.school_id.unique().tolist())))}
    return Frames(staff, needs, {t.id: SimpleNamespace(id=t.id, code=t.code, name=t.name, grace_days=t.grace_days)
                                 for t in types}, schools)


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])  # SQLite returns max(coalesce(...)) as text


# --- the per-process cache --------------------------------------------------------------------------------


_lock = threading.Lock()
_cached: dict = {"key": None, "frames": None}


def fingerprint(today: date) -> tuple:
    """What the frame depends on, in one cheap query: a change to staff, assignments, credentials or types
    changes a count, a highest id or a sum of optimistic-lock versions (an assignment is ended, never edited)."""
    def stats(model, *extra):
        return [sa.select(sa.func.count()).select_from(model).scalar_subquery(),
                sa.select(sa.func.max(model.id)).scalar_subquery(),
                *(sa.select(e).scalar_subquery() for e in extra)]

    row = db.session.execute(sa.select(
        *stats(StaffMember, sa.func.sum(StaffMember.version)),
        *stats(Credential, sa.func.sum(Credential.version)),
        *stats(CredentialType, sa.func.sum(CredentialType.version)),
        *stats(Assignment, sa.func.count(Assignment.ends_on), sa.func.max(Assignment.ends_on)))).one()
    return (today, *row)


def district_frames(today: date) -> Frames:
    """The frames for `today`, rebuilt only when the fingerprint changed (always rebuilt under test)."""
    if current_app.testing and not current_app.config.get("COMPLIANCE_CACHE"):
        return build_frames(today)
    key = (db.engine.url.render_as_string(), fingerprint(today))
    with _lock:
        if _cached["key"] == key:
            return _cached["frames"]
    frames = build_frames(today)
    with _lock:
        _cached.update(key=key, frames=frames)
    return frames


# --- what a user sees -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    school_id: int | None = None
    type_id: int | None = None
    problem: str = ""  # a key of FILTERS


@dataclass(frozen=True)
class SchoolSummary:
    school_id: int | None  # None: all the user's schools together
    code: str
    name: str
    staff: int
    compliant: int
    expiring_30: int
    expiring_60: int
    expiring_90: int
    expired: int
    missing: int
    worst: dict  # staff by their worst problem (for the chart): problem -> count

    @property
    def percent(self) -> int:
        return 100 if not self.staff else int(self.compliant * 100 // self.staff)


@dataclass(frozen=True)
class ProblemRow:
    staff_id: int
    school_code: str
    employee_number: str
    name: str
    type_id: int
    type_code: str
    type_name: str
    problem: str
    expires_on: date | None
    days_left: int | None


@dataclass
class Compliance:
    """One user's view: summaries per school (and in all), and the filtered problem rows."""

    today: date
    schools: list[SchoolSummary]
    total: SchoolSummary
    types: list[SimpleNamespace]
    rows: pd.DataFrame  # the filtered problems, sorted (consumed through `page` and `export_rows`)
    frames: Frames

    def page(self, number: int, per_page: int = 50) -> ListPage:
        pages = max(1, -(-len(self.rows) // per_page))
        number = min(max(1, number), pages)
        chunk = self.rows.iloc[(number - 1) * per_page: number * per_page]
        return ListPage([self._row(r) for r in chunk.itertuples(index=False)], number, per_page, len(self.rows))

    def export_rows(self) -> Iterator[ProblemRow]:
        for r in self.rows.itertuples(index=False):
            yield self._row(r)

    def _row(self, r) -> ProblemRow:
        school = self.frames.schools[r.school_id]
        t = self.frames.types[r.type_id]
        days = None if pd.isna(r.days_left) else int(r.days_left)
        return ProblemRow(int(r.staff_id), school.code, r.employee_number, r.name, int(r.type_id), t.code, t.name,
                          r.problem, r.expires_on, days)


def _scoped(frames: Frames, user) -> pd.Series:
    """Which staff rows lie inside the user's scopes (one path test per org unit, not per person)."""
    paths = [scope.org_unit.path for scope in user.scopes]
    units = frames.staff.unit_id.unique().tolist()
    if not paths or not units:
        return pd.Series(False, index=frames.staff.index)
    inside = set(db.session.scalars(sa.select(OrgUnit.id).where(
        OrgUnit.id.in_(units), sa.or_(*(OrgUnit.path.startswith(p, autoescape=True) for p in paths)))))
    return frames.staff.unit_id.isin(inside)


def _summary(school_id, code, name, staff_ids: pd.Series, needs: pd.DataFrame) -> SchoolSummary:
    counts = needs.problem.value_counts()
    bad = needs[needs.problem.isin(NOT_COMPLIANT)].staff_id.nunique()
    rank = {p: i for i, p in enumerate(SEVERITY)}
    worst_rank = needs.problem.map(rank).groupby(needs.staff_id).min()
    worst = {p: int((worst_rank == i).sum()) for p, i in rank.items()}
    worst[OK] += int(len(staff_ids) - len(worst_rank))  # staff with no requirement at all
    n = int(len(staff_ids))
    return SchoolSummary(school_id, code, name, n, n - int(bad), int(counts.get(EXPIRING_30, 0)),
                         int(counts.get(EXPIRING_30, 0) + counts.get(EXPIRING_60, 0)),
                         int(counts.get(EXPIRING_30, 0) + counts.get(EXPIRING_60, 0) + counts.get(EXPIRING_90, 0)),
                         int(counts.get(EXPIRED, 0)), int(counts.get(MISSING, 0)), worst)


def compliance_for(user, today: date, filters: Filters = Filters()) -> Compliance:  # noqa: B008 (frozen)
    """The compliance of the staff in `user`'s scopes on `today`, with the problem list narrowed by `filters`."""
    frames = district_frames(today)
    staff = frames.staff[_scoped(frames, user)]
    needs = frames.needs[frames.needs.staff_id.isin(staff.staff_id)]
    needs = needs.merge(staff, on="staff_id")
    schools = []
    for school_id, members in staff.groupby("school_id", sort=False):
        school = frames.schools[school_id]
        schools.append(_summary(school_id, school.code, school.name, members.staff_id,
                                needs[needs.school_id == school_id]))
    schools.sort(key=lambda s: s.code)
    total = _summary(None, "", str(_l("All schools")), staff.staff_id, needs)
    rows = needs[needs.problem.isin(FILTERS.get(filters.problem, FILTERS[""]))]
    if filters.school_id:
        rows = rows[rows.school_id == filters.school_id]
    if filters.type_id:
        rows = rows[rows.type_id == filters.type_id]
    rows = rows.assign(rank=rows.problem.map({p: i for i, p in enumerate(SEVERITY)}),
                       code=rows.school_id.map(lambda i: frames.schools[i].code))
    rows = rows.sort_values(["rank", "days_left", "code", "name", "type_id"], na_position="first", kind="stable")
    types = sorted(frames.types.values(), key=lambda t: t.code)
    return Compliance(today, schools, total, types, rows, frames)


class ListPage:
    """A page of an in-memory list, with what `_pagination.html` reads (as Flask-SQLAlchemy's Pagination)."""

    def __init__(self, items: list, page: int, per_page: int, total: int):
        self.items, self.page, self.per_page, self.total = items, page, per_page, total
        self.pages = max(1, -(-total // per_page))
        self.has_prev, self.has_next = page > 1, page < self.pages
        self.prev_num = page - 1 if self.has_prev else None
        self.next_num = page + 1 if self.has_next else None

    def iter_pages(self, *, left_edge=2, left_current=2, right_current=4, right_edge=2):
        last = 0
        for n in range(1, self.pages + 1):
            if n <= left_edge or self.page - left_current - 1 < n < self.page + right_current \
                    or n > self.pages - right_edge:
                if last + 1 != n:
                    yield None
                yield n
                last = n
