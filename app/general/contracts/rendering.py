"""Template bodies with `{{ placeholders }}`, rendered in a Jinja sandbox; the SHA-256 of the exact text.

The body is text, not HTML: autoescape is off here and the pages escape the text when they show it.
An unknown placeholder is refused when the template is saved, with the list of names that are wrong.
"""
from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from app.core.errors import ValidationFailed

BODY_MAX = 100_000

# name -> what it stands for (shown as help next to the template body)
PLACEHOLDERS: dict[str, object] = {
    "party_name": _l("the party's full name"),
    "party_email": _l("the party's e-mail address"),
    "employer_name": _l("the employer (school or district)"),
    "title": _l("the contract's title"),
    "starts_on": _l("the first day (YYYY-MM-DD)"),
    "ends_on": _l("the last day, empty when open-ended"),
    "notice_days": _l("days of notice"),
    "probation_ends_on": _l("the last day of probation, empty when none"),
    "non_compete_months": _l("months of non-compete after the end"),
    "non_compete_monthly_compensation": _l("monthly non-compete compensation, e.g. 3000.00"),
    "currency": _l("the currency of the amounts, e.g. CNY"),
    "issued_on": _l("the day the contract is issued (YYYY-MM-DD)"),
}

# Placeholders, conditions and a few argument-free filters: no loops, calls or arithmetic, so that a template
# cannot run for long or build a huge text.
_ALLOWED_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.If, nodes.Not,
                  nodes.And, nodes.Or, nodes.Compare, nodes.Operand, nodes.Filter, nodes.Concat)
_ALLOWED_FILTERS = {"upper", "lower", "title", "capitalize", "trim", "default"}

_ENV = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)


def sha256_text(text: str) -> str:
    """SHA-256 over the UTF-8 bytes of `text`, as 64 hex digits."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalise(body: str) -> str:
    """Line endings as LF, so that the same text typed on any system hashes the same."""
    return (body or "").replace("\r\n", "\n").replace("\r", "\n")


def check_body(body: str) -> str:
    """The body with normalised line endings, if it parses and uses only known placeholders.

    :raises ValidationFailed: (field "body") naming the syntax error or every unknown placeholder.
    """
    body = _normalise(body)
    if not body.strip():
        raise ValidationFailed(_("Enter the text of the template."), field="body")
    if len(body) > BODY_MAX:
        raise ValidationFailed(_("A template has at most %(n)d characters.", n=BODY_MAX), field="body")
    try:
        parsed = _ENV.parse(body)
    except TemplateSyntaxError as error:
        raise ValidationFailed(
            _("The template cannot be read at line %(line)d: %(error)s", line=error.lineno or 0, error=error.message),
            field="body",
        ) from None
    _check_constructs(parsed)
    unknown = sorted(meta.find_undeclared_variables(parsed) - set(PLACEHOLDERS))
    if unknown:
        raise ValidationFailed(
            _("Unknown placeholders: %(names)s. Known: %(known)s.",
              names=", ".join(unknown), known=", ".join(sorted(PLACEHOLDERS))),
            field="body",
        )
    return body


def _check_constructs(parsed: nodes.Template) -> None:
    for node in parsed.find_all(nodes.Node):
        allowed = isinstance(node, _ALLOWED_NODES)
        if isinstance(node, nodes.Filter):
            allowed = node.name in _ALLOWED_FILTERS and all(isinstance(arg, nodes.Const) for arg in node.args)
        if not allowed:
            raise ValidationFailed(
                _("Line %(line)d: only placeholders such as {{ party_name }}, {%% if … %%} conditions and the "
                  "filters %(filters)s are allowed.", line=node.lineno or 0,
                  filters=", ".join(sorted(_ALLOWED_FILTERS))),
                field="body",
            )


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def placeholder_values(*, party_name: str, party_email: str | None, employer_name: str, title: str,
                       starts_on: date, ends_on: date | None, terms: dict, issued_on: date) -> dict[str, str]:
    """Every placeholder's value as plain text (dates ISO, money with two decimals, absent values empty)."""
    values = {
        "party_name": party_name, "party_email": party_email, "employer_name": employer_name, "title": title,
        "starts_on": starts_on, "ends_on": ends_on, "issued_on": issued_on,
        "notice_days": terms.get("notice_days"), "probation_ends_on": terms.get("probation_ends_on"),
        "non_compete_months": terms.get("non_compete_months"),
        "non_compete_monthly_compensation": terms.get("non_compete_monthly_compensation"),
        "currency": terms.get("currency"),
    }
    return {name: _text(value) for name, value in values.items()}


def render_body(body: str, values: dict[str, str]) -> str:
    """The body with every placeholder filled in.

    :raises ValidationFailed: when the body no longer parses or names a value that is missing.
    """
    body = check_body(body)
    try:
        return _ENV.from_string(body).render(**values)
    except TemplateError as error:
        raise ValidationFailed(_("The template could not be filled in: %(error)s", error=str(error)),
                               field="body") from None


SAMPLE_TERMS = {"notice_days": 30, "probation_ends_on": "2026-11-30", "non_compete_months": 12,
                "non_compete_monthly_compensation": "3000.00", "currency": "CNY"}


def preview(body: str) -> str:
    """The body filled with sample values (for the template page)."""
    values = placeholder_values(
        party_name="Emily Johnson", party_email="emily.johnson@example.org",
        employer_name="Riverside No.1 Middle School",
        title="Teacher employment contract", starts_on=date(2026, 9, 1), ends_on=date(2029, 8, 31),
        terms=SAMPLE_TERMS, issued_on=date(2026, 8, 15),
    )
    return render_body(body, values)
