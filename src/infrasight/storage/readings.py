"""The readings hot path: bulk insert that ignores re-sent data, and downsampling in SQL.

These functions talk to the DB-API cursor of the session's connection directly: an ORM object per
reading would cost more than the whole rest of the ingest path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from infrasight.storage.db import WROTE
from infrasight.storage.models import Channel, Reading
from infrasight.storage.raw import fetch_rows, placeholder
from infrasight.storage.timeseries import (
    HOUR_US,
    ROLLUPS,
    Layout,
    readings_layout,
    rollup_merge_sql,
)

__all__ = [
    "Bucket",
    "BucketPlan",
    "bucket_width_us",
    "count_conflicts",
    "downsample",
    "fetch_last",
    "fetch_series",
    "hourly_means",
    "insert_readings",
    "latest_before",
    "newest_reading_us",
    "plan_buckets",
    "session_plan",
    "time_bounds",
    "time_span",
]

_SQLITE_INSERT = (
    "INSERT INTO readings (channel_id, ts, value, quality) VALUES (?, ?, ?, 0) "
    "ON CONFLICT DO NOTHING"
)
_PG_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS readings_stage "
    "(channel_id integer, ts bigint, value double precision) ON COMMIT DELETE ROWS"
)
_PG_MERGE = (
    "INSERT INTO readings (channel_id, ts, value, quality) "
    "SELECT channel_id, ts, value, 0 FROM readings_stage ORDER BY channel_id, ts "
    "ON CONFLICT DO NOTHING"
)


def _layout(session: Session) -> Layout:
    """How the database stores readings (:func:`readings_layout`); cached per pooled
    connection."""
    if session.get_bind().dialect.name != "postgresql":
        return "plain"
    info = session.connection().info
    if "infrasight_layout" not in info:
        info["infrasight_layout"] = readings_layout(session)
    layout: Layout = info["infrasight_layout"]
    return layout


def _has_rollups(session: Session) -> bool:
    """Whether downsampling can read roll-ups (native partitions or TimescaleDB)."""
    return _layout(session) != "plain"


def _folds_rollups(session: Session) -> bool:
    """Whether ingest folds new readings into the roll-up tables (native partitions only:
    TimescaleDB's continuous aggregates fold them themselves)."""
    return _layout(session) == "partitioned"


def _dbapi_connection(session: Session) -> Any:
    return session.connection().connection.dbapi_connection


def insert_readings(
    session: Session, rows: Sequence[tuple[int, int, float]], *, rollups: bool = True
) -> int:
    """Insert ``(channel_id, ts_us, value)`` rows in the session's transaction.

    Rows whose (channel, time) already exists, in the table or earlier in ``rows``, are skipped.
    The new rows are folded into the roll-up tables where ingest maintains them (native
    partitions); ``rollups=False`` leaves them alone (bulk loads that rebuild them afterwards
    with :func:`~infrasight.storage.timeseries.rebuild_rollups`, and the benchmark's baseline).

    Returns
    -------
    int
        How many rows were new.
    """
    if not rows:
        return 0
    session.info[WROTE] = True
    raw = _dbapi_connection(session)
    cursor = raw.cursor()
    try:
        if session.get_bind().dialect.name == "postgresql":
            cursor.execute(_PG_STAGE)
            with cursor.copy("COPY readings_stage (channel_id, ts, value) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            if rollups and _folds_rollups(session):
                cursor.execute(rollup_merge_sql())
                inserted = int(cursor.fetchone()[0])
            else:
                cursor.execute(_PG_MERGE)
                inserted = int(cursor.rowcount)
            cursor.execute("TRUNCATE readings_stage")
        else:
            cursor.executemany(_SQLITE_INSERT, rows)
            inserted = int(cursor.rowcount)
    finally:
        cursor.close()
    return inserted


def latest_before(session: Session, firsts: Mapping[int, int]) -> dict[int, int | None]:
    """Channel id -> the time (µs) of its latest reading before ``firsts[id]`` (None: none).

    One prepared statement per channel on the DB-API cursor (an index seek each): this runs
    for every group of stored batches, and SQLAlchemy's per-statement cost was most of it.
    """
    p = "%s" if session.get_bind().dialect.name == "postgresql" else "?"
    sql = f"SELECT max(ts) FROM readings WHERE channel_id = {p} AND ts < {p}"
    cursor = _dbapi_connection(session).cursor()
    out: dict[int, int | None] = {}
    try:
        for channel_id, first in firsts.items():
            cursor.execute(sql, (channel_id, first))
            found = cursor.fetchone()[0]
            out[channel_id] = None if found is None else int(found)
    finally:
        cursor.close()
    return out


def _fetch_range(
    session: Session, channel_id: int, lo_us: int, hi_us: int
) -> tuple[np.ndarray, np.ndarray]:
    p = "%s" if session.get_bind().dialect.name == "postgresql" else "?"
    sql = f"SELECT ts, value FROM readings WHERE channel_id = {p} AND ts >= {p} AND ts <= {p}"
    cursor = _dbapi_connection(session).cursor()
    try:
        cursor.execute(sql + " ORDER BY ts", (channel_id, lo_us, hi_us))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    return ts, np.array([r[1] for r in rows], dtype=np.float64)


def count_conflicts(session: Session, rows: Sequence[tuple[int, int, float]]) -> int:
    """How many of ``(channel_id, ts_us, value)`` rows differ from the value now stored.

    Call after :func:`insert_readings`: a row that was stored matches itself; a re-sent reading
    (in the table before, or earlier in ``rows``) with another value is a conflict.
    """
    by_channel: dict[int, list[tuple[int, float]]] = {}
    for channel_id, stamp, value in rows:
        by_channel.setdefault(channel_id, []).append((stamp, value))
    conflicts = 0
    for channel_id, pairs in by_channel.items():
        sent = np.array([p[0] for p in pairs], dtype=np.int64)
        vals = np.array([p[1] for p in pairs], dtype=np.float64)
        stamps, stored = _fetch_range(session, channel_id, int(sent.min()), int(sent.max()))
        if not stamps.size:
            continue
        pos = np.clip(np.searchsorted(stamps, sent), 0, stamps.size - 1)
        hit = stamps[pos] == sent
        differ = hit & ~np.isclose(vals, stored[pos], rtol=1e-12, atol=0.0)
        conflicts += int(np.sum(differ))
    return conflicts


def fetch_series(
    session: Session, channel_id: int, *, after_us: int | None = None, from_us: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A channel's readings after ``after_us`` (exclusive) or from ``from_us`` (inclusive).

    Returns
    -------
    times_us, values : numpy.ndarray
        int64 microseconds since the epoch and float64 values, in time order.
    """
    bound, op = (after_us, ">") if after_us is not None else (from_us, ">=")
    sql = "SELECT ts, value FROM readings WHERE channel_id = {p}"
    params: tuple[int, ...] = (channel_id,)
    if bound is not None:
        sql += f" AND ts {op} {{p}}"
        params = (channel_id, bound)
    sql += " ORDER BY ts"
    is_pg = session.get_bind().dialect.name == "postgresql"
    cursor = _dbapi_connection(session).cursor()
    try:
        cursor.execute(sql.format(p="%s" if is_pg else "?"), params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    table = np.array(rows, dtype=np.float64)
    return np.array([r[0] for r in rows], dtype=np.int64), table[:, 1]


def fetch_last(session: Session, channel_id: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The channel's last ``count`` readings in time order (times in µs, values)."""
    is_pg = session.get_bind().dialect.name == "postgresql"
    mark = "%s" if is_pg else "?"
    cursor = _dbapi_connection(session).cursor()
    try:
        cursor.execute(
            f"SELECT ts, value FROM readings WHERE channel_id = {mark} "
            f"ORDER BY ts DESC LIMIT {mark}",
            (channel_id, count),
        )
        rows = cursor.fetchall()[::-1]
    finally:
        cursor.close()
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    return (
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.float64),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    """Aggregate of the readings in ``[start_us, start_us + width)``."""

    start_us: int
    minimum: float
    mean: float
    maximum: float
    count: int


def time_bounds(session: Session, channel_id: int) -> tuple[int, int] | None:
    """First and last reading time of a channel (microseconds), or None when it has none."""
    return time_span(session, [channel_id])


def _ends(channel_ids: Sequence[int]) -> Any:
    """Each channel's first and last reading time: two index lookups a channel (SQLite reads
    every reading of the channels for a ``MIN`` or ``MAX`` over several channels, or for both
    in one select)."""

    def end(aggregate: Any) -> Any:
        return (
            select(aggregate(Reading.ts))
            .where(Reading.channel_id == Channel.id)
            .correlate(Channel)
            .scalar_subquery()
        )

    return select(Channel.id, end(func.min).label("first"), end(func.max).label("last")).where(
        Channel.id.in_(list(channel_ids))
    )


def newest_reading_us(session: Session, channel_ids: Sequence[int]) -> dict[int, int]:
    """Each channel's newest reading time (µs); channels without readings are left out."""
    if not channel_ids:
        return {}
    rows = session.execute(_ends(channel_ids)).all()
    return {int(cid): int(last) for cid, _, last in rows if last is not None}


def time_span(session: Session, channel_ids: Sequence[int]) -> tuple[int, int] | None:
    """First and last reading time (µs) over ``channel_ids``, or None when none has any."""
    if not channel_ids:
        return None
    ends = _ends(channel_ids).subquery()
    first, last = session.execute(select(func.min(ends.c.first), func.max(ends.c.last))).one()
    return None if first is None else (int(first), int(last))


_HOURLY_RAW = (
    "SELECT (ts - {p}) / {p} AS b, AVG(value) FROM readings "
    "WHERE channel_id = {p} AND ts >= {p} AND ts < {p} GROUP BY b"
)
_HOURLY_ROLLUP = (
    "SELECT (bucket_us - {p}) / {p}, total / count FROM readings_hourly "
    "WHERE channel_id = {p} AND bucket_us >= {p} AND bucket_us < {p} AND count > 0"
)


def hourly_means(session: Session, channel_id: int, start_us: int, hours: int) -> np.ndarray:
    """A channel's mean reading in each of the ``hours`` hours from ``start_us`` (NaN where
    the hour has none).

    On PostgreSQL with roll-ups, and ``start_us`` on an hour boundary, the hourly roll-up is
    read (one row an hour, also where retention has deleted the raw readings; the same means
    up to floating-point summation order); otherwise the raw readings are grouped in the
    database. Either way only the hours cross the wire, through a prepared statement (this runs
    for every gauge of an element on every hazard update).
    """
    out = np.full(max(hours, 0), np.nan)
    if hours <= 0:
        return out
    sql = _HOURLY_ROLLUP if _has_rollups(session) and start_us % HOUR_US == 0 else _HOURLY_RAW
    rows = fetch_rows(
        session,
        sql.format(p=placeholder(session)),
        (start_us, HOUR_US, channel_id, start_us, start_us + hours * HOUR_US),
    )
    if rows:
        table = np.array(rows, dtype=np.float64)
        idx = table[:, 0].astype(np.int64)
        ok = (idx >= 0) & (idx < hours)
        out[idx[ok]] = table[ok, 1]
    return out


def bucket_width_us(start_us: int, end_us: int, max_points: int) -> int:
    """Bucket width (µs) so that ``[start_us, end_us)`` fits in at most ``max_points`` buckets.

    Widths above one second are rounded up to whole seconds, so bucket times stay readable.
    """
    width = max(1, -(-(end_us - start_us) // max_points))
    if width > 1_000_000:
        width = -(-width // 1_000_000) * 1_000_000
    return width


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketPlan:
    """How a range is bucketed: buckets start at ``origin_us + k * width_us``; ``rollup`` is
    the roll-up table read for the whole periods inside the range (None: raw rows only)."""

    origin_us: int
    width_us: int
    rollup: str | None
    period_us: int


def plan_buckets(
    start_us: int, end_us: int, max_points: int, *, rollups: bool = False
) -> BucketPlan:
    """The bucket grid for ``[start_us, end_us)``.

    Without roll-ups: buckets of :func:`bucket_width_us` from ``start_us``. With roll-ups
    (PostgreSQL), when a bucket spans at least 4 periods of a roll-up (4 hours, or 4 days for
    the daily one), the grid starts at the period boundary before ``start_us`` and the width is
    rounded up to whole periods (so at most a quarter fewer buckets), and every roll-up row
    falls in exactly one bucket.
    """
    width = bucket_width_us(start_us, end_us, max_points)
    if rollups:
        for rollup in reversed(ROLLUPS):
            if width >= 4 * rollup.period_us:
                p = rollup.period_us
                origin = start_us - (((start_us % p) + p) % p)
                span = -(-(end_us - origin) // max_points)
                return BucketPlan(
                    origin_us=origin, width_us=-(-span // p) * p, rollup=rollup.table, period_us=p
                )
    return BucketPlan(origin_us=start_us, width_us=width, rollup=None, period_us=0)


def session_plan(session: Session, start_us: int, end_us: int, max_points: int) -> BucketPlan:
    """The grid :func:`downsample` uses for this session's database."""
    return plan_buckets(start_us, end_us, max_points, rollups=_has_rollups(session))


def downsample(
    session: Session,
    channel_id: int,
    start_us: int,
    end_us: int,
    max_points: int,
    *,
    use_rollups: bool | None = None,
) -> list[Bucket]:
    """Aggregate readings of ``[start_us, end_us)`` into at most ``max_points`` buckets.

    The grouping runs in the database; only the buckets cross the wire. On PostgreSQL long
    ranges read the hourly or daily roll-ups for the whole periods inside the range and raw
    rows only for the partial periods at its ends (``use_rollups=False`` forces raw rows; the
    answer is the same up to floating-point summation order). A bucket's ``start_us`` is its
    grid start, clipped to ``start_us``.
    """
    if end_us <= start_us:
        return []
    rollups = _has_rollups(session) if use_rollups is None else use_rollups
    plan = plan_buckets(start_us, end_us, max_points, rollups=rollups)
    if plan.rollup is None:
        parts = [_raw_buckets(session, channel_id, start_us, end_us, plan)]
    else:
        p = plan.period_us
        inner_lo = start_us + (-start_us) % p
        inner_hi = end_us - (((end_us % p) + p) % p)
        if inner_hi <= inner_lo:
            parts = [_raw_buckets(session, channel_id, start_us, end_us, plan)]
        else:
            parts = [
                _raw_buckets(session, channel_id, start_us, inner_lo, plan),
                _rollup_buckets(session, channel_id, inner_lo, inner_hi, plan),
                _raw_buckets(session, channel_id, inner_hi, end_us, plan),
            ]
    merged: dict[int, list[float]] = {}
    for part in parts:
        for b, lo, hi, total, n in part:
            have = merged.get(b)
            if have is None:
                merged[b] = [lo, hi, total, n]
            else:
                have[0], have[1] = min(have[0], lo), max(have[1], hi)
                have[2] += total
                have[3] += n
    return [
        Bucket(
            start_us=max(start_us, plan.origin_us + b * plan.width_us),
            minimum=lo,
            mean=total / n,
            maximum=hi,
            count=int(n),
        )
        for b, (lo, hi, total, n) in sorted(merged.items())
    ]


_Row = tuple[int, float, float, float, float]


def _raw_buckets(
    session: Session, channel_id: int, lo_us: int, hi_us: int, plan: BucketPlan
) -> list[_Row]:
    if hi_us <= lo_us:
        return []
    result = session.execute(
        text(
            "SELECT (ts - :origin) / :width AS b, MIN(value), MAX(value), SUM(value), COUNT(*) "
            "FROM readings WHERE channel_id = :c AND ts >= :lo AND ts < :hi "
            "GROUP BY b ORDER BY b"
        ),
        {"c": channel_id, "origin": plan.origin_us, "width": plan.width_us, "lo": lo_us,
         "hi": hi_us},
    )  # fmt: skip
    return [(int(b), float(lo), float(hi), float(t), float(n)) for b, lo, hi, t, n in result]


def _rollup_buckets(
    session: Session, channel_id: int, lo_us: int, hi_us: int, plan: BucketPlan
) -> list[_Row]:
    assert plan.rollup in {r.table for r in ROLLUPS}
    result = session.execute(
        text(
            "SELECT (bucket_us - :origin) / :width AS b, MIN(minimum), MAX(maximum), "
            f"SUM(total), SUM(count) FROM {plan.rollup} "
            "WHERE channel_id = :c AND bucket_us >= :lo AND bucket_us < :hi "
            "GROUP BY b ORDER BY b"
        ),
        {"c": channel_id, "origin": plan.origin_us, "width": plan.width_us, "lo": lo_us,
         "hi": hi_us},
    )  # fmt: skip
    return [(int(b), float(lo), float(hi), float(t), float(n)) for b, lo, hi, t, n in result]
