"""User input with CR/LF cannot forge a log line (check 21)."""
from __future__ import annotations

import logging

from app import _OneLineFormatter


def test_newlines_in_a_logged_value_are_escaped_not_written():
    formatter = _OneLineFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "login failed for %s", ("a@b.c\nINFO forged",), None)
    line = formatter.format(record)
    assert "\n" not in line
    assert line == "INFO login failed for a@b.c\\nINFO forged"


def test_a_traceback_keeps_its_own_lines():
    formatter = _OneLineFormatter("%(message)s")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed\r\nforged", (), sys.exc_info())
    text = formatter.format(record)
    first, rest = text.split("\n", 1)
    assert first == "failed\\r\\nforged"
    assert rest.startswith("Traceback")
