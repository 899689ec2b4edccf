"""Focused units of authentication: the password rule, argon2id hashes, the failure limiters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infrasight.core.errors import InvalidInputError
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.passwords import (
    check_password_strength,
    hash_password,
    needs_rehash,
    verify_password,
)
from infrasight.services.throttle import (
    DatabaseFailureLimiter,
    FailureLimiter,
    MemoryFailureLimiter,
)


@pytest.mark.parametrize(
    ("password", "email", "error"),
    [
        ("twelve chars", "", None),
        ("eleven char", "", "at least 12 characters"),
        ("x" * 1025, "", "at most 1024 characters"),
        ("abcdabcdabcdabcd", "", "at least 5 different characters"),
        ("abcdeabcdeabcde", "", None),
        ("hello-JOHN.DOE-2024", "john.doe@x.example", "must not contain the e-mail address"),
        ("hello-bob-2024-stuff", "bob@x.example", None),  # local parts under 4 are not checked
    ],
)
def test_password_rule(password: str, email: str, error: str | None) -> None:
    if error is None:
        check_password_strength(password, min_length=12, email=email)
        return
    with pytest.raises(InvalidInputError, match=error) as caught:
        check_password_strength(password, min_length=12, email=email, field="new_password")
    assert caught.value.field == "new_password"


def test_argon2id_hash_round_trip() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse batterY")
    assert not verify_password("not a hash", "correct horse battery")
    assert hash_password("correct horse battery") != stored  # salted
    assert not needs_rehash(stored)
    weak = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$XJw1L7dW4xP7mQ5vDpT0bA"
    assert needs_rehash(weak)


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["memory", "database"])
def limiter_and_clock(
    request: pytest.FixtureRequest, settings: Settings
) -> tuple[FailureLimiter, _Clock]:
    clock = _Clock()
    if request.param == "memory":
        return MemoryFailureLimiter(limit=3, window_s=60, clock=clock), clock
    platform = Platform.create(settings, workers=0)
    request.addfinalizer(platform.close)
    return DatabaseFailureLimiter(platform.database, limit=3, window_s=60, clock=clock), clock


def test_limiter_blocks_after_the_limit_until_the_window_closes(
    limiter_and_clock: tuple[FailureLimiter, _Clock],
) -> None:
    limiter, clock = limiter_and_clock
    keys = ["ip:10.0.0.1", "email:a@b.example"]
    assert limiter.retry_after(keys) is None
    assert limiter.record_failure(keys) is None
    clock.now += timedelta(seconds=10)
    assert limiter.record_failure(keys) is None
    clock.now += timedelta(seconds=10)
    assert limiter.record_failure(keys) == 40  # the window opened at the first failure
    assert limiter.retry_after(["ip:10.0.0.1"]) == 40
    assert limiter.retry_after(["ip:10.0.0.2"]) is None  # other clients are not affected
    clock.now += timedelta(seconds=39.5)
    assert limiter.retry_after(keys) == 1
    clock.now += timedelta(seconds=0.5)
    assert limiter.retry_after(keys) is None  # a new window
    assert limiter.record_failure(keys) is None


def test_limiter_clear_forgets_a_key(limiter_and_clock: tuple[FailureLimiter, _Clock]) -> None:
    limiter, _clock = limiter_and_clock
    for _ in range(3):
        limiter.record_failure(["ip:1", "email:x@y.example"])
    limiter.clear(["email:x@y.example"])
    assert limiter.retry_after(["email:x@y.example"]) is None
    assert limiter.retry_after(["ip:1"]) == 60


def test_database_limiter_is_shared_between_processes(settings: Settings) -> None:
    """Two platforms (two API processes) on one database count failures together."""
    clock = _Clock()
    first, second = Platform.create(settings, workers=0), Platform.create(settings, workers=0)
    try:
        a = DatabaseFailureLimiter(first.database, limit=3, window_s=60, clock=clock)
        b = DatabaseFailureLimiter(second.database, limit=3, window_s=60, clock=clock)
        a.record_failure(["ip:9"])
        b.record_failure(["ip:9"])
        assert a.record_failure(["ip:9"]) == 60
        assert b.retry_after(["ip:9"]) == 60
    finally:
        first.close()
        second.close()
