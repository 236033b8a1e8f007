"""Template bodies: placeholders in a sandbox, clear errors for unknown ones, the SHA-256 of the exact text."""
from __future__ import annotations

import hashlib
from datetime import date

import pytest

from app.core.errors import ValidationFailed
from app.general.contracts import rendering

VALUES = rendering.placeholder_values(
    party_name="王芳", party_email="w@example.test", employer_name="School A", title="Contract",
    starts_on=date(2026, 9, 1), ends_on=None, terms={"notice_days": 30, "non_compete_monthly_compensation": "3000.00"},
    issued_on=date(2026, 8, 20),
)


def test_placeholders_are_filled_in_as_plain_text(app):
    with app.test_request_context():
        text = rendering.render_body("{{ party_name }} <b>{{ employer_name }}</b> from {{ starts_on }}; "
                                     "{{ notice_days }} days; {{ non_compete_monthly_compensation }}", VALUES)
    assert text == "王芳 <b>School A</b> from 2026-09-01; 30 days; 3000.00"  # autoescape off: the text is not HTML


def test_an_open_end_renders_empty_and_conditions_work(app):
    with app.test_request_context():
        text = rendering.render_body("{% if ends_on %}until {{ ends_on }}{% else %}open-ended{% endif %}", VALUES)
    assert text == "open-ended"


def test_unknown_placeholders_are_all_named_at_the_body_field(app):
    with app.test_request_context(), pytest.raises(ValidationFailed) as refused:
        rendering.check_body("Dear {{ party_nmae }}, salary {{ salary }}, {{ party_name }}")
    assert refused.value.field == "body"
    assert "party_nmae" in refused.value.message and "salary" in refused.value.message
    assert "party_name," not in refused.value.message.split("Known")[0]


@pytest.mark.parametrize("body", [
    "{% for i in range(100000) %}x{% endfor %}",
    "{{ party_name|center(1000000000) }}",
    "{{ 'x' * 1000000 }}",
    "{{ party_name.__class__.__mro__ }}",
    "{{ lipsum() }}",
    "{% set x = 1 %}",
    "{% include 'base.html' %}",
])
def test_only_placeholders_conditions_and_simple_filters_are_allowed(app, body):
    with app.test_request_context(), pytest.raises(ValidationFailed) as refused:
        rendering.check_body(body)
    assert refused.value.field == "body"


def test_a_syntax_error_names_its_line(app):
    with app.test_request_context(), pytest.raises(ValidationFailed) as refused:
        rendering.check_body("line one\n{% if party_name %}never closed")
    assert "line" in refused.value.message.lower()


def test_values_are_never_evaluated_as_template_code(app):
    values = dict(VALUES, party_name="{{ 7*7 }} <script>alert(1)</script>")
    with app.test_request_context():
        assert rendering.render_body("{{ party_name }}", values) == "{{ 7*7 }} <script>alert(1)</script>"


def test_the_fingerprint_is_sha256_over_utf8_and_line_endings_are_normalised(app):
    text = "合同\nLine two\n"
    assert rendering.sha256_text(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    with app.test_request_context():
        assert rendering.check_body("a\r\nb\rc") == "a\nb\nc"
