"""Domain errors raised by services; one handler turns them into answers."""
from __future__ import annotations


class DomainError(Exception):
    """Base of every business-rule error. `field` names the form field the message belongs to."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(DomainError):
    """Input breaks a rule."""


class NotAllowed(DomainError):
    """The actor may not do this."""

    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """Someone else changed the object first, or a uniqueness rule was hit."""

    status_code = 409


class InvalidTransition(Conflict):
    """A workflow transition whose guard does not hold."""


class ImportRejected(DomainError):
    """A spreadsheet with bad rows; `rows` holds (row number, column, message) triples."""

    def __init__(self, message: str, rows: list[tuple[int, str, str]]):
        super().__init__(message)
        self.rows = rows
