"""Rate limits on failed authentication: a small interface and two implementations.

A key is a client address (``ip:203.0.113.7``) or an e-mail (``email:a@b.example``). Each key
may fail ``limit`` times in a fixed window of ``window_s`` seconds that opens at its first
failure; after that the caller is told how long to wait. :class:`DatabaseFailureLimiter` keeps
the counts in the ``auth_failures`` table, so every API process of a deployment shares them;
:class:`MemoryFailureLimiter` keeps them in one process. A Redis-backed limiter only needs the
same three methods.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from infrasight.core.errors import AuthenticationError
from infrasight.core.settings import Settings
from infrasight.storage.db import Database
from infrasight.storage.models import AuthFailureCount

__all__ = [
    "DatabaseFailureLimiter",
    "FailureLimiter",
    "MemoryFailureLimiter",
    "TooManyAttemptsError",
    "failure_limiter",
]

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class TooManyAttemptsError(AuthenticationError):
    """Too many failed authentications from this client; retry after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed authentication attempts; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class FailureLimiter(Protocol):
    """Counts failed authentications per key and says when a key must wait."""

    def retry_after(self, keys: Sequence[str]) -> int | None:
        """Seconds to wait if any of ``keys`` is over its limit, else None."""

    def record_failure(self, keys: Sequence[str]) -> int | None:
        """Count one failure for each key; seconds to wait if one is now over, else None."""

    def clear(self, keys: Sequence[str]) -> None:
        """Forget the failures of ``keys`` (after a successful login)."""


def _wait(start: datetime, failures: int, now: datetime, limit: int, window: timedelta) -> int:
    """Whole seconds until the window of a key that reached ``limit`` closes (0: not blocked)."""
    remaining = (start + window - now).total_seconds()
    if failures < limit or remaining <= 0:
        return 0
    return max(1, math.ceil(remaining))


class MemoryFailureLimiter:
    """Failure counts in this process (one API process, tests)."""

    def __init__(self, *, limit: int, window_s: float, clock: Clock = _now) -> None:
        self._limit = limit
        self._window = timedelta(seconds=window_s)
        self._clock = clock
        self._counts: dict[str, tuple[datetime, int]] = {}
        self._lock = threading.Lock()

    def retry_after(self, keys: Sequence[str]) -> int | None:
        now = self._clock()
        with self._lock:
            waits = [
                _wait(*self._counts[key], now, self._limit, self._window)
                for key in keys
                if key in self._counts
            ]
        return max(waits, default=0) or None

    def record_failure(self, keys: Sequence[str]) -> int | None:
        now = self._clock()
        with self._lock:
            for key in keys:
                start, failures = self._counts.get(key, (now, 0))
                if start + self._window <= now:
                    start, failures = now, 0
                self._counts[key] = (start, failures + 1)
            stale = [k for k, (s, _) in self._counts.items() if s + self._window <= now]
            for key in stale:
                del self._counts[key]
        return self.retry_after(keys)

    def clear(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._counts.pop(key, None)


class DatabaseFailureLimiter:
    """Failure counts in the ``auth_failures`` table, shared by every process of a deployment."""

    def __init__(
        self, database: Database, *, limit: int, window_s: float, clock: Clock = _now
    ) -> None:
        self._database = database
        self._limit = limit
        self._window = timedelta(seconds=window_s)
        self._clock = clock

    def retry_after(self, keys: Sequence[str]) -> int | None:
        now = self._clock()
        with self._database.session() as session:
            rows = session.scalars(
                select(AuthFailureCount).where(AuthFailureCount.key.in_(list(keys)))
            ).all()
        waits = [_wait(r.window_start, r.failures, now, self._limit, self._window) for r in rows]
        return max(waits, default=0) or None

    def record_failure(self, keys: Sequence[str]) -> int | None:
        now = self._clock()
        for key in keys:
            self._count(key, now)
        return self.retry_after(keys)

    def _count(self, key: str, now: datetime) -> None:
        """One failure of ``key``: atomic UPDATEs first, INSERT when the key is new."""
        table = AuthFailureCount
        open_since = now - self._window
        for _attempt in range(3):
            try:
                with self._database.transaction() as session:
                    counted = session.execute(
                        update(table)
                        .where(table.key == key, table.window_start > open_since)
                        .values(failures=table.failures + 1)
                    )
                    if counted.rowcount:  # type: ignore[attr-defined]
                        return
                    session.execute(delete(table).where(table.window_start <= open_since))
                    session.add(table(key=key, window_start=now, failures=1))
                return
            except IntegrityError:  # another process inserted the key first: count again
                continue

    def clear(self, keys: Sequence[str]) -> None:
        with self._database.transaction() as session:
            session.execute(delete(AuthFailureCount).where(AuthFailureCount.key.in_(list(keys))))


def failure_limiter(settings: Settings, database: Database) -> FailureLimiter:
    """The limiter ``settings.auth_limiter`` names, with the configured limit and window."""
    if settings.auth_limiter == "memory":
        return MemoryFailureLimiter(limit=settings.auth_failures, window_s=settings.auth_window_s)
    return DatabaseFailureLimiter(
        database, limit=settings.auth_failures, window_s=settings.auth_window_s
    )
