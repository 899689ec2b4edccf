"""Readings as the agent queues them, and the parsing of what producers hand it."""

from __future__ import annotations

import csv
import functools
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

from infrasight.core.errors import InvalidInputError

__all__ = ["EdgeReading", "Priority", "iso_time", "parse_csv", "parse_items"]


class Priority(IntEnum):
    """Drop order: routine readings go first, alarm/defect/event readings last."""

    ROUTINE = 0
    ALARM = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeReading:
    """One reading; ``(channel, ts_us)`` is its idempotency key here and on the server."""

    channel: str
    ts_us: int
    value: float
    unit: str | None = None
    priority: Priority = Priority.ROUTINE

    @property
    def key(self) -> str:
        return f"{self.channel}\x1f{self.ts_us}"


def _time_us(raw: object, field: str) -> int:
    if not isinstance(raw, str):
        raise InvalidInputError(f"time must be an ISO-8601 string, got {raw!r}", field=field)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as err:
        raise InvalidInputError(f"malformed time {raw!r}", field=field) from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1_000_000)


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().removesuffix("+00:00")


def iso_time(ts_us: int) -> str:
    """Microseconds since the epoch as ISO-8601 UTC (what the server parses back exactly).

    The date and time of each second are formatted once (a backlog has many readings per
    second), which halves the cost of encoding a batch.
    """
    seconds, micros = divmod(ts_us, 1_000_000)
    if micros:
        return f"{_second(seconds)}.{micros:06d}Z"
    return f"{_second(seconds)}Z"


def _reading(raw: dict[str, object], label: str) -> EdgeReading:
    channel = raw.get("channel")
    if not isinstance(channel, str) or not channel:
        raise InvalidInputError("channel must be a non-empty string", field=f"{label}.channel")
    value = raw.get("value")
    if type(value) not in (int, float) or not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise InvalidInputError(
            f"value must be a finite number, got {value!r}", field=f"{label}.value"
        )
    unit = raw.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise InvalidInputError("unit must be a string", field=f"{label}.unit")
    priority_name = raw.get("priority", "routine")
    try:
        priority = Priority[str(priority_name).upper()]
    except KeyError as err:
        raise InvalidInputError(
            f"priority must be 'routine' or 'alarm', got {priority_name!r}",
            field=f"{label}.priority",
        ) from err
    return EdgeReading(
        channel=channel,
        ts_us=_time_us(raw.get("time"), f"{label}.time"),
        value=float(value),  # type: ignore[arg-type]
        unit=unit,
        priority=priority,
    )


def parse_items(document: object) -> list[EdgeReading]:
    """``{"readings": [{"channel", "time", "value", "unit"?, "priority"?}, ...]}``.

    Raises
    ------
    InvalidInputError
        Naming the first bad reading; nothing is queued.
    """
    items = document.get("readings") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise InvalidInputError('body must be an object with a "readings" list', field="readings")
    readings = []
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            raise InvalidInputError("must be an object", field=f"readings[{index}]")
        readings.append(_reading(raw, f"readings[{index}]"))
    return readings


def parse_csv(text: str) -> list[EdgeReading]:
    """Datalogger CSV rows ``channel,time,value[,unit]`` (an optional header is skipped)."""
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if rows and rows[0][0].strip().lower() == "channel":
        rows = rows[1:]
    readings = []
    for index, row in enumerate(rows):
        label = f"CSV row {index + 1}"
        if len(row) not in (3, 4):
            raise InvalidInputError(f"expected 3 or 4 fields, got {len(row)}", field=label)
        try:
            value = float(row[2])
        except ValueError as err:
            raise InvalidInputError(f"value {row[2]!r} is not a number", field=label) from err
        unit = row[3].strip() or None if len(row) == 4 else None
        readings.append(
            _reading(
                {"channel": row[0].strip(), "time": row[1].strip(), "value": value, "unit": unit},
                label,
            )
        )
    return readings
