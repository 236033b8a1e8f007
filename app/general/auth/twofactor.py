"""TOTP second factor (RFC 6238, pyotp) and one-time recovery codes (stored as salted SHA-256)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time

import pyotp
import segno

ISSUER = "Staffroom"
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or typed from paper
_TOTP_CODE = re.compile(r"^\d{6}$")


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code as an inline <svg> element (no script, no external resource)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#212529", light="#ffffff")


def normalise_code(code: str) -> str:
    """A submitted code without spaces or dashes, lower-cased."""
    return re.sub(r"[\s-]", "", code or "").lower()


def is_totp_shaped(code: str) -> bool:
    return bool(_TOTP_CODE.match(normalise_code(code)))


def matching_counter(secret: str, code: str, *, at: float | None = None, window: int = 1) -> int | None:
    """The time-step counter whose TOTP equals `code` (±`window` steps), or None.

    The caller refuses a counter at or below the last one used, so a code cannot be replayed.
    """
    code = normalise_code(code)
    if not _TOTP_CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    current = totp.timecode(now)
    for counter in range(current - window, current + window + 1):
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def generate_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """`count` random codes like "k7pm-x2qa-9rfd" (about 64 bits each)."""
    return [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4)) for _ in range(3))
        for _ in range(count)
    ]


def hash_recovery_code(code: str) -> str:
    """Salted SHA-256 of the normalised code; the codes are random, so a slow hash adds nothing."""
    salt = secrets.token_hex(16)
    digest = hashlib.sha256((salt + normalise_code(code)).encode()).hexdigest()
    return f"sha256${salt}${digest}"


def recovery_code_matches(stored: str, code: str) -> bool:
    """Constant-time comparison of a submitted code with a stored hash."""
    try:
        _algorithm, salt, digest = stored.split("$", 2)
    except ValueError:
        return False
    candidate = hashlib.sha256((salt + normalise_code(code)).encode()).hexdigest()
    return hmac.compare_digest(candidate, digest)


def setup_secret(key: str, user) -> str:
    """The secret offered while a user enrols: derived, not stored, so showing the setup page changes nothing.

    It depends on the session epoch, so it changes after a logout or an admin's reset.
    """
    material = f"totp-setup|{user.id}|{user.session_epoch}|{user.password_hash or ''}".encode()
    return base64.b32encode(hmac.new(key.encode(), material, hashlib.sha256).digest()[:20]).decode()
