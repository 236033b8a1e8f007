"""Password hashing (argon2id, legacy werkzeug hashes verified and upgraded) and the password rules."""
from __future__ import annotations

import functools
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import gettext as _
from werkzeug.security import check_password_hash

from app.core.errors import ValidationFailed

_hasher = PasswordHasher()  # argon2id with argon2-cffi's RFC 9106 low-memory defaults

# A hash of a fixed password, verified against when the account does not exist, so that an
# unknown e-mail costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("staffroom-dummy-password-for-timing")

# Hashes written by werkzeug.security.generate_password_hash before the switch to argon2id.
LEGACY_PREFIXES = ("scrypt:", "pbkdf2:")

MIN_LENGTH = 12
MAX_LENGTH = 128
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


def hash_password(password: str) -> str:
    """An argon2id hash with a fresh random salt."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password; an absent or malformed hash never matches (and still costs a hash)."""
    if not stored_hash:
        _safe_verify(_DUMMY_HASH, password)
        return False
    if stored_hash.startswith(LEGACY_PREFIXES):
        return _legacy_verify(stored_hash, password)
    return _safe_verify(stored_hash, password)


def _safe_verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _legacy_verify(stored_hash: str, password: str) -> bool:
    try:
        return check_password_hash(stored_hash, password)
    except (ValueError, TypeError):  # a damaged legacy hash never matches
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True for hashes made with weaker parameters or another algorithm (upgraded at login)."""
    if not stored_hash.startswith("$argon2id$"):
        return True
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower-cased (read once per process)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """The reason a password is refused, or None when it is acceptable.

    Length is counted in characters; nothing is trimmed or truncated (argon2 hashes the whole text).
    """
    if len(password) < MIN_LENGTH:
        return _("Use at least %(n)d characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("Use at most %(n)d characters.", n=MAX_LENGTH)
    folded = password.strip().lower()
    if folded in common_passwords():
        return _("This password is too common. Choose something harder to guess.")
    if email:
        address = email.strip().lower()
        if folded in {address, address.split("@", 1)[0]}:
            return _("Your password must not be your e-mail address.")
    return None


def validate_password(password: str, *, email: str | None = None) -> None:
    """Apply the password rules (12–128 characters, not common, not the e-mail).

    :raises ValidationFailed: with the reason, for the `password` field.
    """
    problem = password_problem(password, email=email)
    if problem:
        raise ValidationFailed(problem, field="password")
