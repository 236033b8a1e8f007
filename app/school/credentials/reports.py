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
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from app.school.credentials.models import Credential, CredentialType, RequiredFor, credential_type_subjects
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
    needs: pd.DataFrame  # staff_id, type_id, expires_on, days_left, problem, rank + the staff columns, worst first
    types: dict[int, SimpleNamespace]  # id -> code, name, grace_days
    schools: dict[int, SimpleNamespace]  # id -> code, name
    paths: dict[int, str]  # org unit id -> path, for the scope test
    token: object = field(default_factory=object)  # tells one build from another


def _fetch(stmt: sa.Select) -> list[tuple]:
    """Rows as the driver's plain tuples, in the session's transaction: at 40,000 rows SQLAlchemy's row objects
    cost more than the query. The values bound are ours (ids, dates, statuses), rendered as SQL literals."""
    connection = db.session.connection()
    sql = str(stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def _staff_frame() -> pd.DataFrame:
    rows = _fetch(sa.select(
        StaffMember.id, StaffMember.school_id, sa.func.coalesce(StaffMember.department_id, StaffMember.school_id),
        StaffMember.employee_number, StaffMember.family_name, StaffMember.given_name)
        .where(StaffMember.status.in_(CURRENT)))
    return pd.DataFrame([(r[0], r[1], r[2], r[3], full_name(r[4], r[5])) for r in rows],
                        columns=["staff_id", "school_id", "unit_id", "employee_number", "name"])


def _required_types() -> list[CredentialType]:
    return list(db.session.scalars(sa.select(CredentialType).where(
        CredentialType.is_active.is_(True), CredentialType.required_for != RequiredFor.NONE)
        .order_by(CredentialType.code)))


def _teaching_frame(today: date) -> pd.DataFrame:
    """Distinct (staff, role, subject, grade) of the assignments running today, of current staff."""
    rows = _fetch(sa.select(Assignment.staff_id, Assignment.role, Assignment.subject_id, SchoolClass.grade)
                  .join(SchoolClass, SchoolClass.id == Assignment.class_id)
                  .join(StaffMember, StaffMember.id == Assignment.staff_id)
                  .where(covering(Assignment, today), StaffMember.status.in_(CURRENT)).distinct())
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
    """Per staff member and type, the latest expiry among credentials not revoked and already issued — or
    approved as the renewal of one already issued (a period starting after today continues the current one
    without a gap, so an approved renewal is not "expiring")."""
    if not type_ids:
        return pd.DataFrame(columns=["staff_id", "type_id", "expires_on"])
    best = sa.func.max(sa.func.coalesce(Credential.expires_on, NEVER))
    renewals = sa.select(Credential.superseded_by_id).where(
        Credential.superseded_by_id.is_not(None), Credential.revoked_at.is_(None), Credential.issued_on <= today)
    rows = _fetch(sa.select(Credential.staff_id, Credential.type_id, best)
                  .join(StaffMember, StaffMember.id == Credential.staff_id)
                  .where(Credential.revoked_at.is_(None),
                         sa.or_(Credential.issued_on <= today, Credential.id.in_(renewals)),
                         Credential.type_id.in_(type_ids), StaffMember.status.in_(CURRENT))
                  .group_by(Credential.staff_id, Credential.type_id))
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
    """The district's requirements on `today`, from five queries (no query per staff member), sorted worst
    first, with each staff member's worst problem (what the chart counts)."""
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
    units = {r.id: r for r in db.session.execute(sa.select(OrgUnit.id, OrgUnit.code, OrgUnit.name, OrgUnit.path)
                                                   .where(OrgUnit.id.in_(sorted(set(staff.unit_id)
                                                                                | set(staff.school_id)))))}
    schools = {i: SimpleNamespace(id=i, code=units[i].code, name=units[i].name) for i in set(staff.school_id)}
    rank = {p: i for i, p in enumerate(SEVERITY)}
    needs["rank"] = needs.problem.map(rank).astype("int64")
    needs = needs.merge(staff, on="staff_id")
    needs["code"] = needs.school_id.map({i: s.code for i, s in schools.items()})
    needs = needs.sort_values(["rank", "days_left", "code", "name", "type_id"], na_position="first", kind="stable")
    worst = needs.groupby("staff_id")["rank"].min()
    staff["worst"] = staff.staff_id.map(worst).fillna(rank[OK]).astype("int64")
    return Frames(staff, needs.reset_index(drop=True),
                  {t.id: SimpleNamespace(id=t.id, code=t.code, name=t.name, grace_days=t.grace_days) for t in types},
                  schools, {i: r.path for i, r in units.items()})


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])  # SQLite returns max(coalesce(...)) as text


# --- the per-process cache --------------------------------------------------------------------------------


_lock = threading.Lock()
_cached: dict = {"key": None, "frames": None, "checked": 0.0, "summaries": {}}
RECHECK_SECONDS = 5.0  # how long a process trusts its frame before asking the database again


def fingerprint(today: date) -> tuple:
    """What the frame depends on, in one query: a change to staff, assignments, credentials, types (and the
    subjects they require) or org units changes a count, a highest id, a sum of optimistic-lock versions or of
    the units' name and path lengths (an assignment is ended, never edited)."""
    def stats(model, *extra):
        return [sa.select(sa.func.count()).select_from(model).scalar_subquery(),
                sa.select(sa.func.max(model.id)).scalar_subquery(),
                *(sa.select(e).scalar_subquery() for e in extra)]

    links = credential_type_subjects
    row = db.session.execute(sa.select(
        *stats(StaffMember, sa.func.sum(StaffMember.version)),
        *stats(Credential, sa.func.sum(Credential.version)),
        *stats(CredentialType, sa.func.sum(CredentialType.version)),
        sa.select(sa.func.coalesce(sa.func.sum(links.c.type_id * 7919 + links.c.subject_id), -1))
        .select_from(links).scalar_subquery(),
        *stats(OrgUnit, sa.func.sum(sa.func.length(OrgUnit.name) + sa.func.length(OrgUnit.path))),
        *stats(Assignment, sa.func.count(Assignment.ends_on), sa.func.max(Assignment.ends_on)))).one()
    return (today, *row)


def district_frames(today: date) -> Frames:
    """The frames for `today`: rebuilt when the fingerprint changed, which a process checks at most every few
    seconds (so a change shows within RECHECK_SECONDS). Always rebuilt under test unless COMPLIANCE_CACHE."""
    if current_app.testing and not current_app.config.get("COMPLIANCE_CACHE"):
        return build_frames(today)
    url = db.engine.url.render_as_string()
    with _lock:
        fresh = _cached["key"] is not None and _cached["key"][:2] == (url, today) \
            and time.monotonic() - _cached["checked"] < current_app.config.get("COMPLIANCE_RECHECK", RECHECK_SECONDS)
        if fresh:
            return _cached["frames"]
    key = (url, today, fingerprint(today))
    with _lock:
        if _cached["key"] == key:
            _cached["checked"] = time.monotonic()
            return _cached["frames"]
    frames = build_frames(today)
    with _lock:
        _cached.update(key=key, frames=frames, checked=time.monotonic(), summaries={})
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
    summary_key: tuple | None = None  # same key, same summaries (None: computed for this request only)

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


def _inside(frames: Frames, user) -> frozenset[int]:
    """The org units (of current staff) inside the user's scopes: the policy's path test, once per unit, on the
    units' paths as they are now (a unit moved since the frame was built is judged where it is)."""
    paths = tuple(scope.org_unit.path for scope in user.scopes)
    if not paths:
        return frozenset()
    now = db.session.execute(sa.select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(sorted(frames.paths))))
    return frozenset(i for i, path in now if path.startswith(paths))


def _summaries(frames: Frames, inside: frozenset[int]) -> tuple[list[SchoolSummary], SchoolSummary]:
    """Per school and in all, vectorised (a few group-bys whatever the number of schools)."""
    staff = frames.staff[frames.staff.unit_id.isin(inside)]
    needs = frames.needs[frames.needs.unit_id.isin(inside)]
    people = staff.groupby("school_id").size()
    worst = staff.groupby(["school_id", "worst"]).size().unstack(fill_value=0)
    problems = needs.groupby(["school_id", "problem"]).size().unstack(fill_value=0)
    bad = needs[needs.problem.isin(NOT_COMPLIANT)].groupby("school_id").staff_id.nunique()
    schools = [_summary(i, frames.schools[i].code, frames.schools[i].name, int(people[i]), int(bad.get(i, 0)),
                        problems.loc[i] if i in problems.index else {}, worst.loc[i] if i in worst.index else {})
               for i in people.index]
    schools.sort(key=lambda s: s.code)
    total = _summary(None, "", _l("All schools"), int(len(staff)),
                     int(needs[needs.problem.isin(NOT_COMPLIANT)].staff_id.nunique()), needs.problem.value_counts(),
                     staff.worst.value_counts())
    return schools, total


def _summary(school_id, code: str, name: str, staff: int, bad: int, problems, worst) -> SchoolSummary:
    n30, n60, n90 = (int(problems.get(p, 0)) for p in (EXPIRING_30, EXPIRING_60, EXPIRING_90))
    return SchoolSummary(school_id, code, name, staff, staff - bad, n30, n30 + n60, n30 + n60 + n90,
                         int(problems.get(EXPIRED, 0)), int(problems.get(MISSING, 0)),
                         {p: int(worst.get(i, 0)) for i, p in enumerate(SEVERITY)})


def _cached_summaries(frames: Frames, inside: frozenset[int]):
    """Summaries per scope, kept with the frame they were computed from (every bench admin shares one)."""
    summaries = _cached["summaries"] if _cached["frames"] is frames else {}
    if inside not in summaries:
        summaries[inside] = _summaries(frames, inside)
        if len(summaries) > 64:
            summaries.pop(next(iter(summaries)))
    return summaries[inside]


def compliance_for(user, today: date, filters: Filters = Filters()) -> Compliance:  # noqa: B008 (frozen)
    """The compliance of the staff in `user`'s scopes on `today`, with the problem list narrowed by `filters`."""
    frames = district_frames(today)
    inside = _inside(frames, user)
    schools, total = _cached_summaries(frames, inside)
    needs = frames.needs
    keep = needs.unit_id.isin(inside) & needs.problem.isin(FILTERS.get(filters.problem, FILTERS[""]))
    if filters.school_id:
        keep &= needs.school_id == filters.school_id
    if filters.type_id:
        keep &= needs.type_id == filters.type_id
    types = sorted(frames.types.values(), key=lambda t: t.code)
    key = (frames.token, inside) if _cached["frames"] is frames else None
    return Compliance(today, schools, total, types, needs[keep], frames, key)


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
