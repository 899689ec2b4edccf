"""Timestamps: ISO-8601 text to integer microseconds since the Unix epoch (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["datetime_to_us", "parse_time_us", "us_to_datetime", "utc_now_us"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time_us(text: str) -> int:
    """Parse an ISO-8601 time into microseconds since the epoch.

    A time without an offset is taken as UTC. Raises ``ValueError`` when malformed.
    """
    parsed = datetime.fromisoformat(text)
    return datetime_to_us(parsed)


def datetime_to_us(value: datetime) -> int:
    """Microseconds since the epoch of ``value`` (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def us_to_datetime(value: int) -> datetime:
    """Aware UTC datetime of ``value`` microseconds since the epoch."""
    return datetime.fromtimestamp(value // 1_000_000, tz=UTC).replace(microsecond=value % 1_000_000)


def utc_now_us() -> int:
    """Now, in microseconds since the epoch."""
    return datetime_to_us(datetime.now(UTC))
