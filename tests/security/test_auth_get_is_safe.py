"""GET never changes state (check 13): every GET route of the auth module, as an admin with a fresh
session and as an anonymous visitor, leaves every table exactly as it was."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.general.auth import tokens
from tests import factories


def _snapshot() -> dict[str, list[tuple]]:
    db.session.flush()
    db.session.expire_all()
    state = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
        state[table.name] = [tuple(row) for row in rows]
    return state


def _get_urls(app, values: dict) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("auth.") and "GET" in rule.methods:
            urls.append(rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)[1])
    return sorted(urls)


def _values(org) -> dict:
    invited = factories.make_user("teacher", unit=org.school_a, password=None)
    head = factories.make_user("head", unit=org.school_a)
    return {"user_id": head.id, "token": tokens.make_token(invited, tokens.INVITATION), "_invited": invited}


def test_get_requests_change_nothing_for_an_admin(app, client, org, login_as):
    login_as("admin", unit=org.school_a)
    values = _values(org)
    urls = _get_urls(app, values)
    assert len(urls) >= 12
    before = _snapshot()
    for url in urls + ["/auth/users/?q=x&role=head&status=all", "/auth/two-factor/setup", "/auth/login?next=/"]:
        assert client.get(url).status_code < 500, url
    assert _snapshot() == before


def test_get_requests_change_nothing_for_an_admin_enrolling(app, client, org):
    admin = factories.make_user("admin", unit=org.school_a, totp=False)
    client.post("/auth/login", data={"email": admin.email, "password": factories.TEST_PASSWORD})
    before = _snapshot()
    for url in ("/auth/two-factor/setup", "/auth/two-factor/setup", "/auth/two-factor", "/"):
        assert client.get(url).status_code < 500
    assert _snapshot() == before


def test_get_requests_change_nothing_for_a_visitor(app, client, org):
    values = _values(org)
    reset = tokens.make_token(values["_invited"], tokens.PASSWORD_RESET)
    before = _snapshot()
    for url in _get_urls(app, values) + [f"/auth/reset/{reset}"]:
        assert client.get(url).status_code < 500, url
    assert _snapshot() == before
