"""Fixtures of the auth tests: throttles start empty in every test."""
from __future__ import annotations

import pytest

from app.extensions import limiter


def _reset_limits() -> None:
    if getattr(limiter, "_storage", None) is not None:  # bound to an app already
        limiter.reset()


@pytest.fixture(autouse=True)
def _empty_rate_limits():
    """Every test starts with no attempt counted (the test client is always 127.0.0.1)."""
    _reset_limits()
    yield
    _reset_limits()
