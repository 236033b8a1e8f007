"""`flask users create-admin` / `deactivate` (check 4: no default accounts; the first admin comes from the CLI)."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.general.auth import passwords
from app.general.auth.models import User
from tests import factories
from tests.general.auth.helpers import events, reload

STRONG = "granite owl meadow 7"


def _run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["users", *args], input=input)


def _user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email))


def test_a_fresh_database_has_no_accounts_at_all(db):
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_create_admin_reads_the_password_from_stdin_and_scopes_every_top_level_unit(app, org):
    lone_school = factories.make_unit("school", "Independent School")
    result = _run(app, "create-admin", "--email", "First.Admin@Example.org", "--name", "First Admin",
                  "--password-stdin", input=STRONG + "\n")
    assert result.exit_code == 0, result.output
    admin = _user("first.admin@example.org")
    assert admin.role == "admin" and admin.totp_enabled_at is None
    assert passwords.verify_password(admin.password_hash, STRONG) and admin.password_hash.startswith("$argon2id$")
    assert sorted(s.org_unit_id for s in admin.scopes) == sorted([org.district.id, lone_school.id])
    assert STRONG not in result.output
    assert events("auth.admin_created")[0].actor_label == "system"


def test_create_admin_prompts_twice_with_hidden_input(app, org):
    result = _run(app, "create-admin", "--email", "second@example.org", "--name", "Second",
                  input=f"{STRONG}\n{STRONG}x\n{STRONG}\n{STRONG}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert STRONG not in result.output  # hidden input is not echoed
    assert passwords.verify_password(_user("second@example.org").password_hash, STRONG)


def test_create_admin_with_a_scope_code(app, org):
    result = _run(app, "create-admin", "--email", "school.admin@example.org", "--name", "School Admin",
                  "--scope", org.school_b.code, "--password-stdin", input=STRONG + "\n")
    assert result.exit_code == 0, result.output
    assert [s.org_unit_id for s in _user("school.admin@example.org").scopes] == [org.school_b.id]


def test_create_admin_refuses_a_weak_password_an_unknown_unit_and_a_taken_email(app, org):
    weak = _run(app, "create-admin", "--email", "weak@example.org", "--name", "Weak", "--password-stdin",
                input="password1234\n")
    assert weak.exit_code == 1 and "too common" in weak.output
    short = _run(app, "create-admin", "--email", "weak@example.org", "--name", "Weak", "--password-stdin",
                 input="short\n")
    assert short.exit_code == 1 and "at least 12" in short.output
    unknown = _run(app, "create-admin", "--email", "weak@example.org", "--name", "Weak", "--scope", "NOPE",
                   "--password-stdin", input=STRONG + "\n")
    assert unknown.exit_code == 1 and "NOPE" in unknown.output
    assert _user("weak@example.org") is None
    factories.make_user("teacher", unit=org.school_a, email="taken@example.org")
    taken = _run(app, "create-admin", "--email", "Taken@example.org", "--name", "Copy", "--password-stdin",
                 input=STRONG + "\n")
    assert taken.exit_code == 1 and "already exists" in taken.output


def test_the_first_admin_logs_in_and_must_set_up_the_second_factor(app, client, org):
    _run(app, "create-admin", "--email", "boot@example.org", "--name", "Boot", "--password-stdin", input=STRONG + "\n")
    response = client.post("/auth/login", data={"email": "boot@example.org", "password": STRONG})
    assert response.status_code == 302
    assert client.get("/").headers["Location"].startswith("/auth/two-factor/setup")


def test_deactivate_from_the_command_line(app, org):
    user = factories.make_user("teacher", unit=org.school_a)
    epoch = user.session_epoch
    result = _run(app, "deactivate", user.email.upper())
    assert result.exit_code == 0, result.output
    user = reload(user)
    assert not user.is_active_account and user.session_epoch == epoch + 1
    assert events("auth.user_deactivated")[0].actor_label == "system"
    assert _run(app, "deactivate", "nobody@example.org").exit_code == 1


def test_create_admin_needs_an_org_unit_to_scope(app, db):
    result = _run(app, "create-admin", "--email", "early@example.org", "--name", "Early", "--password-stdin",
                  input=STRONG + "\n")
    assert result.exit_code == 1 and "flask org create" in result.output
    assert _user("early@example.org") is None
