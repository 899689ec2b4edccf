"""Readings on PostgreSQL after migration 0016: monthly partitions, roll-ups maintained once
per stored reading, the downsampling endpoint on roll-ups, retention that keeps the roll-ups,
and the migration down and up again with every reading kept."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from infrasight.cli.app import app
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.readings_maintenance import maintain_readings
from infrasight.storage.migrate import alembic_config, upgrade
from infrasight.storage.readings import downsample, insert_readings
from infrasight.storage.timeseries import (
    DAY_US,
    HOUR_US,
    ensure_partitions,
    month_bounds_us,
    rebuild_rollups,
)
from tests.conftest import Site, Tenant, _truncate_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
def settings(tmp_path: Path, postgres_database: str) -> Settings:
    """PostgreSQL only (SQLite keeps one plain readings table): overrides the two-backend
    fixture of tests/conftest.py for this module."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _truncate_postgres(postgres_database)
    return Settings(data_dir=data_dir, database_url=postgres_database, worker_threads=0)


@pytest.fixture
def pg(platform: Platform) -> Platform:
    return platform


def _us(year: int, month: int, day: int = 1, hour: int = 0) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp()) * 1_000_000


def _partitions(platform: Platform) -> dict[str, int]:
    with platform.database.session() as session:
        rows = session.execute(
            text(
                "SELECT c.relname, (SELECT count(*) FROM readings r WHERE r.tableoid = c.oid) "
                "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'readings'::regclass"
            )
        ).all()
    return {name: int(n) for name, n in rows}


def _rollup(platform: Platform, table: str, channel_id: int) -> list[tuple[int, float, int]]:
    with platform.database.session() as session:
        return [
            (int(b), float(t), int(n))
            for b, t, n in session.execute(
                text(
                    f"SELECT bucket_us, total, count FROM {table} WHERE channel_id = :c "
                    "ORDER BY bucket_us"
                ),
                {"c": channel_id},
            )
        ]


def test_rows_go_to_their_month_and_the_default_is_emptied(pg: Platform, site: Site) -> None:
    old = _us(2019, 3, 10)  # before any partition: lands in the default partition
    with pg.database.transaction() as session:
        insert_readings(session, [(site.strain_channel_id, old, 1.0)])
    assert _partitions(pg)["readings_default"] == 1
    with pg.database.transaction() as session:
        created = ensure_partitions(session, old, old + 1)
    assert created == ["readings_p201903"]
    parts = _partitions(pg)
    assert parts["readings_p201903"] == 1 and parts["readings_default"] == 0
    lo, hi = month_bounds_us(2019, 3)
    assert lo <= old < hi and hi == _us(2019, 4)
    assert maintain_readings(pg.database).partitions_created == ()  # already ahead


def test_rollups_count_each_reading_once(pg: Platform, site: Site) -> None:
    channel = site.strain_channel_id
    start = _us(2024, 5, 1)
    rng = np.random.default_rng(11)
    times = start + np.arange(0, 3 * 24 * 60, 5) * 60_000_000  # every 5 min for 3 days
    values = rng.normal(10.0, 2.0, times.size)
    rows = list(zip([channel] * times.size, times.tolist(), values.tolist(), strict=True))
    with pg.database.transaction() as session:
        assert insert_readings(session, rows) == times.size
    with pg.database.transaction() as session:  # re-sent, half overlapping: nothing counted
        assert insert_readings(session, rows[: times.size // 2]) == 0
    hourly = _rollup(pg, "readings_hourly", channel)
    daily = _rollup(pg, "readings_daily", channel)
    assert len(hourly) == 72 and all(n == 12 for _b, _t, n in hourly)
    assert [b for b, _t, _n in daily] == [start, start + DAY_US, start + 2 * DAY_US]
    assert sum(n for *_x, n in daily) == times.size
    first_hour = values[:12]
    assert hourly[0][0] == start and hourly[0][1] == pytest.approx(first_hour.sum())


def test_rebuilt_rollups_equal_the_ones_ingest_maintains(pg: Platform, site: Site) -> None:
    folded, loaded = site.strain_channel_id, site.settlement_channel_id
    start = _us(2024, 3, 30, 7)  # across a month boundary, not on a day boundary
    rng = np.random.default_rng(21)
    times = start + np.sort(rng.choice(np.arange(3 * 24 * 12), 500, replace=False)) * 300_000_000
    values = rng.normal(5.0, 1.5, times.size).tolist()
    with pg.database.transaction() as session:
        ensure_partitions(session, int(times[0]), int(times[-1]) + 1)
        for channel, rollups in ((folded, True), (loaded, False)):
            rows = [(channel, int(t), v) for t, v in zip(times, values, strict=True)]
            assert insert_readings(session, rows, rollups=rollups) == times.size
    assert _rollup(pg, "readings_hourly", loaded) == []  # bulk load: nothing folded yet
    for _ in range(2):  # replaced, not added to: a second rebuild changes nothing
        with pg.database.transaction() as session:
            written = rebuild_rollups(session, int(times[0]) + HOUR_US, int(times[-1]) + 1)
    hours = len(_rollup(pg, "readings_hourly", folded))
    assert hours > 60 and written == 2 * hours  # both channels' days are rewritten
    for table in ("readings_hourly", "readings_daily"):
        got, want = _rollup(pg, table, loaded), _rollup(pg, table, folded)
        assert [(b, n) for b, _t, n in got] == [(b, n) for b, _t, n in want]
        assert [t for _b, t, _n in got] == pytest.approx([t for _b, t, _n in want], rel=1e-12)
    assert sum(n for *_x, n in _rollup(pg, "readings_daily", loaded)) == times.size
    with pg.database.transaction() as session:
        assert rebuild_rollups(session, start, start) == 0  # empty range


@pytest.mark.parametrize(
    ("max_points", "rollup", "period_s"),
    [(50, "readings_hourly", 3600), (10, "readings_daily", 86400)],
)
def test_long_range_query_on_rollups_equals_raw(
    pg: Platform,
    client: TestClient,
    tenant: Tenant,
    site: Site,
    max_points: int,
    rollup: str,
    period_s: int,
) -> None:
    channel = site.strain_channel_id
    start = _us(2024, 1, 1)
    rng = np.random.default_rng(3)
    times = np.sort(rng.choice(np.arange(0, 200 * 24 * 6) * 600_000_000, 20_000, replace=False))
    values = rng.normal(size=times.size)
    with pg.database.transaction() as session:
        ensure_partitions(session, start, start + 201 * DAY_US)
        insert_readings(
            session,
            list(
                zip([channel] * times.size, (start + times).tolist(), values.tolist(), strict=True)
            ),
        )
    lo, hi = start + 5 * HOUR_US + 17, start + 190 * DAY_US - 3 * HOUR_US
    with pg.database.session() as session:
        fast = downsample(session, channel, lo, hi, max_points)
        raw = downsample(session, channel, lo, hi, max_points, use_rollups=False)
    assert 0 < len(fast) <= max_points
    assert sum(b.count for b in fast) == int(((start + times >= lo) & (start + times < hi)).sum())
    answer = client.get(
        f"/api/v1/channels/{channel}/readings",
        params={
            "start": "2024-01-01T05:00:00Z",
            "end": "2024-07-01T00:00:00Z",
            "max_points": max_points,
        },
        headers=tenant.headers(Role.VIEWER),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert 0 < len(body["points"]) <= max_points and body["bucket_seconds"] % period_s == 0
    # the same buckets from raw rows on the roll-up grid
    with pg.database.session() as session:
        from infrasight.storage.readings import _raw_buckets, session_plan

        plan = session_plan(session, lo, hi, max_points)
        assert plan.rollup == rollup
        rows = _raw_buckets(session, channel, lo, hi, plan)
    exact = {b: (mn, mx, t, n) for b, mn, mx, t, n in rows}
    assert sum(b.count for b in raw) == sum(b.count for b in fast)
    assert len(fast) == len(exact)
    for bucket, (b, (mn, mx, total, n)) in zip(fast, sorted(exact.items()), strict=True):
        assert bucket.start_us == max(lo, plan.origin_us + b * plan.width_us)
        assert (bucket.minimum, bucket.maximum, bucket.count) == (mn, mx, n)
        assert bucket.mean == pytest.approx(total / n, rel=1e-12)


def test_retention_deletes_raw_rows_and_keeps_rollups(
    pg: Platform, tenant: Tenant, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = site.strain_channel_id
    now = _us(2024, 6, 1)
    times = [now - 40 * DAY_US, now - 35 * DAY_US, now - 2 * DAY_US]
    with pg.database.transaction() as session:
        ensure_partitions(session, times[0], now)
        insert_readings(session, [(channel, t, 1.0) for t in times])
    monkeypatch.setenv("INFRASIGHT_DATABASE_URL", pg.settings.database_url)
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(pg.settings.data_dir))
    result = CliRunner().invoke(app, ["admin", "retention", "--org", "Alpha Rail", "--days", "30"])
    assert result.exit_code == 0, result.output
    bad = CliRunner().invoke(app, ["admin", "retention", "--org", "Alpha Rail", "--days", "-3"])
    assert bad.exit_code == 2 and "days" in bad.output
    done = maintain_readings(pg.database, now_us=now)
    assert done.readings_deleted == 2
    with pg.database.session() as session:
        left = (
            session.execute(text("SELECT ts FROM readings WHERE channel_id = :c"), {"c": channel})
            .scalars()
            .all()
        )
        kept = downsample(session, channel, times[0], now, 10)
    assert left == [times[2]]
    assert sum(b.count for b in kept) == 3  # the daily roll-ups still count the deleted days


def test_migration_down_and_up_keeps_every_reading(pg: Platform, site: Site) -> None:
    channel = site.strain_channel_id
    times = [_us(2023, m, 15) for m in range(1, 13)]
    with pg.database.transaction() as session:
        insert_readings(session, [(channel, t, float(i)) for i, t in enumerate(times)])
    settings: Settings = pg.settings
    pg.database.dispose()
    command.downgrade(alembic_config(settings.effective_database_url), "0012")
    engine = create_engine(settings.effective_database_url)
    with engine.connect() as connection:
        kind = connection.execute(
            text("SELECT relkind FROM pg_class WHERE oid = to_regclass('readings')")
        ).scalar()
        assert kind == "r"
        assert connection.execute(text("SELECT count(*) FROM readings")).scalar() == 12
    upgrade(settings, "head")
    with engine.connect() as connection:
        names = set(
            connection.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'readings'::regclass"
                )
            ).scalars()
        )
        assert {f"readings_p2023{m:02d}" for m in range(1, 13)} <= names
        assert connection.execute(text("SELECT count(*) FROM readings")).scalar() == 12
        daily = connection.execute(text("SELECT sum(count) FROM readings_daily")).scalar()
        assert daily == 12
    engine.dispose()


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        pytest.skip(f"{name} is not installed")
    return str(candidates[-1])


def test_backup_and_restore_finds_every_reading(pg: Platform, site: Site, tmp_path: Path) -> None:
    """docs/deployment.md's recipe: pg_dump -Fc, pg_restore into an empty database."""
    channel = site.strain_channel_id
    rng = np.random.default_rng(5)
    times = np.sort(rng.choice(np.arange(0, 400 * 24) * HOUR_US, 3000, replace=False))
    start = _us(2023, 6, 1)
    rows = [
        (channel, start + int(t), float(v))
        for t, v in zip(times, rng.normal(size=3000), strict=True)
    ]
    with pg.database.transaction() as session:
        insert_readings(session, rows)
    url = pg.settings.database_url
    dump = tmp_path / "infrasight.dump"
    subprocess.run([_pg_tool("pg_dump"), "-Fc", "-f", str(dump), url], check=True)
    base, _, name = url.rpartition("/")
    restored = f"{name}_restored"
    admin = create_engine(
        f"{base}/postgres".replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{restored}"'))
        connection.execute(text(f'CREATE DATABASE "{restored}"'))
    try:
        subprocess.run(
            [_pg_tool("pg_restore"), "--no-owner", "-d", f"{base}/{restored}", str(dump)],
            check=True,
        )
        engine = create_engine(
            f"{base}/{restored}".replace("postgresql://", "postgresql+psycopg://", 1)
        )
        with engine.connect() as connection:
            back = connection.execute(
                text("SELECT ts, value FROM readings WHERE channel_id = :c ORDER BY ts"),
                {"c": channel},
            ).all()
            daily = connection.execute(
                text("SELECT sum(count) FROM readings_daily WHERE channel_id = :c"), {"c": channel}
            ).scalar()
        engine.dispose()
        assert [(int(t), float(v)) for t, v in back] == [(t, v) for _c, t, v in rows]
        assert daily == len(rows)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)'))
        admin.dispose()
