"""Small coercions shared by the modules' forms (WTForms filters and coerce functions)."""
from __future__ import annotations

GRADES = range(1, 13)


def optional_int(value):
    """Coerce a select value: blank means "none"; anything else must be a whole number."""
    if value in (None, "", "None"):
        return None
    return int(value)


def strip(value):
    """Leading and trailing blanks removed from text; other values unchanged."""
    return value.strip() if isinstance(value, str) else value


def version(value):
    """The optimistic-lock version a form carries back (None when missing or not a number)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
