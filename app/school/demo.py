"""`flask demo load`: the Riverside demo district, its schools, departments and people.

Loading is idempotent: what exists (matched by unit code and e-mail) is left exactly as it is, so a
second run changes nothing and prints the same logins. Every creation is audited with actor
"system". Later modules add their own demo data as further `load_*` functions called from
`load_all`.
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field

import click
import pyotp
import sqlalchemy as sa
from flask.cli import AppGroup

from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import SYSTEM, record
from app.general.auth.models import RecoveryCode, User
from app.general.org import services as org_services
from app.general.org.models import OrgUnit

log = logging.getLogger(__name__)

DEMO_DOMAIN = "demo.staffroom.test"
# A public credential by design: it is printed on every `make run` and works only for @demo.staffroom.test accounts.
DEMO_PASSWORD = "staffroom-demo-2026"  # noqa: S105
RECOVERY_CODES_PER_USER = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class DemoUnit:
    code: str
    name: str
    kind: str
    parent_code: str | None = None


@dataclass(frozen=True)
class DemoUser:
    local_part: str
    display_name: str
    role: str
    locale: str
    unit_codes: tuple[str, ...]

    @property
    def email(self) -> str:
        return f"{self.local_part}@{DEMO_DOMAIN}"

    @property
    def totp_secret(self) -> str | None:
        return DEMO_TOTP_SECRETS.get(self.local_part)


DISTRICT = DemoUnit("RIVERSIDE", "Riverside District", "district")
SCHOOLS = (
    DemoUnit("RS1", "Riverside No.1 Middle School", "school", "RIVERSIDE"),
    DemoUnit("RS2", "Riverside No.2 Primary School", "school", "RIVERSIDE"),
)
DEPARTMENT_NAMES = (("MATH", "Maths"), ("CHN", "Chinese"), ("ENG", "English"), ("SCI", "Science"),
                    ("ARTPE", "Arts & PE"))
DEPARTMENTS = tuple(
    DemoUnit(f"{school.code}-{suffix}", name, "department", school.code)
    for school in SCHOOLS for suffix, name in DEPARTMENT_NAMES
)
UNITS = (DISTRICT, *SCHOOLS, *DEPARTMENTS)

# Fixed second-factor secrets of the admin and the heads (public, like the password), so that the printed
# otpauth URI stays valid across reloads and an authenticator app set up once keeps working.
DEMO_TOTP_SECRETS = {
    "admin": "IT5Q3FT3CMB3OH3MWG7DB7AKZFDDZLC7",
    "head1": "OVAH3D752AZXPFKDHNNXNGITBP6HUBXL",
    "head2": "ACBONKLB5KVKORMFZNVP7KKKHFTW3EHR",
}

USERS = (
    DemoUser("admin", "Alex Chen", "admin", "en", ("RIVERSIDE",)),
    DemoUser("head1", "王芳", "head", "zh", ("RS1",)),
    DemoUser("head2", "Sarah Miller", "head", "en", ("RS2",)),
    DemoUser("teacher01", "李伟", "teacher", "zh", ("RS1-MATH",)),
    DemoUser("teacher02", "张敏", "teacher", "zh", ("RS1-CHN",)),
    DemoUser("teacher03", "Emily Johnson", "teacher", "en", ("RS1-ENG",)),
    DemoUser("teacher04", "刘洋", "teacher", "zh", ("RS1-SCI",)),
    DemoUser("teacher05", "陈静", "teacher", "zh", ("RS1-ARTPE",)),
    DemoUser("teacher06", "David Smith", "teacher", "en", ("RS1-MATH",)),
    DemoUser("teacher07", "杨磊", "teacher", "zh", ("RS2-MATH",)),
    DemoUser("teacher08", "Laura Brown", "teacher", "en", ("RS2-ENG",)),
    DemoUser("teacher09", "赵丽", "teacher", "zh", ("RS2-CHN",)),
    DemoUser("teacher10", "Michael Green", "teacher", "en", ("RS2-SCI",)),
    DemoUser("parent1", "周杰", "parent", "zh", ("RS1",)),
    DemoUser("parent2", "Anna Wilson", "parent", "en", ("RS2",)),
    DemoUser("parent3", "孙悦", "parent", "zh", ("RS1", "RS2")),
)


@dataclass
class LoadResult:
    """What one `load_all` run created (all zero on a second run)."""

    units_created: int = 0
    users_created: int = 0
    created: list[str] = field(default_factory=list)
    other_created: dict[str, int] = field(default_factory=dict)  # counts from the later modules' steps

    def add(self, what: str, count: int = 1) -> None:
        """Count `count` new demo rows of kind `what` (e.g. "staff", "contracts")."""
        if count:
            self.other_created[what] = self.other_created.get(what, 0) + count

    @property
    def changed(self) -> bool:
        return bool(self.units_created or self.users_created or any(self.other_created.values()))


def is_demo_email(email: str) -> bool:
    """True for addresses of the demo domain only."""
    return email.strip().lower().endswith("@" + DEMO_DOMAIN)


def demo_recovery_codes(email: str) -> list[str]:
    """The account's fixed recovery codes, derived from its e-mail so that reloading prints the same ones."""
    codes = []
    for n in range(RECOVERY_CODES_PER_USER):
        digest = hashlib.sha256(f"staffroom-demo-recovery|{email}|{n}".encode()).digest()
        letters = "".join(_RECOVERY_ALPHABET[b % len(_RECOVERY_ALPHABET)] for b in digest[:12])
        codes.append(f"{letters[0:4]}-{letters[4:8]}-{letters[8:12]}")
    return codes


# --- loading -------------------------------------------------------------------------------------


def load_org(result: LoadResult) -> dict[str, OrgUnit]:
    """The district, its two schools and their departments; returns every demo unit by code."""
    units: dict[str, OrgUnit] = {}
    for spec in UNITS:
        unit = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == spec.code))
        if unit is None:
            parent = units.get(spec.parent_code) if spec.parent_code else None
            unit = org_services.create_unit(kind=spec.kind, name=spec.name, code=spec.code, parent=parent,
                                            actor=SYSTEM)
            result.units_created += 1
            result.created.append(spec.code)
        units[spec.code] = unit
    return units


def _enrol_second_factor(user: User, secret: str) -> None:
    """Turn on TOTP with the account's fixed demo secret and store its fixed recovery codes, hashed."""
    from app.general.auth.twofactor import hash_recovery_code  # the auth module owns the storage format

    user.totp_secret, user.totp_enabled_at = secret, utcnow()
    db.session.add_all(
        RecoveryCode(user_id=user.id, code_hash=hash_recovery_code(code)) for code in demo_recovery_codes(user.email)
    )
    db.session.flush()
    record("demo.second_factor_enrolled", subject=user, actor=SYSTEM,
           changes={"recovery_codes": RECOVERY_CODES_PER_USER})


def _create_user(spec: DemoUser, units: dict[str, OrgUnit]) -> User:
    """An account through the auth module's own services (audited there), with the demo password set."""
    from app.general.auth import services as auth_services

    user = auth_services.create_user(
        actor=SYSTEM, email=spec.email, display_name=spec.display_name, role=spec.role, locale=spec.locale,
        unit_ids=[units[code].id for code in spec.unit_codes], invite=False,
    )
    auth_services.set_password(user, DEMO_PASSWORD, action="demo.password_set", actor=SYSTEM)
    if spec.totp_secret:
        _enrol_second_factor(user, spec.totp_secret)
    return user


def load_users(units: dict[str, OrgUnit], result: LoadResult) -> dict[str, User]:
    """The district admin, a head per school, ten teachers and three parents; returns them by e-mail."""
    users: dict[str, User] = {}
    for spec in USERS:
        user = db.session.scalar(sa.select(User).where(User.email == spec.email))
        if user is None:
            user = _create_user(spec, units)
            result.users_created += 1
            result.created.append(spec.email)
        users[spec.email] = user
    return users


# Each later module adds its own demo data: a module with `load(units, users, result)`, run in this
# order after the organisation and the accounts exist. Each must be idempotent.
DEMO_STEPS: tuple[str, ...] = (
    "app.school.staff.demo",
    "app.school.classes.demo",
    "app.school.staff.demo_contracts",
    "app.school.credentials.demo",
    "app.school.teaching.demo",
    "app.school.offboarding.demo",
)


def _run_steps(units: dict[str, OrgUnit], users: dict[str, User], result: LoadResult) -> None:
    import importlib
    import importlib.util

    for module_name in DEMO_STEPS:
        if importlib.util.find_spec(module_name) is None:
            continue  # a module that has no demo data yet
        importlib.import_module(module_name).load(units, users, result)


def load_all() -> LoadResult:
    """Everything the demo needs, in order; the caller commits."""
    result = LoadResult()
    units = load_org(result)
    users = load_users(units, result)
    _run_steps(units, users, result)
    if result.changed:
        record("demo.loaded", actor=SYSTEM, changes={"units_created": result.units_created,
                                                     "users_created": result.users_created,
                                                     **result.other_created})
    log.info("demo: %d units and %d users created", result.units_created, result.users_created)
    return result


# --- what to print -------------------------------------------------------------------------------


def current_code(secret: str, at: float | None = None) -> tuple[str, int]:
    """The TOTP code for now and the seconds it stays valid."""
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    return totp.at(now), int(totp.interval - now % totp.interval)


def usable_recovery_code(user: User) -> str | None:
    """One of the account's fixed demo recovery codes that has not been used yet."""
    from app.general.auth.twofactor import recovery_code_matches

    unused = db.session.scalars(
        sa.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all()
    for code in demo_recovery_codes(user.email):
        if any(recovery_code_matches(stored, code) for stored in unused):
            return code
    return None


def _where(user: User) -> str:
    def label(unit: OrgUnit) -> str:
        school = unit.school
        return f"{school.name} · {unit.name}" if school is not None and school is not unit else unit.name

    return ", ".join(label(scope.org_unit) for scope in user.scopes)


def _second_factor_lines(user: User, at: float | None) -> list[str]:
    from app.general.auth.twofactor import provisioning_uri

    code, valid_for = current_code(user.totp_secret, at)
    recovery = usable_recovery_code(user) or "(all used: run `flask demo load` on a fresh database)"
    return [
        f"  {user.email:<32} {user.role:<8} {user.display_name} — {_where(user)}",
        f"      authenticator: {provisioning_uri(user.totp_secret, user.email)}",
        f"      code now: {code} (valid {valid_for}s more; later: flask --app wsgi demo totp {user.email})",
        f"      recovery code: {recovery}",
    ]


def login_text(at: float | None = None) -> str:
    """The demo logins, for `flask demo load` and `make run` (second-factor codes as of `at`, default now)."""
    users = {
        user.email: user
        for user in db.session.scalars(sa.select(User).where(User.email.in_([spec.email for spec in USERS])))
    }
    if not users:
        return "No demo data in this database: run `flask --app wsgi demo load`."
    lines = [f"Demo logins — the password of every demo account is: {DEMO_PASSWORD}", "",
             "Admins and heads also need a second factor (TOTP): scan the authenticator URI, or type the code",
             "printed by `flask --app wsgi demo totp EMAIL`; a recovery code works once instead.", ""]
    for spec in USERS:
        user = users.get(spec.email)
        if user is not None and user.totp_secret:
            lines += _second_factor_lines(user, at)
    for role, title in (("teacher", "Teachers"), ("parent", "Parents")):
        lines += ["", f"{title} (password only):"]
        lines += [
            f"  {user.email:<32} {user.display_name} — {_where(user)} [{user.locale}]"
            for spec in USERS if spec.role == role and (user := users.get(spec.email)) is not None
        ]
    return "\n".join(lines)


# --- CLI -----------------------------------------------------------------------------------------

demo_cli = AppGroup("demo", help="The Riverside demo district for trying Staffroom out (never in production).")


def _refuse_in_production() -> None:
    if os.environ.get("STAFFROOM_ENV") == "production":
        raise click.ClickException("demo accounts with a published password are refused in production")


@demo_cli.command("load")
def load_command() -> None:
    """Create the demo district, schools, departments and users (idempotent) and print the logins."""
    _refuse_in_production()
    result = load_all()
    db.session.commit()
    if result.changed:
        click.echo(f"Demo data loaded: {result.units_created} units and {result.users_created} users created.")
    else:
        click.echo("Demo data already present: nothing changed.")
    click.echo(login_text())


@demo_cli.command("totp")
@click.argument("email")
def totp_command(email: str) -> None:
    """Print the current second-factor code of a demo account (admin or head)."""
    _refuse_in_production()
    if not is_demo_email(email):
        raise click.ClickException(f"only demo accounts (…@{DEMO_DOMAIN}) have a printable code")
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))
    if user is None or not user.totp_secret:
        raise click.ClickException(f"{email} is not a demo account with a second factor (try admin@{DEMO_DOMAIN})")
    code, valid_for = current_code(user.totp_secret)
    click.echo(f"{code}  (valid for {valid_for} more seconds)")


COMMANDS = (demo_cli,)
