"""Names render escaped on every classes page (RELIABILITY check 16): `<script>`, `{{7*7}}`, `O'Hara`, `ねこ` and an
attribute breaker as class, subject, student, guardian and teacher names, including inside the SVG chart."""
from __future__ import annotations

from datetime import date

import pytest

from app.extensions import db as _db
from tests import factories

NASTY = {
    "script": ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    "template": ("{{7*7}}", "{{7*7}}"),
    "quote": ("O'Hara", "O&#39;Hara"),
    "kana": ("ねこ", "ねこ"),
    "attribute": ('"><img src=x onerror=alert(1)>', "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"),
}


def _assert_escaped(html: str, raw: str, escaped: str, where: str) -> None:
    """The escaped form is there (for `{{7*7}}`: not evaluated to 49), the raw one nowhere."""
    assert escaped in html, where
    if raw != escaped:
        assert raw not in html, where


@pytest.mark.parametrize("key", NASTY)
def test_names_are_escaped_on_every_classes_page(client, org, login_as, key):
    raw, escaped = NASTY[key]
    parent = factories.make_user("parent", unit=org.school_a, password=None)
    subject = factories.make_subject(f"S{len(key)}{key[:3].upper()}", raw)
    school_class = factories.make_class(org.school_a, name=raw)
    teacher = factories.make_staff(org.school_a, family_name=raw, given_name=raw, subjects=[subject])
    student = factories.make_student(org.school_a, family_name=raw, given_name=raw, school_class=school_class)
    guardian = factories.make_guardian(student, full_name=raw, user=parent)
    assignment = factories.make_assignment(school_class, teacher, subject=subject, weekly_periods=4)
    factories.make_assignment(school_class, teacher, weekly_periods=1, ends_on=date(2026, 10, 31))  # history
    factories.make_assignment(school_class, teacher, weekly_periods=1, starts_on=date(2026, 11, 1))
    _db.session.commit()

    login_as("admin", unit=org.district)
    pages = {
        "class list": "/classes/",
        "class page": f"/classes/{school_class.id}",
        "student list": "/classes/students/",
        "student page": f"/classes/students/{student.id}",
        "guardian form": f"/classes/students/{student.id}/guardians/{guardian.id}",
        "assign form": f"/classes/{school_class.id}/assign",
        "change form": f"/classes/assignments/{assignment.id}/change",
        "subjects": "/classes/subjects/",
        "load chart": f"/classes/load?school={org.school_a.id}",
    }
    for where, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, where
        _assert_escaped(response.get_data(as_text=True), raw, escaped, where)

    login_as(user=parent)
    for where, url in {"my children": "/classes/my-children", "dashboard": "/"}.items():
        _assert_escaped(client.get(url).get_data(as_text=True), raw, escaped, where)
