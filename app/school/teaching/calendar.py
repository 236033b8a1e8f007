"""The school days of a term, worked out from its dates, closures and make-up days (pure; no writes).

A day is a school day when it lies in the term, is a Monday–Friday, and no closure covers it; a make-up
day (调休) is a school day whatever its weekday and follows the timetable of the weekday it names.
"""
from __future__ import annotations

import calendar as _calendar
from collections.abc import Iterable
from datetime import date, timedelta
from typing import NamedTuple

SCHOOL_WEEKDAYS = frozenset({1, 2, 3, 4, 5})  # ISO weekdays taught in an ordinary week


class SchoolDay(NamedTuple):
    day: date
    weekday: int  # the ISO weekday whose timetable is taught (a make-up day's may differ from day's own)


def school_days(starts_on: date, ends_on: date, closures: Iterable, *, first: date | None = None,
                last: date | None = None) -> list[SchoolDay]:
    """The school days from `first` (default: term start) to `last` (default: term end), in order.

    `closures` are rows with `starts_on`, `ends_on` and `follows_weekday` (None for a closure).
    """
    first = max(starts_on, first or starts_on)
    last = min(ends_on, last or ends_on)
    closed: set[date] = set()
    makeup: dict[date, int] = {}
    for closure in closures:
        if closure.follows_weekday is not None:
            makeup[closure.starts_on] = closure.follows_weekday
            continue
        day = closure.starts_on
        while day <= closure.ends_on:
            closed.add(day)
            day += timedelta(days=1)
    days = []
    day = first
    while day <= last:
        if day in makeup:
            days.append(SchoolDay(day, makeup[day]))
        elif day not in closed and day.isoweekday() in SCHOOL_WEEKDAYS:
            days.append(SchoolDay(day, day.isoweekday()))
        day += timedelta(days=1)
    return days


def month_bounds(month: date) -> tuple[date, date]:
    """The first and last day of the month `month` falls in."""
    first = month.replace(day=1)
    return first, first.replace(day=_calendar.monthrange(first.year, first.month)[1])


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    first = month.replace(day=1)
    return (first + timedelta(days=32)).replace(day=1)


def iso_week_start(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.isoweekday() - 1)
