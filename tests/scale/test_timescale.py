"""TimescaleDB when the server has it, native partitions (with covering roll-up keys)
otherwise (migration 0027).

TimescaleDB itself is not installable from the registries this project uses, so the server in
CI lacks it: these tests check the detection and the native fallback for real, and emulate the
hypertable layout (a plain ``readings`` table listed in a stand-in
``timescaledb_information.hypertables``, roll-ups as plain views computed from raw rows, as
real-time continuous aggregates answer) to check that InfraSight reads roll-ups there, leaves
their upkeep to the aggregates, and keeps raw rows for the aggregates' refresh window."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.accounts import ensure_organization
from infrasight.storage.migrate import alembic_config, upgrade
from infrasight.storage.models import Asset, Channel, Element
from infrasight.storage.readings import downsample, insert_readings, session_plan
from infrasight.storage.timescale import hypertable_sql, timescaledb_ready
from infrasight.storage.timeseries import (
    DAY_US,
    HYPERTABLE_MIN_RAW_DAYS,
    ROLLUPS,
    apply_retention,
    readings_layout,
)
from tests.conftest import POSTGRES_URL

NOW_US = int(datetime(2025, 6, 1, tzinfo=UTC).timestamp()) * 1_000_000


@pytest.fixture
def fresh_url() -> Iterator[str]:
    """A private PostgreSQL database migrated to head (its schema is changed by the tests)."""
    if not POSTGRES_URL:
        pytest.skip("INFRASIGHT_TEST_POSTGRES_URL is not set")
    name = f"infrasight_ts_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{POSTGRES_URL.rpartition('/')[0]}/{name}"
    try:
        upgrade(Settings(database_url=url))
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _engine(url: str) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def test_sqlite_is_plain_and_has_no_timescaledb(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, worker_threads=0)
    upgrade(settings)
    engine = create_engine(settings.effective_database_url)
    with engine.connect() as connection:
        assert timescaledb_ready(connection) is False
        assert readings_layout(connection) == "plain"
    engine.dispose()


@pytest.mark.postgres
def test_server_without_timescaledb_keeps_native_partitions(fresh_url: str) -> None:
    engine = _engine(fresh_url)
    with engine.connect() as connection:
        if timescaledb_ready(connection):
            pytest.skip("this server has TimescaleDB: the native fallback is not taken")
        assert readings_layout(connection) == "partitioned"
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            "0031"
        )
        kinds = dict(
            connection.execute(
                text(
                    "SELECT relname, relkind FROM pg_class WHERE relname IN "
                    "('readings', 'readings_hourly', 'readings_daily')"
                )
            ).all()
        )
        extension = connection.execute(
            text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        ).first()
    assert kinds == {"readings": "p", "readings_hourly": "r", "readings_daily": "r"}
    assert extension is None
    assert _key_columns(engine) == {"pk_readings_hourly": (2, 6), "pk_readings_daily": (2, 6)}
    command.downgrade(alembic_config(fresh_url), "0021")
    assert _key_columns(engine) == {"pk_readings_hourly": (2, 2), "pk_readings_daily": (2, 2)}
    upgrade(Settings(database_url=fresh_url))
    with engine.connect() as connection:
        assert readings_layout(connection) == "partitioned"
    assert _key_columns(engine) == {"pk_readings_hourly": (2, 6), "pk_readings_daily": (2, 6)}
    engine.dispose()


def _key_columns(engine: Engine) -> dict[str, tuple[int, int]]:
    """(key columns, all columns) of the roll-up tables' primary keys: 0027 makes them cover
    the roll-up columns, so long-range queries are index-only scans."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.relname, i.indnkeyatts, i.indnatts FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname IN ('pk_readings_hourly', 'pk_readings_daily')"
            )
        ).all()
    return {name: (int(keys), int(total)) for name, keys, total in rows}


def test_hypertable_sql_keeps_the_rollup_columns_the_downsampling_reads() -> None:
    statements = hypertable_sql()
    assert statements[0] == "CREATE EXTENSION IF NOT EXISTS timescaledb"
    assert sum("create_hypertable('readings', 'ts'" in s for s in statements) == 1
    for rollup in ROLLUPS:
        (view,) = [
            s for s in statements if s.startswith(f"CREATE MATERIALIZED VIEW {rollup.table}")
        ]
        assert "timescaledb.continuous" in view and f"CAST({rollup.period_us} AS bigint)" in view
        for column in ("bucket_us", "minimum", "maximum", "total", "count"):
            assert f" AS {column}" in view
        assert any(f"add_continuous_aggregate_policy('{rollup.table}'" in s for s in statements)


def _emulate_hypertable(engine: Engine) -> None:
    """What migration 0027 leaves on a TimescaleDB server, without TimescaleDB."""
    with engine.begin() as connection:
        connection.execute(text("CREATE SCHEMA timescaledb_information"))
        connection.execute(
            text(
                "CREATE TABLE timescaledb_information.hypertables "
                "(hypertable_schema name, hypertable_name name)"
            )
        )
        connection.execute(
            text("INSERT INTO timescaledb_information.hypertables VALUES ('public', 'readings')")
        )
        connection.execute(text("DROP TABLE readings CASCADE"))
        connection.execute(
            text(
                "CREATE TABLE readings (channel_id integer NOT NULL REFERENCES channels (id), "
                "ts bigint NOT NULL, value double precision NOT NULL, quality smallint NOT NULL, "
                "PRIMARY KEY (channel_id, ts))"
            )
        )
        for rollup in ROLLUPS:
            p = rollup.period_us
            connection.execute(text(f"DROP TABLE {rollup.table}"))
            connection.execute(
                text(
                    f"CREATE VIEW {rollup.table} AS SELECT channel_id, "
                    f"ts - (((ts % {p}) + {p}) % {p}) AS bucket_us, MIN(value) AS minimum, "
                    "MAX(value) AS maximum, SUM(value) AS total, COUNT(*) AS count "
                    "FROM readings GROUP BY 1, 2"
                )
            )


@pytest.mark.postgres
def test_hypertable_layout_reads_rollups_and_leaves_their_upkeep_to_the_aggregates(
    fresh_url: str, tmp_path: Path
) -> None:
    engine = _engine(fresh_url)
    _emulate_hypertable(engine)
    with engine.connect() as connection:
        assert readings_layout(connection) == "hypertable"
    engine.dispose()
    platform = Platform.create(
        Settings(data_dir=tmp_path, database_url=fresh_url, worker_threads=0), workers=0
    )
    with platform.database.transaction() as session:
        org, _ = ensure_organization(session, "Hyper Rail")
        org.raw_retention_days = 7
        asset = Asset(organization_id=org.id, name="Line", kind="rail_line")
        session.add(asset)
        session.flush()
        element = Element(asset_id=asset.id, name="Track", kind="track")
        session.add(element)
        session.flush()
        channel = Channel(
            organization_id=org.id, element_id=element.id, key="S1", quantity="strain", unit="µε"
        )
        session.add(channel)
        session.flush()
        channel_id = channel.id
    start = NOW_US - 60 * DAY_US
    rows = [(channel_id, start + k * 600_000_000, float(k % 17)) for k in range(60 * 144)]
    with platform.database.transaction() as session:  # would fail folding into the views
        assert insert_readings(session, rows) == len(rows)
    with platform.database.session() as session:
        plan = session_plan(session, start, NOW_US, 100)
        fast = downsample(session, channel_id, start, NOW_US, 100)
        raw = downsample(session, channel_id, start, NOW_US, 100, use_rollups=False)
    assert plan.rollup == "readings_hourly"
    assert sum(b.count for b in fast) == sum(b.count for b in raw) == len(rows)
    assert max(b.maximum for b in fast) == 16.0 and min(b.minimum for b in fast) == 0.0
    with platform.database.transaction() as session:
        deleted = apply_retention(session, NOW_US)
    # retention of 7 days, raised to the aggregates' refresh window: 60 - 31 days deleted
    assert deleted == (60 - HYPERTABLE_MIN_RAW_DAYS) * 144
    platform.close()
