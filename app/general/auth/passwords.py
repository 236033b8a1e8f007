"""Password hashing (argon2id) and the password rules."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with argon2-cffi's RFC 9106 low-memory defaults

# A hash of a fixed password, verified against when the account does not exist, so that an
# unknown e-mail costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("staffroom-dummy-password-for-timing")


def hash_password(password: str) -> str:
    """An argon2id hash with a fresh random salt."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password; an absent or malformed hash never matches (and still costs a hash)."""
    if not stored_hash:
        _safe_verify(_DUMMY_HASH, password)
        return False
    return _safe_verify(stored_hash, password)


def _safe_verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True for hashes made with weaker parameters or another algorithm (upgraded at login)."""
    if not stored_hash.startswith("$argon2id$"):
        return True
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
