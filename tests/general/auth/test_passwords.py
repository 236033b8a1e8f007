"""Password rules and hashing (checks 1 and 2): 12–128 characters, common ones refused, no truncation,
argon2id with unique salts, legacy werkzeug hashes verified."""
from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from app.core.errors import ValidationFailed
from app.general.auth import passwords


def test_twelve_characters_are_accepted_and_eleven_refused():
    passwords.validate_password("kettle-moss7")
    with pytest.raises(ValidationFailed, match="at least 12"):
        passwords.validate_password("kettle-mos7")


def test_a_128_character_password_is_accepted_and_129_refused():
    passwords.validate_password("q7-" + "x" * 125)
    with pytest.raises(ValidationFailed, match="at most 128"):
        passwords.validate_password("q7-" + "x" * 126)


def test_length_counts_characters_not_bytes():
    passwords.validate_password("ねこがすきですねこがすきです")  # 14 characters, 42 bytes
    with pytest.raises(ValidationFailed):
        passwords.validate_password("ねこがすきですねこがす")  # 11 characters


def test_a_long_password_verifies_only_in_full():
    password = "correct-" + "z" * 115 + "tail!"
    assert len(password) == 128
    stored = passwords.hash_password(password)
    assert passwords.verify_password(stored, password)
    for shorter in (password[:72], password[:127], password[:-1] + "?"):
        assert not passwords.verify_password(stored, shorter)


@pytest.mark.parametrize("common", ["password1234", "Password1234", "qwertyuiop123", "123456789012",
                                    "iloveyou1234", "PASSWORDPASSWORD", "correct horse battery staple"])
def test_common_passwords_are_refused_whatever_their_case(common):
    with pytest.raises(ValidationFailed, match="too common"):
        passwords.validate_password(common)


def test_the_shipped_list_holds_thousands_of_common_passwords():
    common = passwords.common_passwords()
    assert len(common) >= 5000
    assert {"password", "123456", "qwerty", "iloveyou", "letmein", "dragon"} <= common
    assert all(entry == entry.lower() for entry in common)


def test_the_email_address_is_refused_as_a_password():
    with pytest.raises(ValidationFailed, match="e-mail"):
        passwords.validate_password("Jane.Teacher@School.example", email="jane.teacher@school.example")
    with pytest.raises(ValidationFailed, match="e-mail"):
        passwords.validate_password("jane.teacher.long", email="jane.teacher.long@school.example")


def test_hashes_are_argon2id_with_a_unique_salt():
    first, second = passwords.hash_password("same password here"), passwords.hash_password("same password here")
    assert first.startswith("$argon2id$") and second.startswith("$argon2id$")
    assert first != second
    assert first.split("$")[4] != second.split("$")[4]  # the salt part
    assert not passwords.needs_rehash(first)


@pytest.mark.parametrize("method", ["scrypt", "pbkdf2:sha256"])
def test_legacy_werkzeug_hashes_verify_and_ask_for_a_rehash(method):
    legacy = generate_password_hash("an old password 1", method=method)
    assert passwords.verify_password(legacy, "an old password 1")
    assert not passwords.verify_password(legacy, "an old password 2")
    assert passwords.needs_rehash(legacy)


def test_a_missing_or_damaged_hash_never_matches():
    assert not passwords.verify_password(None, "anything at all")
    assert not passwords.verify_password("", "anything at all")
    assert not passwords.verify_password("$argon2id$garbage", "anything at all")
    assert not passwords.verify_password("scrypt:garbage", "anything at all")
    assert passwords.needs_rehash("$argon2id$garbage")


def test_hashes_made_with_weaker_argon2_parameters_are_upgraded():
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("a password to upgrade")
    assert passwords.verify_password(weak, "a password to upgrade")
    assert passwords.needs_rehash(weak)
