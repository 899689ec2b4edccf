"""TimescaleDB when the PostgreSQL server has it: ``readings`` as a hypertable and the hourly and
daily roll-ups as continuous aggregates, instead of native monthly partitions and roll-up tables
folded at ingest.

The server has it when the extension is installed there *and* preloaded
(``shared_preload_libraries = 'timescaledb'``, without which ``CREATE EXTENSION`` fails).
Migration 0027 converts a database whose server has it; elsewhere the native layout of migration
0016 stays. After the conversion:

* ``readings`` keeps its columns, primary key and foreign key; TimescaleDB makes a chunk per 30
  days of ``ts`` (microseconds) by itself, so :func:`~infrasight.storage.timeseries.
  ensure_partitions` has nothing to do.
* ``readings_hourly`` and ``readings_daily`` are continuous aggregates with the roll-up tables'
  columns (``channel_id, bucket_us, minimum, maximum, total, count``), so the downsampling reads
  them unchanged. They are real-time (``materialized_only = false``): the part not yet
  materialised is computed from raw rows at query time. A policy refreshes the window from 30
  days to 1 hour ago every hour, and retention keeps raw rows at least 31 days there, so the
  raw rows it deletes leave their materialised roll-ups in place.
* The migration materialises the whole history once (outside its transaction, as TimescaleDB
  requires), so the policy's later refreshes never leave older buckets unmaterialised behind
  the watermark. Roll-up rows whose raw readings retention had already deleted before the
  conversion are not carried over (the aggregates are computed from raw rows).
* Ingest does not fold roll-ups (the aggregates do it); ``rebuild_rollups`` does nothing there.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from infrasight.storage.timeseries import DAY_US, HYPERTABLE_MIN_RAW_DAYS, ROLLUPS

__all__ = [
    "CHUNK_US",
    "REFRESH_END_US",
    "REFRESH_START_US",
    "hypertable_sql",
    "initial_refresh_sql",
    "timescaledb_ready",
]

CHUNK_US = 30 * DAY_US
"""Time covered by one hypertable chunk (µs)."""
REFRESH_START_US = (HYPERTABLE_MIN_RAW_DAYS - 1) * DAY_US
"""The refresh policy re-aggregates readings newer than this (µs before now); retention keeps
raw rows longer than that."""
REFRESH_END_US = 3_600_000_000
"""... and older than this (µs before now); newer ones are aggregated at query time."""


def timescaledb_ready(connection: Connection) -> bool:
    """Whether the server can run TimescaleDB: the extension is installed and preloaded."""
    if connection.dialect.name != "postgresql":
        return False
    row = connection.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'), "
            "current_setting('shared_preload_libraries')"
        )
    ).one()
    return bool(row[0]) and "timescaledb" in str(row[1])


def hypertable_sql() -> list[str]:
    """The statements that turn migration 0016's native layout into a hypertable and
    continuous aggregates, keeping every reading (run in one transaction)."""
    statements = [
        "CREATE EXTENSION IF NOT EXISTS timescaledb",
        "ALTER TABLE readings RENAME TO readings_native",
        "ALTER TABLE readings_native RENAME CONSTRAINT pk_readings TO pk_readings_native",
        "ALTER TABLE readings_native RENAME CONSTRAINT fk_readings_channel_id_channels "
        "TO fk_readings_native_channel_id_channels",
        "CREATE TABLE readings (channel_id integer NOT NULL, ts bigint NOT NULL, "
        "value double precision NOT NULL, quality smallint NOT NULL, "
        "CONSTRAINT pk_readings PRIMARY KEY (channel_id, ts), "
        "CONSTRAINT fk_readings_channel_id_channels FOREIGN KEY (channel_id) "
        "REFERENCES channels (id) ON DELETE CASCADE)",
        f"SELECT create_hypertable('readings', 'ts', chunk_time_interval => {CHUNK_US}::bigint)",
        "CREATE OR REPLACE FUNCTION infrasight_now_us() RETURNS bigint LANGUAGE sql STABLE "
        "AS $$ SELECT CAST(floor(extract(epoch FROM now()) * 1000000) AS bigint) $$",
        "SELECT set_integer_now_func('readings', 'infrasight_now_us')",
        "INSERT INTO readings (channel_id, ts, value, quality) "
        "SELECT channel_id, ts, value, quality FROM readings_native",
        "DROP TABLE readings_native CASCADE",
    ]
    for rollup in ROLLUPS:
        p = rollup.period_us
        statements += [
            f"DROP TABLE {rollup.table}",
            f"CREATE MATERIALIZED VIEW {rollup.table} WITH (timescaledb.continuous, "
            "timescaledb.materialized_only = false) AS "
            f"SELECT channel_id, time_bucket(CAST({p} AS bigint), ts) AS bucket_us, "
            "MIN(value) AS minimum, MAX(value) AS maximum, SUM(value) AS total, "
            "COUNT(*) AS count FROM readings "
            f"GROUP BY channel_id, time_bucket(CAST({p} AS bigint), ts) WITH NO DATA",
            f"SELECT add_continuous_aggregate_policy('{rollup.table}', "
            f"start_offset => CAST({REFRESH_START_US} AS bigint), "
            f"end_offset => CAST({REFRESH_END_US} AS bigint), "
            "schedule_interval => INTERVAL '1 hour')",
        ]
    return statements


def initial_refresh_sql() -> list[str]:
    """Materialise every continuous aggregate up to the policy's end offset (each statement
    outside a transaction block)."""
    return [
        f"CALL refresh_continuous_aggregate('{rollup.table}', NULL, "
        f"infrasight_now_us() - {REFRESH_END_US})"
        for rollup in ROLLUPS
    ]
