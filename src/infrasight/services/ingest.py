"""Ingest a batch of readings: parse, validate everything, convert units, store atomically.

The batch is handled column-wise (lists and numpy arrays, never an object per reading) because
this path must sustain well over 100,000 readings/s. Any bad reading rejects the whole batch
with an error that names it; nothing is written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import orjson
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError, PayloadTooLargeError
from infrasight.core.events import ReadingBatchStored
from infrasight.core.timeparse import utc_now_us
from infrasight.core.units import converter
from infrasight.services.auth import Principal
from infrasight.services.reading_effects import readings_stored
from infrasight.services.sensor_health import judgement_instants
from infrasight.storage.models import Channel, Device
from infrasight.storage.raw import fetch_rows, placeholder
from infrasight.storage.readings import count_conflicts, insert_readings

__all__ = [
    "IngestResult",
    "ReadingColumns",
    "ValidatedReadings",
    "finish_stored_readings",
    "ingest_readings",
    "parse_csv_readings",
    "parse_json_readings",
    "store_readings",
    "validate_readings",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingColumns:
    """A parsed but not yet validated batch, column-wise; ``labels[i]`` names reading i."""

    channels: list[object]
    times: list[object]
    values: list[object]
    units: list[object]
    label_format: str = "readings[{i}]"
    index_offset: int = 0

    def __len__(self) -> int:
        return len(self.channels)

    def label(self, index: int) -> str:
        """How error messages name reading ``index``."""
        position = index + self.index_offset
        return self.label_format.format(i=position, line=position + 1)

    def slice(self, start: int, stop: int) -> ReadingColumns:
        """Readings ``start:stop``, still labelled by their place in the whole batch."""
        return ReadingColumns(
            channels=self.channels[start:stop],
            times=self.times[start:stop],
            values=self.values[start:stop],
            units=self.units[start:stop],
            label_format=self.label_format,
            index_offset=self.index_offset + start,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestResult:
    """Outcome of a stored batch."""

    accepted: int
    duplicates: int
    event: ReadingBatchStored | None
    conflicts: int = 0  # duplicates whose value differs from the stored one (kept: first wins)


def _check_size(count: int, limit: int) -> None:
    if count > limit:
        raise PayloadTooLargeError(
            f"batch holds {count} readings, more than the limit of {limit}; split it",
            field="readings",
        )


def parse_json_readings(body: bytes, *, max_readings: int) -> ReadingColumns:
    """Parse ``{"readings": [{"channel", "time", "value", "unit"?}, ...]}``."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise InvalidInputError(f"body is not valid JSON ({err})") from err
    items = document.get("readings") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise InvalidInputError('body must be an object with a "readings" list', field="readings")
    _check_size(len(items), max_readings)
    try:
        channels = [item["channel"] for item in items]
        times = [item["time"] for item in items]
        values = [item["value"] for item in items]
    except (KeyError, TypeError) as err:
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise InvalidInputError("must be an object", field=f"readings[{index}]") from err
            for name in ("channel", "time", "value"):
                if name not in item:
                    raise InvalidInputError(
                        f'missing "{name}"', field=f"readings[{index}]"
                    ) from err
        raise  # pragma: no cover - the loop above always finds the culprit
    units = [item.get("unit") for item in items]
    return ReadingColumns(channels=channels, times=times, values=values, units=units)


_CSV_HEADERS = (["channel", "time", "value"], ["channel", "time", "value", "unit"])


def _csv_rows(text: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text))
    try:
        return list(reader)
    except csv.Error as err:  # e.g. a field longer than csv.field_size_limit() characters
        line = f"CSV line {reader.line_num}"
        raise InvalidInputError(f"malformed CSV ({err})", field=line) from err


def parse_csv_readings(body: bytes, *, max_readings: int) -> ReadingColumns:
    """Parse CSV rows ``channel,time,value[,unit]``.

    A first line that reads exactly ``channel,time,value[,unit]`` is a header and skipped;
    any other line is a reading (even one whose channel key is ``channel``).
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidInputError("CSV body is not UTF-8 text") from err
    rows = _csv_rows(text)
    if rows and [cell.strip().lower() for cell in rows[0]] in _CSV_HEADERS:
        rows = rows[1:]
    rows = [row for row in rows if row and any(cell.strip() for cell in row)]
    _check_size(len(rows), max_readings)
    channels: list[object] = []
    times: list[object] = []
    values: list[object] = []
    units: list[object] = []
    for index, row in enumerate(rows):
        if len(row) not in (3, 4):
            raise InvalidInputError(
                f"expected 3 or 4 fields (channel,time,value[,unit]), got {len(row)}",
                field=f"CSV row {index + 1}",
            )
        channels.append(row[0].strip())
        times.append(row[1].strip())
        raw_value = row[2].strip()
        try:
            values.append(float(raw_value))
        except ValueError as err:
            raise InvalidInputError(
                f"value {raw_value!r} is not a number", field=f"CSV row {index + 1}"
            ) from err
        units.append(row[3].strip() or None if len(row) == 4 else None)
    return ReadingColumns(
        channels=channels, times=times, values=values, units=units, label_format="CSV row {line}"
    )


def _parse_times(batch: ReadingColumns) -> list[int]:
    parsed: dict[object, int] = {}
    for index, raw in enumerate(batch.times):
        if not isinstance(raw, str):
            raise InvalidInputError(
                f"time must be an ISO-8601 string, got {type(raw).__name__}",
                field=f"{batch.label(index)}.time",
            )
        if raw in parsed:
            continue
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError as err:
            raise InvalidInputError(
                f"malformed time {raw!r} (expected ISO-8601, e.g. 2024-05-01T12:00:00Z)",
                field=f"{batch.label(index)}.time",
            ) from err
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        parsed[raw] = round(moment.timestamp() * 1_000_000)
    return [parsed[raw] for raw in batch.times]


def _values_array(batch: ReadingColumns) -> np.ndarray:
    kinds = set(map(type, batch.values))
    if not kinds <= {float, int}:
        for index, value in enumerate(batch.values):
            if type(value) not in (float, int):
                raise InvalidInputError(
                    f"value must be a number, got {value!r}", field=f"{batch.label(index)}.value"
                )
    array = np.asarray(batch.values, dtype=np.float64)
    finite = np.isfinite(array)
    if not finite.all():
        index = int(np.argmin(finite))
        raise InvalidInputError(
            f"value {batch.values[index]!r} is not a finite number",
            field=f"{batch.label(index)}.value",
        )
    return array


_RAW_KEYS = 100
"""Batches naming at most this many channels look them up with one prepared statement."""
_CHANNELS_BY_KEY = (
    'SELECT "key", id, unit, device_id FROM channels WHERE organization_id = {p} '
    'AND "key" IN ({keys})'
)


def _resolve_channels(
    session: Session, principal: Principal, batch: ReadingColumns
) -> tuple[list[int], dict[int, str]]:
    for index, key in enumerate(batch.channels):
        if not isinstance(key, str):
            raise InvalidInputError(
                f"channel must be a string key, got {type(key).__name__}",
                field=f"{batch.label(index)}.channel",
            )
    keys = set(batch.channels)
    found: Sequence[tuple[Any, ...]]
    if len(keys) <= _RAW_KEYS:  # a device's few channels: a prepared statement on the driver
        p = placeholder(session)
        sql = _CHANNELS_BY_KEY.format(p=p, keys=", ".join([p] * len(keys)))
        found = fetch_rows(session, sql, (principal.organization_id, *keys))
    else:  # Core columns of the table, not the ORM entity's: no ORM loading
        table = Channel.__table__.c
        found = session.execute(
            select(table.key, table.id, table.unit, table.device_id).where(
                table.organization_id == principal.organization_id,
                table.key.in_(keys),
            )
        ).all()
    by_key = {key: channel_id for key, channel_id, _, _ in found}
    units = {channel_id: unit for _, channel_id, unit, _ in found}
    if principal.device_id is not None:
        foreign = {key for key, _, _, device_id in found if device_id != principal.device_id}
    else:
        foreign = set()
    if len(by_key) != len(keys) or foreign:
        for index, key in enumerate(batch.channels):
            if key not in by_key:
                raise InvalidInputError(
                    f"unknown channel {key!r}", field=f"{batch.label(index)}.channel"
                )
            if key in foreign:
                raise InvalidInputError(
                    f"channel {key!r} is not bound to this device",
                    field=f"{batch.label(index)}.channel",
                )
    return [by_key[key] for key in batch.channels], units  # type: ignore[index]


def _convert_units(
    batch: ReadingColumns, channel_ids: list[int], units: dict[int, str], values: np.ndarray
) -> None:
    if all(unit is None for unit in batch.units):
        return
    scale = np.ones(len(values))
    offset = np.zeros(len(values))
    for index, unit in enumerate(batch.units):
        if unit is None:
            continue
        field = f"{batch.label(index)}.unit"
        if not isinstance(unit, str):
            raise InvalidInputError(f"unit must be a string, got {unit!r}", field=field)
        target = units[channel_ids[index]]
        try:
            conv = converter(unit, target)
        except InvalidInputError as err:
            raise InvalidInputError(err.detail, field=field) from err
        scale[index] = conv.scale
        offset[index] = conv.offset
    with np.errstate(over="ignore", invalid="ignore"):
        values *= scale
        values += offset
    finite = np.isfinite(values)
    if not finite.all():
        index = int(np.argmin(finite))
        raise InvalidInputError(
            f"value {batch.values[index]!r} {batch.units[index]} is out of range in the "
            f"channel's unit {units[channel_ids[index]]!r}",
            field=f"{batch.label(index)}.value",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatedReadings:
    """A batch checked against the database and converted, ready to store.

    ``rows`` are ``(channel_id, time_us, value)`` in the channel's unit.
    """

    organization_id: int
    device_id: int | None
    rows: list[tuple[int, int, float]]
    spans: dict[int, tuple[int, int]]  # channel id -> first and last time (µs) of its readings


def validate_readings(
    session: Session,
    principal: Principal,
    batch: ReadingColumns,
    *,
    future_tolerance_s: float,
    now_us: int | None = None,
) -> ValidatedReadings:
    """Check the whole batch (reading only) and convert it to the channels' units.

    Raises
    ------
    InvalidInputError
        Naming the first bad reading (unknown channel, non-finite value, bad or incompatible
        unit, malformed time, time too far in the future).
    """
    if len(batch) == 0:
        return ValidatedReadings(
            organization_id=principal.organization_id,
            device_id=principal.device_id,
            rows=[],
            spans={},
        )
    channel_ids, units = _resolve_channels(session, principal, batch)
    values = _values_array(batch)
    times = _parse_times(batch)
    limit = (utc_now_us() if now_us is None else now_us) + int(future_tolerance_s * 1e6)
    latest = max(times)
    if latest > limit:
        index = times.index(latest)
        raise InvalidInputError(
            f"time {batch.times[index]!r} is in the future (more than "
            f"{future_tolerance_s:g} s ahead of the server clock)",
            field=f"{batch.label(index)}.time",
        )
    _convert_units(batch, channel_ids, units, values)
    return ValidatedReadings(
        organization_id=principal.organization_id,
        device_id=principal.device_id,
        rows=list(zip(channel_ids, times, values.tolist(), strict=True)),
        spans=_spans(channel_ids, times),
    )


def _spans(channel_ids: list[int], times: list[int]) -> dict[int, tuple[int, int]]:
    """Channel id -> first and last time of its readings in the batch."""
    channels = np.asarray(channel_ids, dtype=np.int64)
    stamps = np.asarray(times, dtype=np.int64)
    order = np.lexsort((stamps, channels))
    channels, stamps = channels[order], stamps[order]
    unique, starts = np.unique(channels, return_index=True)
    ends = np.append(starts[1:], channels.size) - 1
    return {
        int(c): (int(stamps[a]), int(stamps[b]))
        for c, a, b in zip(unique, starts, ends, strict=True)
    }


_PENDING = "infrasight.ingest.pending"
"""``session.info`` key of what deferred :func:`store_readings` calls leave to
:func:`finish_stored_readings`."""


@dataclass(slots=True)
class _Pending:
    """The shared writes of the batches stored in one transaction, not yet written."""

    devices: set[int]
    spans: dict[int, dict[int, tuple[int, int]]]  # organisation -> channel -> (first, last) µs
    instants: dict[int, dict[int, set[int]]]  # organisation -> channel -> judgement instants
    accepted: dict[int, int]  # organisation -> readings


def store_readings(
    session: Session, batch: ValidatedReadings, *, deferred: bool = False
) -> IngestResult:
    """Store a validated batch in the session's transaction, with its durable effect row.

    Writes only through ``session`` and may run again in a new transaction, so it is a unit
    of :meth:`infrasight.storage.db.Database.write` (group commit). With ``deferred`` the
    device's last-seen time and the effect row are left to :func:`finish_stored_readings`,
    which must run in the same transaction before its commit (the group commit's ``finish``
    step): one of each for all the batches of a group.
    """
    rows = batch.rows
    if not rows:
        return IngestResult(accepted=0, duplicates=0, event=None)
    accepted = insert_readings(session, rows)
    event = None
    if deferred:
        pending = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = _Pending(
                devices=set(), spans={}, instants={}, accepted={}
            )
        if batch.device_id is not None:
            pending.devices.add(batch.device_id)
        if accepted:
            org = batch.organization_id
            _merge_spans(pending.spans.setdefault(org, {}), batch.spans)
            # fixed per batch, now (they depend on the readings before it): as if stored alone
            into = pending.instants.setdefault(org, {})
            for channel, moments in judgement_instants(session, batch.spans).items():
                into.setdefault(channel, set()).update(moments)
            pending.accepted[org] = pending.accepted.get(org, 0) + accepted
            event = _event(batch.organization_id, batch.spans, accepted)
    else:
        if batch.device_id is not None:
            _touch_devices(session, [batch.device_id])
        if accepted:  # the effects (scores, rules) are a durable row of the same transaction
            event = _effect_row(session, batch.organization_id, batch.spans, accepted)
    duplicates = len(rows) - accepted
    conflicts = count_conflicts(session, rows) if duplicates else 0
    return IngestResult(accepted=accepted, duplicates=duplicates, conflicts=conflicts, event=event)


def finish_stored_readings(session: Session) -> None:
    """Write what the deferred :func:`store_readings` calls of this transaction left: one
    last-seen update for their devices and one effect row per organisation, with the merged
    spans of their readings (the effect worker merges rows the same way)."""
    pending: _Pending | None = session.info.pop(_PENDING, None)
    if pending is None:
        return
    if pending.devices:
        _touch_devices(session, sorted(pending.devices))
    for organization_id, spans in sorted(pending.spans.items()):
        instants = pending.instants[organization_id]
        _effect_row(
            session,
            organization_id,
            spans,
            pending.accepted[organization_id],
            {channel: sorted(moments) for channel, moments in instants.items()},
        )


def _merge_spans(into: dict[int, tuple[int, int]], spans: dict[int, tuple[int, int]]) -> None:
    for channel, (first, last) in spans.items():
        was = into.get(channel)
        into[channel] = (first, last) if was is None else (min(was[0], first), max(was[1], last))


_DEVICES = cast(Table, Device.__table__)
_TOUCH = (
    update(_DEVICES)
    .where(_DEVICES.c.id == bindparam("device"))
    .values(last_seen_at=bindparam("seen"))
)
"""The devices' last-seen update: a Core statement on the table (no ORM bulk-update path), one
compiled form whatever the number of devices (an executemany, not an ``IN`` list)."""


def _touch_devices(session: Session, device_ids: list[int]) -> None:
    now = datetime.now(UTC)
    session.connection().execute(_TOUCH, [{"device": d, "seen": now} for d in device_ids])


def _event(
    organization_id: int, spans: dict[int, tuple[int, int]], accepted: int
) -> ReadingBatchStored:
    return ReadingBatchStored(
        organization_id=organization_id,
        channel_ids=tuple(sorted(spans)),
        start_us=min(first for first, _ in spans.values()),
        end_us=max(last for _, last in spans.values()),
        accepted=accepted,
    )


def _effect_row(
    session: Session,
    organization_id: int,
    spans: dict[int, tuple[int, int]],
    accepted: int,
    instants: dict[int, list[int]] | None = None,
) -> ReadingBatchStored:
    return readings_stored(
        session,
        organization_id=organization_id,
        channel_ids=tuple(sorted(spans)),
        start_us=min(first for first, _ in spans.values()),
        end_us=max(last for _, last in spans.values()),
        accepted=accepted,
        spans=spans,
        instants=instants,
    )


def ingest_readings(
    session: Session,
    principal: Principal,
    batch: ReadingColumns,
    *,
    future_tolerance_s: float,
    now_us: int | None = None,
) -> IngestResult:
    """Validate the whole batch, then store it in the session's transaction.

    Raises
    ------
    InvalidInputError
        Naming the first bad reading (unknown channel, non-finite value, bad or incompatible
        unit, malformed time, time too far in the future); nothing is written.
    """
    validated = validate_readings(
        session, principal, batch, future_tolerance_s=future_tolerance_s, now_us=now_us
    )
    return store_readings(session, validated)
