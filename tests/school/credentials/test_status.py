"""A credential's status derived from its dates (pure functions, no database): the boundary days, grace,
the warning window, precedence of revoked / renewed / pending renewal, and the expiry of a period across
leap years."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.school.credentials.status import (
    CredentialStatus,
    StatusFacts,
    add_years,
    days_left,
    derive_status,
    expiry_for,
    status_by_date,
)

TODAY = date(2026, 12, 7)
S = CredentialStatus


# --- by date --------------------------------------------------------------------------------------------


def test_a_credential_whose_last_day_is_today_is_still_valid_and_expiring_with_zero_days_left():
    assert status_by_date(TODAY, TODAY) == S.EXPIRING
    assert days_left(TODAY, TODAY) == 0


def test_a_credential_whose_last_day_is_today_is_valid_when_no_warning_window_applies():
    assert status_by_date(TODAY, TODAY, warning_days=-1) == S.VALID


def test_a_credential_whose_last_day_was_yesterday_is_expired():
    yesterday = TODAY - timedelta(days=1)
    assert status_by_date(yesterday, TODAY) == S.EXPIRED
    assert days_left(yesterday, TODAY) == -1


@pytest.mark.parametrize(("days_past", "grace_days", "expected"), [
    (1, 1, S.GRACE),
    (1, 30, S.GRACE),
    (30, 30, S.GRACE),   # the last day of grace
    (31, 30, S.EXPIRED),  # the day after
    (1, 0, S.EXPIRED),
])
def test_grace_days_keep_a_just_expired_credential_in_grace(days_past, grace_days, expected):
    assert status_by_date(TODAY - timedelta(days=days_past), TODAY, grace_days=grace_days) == expected


@pytest.mark.parametrize(("left", "expected"), [
    (91, S.VALID),
    (90, S.EXPIRING),  # the first day inside the window
    (89, S.EXPIRING),
    (1, S.EXPIRING),
])
def test_the_warning_window_edge(left, expected):
    assert status_by_date(TODAY + timedelta(days=left), TODAY, warning_days=90) == expected


def test_a_narrower_warning_window_follows_the_types_offset():
    in_31_days = TODAY + timedelta(days=31)
    assert status_by_date(in_31_days, TODAY, warning_days=30) == S.VALID
    assert status_by_date(in_31_days - timedelta(days=1), TODAY, warning_days=30) == S.EXPIRING


def test_a_credential_with_no_expiry_is_valid_for_ever():
    assert status_by_date(None, TODAY) == S.VALID
    assert status_by_date(None, date(2099, 1, 1)) == S.VALID
    assert days_left(None, TODAY) is None


def test_days_left_counts_calendar_days_across_a_leap_day():
    assert days_left(date(2028, 3, 1), date(2028, 2, 28)) == 2


# --- precedence ------------------------------------------------------------------------------------------


def test_revoked_wins_over_everything():
    facts = StatusFacts(expires_on=TODAY + timedelta(days=400), is_revoked=True, is_superseded=True,
                        has_open_renewal=True)
    assert derive_status(facts, TODAY) == S.REVOKED


def test_renewed_wins_over_pending_renewal_and_dates():
    facts = StatusFacts(expires_on=TODAY - timedelta(days=400), is_superseded=True, has_open_renewal=True)
    assert derive_status(facts, TODAY) == S.RENEWED


@pytest.mark.parametrize("expires_on", [TODAY - timedelta(days=10), TODAY, TODAY + timedelta(days=10),
                                        TODAY + timedelta(days=1000)])
def test_a_renewal_under_review_shows_as_pending_whatever_the_dates(expires_on):
    assert derive_status(StatusFacts(expires_on=expires_on, has_open_renewal=True), TODAY) == S.PENDING_RENEWAL


def test_without_special_facts_the_status_comes_from_the_dates():
    assert derive_status(StatusFacts(expires_on=TODAY + timedelta(days=200)), TODAY) == S.VALID
    assert derive_status(StatusFacts(expires_on=TODAY + timedelta(days=20)), TODAY) == S.EXPIRING
    assert derive_status(StatusFacts(expires_on=TODAY - timedelta(days=2), grace_days=5), TODAY) == S.GRACE
    assert derive_status(StatusFacts(expires_on=TODAY - timedelta(days=2)), TODAY) == S.EXPIRED
    assert derive_status(StatusFacts(expires_on=None), TODAY) == S.VALID


def test_a_revoked_credential_without_expiry_is_revoked():
    assert derive_status(StatusFacts(expires_on=None, is_revoked=True), TODAY) == S.REVOKED


# --- periods ------------------------------------------------------------------------------------------------


def test_add_years_keeps_the_calendar_day():
    assert add_years(date(2026, 9, 1), 5) == date(2031, 9, 1)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)


def test_add_years_turns_29_february_into_28_february_in_a_common_year():
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 5) == date(2029, 2, 28)


def test_a_period_ends_the_day_before_its_anniversary():
    assert expiry_for(date(2026, 9, 1), 5) == date(2031, 8, 31)
    assert expiry_for(date(2026, 1, 1), 3) == date(2028, 12, 31)


def test_a_period_issued_on_29_february_ends_on_the_last_day_of_february():
    # 29 February has no anniversary in a common year: the period runs to the end of February, one day longer
    # than one issued on 28 February and ending with one issued on 1 March
    assert expiry_for(date(2024, 2, 29), 5) == date(2029, 2, 28)
    assert expiry_for(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert expiry_for(date(2024, 2, 29), 4) == date(2028, 2, 28)  # 29 February 2028 exists: the day before it


def test_a_period_issued_on_1_march_ends_on_the_last_day_of_february_leap_or_not():
    assert expiry_for(date(2024, 3, 1), 5) == date(2029, 2, 28)
    assert expiry_for(date(2023, 3, 1), 5) == date(2028, 2, 29)
    assert expiry_for(date(2023, 3, 1), 1) == date(2024, 2, 29)


def test_a_period_issued_on_28_february_ends_on_27_february():
    assert expiry_for(date(2024, 2, 28), 5) == date(2029, 2, 27)


def test_expiry_never_goes_backwards_as_the_issue_date_moves_forwards():
    day, previous = date(2023, 12, 1), None
    while day < date(2024, 4, 1):
        for years in (1, 3, 5):
            current = expiry_for(day, years)
            assert current >= day
            if previous is not None:
                assert current >= previous[years]
        previous = {years: expiry_for(day, years) for years in (1, 3, 5)}
        day += timedelta(days=1)


def test_a_type_without_validity_gives_no_expiry():
    assert expiry_for(date(2026, 9, 1), None) is None
