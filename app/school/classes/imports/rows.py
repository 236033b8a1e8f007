"""Helpers shared by the classes imports: value aliases, class lookup, consistency between a file's rows."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.imports import ParsedRow, RowErrors, RowReader
from app.core.imports.fields import choice_key
from app.extensions import db
from app.school.classes.models import SchoolClass
from app.school.classes.queries import full_name
from app.school.classes.services import academic_year_bounds

RELATIONSHIPS = {
    **{k: k for k in ("mother", "father", "grandparent", "guardian", "other")},
    "mum": "mother", "mom": "mother", "dad": "father", "grandmother": "grandparent", "grandfather": "grandparent",
    "母亲": "mother", "妈妈": "mother", "母": "mother", "父亲": "father", "爸爸": "father", "父": "father",
    "祖父母": "grandparent", "祖父": "grandparent", "祖母": "grandparent", "外祖父": "grandparent",
    "外祖母": "grandparent", "爷爷": "grandparent", "奶奶": "grandparent", "外公": "grandparent",
    "外婆": "grandparent", "监护人": "guardian", "其他": "other", "其它": "other",
}
CHANNELS = {"email": "email", "e-mail": "email", "mail": "email", "邮件": "email", "电子邮件": "email",
            "邮箱": "email", "sms": "sms", "text": "sms", "短信": "sms", "手机短信": "sms"}
LANGUAGES = {"zh": "zh", "zh-cn": "zh", "zh_cn": "zh", "chinese": "zh", "中文": "zh", "汉语": "zh", "简体中文": "zh",
             "en": "en", "english": "en", "英文": "en", "英语": "en"}
ROLES = {"homeroom": "homeroom", "homeroom teacher": "homeroom", "班主任": "homeroom",
         "subject": "subject", "subject teacher": "subject", "任课": "subject", "任课教师": "subject",
         "任课老师": "subject", "科任": "subject", "科任教师": "subject"}


def report(row: RowReader, problems: dict[str, str | None], columns: dict[str, str]) -> None:
    """Put a service's field problems on the row, each under the file column that holds the field."""
    for name, message in problems.items():
        if message:
            row.error(columns.get(name, name), message)


def display_name(family_name: str, given_name: str) -> str:
    return full_name(family_name or "", given_name or "")


def class_key(school_id: int, academic_year: str, name: str) -> tuple:
    return school_id, academic_year, choice_key(name)


def classes_by_key(school_ids: set[int], years: set[str | None]) -> dict[tuple, SchoolClass]:
    """The classes of these schools and years by (school, year, name compared case-insensitively): one query."""
    years = {y for y in years if y}
    if not school_ids or not years:
        return {}
    stmt = sa.select(SchoolClass).where(SchoolClass.school_id.in_(sorted(school_ids)),
                                        SchoolClass.academic_year.in_(sorted(years)))
    return {class_key(c.school_id, c.academic_year, c.name): c for c in db.session.scalars(stmt)}


def unknown_class(row: ParsedRow, errors: RowErrors, school, data: dict) -> None:
    errors.flag(row, "class_name", _("Unknown class “%(name)s” of %(year)s at %(school)s.",
                                     name=data["class_name"], year=data["academic_year"], school=school.code))


def default_start(school_class: SchoolClass, today: date) -> date:
    """Today, or the first day of the class's academic year when it has not begun yet."""
    first, _last = academic_year_bounds(school_class.academic_year)
    return max(today, first)


def consistent(rows: list[ParsedRow], errors: RowErrors, key: Callable[[dict], Any],
               fields: dict[str, Callable[[dict], Any]], message: str) -> None:
    """Rows sharing `key` must agree on `fields` (column -> value getter); later rows that differ are flagged."""
    first: dict[Any, ParsedRow] = {}
    for row in rows:
        value = key(row.data)
        if value is None or not row.ok:
            continue
        if value not in first:
            first[value] = row
            continue
        origin = first[value]
        for column, getter in fields.items():
            if getter(row.data) != getter(origin.data):
                errors.flag(row, column, message % {"row": origin.number})
