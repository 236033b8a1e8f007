"""Reading the cells of one row: text, dates, whole numbers, choices and code lists, with row errors."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from flask_babel import gettext as _

from app.core.imports.spec import RowErrors

# 2026-09-01, 2026/9/1, 2026.9.1 (Chinese Excel's CSV), an Excel date cell read as text ("2026-09-01 00:00:00"),
# and 2026年9月1日.
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$")
_DATE_ZH = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")
_INTEGER = re.compile(r"^[+-]?\d+(?:\.0+)?$")
LIST_SEPARATORS = re.compile(r"[;；]")


def parse_date(text: str) -> date | None:
    """A date from the forms above, or None when the text is not one (or not a real day)."""
    match = _DATE.match(text) or _DATE_ZH.match(text)
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def choice_key(text: str) -> str:
    return " ".join(text.casefold().split())


class RowReader:
    """The cells of one row by canonical column name, collecting (row, column, message) problems."""

    def __init__(self, number: int, values: Mapping[str, str], errors: RowErrors, present: set[str]):
        self.number = number
        self.values = values
        self.present = present  # the columns the file has
        self._errors = errors
        self.ok = True
        self.bad: set[str] = set()  # columns already reported, so a later rule does not report them twice

    def has(self, name: str) -> bool:
        return name in self.present

    def raw(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str, message: Any) -> None:
        if name in self.bad:
            return
        self._errors.add(self.number, name, message)
        self.bad.add(name)
        self.ok = False

    def text(self, name: str, *, required: bool = False, max_length: int | None = None) -> str | None:
        value = " ".join(self.raw(name).split())
        if not value:
            if required:
                self.error(name, _("This cell is required."))
            return None
        if max_length is not None and len(value) > max_length:
            self.error(name, _("At most %(n)d characters.", n=max_length))
            return None
        return value

    def date(self, name: str, *, required: bool = False) -> date | None:
        text = self.raw(name)
        if not text:
            if required:
                self.error(name, _("This cell is required."))
            return None
        value = parse_date(text)
        if value is None:
            self.error(name, _("“%(value)s” is not a date: write it as YYYY-MM-DD.", value=text[:40]))
        return value

    def integer(self, name: str, *, minimum: int, maximum: int, required: bool = False) -> int | None:
        text = self.raw(name)
        if not text:
            if required:
                self.error(name, _("This cell is required."))
            return None
        if not _INTEGER.match(text) or not minimum <= int(float(text)) <= maximum:
            self.error(name, _("Enter a whole number from %(min)d to %(max)d.", min=minimum, max=maximum))
            return None
        return int(float(text))

    def choice(self, name: str, choices: Mapping[str, str], *, required: bool = False) -> str | None:
        """One of `choices` (keys compared case-insensitively, Chinese aliases included) → its value."""
        text = self.raw(name)
        if not text:
            if required:
                self.error(name, _("This cell is required."))
            return None
        value = choices.get(choice_key(text))
        if value is None:
            shown = ", ".join(sorted(set(choices.values())))
            self.error(name, _("“%(value)s” is not one of: %(choices)s.", value=text[:40], choices=shown))
        return value

    def codes(self, name: str) -> list[str]:
        """Codes separated by ";" (full-width "；" too), upper-cased, without repeats, in the order given."""
        seen: dict[str, None] = {}
        for part in LIST_SEPARATORS.split(self.raw(name)):
            code = part.strip().upper()
            if code:
                seen.setdefault(code, None)
        return list(seen)
