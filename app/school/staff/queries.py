"""Reading staff: the scoped, searchable list; one person's profile; lookups for imports and accounts."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import aliased, lazyload, selectinload

from app.extensions import db
from app.general.audit.models import AuditEvent
from app.general.org.models import OrgUnit
from app.school.classes.models import Assignment
from app.school.staff.models import STAFF_SEARCH_TEXT, StaffMember, StaffStatus

log = logging.getLogger(__name__)

STATUS_FILTERS = ("current", "active", "on_notice", "departed", "all")
SORTS = ("name", "number", "school", "department", "hired", "status")
SEARCH_TERMS_MAX = 5


def local_today() -> date:
    """Today in the schools' time zone (the date a school's office would write)."""
    return datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


# --- the list ---------------------------------------------------------------------------------------------


def _in_scope(user, scope_unit) -> sa.ColumnElement[bool]:
    """The policy's `covers` as SQL: the staff member's unit (department, else school) lies inside a user scope."""
    paths = [scope.org_unit.path for scope in user.scopes]
    if not paths:
        return sa.false()
    return sa.or_(*(scope_unit.path.startswith(path, autoescape=True) for path in paths))


def search_condition(term_text: str) -> sa.ColumnElement[bool] | None:
    """Every word must match a name (either order, CJK names written together), the number or the e-mail:
    one LIKE per word over the indexed STAFF_SEARCH_TEXT; plain LIKE for a word without case (CJK, digits)."""
    terms = term_text.split()[:SEARCH_TERMS_MAX]
    if not terms:
        return None
    return sa.and_(*(STAFF_SEARCH_TEXT.contains(term, autoescape=True) if term.lower() == term.upper()
                     else STAFF_SEARCH_TEXT.icontains(term, autoescape=True) for term in terms))


def _status(value: str) -> sa.ColumnElement[bool] | None:
    if value == "all":
        return None
    if value in (StaffStatus.ACTIVE, StaffStatus.ON_NOTICE, StaffStatus.DEPARTED):
        return StaffMember.status == value
    return StaffMember.status.in_([StaffStatus.ACTIVE.value, StaffStatus.ON_NOTICE.value])


# Units follow in one small IN query (joined eager loading would widen every row before the sort). The list shows
# neither accounts (user_id tells whether there is one) nor subjects, so neither is loaded.
_LIST_LOADS = (selectinload(StaffMember.school), selectinload(StaffMember.department), lazyload(StaffMember.user),
               lazyload(StaffMember.subjects))


def staff_list(user, search: str = "", school_id: int | None = None, department_id: int | None = None,
               status: str = "current", sort: str = "name", direction: str = "asc") -> sa.Select:
    """The staff members `user` may see, filtered and sorted: one statement to paginate (no Python filtering).

    `status` is one of STATUS_FILTERS ("current" = active and on notice), `sort` one of SORTS, `direction`
    "asc" or "desc"; unknown values fall back to the defaults.
    """
    scope_unit, school, department = aliased(OrgUnit), aliased(OrgUnit), aliased(OrgUnit)
    stmt = (
        sa.select(StaffMember)
        .join(scope_unit, scope_unit.id == sa.func.coalesce(StaffMember.department_id, StaffMember.school_id))
        .where(_in_scope(user, scope_unit))
    )
    conditions = [search_condition(search or ""), _status(status)]
    if school_id:
        conditions.append(StaffMember.school_id == school_id)
    if department_id:
        conditions.append(StaffMember.department_id == department_id)
    stmt = stmt.where(*(c for c in conditions if c is not None))
    keys = {
        "name": (sa.func.lower(StaffMember.family_name), sa.func.lower(StaffMember.given_name)),
        "number": (StaffMember.employee_number,),
        "hired": (StaffMember.hired_on,),
        "status": (StaffMember.status,),
    }
    if sort == "school":
        stmt = stmt.join(school, school.id == StaffMember.school_id)
        keys["school"] = (school.name,)
    elif sort == "department":
        stmt = stmt.outerjoin(department, department.id == StaffMember.department_id)
        keys["department"] = (department.name,)
    columns = keys.get(sort, keys["name"])
    descending = direction == "desc"
    order = [c.desc() if descending else c.asc() for c in columns]
    return stmt.order_by(*order, StaffMember.id.desc() if descending else StaffMember.id).options(*_LIST_LOADS)


def staff_page(user, *, per_page: int, page: int | None = None, **filters) -> Pagination:
    """One page of `staff_list(user, **filters)` (`page` None: the request's, as db.paginate reads it): the page's
    ids are cut from a sort of ids and sort keys only (a deep page of the district sorts 10,000 narrow rows, not
    whole records), then its rows are loaded."""
    pagination = db.paginate(staff_list(user, **filters).with_only_columns(StaffMember.id), page=page,
                             per_page=per_page, error_out=False)
    if pagination.items:
        rows = {staff.id: staff for staff in db.session.scalars(
            sa.select(StaffMember).where(StaffMember.id.in_(pagination.items)).options(*_LIST_LOADS))}
        pagination.items = [rows[staff_id] for staff_id in pagination.items]
    return pagination


def staff_for_user(user) -> StaffMember | None:
    """The staff record linked to a portal account, if any."""
    if user is None or getattr(user, "id", None) is None:
        return None
    return db.session.scalar(sa.select(StaffMember).where(StaffMember.user_id == user.id))


def weekly_periods_in_use(staff: StaffMember, on: date) -> int:
    """The weekly periods of the staff member's assignments running on `on`."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(Assignment.weekly_periods), 0)).where(
        Assignment.staff_id == staff.id, Assignment.starts_on <= on,
        sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= on))
    return int(db.session.scalar(stmt) or 0)


def taken_employee_numbers(school_id: int, numbers: Iterable[str], *, exclude_ids: Iterable[int] = ()) -> set[str]:
    """Which of `numbers` (normalised) are already used in the school: one query for a whole spreadsheet."""
    wanted = sorted({n for n in numbers if n})
    if not wanted:
        return set()
    found: set[str] = set()
    excluded = list(exclude_ids)
    for start in range(0, len(wanted), 500):  # keep each IN list small for SQLite's parameter limit
        stmt = sa.select(StaffMember.employee_number).where(
            StaffMember.school_id == school_id, StaffMember.employee_number.in_(wanted[start:start + 500]))
        if excluded:
            stmt = stmt.where(StaffMember.id.not_in(excluded))
        found.update(db.session.scalars(stmt))
    return found


# --- the profile ------------------------------------------------------------------------------------------


@dataclass
class StaffProfile:
    """Everything the profile page shows about one person (later modules add their own cards)."""

    staff: StaffMember
    today: date
    current_assignments: list[Assignment] = field(default_factory=list)
    past_assignments: list[Assignment] = field(default_factory=list)
    contracts: list | None = None  # None: the contracts module is not installed
    timeline: list[AuditEvent] = field(default_factory=list)

    @property
    def periods_in_use(self) -> int:
        """Weekly periods of the assignments running today."""
        return sum(a.weekly_periods for a in self.current_assignments if a.is_current(self.today))


def assignments_of(staff: StaffMember) -> list[Assignment]:
    """Every assignment of the staff member, newest first."""
    stmt = (sa.select(Assignment).where(Assignment.staff_id == staff.id)
            .order_by(Assignment.starts_on.desc(), Assignment.id.desc()))
    return list(db.session.scalars(stmt))


def contracts_of(staff: StaffMember, *, include_drafts: bool = True) -> list | None:
    """The person's contracts from the general contracts module, or None while that module is not installed.

    Drafts are the school's business until issued: the person's own view leaves them out.
    """
    try:
        from app.general.contracts.queries import contracts_for_party
    except ImportError as error:
        if (error.name or "").startswith("app.general.contracts"):
            return None
        raise
    contracts = contracts_for_party("StaffMember", staff.id)
    return [c for c in contracts if include_drafts or getattr(c, "status", None) != "draft"]


def timeline_of(staff: StaffMember) -> list[AuditEvent]:
    """The audit events about this staff member, newest first."""
    from app.general.audit.queries import events_for_subject

    return list(reversed(events_for_subject("StaffMember", staff.id)))


def staff_profile(staff: StaffMember, *, own: bool = False, today: date | None = None) -> StaffProfile:
    """Gather the person's assignments now and past, contracts and (unless it is their own view) audit timeline."""
    today = today or local_today()
    profile = StaffProfile(staff=staff, today=today, contracts=contracts_of(staff, include_drafts=not own))
    for assignment in assignments_of(staff):
        ended = assignment.ends_on is not None and assignment.ends_on < today
        (profile.past_assignments if ended else profile.current_assignments).append(assignment)
    if not own:
        profile.timeline = timeline_of(staff)
    return profile
