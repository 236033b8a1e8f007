"""Rendering a message from its templates in the recipient's language."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, render_template
from flask_babel import force_locale
from jinja2 import TemplateNotFound

SUBJECT_MAX = 300


@dataclass(frozen=True)
class Rendered:
    subject: str
    body_text: str
    body_html: str | None


def pick_locale(user_locale: str | None, requested: str | None) -> str:
    """The recipient's own language, else the one asked for, else the default — only among those we offer."""
    languages = current_app.config.get("LANGUAGES", {"en": "English"})
    for candidate in (user_locale, requested):
        if candidate and candidate in languages:
            return candidate
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "en")


def _optional(name: str, context: dict) -> str | None:
    try:
        return render_template(name, **context)
    except TemplateNotFound as exc:
        if exc.name != name:  # a template it includes is missing: that is a bug, not an absent part
            raise
        return None


def _one_line(text: str) -> str:
    """Subjects go into a mail header: no line breaks (header injection), bounded length."""
    return " ".join(text.split())[:SUBJECT_MAX]


def render_message(template: str, channel: str, context: dict, locale: str) -> Rendered:
    """Subject, text and (for e-mail) HTML of `template`; SMS uses `<template>.sms.txt` when it exists."""
    with force_locale(locale):
        subject = _one_line(render_template(f"{template}.subject.txt", **context))
        text = render_template(f"{template}.txt", **context)
        html = _optional(f"{template}.html", context) if channel == "email" else None
        if channel == "sms":
            text = _optional(f"{template}.sms.txt", context) or text
    return Rendered(subject=subject, body_text=text.strip(), body_html=html)
