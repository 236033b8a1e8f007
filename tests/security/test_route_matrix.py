"""Every route declares its access rule, and every role gets exactly what the policy grants (check 10)."""
from __future__ import annotations

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter

from app.general.auth import policy
from tests import factories

ROLES = ("admin", "head", "teacher", "parent")


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in policy.PUBLIC_ENDPOINTS:
            continue
        yield rule


def _url(rule) -> str:
    values = {}
    for name in rule.arguments:
        converter = rule._converters.get(name)
        if isinstance(converter, IntegerConverter):
            values[name] = 999_999
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = "x"
    return rule.build(values, append_unknown=False)[1]


def test_every_route_declares_an_access_rule(app):
    with app.test_request_context():
        missing = sorted(rule.endpoint for rule in _routes(app) if policy.rule_for_endpoint(rule.endpoint) is None)
    assert missing == [], f"routes without a declared access rule: {missing}"


def test_every_declared_permission_exists(app):
    with app.test_request_context():
        rules = {policy.rule_for_endpoint(rule.endpoint) for rule in _routes(app)}
    assert rules <= set(policy.GRANTS) | {policy.PUBLIC}


def _method(rule) -> str:
    return "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]


def _request(client, rule):
    return client.open(_url(rule), method=_method(rule))


def test_anonymous_visitors_reach_only_public_routes(app, client):
    with app.test_request_context():
        rules = [(r, policy.rule_for_endpoint(r.endpoint)) for r in _routes(app)]
    for rule, access in rules:
        response = _request(client, rule)
        assert response.status_code < 500, (rule.rule, response.status_code)
        if access != policy.PUBLIC:
            assert response.status_code in (302, 401, 403, 404, 405), (rule.rule, response.status_code)
            if response.status_code == 302:
                assert "/auth/login" in response.headers["Location"], rule.rule


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_every_route_the_policy_does_not_grant(app, client, org, role):
    user = factories.make_user(role=role, unit=org.district)
    factories.log_in(client, user)
    with app.test_request_context():
        rules = [(r, policy.rule_for_endpoint(r.endpoint)) for r in _routes(app)]
    checked = 0
    for rule, access in rules:
        if access == policy.PUBLIC or rule.endpoint == "auth.logout":
            continue
        response = _request(client, rule)
        assert response.status_code < 500, (role, rule.rule, response.status_code)
        granted = role in policy.GRANTS[access]
        if not granted:
            assert response.status_code == 403, (role, rule.rule, response.status_code)
            checked += 1
        else:
            assert response.status_code != 403 or rule.arguments, (role, rule.rule, "granted yet refused")
    if role != "admin":
        assert checked > 0


def test_an_exception_inside_the_policy_denies(app, client, org, monkeypatch):
    admin = factories.make_user(role="admin", unit=org.district)
    factories.log_in(client, admin)

    def boom(*_args, **_kwargs):
        raise RuntimeError("policy bug")

    monkeypatch.setattr(policy, "_decide", boom)
    assert policy.can(admin, "audit.view") is False
    assert client.get("/audit/").status_code == 403
