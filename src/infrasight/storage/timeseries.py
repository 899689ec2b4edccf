"""Readings at scale on PostgreSQL: monthly range partitions of ``readings`` and hourly/daily
roll-ups (min, max, sum, count per channel) maintained in the ingest transaction.

SQLite (the embedded default) has neither: its ``readings`` table stays one clustered table and
every downsampling query reads raw rows. On PostgreSQL (migration 0016):

* ``readings`` is partitioned by ``RANGE (ts)``, one partition per UTC month
  (``readings_pYYYYMM``) plus ``readings_default`` for times no partition covers yet.
  :func:`ensure_partitions` adds months (moving any rows the default partition already holds
  for them), run by the migration, by the periodic sweep (months ahead) and before bulk loads.
* ``readings_hourly`` and ``readings_daily`` hold one row per (channel, period). The ingest
  statement inserts the new readings and folds exactly the rows it inserted into both roll-ups
  in the same statement, so re-sent readings (conflicts) are never counted twice.
* Retention (:func:`apply_retention`) deletes raw readings older than an organisation's
  ``raw_retention_days``; the roll-ups are kept, so long-range charts still work.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

__all__ = [
    "DAY_US",
    "HOUR_US",
    "HYPERTABLE_MIN_RAW_DAYS",
    "ROLLUPS",
    "Layout",
    "apply_retention",
    "ensure_partitions",
    "include_in_schema_compare",
    "month_bounds_us",
    "readings_layout",
    "rebuild_rollups",
    "rollup_merge_sql",
]

_LOGGER = logging.getLogger(__name__)

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
HYPERTABLE_MIN_RAW_DAYS = 31
"""On TimescaleDB, raw readings younger than this are never deleted by retention (the
continuous aggregates' refresh policy recomputes the last 30 days from raw rows)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rollup:
    """One roll-up table and its period (µs)."""

    table: str
    period_us: int


ROLLUPS = (Rollup(table="readings_hourly", period_us=HOUR_US),
           Rollup(table="readings_daily", period_us=DAY_US))  # fmt: skip
"""The roll-ups, finest first."""

_POSTGRES_ONLY = {"readings_default", *(r.table for r in ROLLUPS)}


def include_in_schema_compare(name: str | None, type_: str, _parents: object = None) -> bool:
    """Alembic ``include_name``: leave the PostgreSQL-only time-series tables out of the
    comparison with the ORM models (they are managed by SQL, not by the models)."""
    if type_ != "table" or name is None:
        return True
    if name in _POSTGRES_ONLY:
        return False
    return not (name.startswith("readings_p") and name[10:].isdigit())


def rollup_merge_sql(stage: str = "readings_stage") -> str:
    """One statement: insert the staged readings, fold the inserted ones into every roll-up,
    and return how many were new (conflicting, already stored readings are not folded).

    The new rows are aggregated once per (channel, hour); each coarser roll-up is aggregated
    from the batch's finer one, so a batch costs one upsert per (channel, period) it touches.
    Every write goes in key order, so concurrent batches that touch the same rows wait for
    each other instead of deadlocking.
    """
    parts = [
        "WITH new AS (INSERT INTO readings (channel_id, ts, value, quality) "
        f"SELECT channel_id, ts, value, 0 FROM {stage} ORDER BY channel_id, ts "
        "ON CONFLICT DO NOTHING RETURNING channel_id, ts, value)"
    ]
    source, column = "new", "ts"
    values = "MIN(value) AS minimum, MAX(value) AS maximum, SUM(value) AS total, COUNT(*) AS n"
    for index, rollup in enumerate(ROLLUPS):
        p = rollup.period_us
        parts.append(
            f", a{index} AS (SELECT channel_id, "
            f"{column} - ((({column} % {p}) + {p}) % {p}) AS bucket_us, {values} "
            f"FROM {source} GROUP BY 1, 2)"
            f", r{index} AS (INSERT INTO {rollup.table} "
            "(channel_id, bucket_us, minimum, maximum, total, count) "
            f"SELECT * FROM a{index} ORDER BY 1, 2 "
            "ON CONFLICT (channel_id, bucket_us) DO UPDATE SET "
            f"minimum = LEAST({rollup.table}.minimum, EXCLUDED.minimum), "
            f"maximum = GREATEST({rollup.table}.maximum, EXCLUDED.maximum), "
            f"total = {rollup.table}.total + EXCLUDED.total, "
            f"count = {rollup.table}.count + EXCLUDED.count RETURNING 1)"
        )
        source, column = f"a{index}", "bucket_us"
        values = (
            "MIN(minimum) AS minimum, MAX(maximum) AS maximum, SUM(total) AS total, SUM(n) AS n"
        )
    parts.append(" SELECT COUNT(*) FROM new")
    return "".join(parts)


def rebuild_rollups(session: Session, start_us: int, end_us: int) -> int:
    """Recompute every roll-up row of the whole days overlapping ``[start_us, end_us)`` from
    the raw readings; return the hourly rows written.

    For bulk loads that bypass the ingest statement (``insert_readings(..., rollups=False)``, a
    restore, server-side generation): the hourly roll-up is aggregated from the raw rows (one
    scan of the range, which partition pruning limits to its months), each coarser roll-up from
    the one before. Rows are replaced, not added to, so running it twice gives the same
    answer. Raw readings that retention already deleted are not in the answer: rebuild only
    ranges whose raw rows are all kept. No-op (0) without roll-ups (SQLite).
    """
    if end_us <= start_us or not is_partitioned(session):
        return 0
    lo = start_us - (((start_us % DAY_US) + DAY_US) % DAY_US)
    hi = end_us + (-end_us) % DAY_US
    written = 0
    source, value_sql = "readings", "MIN(value), MAX(value), SUM(value), COUNT(*)"
    column = "ts"
    for rollup in ROLLUPS:
        p = rollup.period_us
        session.execute(
            text(f"DELETE FROM {rollup.table} WHERE bucket_us >= :lo AND bucket_us < :hi"),
            {"lo": lo, "hi": hi},
        )
        result = session.execute(
            text(
                f"INSERT INTO {rollup.table} "
                "(channel_id, bucket_us, minimum, maximum, total, count) "
                f"SELECT channel_id, {column} - ((({column} % {p}) + {p}) % {p}), {value_sql} "
                f"FROM {source} WHERE {column} >= :lo AND {column} < :hi GROUP BY 1, 2"
            ),
            {"lo": lo, "hi": hi},
        )
        if rollup is ROLLUPS[0]:
            written = int(getattr(result, "rowcount", 0) or 0)
        source, column = rollup.table, "bucket_us"
        value_sql = "MIN(minimum), MAX(maximum), SUM(total), SUM(count)"
    return written


def month_bounds_us(year: int, month: int) -> tuple[int, int]:
    """``[start, end)`` of a UTC month in microseconds since the epoch."""
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp()) * 1_000_000, int(end.timestamp()) * 1_000_000


def _months(start_us: int, end_us: int) -> Iterable[tuple[int, int]]:
    first = datetime.fromtimestamp(start_us / 1e6, UTC)
    last = datetime.fromtimestamp(max(start_us, end_us - 1) / 1e6, UTC)
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


Layout = Literal["plain", "partitioned", "hypertable"]


def readings_layout(db: Session | Connection) -> Layout:
    """How ``readings`` is stored: ``"partitioned"`` (native monthly partitions and roll-up
    tables folded at ingest, migration 0016), ``"hypertable"`` (TimescaleDB with continuous
    aggregates, migration 0027 on a server that has it) or ``"plain"`` (SQLite: one table, no
    roll-ups)."""
    bind = db.get_bind() if isinstance(db, Session) else db
    if bind.dialect.name != "postgresql":
        return "plain"
    row = db.execute(
        text(
            "SELECT c.relkind, to_regclass('timescaledb_information.hypertables') IS NOT NULL "
            "FROM pg_class c WHERE c.oid = to_regclass('readings')"
        )
    ).one_or_none()
    if row is None:
        return "plain"
    if row[0] == "p":
        return "partitioned"
    if (
        row[1]
        and db.execute(
            text(
                "SELECT 1 FROM timescaledb_information.hypertables "
                "WHERE hypertable_name = 'readings' AND hypertable_schema = current_schema()"
            )
        ).first()
    ):
        return "hypertable"
    return "plain"


def is_partitioned(session: Session) -> bool:
    """Whether ``readings`` is a natively partitioned PostgreSQL table (migration 0016)."""
    return readings_layout(session) == "partitioned"


def ensure_partitions(session: Session, start_us: int, end_us: int) -> list[str]:
    """Create the monthly partitions covering ``[start_us, end_us)``; return the new ones.

    Rows the default partition already holds for a new month are moved into it in the same
    transaction (create, move, attach), so the default never blocks a new partition. No-op
    on SQLite or an unpartitioned table.
    """
    if end_us <= start_us or not is_partitioned(session):
        return []
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('infrasight-partitions'))"))
    existing = set(
        session.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'readings'::regclass"
            )
        ).scalars()
    )
    created = []
    for year, month in _months(start_us, end_us):
        name = f"readings_p{year:04d}{month:02d}"
        if name in existing:
            continue
        lo, hi = month_bounds_us(year, month)
        session.execute(
            text(f"CREATE TABLE {name} (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        )
        session.execute(
            text(
                f"WITH moved AS (DELETE FROM readings_default WHERE ts >= {lo} AND ts < {hi} "
                "RETURNING channel_id, ts, value, quality) "
                f"INSERT INTO {name} (channel_id, ts, value, quality) SELECT * FROM moved"
            )
        )
        session.execute(
            text(f"ALTER TABLE readings ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})")
        )
        created.append(name)
    if created:
        _LOGGER.info("created reading partitions %s", ", ".join(created))
    return created


def apply_retention(session: Session, now_us: int) -> int:
    """Delete raw readings older than each organisation's ``raw_retention_days``.

    Only where roll-ups keep the summary (PostgreSQL: native partitions, or a TimescaleDB
    hypertable whose continuous aggregates were materialised); returns rows deleted. On a
    hypertable raw rows are kept at least :data:`HYPERTABLE_MIN_RAW_DAYS`, beyond the window
    the aggregates' refresh policy recomputes, so deleting them never shrinks a roll-up.
    """
    layout = readings_layout(session)
    if layout == "plain":
        return 0
    floor = HYPERTABLE_MIN_RAW_DAYS if layout == "hypertable" else 0
    result = session.execute(
        text(
            "DELETE FROM readings r USING channels c, organizations o "
            "WHERE r.channel_id = c.id AND c.organization_id = o.id "
            "AND o.raw_retention_days IS NOT NULL "
            "AND r.ts < :now - GREATEST(o.raw_retention_days, :floor) * CAST(:day AS bigint)"
        ),
        {"now": now_us, "day": DAY_US, "floor": floor},
    )
    deleted = int(getattr(result, "rowcount", 0) or 0)
    if deleted:
        _LOGGER.info("retention deleted %d raw readings", deleted)
    return deleted
