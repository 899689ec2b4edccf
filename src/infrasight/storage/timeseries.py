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

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = [
    "DAY_US",
    "HOUR_US",
    "ROLLUPS",
    "apply_retention",
    "ensure_partitions",
    "include_in_schema_compare",
    "month_bounds_us",
    "rollup_merge_sql",
]

_LOGGER = logging.getLogger(__name__)

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US


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
    and return how many were new (conflicting, already stored readings are not folded)."""
    parts = [
        "WITH new AS (INSERT INTO readings (channel_id, ts, value, quality) "
        f"SELECT channel_id, ts, value, 0 FROM {stage} ON CONFLICT DO NOTHING "
        "RETURNING channel_id, ts, value)"
    ]
    for index, rollup in enumerate(ROLLUPS):
        p = rollup.period_us
        parts.append(
            f", r{index} AS (INSERT INTO {rollup.table} "
            "(channel_id, bucket_us, minimum, maximum, total, count) "
            f"SELECT channel_id, ts - (((ts % {p}) + {p}) % {p}), MIN(value), MAX(value), "
            "SUM(value), COUNT(*) FROM new GROUP BY 1, 2 "
            "ON CONFLICT (channel_id, bucket_us) DO UPDATE SET "
            f"minimum = LEAST({rollup.table}.minimum, EXCLUDED.minimum), "
            f"maximum = GREATEST({rollup.table}.maximum, EXCLUDED.maximum), "
            f"total = {rollup.table}.total + EXCLUDED.total, "
            f"count = {rollup.table}.count + EXCLUDED.count RETURNING 1)"
        )
    parts.append(" SELECT COUNT(*) FROM new")
    return "".join(parts)


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


def is_partitioned(session: Session) -> bool:
    """Whether ``readings`` is a partitioned PostgreSQL table (migration 0016 applied)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    kind = session.execute(
        text("SELECT relkind FROM pg_class WHERE oid = to_regclass('readings')")
    ).scalar()
    return kind == "p"


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

    Only where roll-ups keep the summary (PostgreSQL, migration 0016); returns rows deleted.
    """
    if not is_partitioned(session):
        return 0
    result = session.execute(
        text(
            "DELETE FROM readings r USING channels c, organizations o "
            "WHERE r.channel_id = c.id AND c.organization_id = o.id "
            "AND o.raw_retention_days IS NOT NULL "
            "AND r.ts < :now - o.raw_retention_days * CAST(:day AS bigint)"
        ),
        {"now": now_us, "day": DAY_US},
    )
    deleted = int(getattr(result, "rowcount", 0) or 0)
    if deleted:
        _LOGGER.info("retention deleted %d raw readings", deleted)
    return deleted
