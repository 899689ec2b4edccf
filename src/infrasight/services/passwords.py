"""Passwords: argon2id hashes (argon2-cffi, RFC 9106 parameters) and the strength rule."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from infrasight.core.errors import InvalidInputError

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "check_password_strength",
    "hash_password",
    "needs_rehash",
    "verify_password",
    "waste_a_verification",
]

MAX_PASSWORD_LENGTH = 1024
MIN_DISTINCT_CHARACTERS = 5


def _hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: t=3, 64 MiB, p=4)."""
    return PasswordHasher()


def check_password_strength(
    password: str, *, min_length: int, email: str = "", field: str = "password"
) -> None:
    """Raise :class:`InvalidInputError` naming ``field`` unless ``password`` is acceptable.

    The rule follows NIST SP 800-63B: a minimum length, no composition rules, and a refusal of
    passwords that are trivially guessable (few distinct characters, the e-mail address in it).
    """
    if len(password) < min_length:
        raise InvalidInputError(f"must have at least {min_length} characters", field=field)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInputError(f"must have at most {MAX_PASSWORD_LENGTH} characters", field=field)
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        raise InvalidInputError(
            f"must use at least {MIN_DISTINCT_CHARACTERS} different characters", field=field
        )
    local = email.partition("@")[0].lower()
    if len(local) >= 4 and local in password.lower():
        raise InvalidInputError("must not contain the e-mail address", field=field)


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string, with its salt and parameters) of ``password``."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (False for a malformed hash)."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _hasher().check_needs_rehash(password_hash)


@functools.cache
def _reference_hash() -> str:
    return hash_password("not a password anyone uses: timing equaliser")


def waste_a_verification() -> None:
    """Spend the time of one verification, so an unknown e-mail answers as slowly as a known one."""
    verify_password(_reference_hash(), "a wrong password")
