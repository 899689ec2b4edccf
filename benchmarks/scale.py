"""Scale-out benchmark: time series on partitioned PostgreSQL, and jobs on Celery workers.

Printed side by side in one run:

* **Time series** (PostgreSQL; ``--postgres-url``, else ``INFRASIGHT_BENCH_POSTGRES_URL`` or
  ``INFRASIGHT_TEST_POSTGRES_URL``): generated readings (``--channels`` channels, one year,
  ``--readings`` in all) loaded through InfraSight's ingest path (COPY into a staging table, one
  INSERT into the monthly partitions that also folds the new rows into the hourly and daily
  roll-ups) beside a raw ``COPY`` into a plain table, or with ``--bulk`` generated inside the
  server and the roll-ups built by ``rebuild_rollups`` (100 M readings; ``--keep-database``
  keeps the load for later runs); then the one-year query of one channel at 500 buckets through
  InfraSight's ``downsample`` on the roll-ups beside the same query on raw rows (p50/p95 over
  ``--queries`` random channels); disk per million readings (partitions + roll-ups + indexes).
* **Roll-up cost** (PostgreSQL): ingest readings/s through ``insert_readings`` with and without
  roll-up maintenance, batches alternating, beside a raw ``COPY`` of the same rows.
* **Ingest through API processes** (PostgreSQL): generated readings posted by concurrent
  clients to 1 and then 2 ``infrasight serve`` processes (requests alternating), readings/s
  acknowledged, beside a raw ``COPY`` of the same rows; then **kill -9 of one of the two API
  processes** during ingest (clients resend what was not acknowledged to the other one).
* **Kill -9 of Redis** while 2 Celery workers and the scheduler run capture analyses; Redis
  restarts empty and more captures arrive while it is down; the scheduler's sweep resends what
  the broker lost.
* **Jobs** (Redis; ``--redis-url``, else a private ``redis-server`` when installed): capture
  analyses per second with the in-process pool and with 1 and 2 ``infrasight worker``
  processes; then a worker killed with SIGKILL in the middle of a run: lost and duplicated
  analyses counted from the database.

A deployment's ``INFRASIGHT_DATABASE_URL`` is ignored: the benchmark makes its own databases.
Sections whose server is missing say so and are skipped. ``--smoke`` runs in seconds.

Usage: python benchmarks/scale.py [--smoke] [--readings N] [--channels N] [--bulk]
       [--keep-database NAME] [--queries N] [--cost-readings N] [--images N]
       [--ingest-readings N] [--batch N] [--clients N]
       [--postgres-url URL] [--redis-url URL] [--json] [--only SECTION]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from _scale_processes import (  # beside this script
    bench_ingest,
    fault_kill_api,
    fault_kill_redis,
    pg_database,
    redis_available,
)
from PIL import Image
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from infrasight.core.domain import JobStatus, Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.accounts import ensure_organization
from infrasight.services.auth import Principal
from infrasight.services.captures import CaptureRequest, store_capture
from infrasight.services.crack_analysis import CRACK_MODEL
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import Asset, CaptureAnalysis, Channel, Element, Job
from infrasight.storage.readings import downsample, insert_readings
from infrasight.storage.timeseries import ensure_partitions, month_bounds_us, rebuild_rollups
from infrasight.synthetic import render_crack_scene

YEAR_US = 365 * 86_400_000_000
START_US = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000


# -- time series ----------------------------------------------------------------------------------


def _channels(platform: Platform, count: int) -> list[int]:
    with platform.database.transaction() as session:
        org, _ = ensure_organization(session, "Bench Rail")
        asset = Asset(organization_id=org.id, name="Line 1", kind="rail_line")
        session.add(asset)
        session.flush()
        element = Element(asset_id=asset.id, name="Track", kind="track")
        session.add(element)
        session.flush()
        rows = [
            Channel(organization_id=org.id, element_id=element.id, key=f"CH{i:05d}",
                    quantity="strain", unit="µε")
            for i in range(count)
        ]  # fmt: skip
        session.add_all(rows)
        session.flush()
        return [c.id for c in rows]


def _series_chunks(channel_ids: list[int], per_channel: int, chunk: int) -> Any:
    """Rows (channel, ts, value), one year per channel at an even step, in time-major chunks."""
    step = YEAR_US // per_channel
    rng = np.random.default_rng(7)
    ids = np.array(channel_ids, dtype=np.int64)
    per_chunk = max(1, chunk // len(ids))
    for first in range(0, per_channel, per_chunk):
        k = np.arange(first, min(per_channel, first + per_chunk), dtype=np.int64)
        ts = START_US + np.repeat(k * step, len(ids))
        ch = np.tile(ids, len(k))
        values = 20.0 + 5.0 * np.sin(ts / 8.64e10) + rng.normal(0, 0.5, ts.size)
        yield list(zip(ch.tolist(), ts.tolist(), values.tolist(), strict=True))


def _bulk_load(engine: Any, ids: list[int], per_channel: int) -> tuple[float, float]:
    """Generate one year per channel inside the server (``generate_series``, channel-major per
    month, so the primary key grows in order), then build the roll-ups with
    :func:`rebuild_rollups`, one month per transaction. Returns (load s, roll-up s)."""
    step = YEAR_US // per_channel
    load_s = rollup_s = 0.0
    months = [month_bounds_us(2025, m) for m in range(1, 13)]
    for lo, hi in months:
        k0, k1 = -(-(lo - START_US) // step), min(per_channel, -(-(hi - START_US) // step))
        t0 = time.perf_counter()
        with engine.begin() as connection:
            # the generated channel ids exist: skip the per-row foreign-key check (superuser)
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text("SELECT setseed(:s)"), {"s": (lo % 997) / 997})
            connection.execute(
                text(
                    "INSERT INTO readings (channel_id, ts, value, quality) "
                    "SELECT c.id, :start + k * :step, "
                    "20 + 5 * sin((:start + k * :step) / 8.64e10) + (random() - 0.5), 0 "
                    "FROM unnest(CAST(:ids AS integer[])) WITH ORDINALITY AS c(id, n) "
                    "CROSS JOIN LATERAL generate_series(CAST(:k0 AS bigint), :k1 - 1) AS k "
                    "ORDER BY c.n, k"
                ),
                {"start": START_US, "step": step, "ids": ids, "k0": k0, "k1": k1},
            )
        t1 = time.perf_counter()
        with Session(engine) as session, session.begin():
            session.execute(text("SET LOCAL session_replication_role = replica"))
            rebuild_rollups(session, lo, hi)
        load_s, rollup_s = load_s + t1 - t0, rollup_s + time.perf_counter() - t1
    return load_s, rollup_s


def _ingest_load(engine: Any, platform: Platform, ids: list[int], per_channel: int) -> float:
    """Load through InfraSight's ingest path (``insert_readings``), 200,000 rows a batch."""
    t0 = time.perf_counter()
    for rows in _series_chunks(ids, per_channel, 200_000):
        with platform.database.transaction() as session:
            insert_readings(session, rows)
    return time.perf_counter() - t0


def _raw_copy_rate(engine: Any, ids: list[int], per_channel: int) -> float:
    """Baseline: a raw COPY of the same rows into a plain table with the same key."""
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TABLE raw_copy (channel_id integer, ts bigint, value double precision, "
            "quality smallint DEFAULT 0, PRIMARY KEY (channel_id, ts))"))  # fmt: skip
    t0 = time.perf_counter()
    total = 0
    for rows in _series_chunks(ids, per_channel, 200_000):
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            with cursor.copy("COPY raw_copy (channel_id, ts, value) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
        total += len(rows)
    rate = total / (time.perf_counter() - t0)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE raw_copy"))
    return rate


@contextmanager
def _database(url: str, keep: str) -> Any:
    """A fresh database dropped afterwards, or the named one kept (created when missing)."""
    if not keep:
        with pg_database(url) as db_url:
            yield db_url
        return
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")  # fmt: skip
    with admin.connect() as connection:
        if not connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": keep}
        ).scalar():
            connection.execute(text(f'CREATE DATABASE "{keep}"'))
    admin.dispose()
    yield f"{url.rsplit('/', 1)[0]}/{keep}"


def bench_timeseries(
    url: str,
    readings: int,
    channel_count: int,
    *,
    bulk: bool = False,
    keep: str = "",
    queries: int = 30,
) -> dict[str, Any]:
    per_channel = max(10, readings // channel_count)
    total = per_channel * channel_count
    out: dict[str, Any] = {"readings": total, "channels": channel_count, "bulk": bulk}
    with _database(url, keep) as db_url, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=db_url, worker_threads=0)
        upgrade(settings)
        platform = Platform.create(settings, workers=0)
        engine = platform.database.engine
        with engine.begin() as connection:
            connection.execute(text(
                "CREATE TABLE IF NOT EXISTS bench_load (readings bigint, channels integer, "
                "bulk boolean, figures jsonb)"))  # fmt: skip
            loaded = connection.execute(text("SELECT figures FROM bench_load")).scalar()
        if loaded is not None:
            if (loaded["readings"], loaded["channels"], loaded["bulk"]) != (total, channel_count,
                                                                            bulk):  # fmt: skip
                raise SystemExit(f"database {keep!r} holds another load: {loaded}")
            out.update(loaded)
            out["reused_database"] = keep
        else:
            ids = _channels(platform, channel_count)
            with platform.database.transaction() as session:
                ensure_partitions(session, START_US, START_US + YEAR_US + 1)
            if bulk:
                load_s, rollup_s = _bulk_load(engine, ids, per_channel)
                out["bulk_load_readings_per_s"] = total / load_s
                out["rollup_rebuild_s"] = rollup_s
            else:
                out["raw_copy_readings_per_s"] = _raw_copy_rate(engine, ids, per_channel)
                out["ingest_readings_per_s"] = total / _ingest_load(engine, platform, ids,
                                                                    per_channel)  # fmt: skip
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as vacuum:
                vacuum.execute(text("VACUUM (ANALYZE)"))  # as autovacuum would, in time
            with engine.begin() as connection:
                out["ids"] = ids
                connection.execute(
                    text("INSERT INTO bench_load VALUES (:r, :c, :b, CAST(:f AS jsonb))"),
                    {"r": total, "c": channel_count, "b": bulk, "f": json.dumps(out)},
                )
        with engine.begin() as connection:  # now, also for a reused load (after migrations)
            size = connection.execute(text(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "WHERE c.relkind = 'r' AND (c.relname LIKE 'readings_p%' "
                "OR c.relname IN ('readings_default', 'readings_hourly', 'readings_daily'))"
            )).scalar()  # fmt: skip
            rollup_size = connection.execute(text(
                "SELECT pg_total_relation_size('readings_hourly') "
                "+ pg_total_relation_size('readings_daily')")).scalar()  # fmt: skip
        out["mb_per_million_readings"] = float(size) / 1e6 / (total / 1e6)
        out["database_gb"] = float(size) / 1e9
        out["rollups_gb"] = float(rollup_size) / 1e9
        ids = out.pop("ids")
        rng = np.random.default_rng(1)
        timings: dict[str, list[float]] = {"rollups": [], "raw": []}
        for _ in range(queries):
            channel = int(rng.choice(ids))
            for mode in ("rollups", "raw"):
                with platform.database.session() as session:
                    t = time.perf_counter()
                    buckets = downsample(session, channel, START_US, START_US + YEAR_US, 500,
                                         use_rollups=mode == "rollups")  # fmt: skip
                    timings[mode].append(time.perf_counter() - t)
                assert sum(b.count for b in buckets) == per_channel
                assert len(buckets) <= 500
        platform.close()
    out["queries"] = queries
    out["query_rollups_ms"] = _percentiles(timings["rollups"])
    out["query_raw_ms"] = _percentiles(timings["raw"])
    return out


def bench_rollup_cost(url: str, readings: int, channel_count: int, batch: int) -> dict[str, Any]:
    """Ingest readings/s through ``insert_readings`` with and without roll-up maintenance.

    Two channel groups get the same 5-minute data (100,000 readings per channel-year) in
    batches of ``batch`` readings, all of a group's channels in time order as a datalogger
    sends them; batches alternate between the group whose roll-ups are maintained and the
    group whose are not, so load changes on the machine hit both sides alike; each batch is
    also written by a raw ``COPY`` into a plain table (the floor: no partition routing, no
    conflict check, no foreign-key check).
    """
    half = max(1, channel_count // 2)
    per_channel = max(1, readings // (2 * half))
    step = YEAR_US // 100_000
    with pg_database(url) as db_url, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=db_url, worker_threads=0)
        upgrade(settings)
        platform = Platform.create(settings, workers=0)
        ids = _channels(platform, 2 * half)
        with platform.database.transaction() as session:
            ensure_partitions(session, START_US, START_US + per_channel * step + 1)
        engine = platform.database.engine
        with engine.begin() as connection:
            connection.execute(text(
                "CREATE TABLE raw_copy (channel_id integer, ts bigint, value double precision, "
                "quality smallint DEFAULT 0, PRIMARY KEY (channel_id, ts))"))  # fmt: skip
        rng = np.random.default_rng(5)
        elapsed = {True: 0.0, False: 0.0}
        copy_s = 0.0
        groups = {True: np.array(ids[:half]), False: np.array(ids[half:])}
        per_batch = max(1, batch // half)
        for first in range(0, per_channel, per_batch):
            k = np.arange(first, min(per_channel, first + per_batch), dtype=np.int64)
            ts = START_US + np.repeat(k * step, half)
            values = (20.0 + rng.normal(0, 0.5, ts.size)).tolist()
            for rollups in (True, False):
                rows = list(zip(np.tile(groups[rollups], k.size).tolist(), ts.tolist(), values,
                                strict=True))  # fmt: skip
                t0 = time.perf_counter()
                with platform.database.transaction() as session:
                    insert_readings(session, rows, rollups=rollups)
                elapsed[rollups] += time.perf_counter() - t0
            t0 = time.perf_counter()  # the same rows by raw COPY: no conflict check, no FK
            raw = engine.raw_connection()
            try:
                with raw.cursor().copy("COPY raw_copy (channel_id, ts, value) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                raw.commit()
            finally:
                raw.close()
            copy_s += time.perf_counter() - t0
        with platform.database.session() as session:
            folded = session.execute(text("SELECT SUM(count) FROM readings_hourly")).scalar()
        platform.close()
    stored = per_channel * half
    assert folded == stored, (folded, stored)
    return {
        "readings_each": stored,
        "batch": per_batch * half,
        "with_rollups_readings_per_s": stored / elapsed[True],
        "without_rollups_readings_per_s": stored / elapsed[False],
        "raw_copy_readings_per_s": stored / copy_s,
        "rollup_cost": elapsed[True] / elapsed[False],
    }


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"p50": statistics.median(ms), "p95": ms[min(len(ms) - 1, int(0.95 * len(ms)))]}


# -- jobs ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _redis(url: str | None, folder: Path) -> Any:
    if url:
        yield url
        return
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        yield None
        return
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def _png(seed: int, size: tuple[int, int]) -> bytes:
    scene = render_crack_scene(width=size[0], height=size[1], seed=seed, n_cracks=2,
                               width_range_px=(3.0, 6.0), mm_per_px=0.1)  # fmt: skip
    out = io.BytesIO()
    Image.fromarray(scene.image).save(out, format="PNG")
    return out.getvalue()


def _store(platform: Platform, images: list[bytes], asset_name: str = "Tunnel") -> list[int]:
    """Store the captures on a new asset (their analysis jobs queued); return the job ids."""
    with platform.database.transaction() as session:
        org, _ = ensure_organization(session, "Bench Tunnels")
        asset = Asset(organization_id=org.id, name=asset_name, kind="tunnel")
        session.add(asset)
        session.flush()
        asset_id, org_id = asset.id, org.id
    caller = Principal(organization_id=org_id, name="bench", role=Role.ADMIN)
    job_ids = []
    for k, data in enumerate(images):
        with platform.database.transaction() as session:
            stored = store_capture(
                session, blobs=platform.blobs, jobs=platform.jobs, caller=caller, data=data,
                request=CaptureRequest(asset_id=asset_id, time=datetime.now(UTC), mm_per_px=0.1,
                                       filename=f"{k}.png"),
                max_pixels=platform.settings.max_image_pixels,
            )  # fmt: skip
            job_ids.append(stored.job_id)
    return job_ids


def _counts(settings: Settings) -> tuple[int, int, int]:
    """(jobs done, captures with no crack analysis, crack analyses beyond one per capture)."""
    engine = create_engine(settings.effective_database_url)
    with engine.connect() as connection:
        done = connection.execute(
            select(func.count()).select_from(Job).where(Job.status == JobStatus.SUCCEEDED)
        ).scalar_one()
        per_capture = connection.execute(
            select(CaptureAnalysis.capture_id, func.count())
            .where(CaptureAnalysis.model_name == CRACK_MODEL)
            .group_by(CaptureAnalysis.capture_id)
        ).all()
        jobs = connection.execute(select(func.count()).select_from(Job)).scalar_one()
    engine.dispose()
    lost = jobs - len(per_capture)
    duplicated = sum(n - 1 for _c, n in per_capture if n > 1)
    return int(done), int(lost), int(duplicated)


def _wait_done(settings: Settings, jobs: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _counts(settings)[0] >= jobs:
            return True
        time.sleep(0.1)
    return False


def _workers(settings: Settings, count: int, folder: Path) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFRASIGHT_")}
    env.update(
        INFRASIGHT_DATA_DIR=str(settings.data_dir), INFRASIGHT_DATABASE_URL=settings.database_url,
        INFRASIGHT_JOB_ENGINE="celery", INFRASIGHT_BROKER_URL=settings.broker_url,
        INFRASIGHT_JOB_LEASE_S=str(settings.job_lease_s), INFRASIGHT_WEB="false",
    )  # fmt: skip
    command = str(Path(sys.executable).with_name("infrasight"))
    return [
        subprocess.Popen(
            [command, "worker", "--concurrency", "1", "--pool", "solo"],
            env=env,
            stdout=(folder / f"worker-{k}-{uuid.uuid4().hex[:6]}.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for k in range(count)
    ]


def _stop(processes: list[subprocess.Popen[bytes]], sig: int = signal.SIGTERM) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, sig)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def bench_jobs(redis_url: str | None, count: int, size: tuple[int, int]) -> dict[str, Any]:
    images = [_png(seed, size) for seed in range(count)]
    results: dict[str, Any] = {"images": count, "size": f"{size[0]}x{size[1]}"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # baseline: the in-process pool (2 threads, the default) of one process
        settings = Settings(data_dir=folder / "threads", worker_threads=2)
        upgrade(settings)
        platform = Platform.create(settings)
        job_ids = _store(platform, images)
        t0 = time.perf_counter()
        for job_id in job_ids:
            platform.jobs.enqueue(job_id)
        platform.jobs.wait_idle(timeout=3600)
        results["in_process_images_per_s"] = count / (time.perf_counter() - t0)
        platform.close()
        try:
            import celery  # noqa: F401
            import redis  # noqa: F401
        except ImportError:
            results["celery"] = "skipped: Celery is not installed (pip install 'infrasight[scale]')"
            return results
        with _redis(redis_url, folder) as url:
            if url is None:
                results["celery"] = "skipped: no Redis (give --redis-url or install redis-server)"
                return results
            for workers in (1, 2):
                results[f"celery_{workers}_workers_images_per_s"] = _celery_run(
                    url, folder / f"celery{workers}", images, workers, kill=False
                )["images_per_s"]
            results["kill_worker"] = _celery_run(url, folder / "kill", images, 2, kill=True)
    return results


def _celery_run(
    redis_url: str, folder: Path, images: list[bytes], workers: int, *, kill: bool
) -> dict[str, Any]:
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    settings = Settings(data_dir=folder, job_engine="celery", broker_url=redis_url, job_lease_s=5.0)
    upgrade(settings)
    processes = _workers(settings, workers, folder.parent)
    time.sleep(4.0)  # the workers import and connect before the clock starts
    platform = Platform.create(settings)
    t0 = time.perf_counter()
    for job_id in _store(platform, images):
        platform.jobs.enqueue(job_id)  # sends it to the broker
    if kill:
        _wait_done(settings, 1, 600)
        _stop(processes[:1], signal.SIGKILL)  # mid-run: its job is taken over after the lease
        processes += _workers(settings, 1, folder.parent)
    finished = _wait_done(settings, len(images), 900)
    elapsed = time.perf_counter() - t0
    platform.close()
    _stop(processes)
    done, lost, duplicated = _counts(settings)
    return {
        "images_per_s": len(images) / elapsed if finished else 0.0,
        "done": done,
        "lost": lost,
        "duplicated": duplicated,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--readings", type=int, default=2_000_000)
    parser.add_argument(
        "--channels", type=int, default=20, help="default: 100,000 readings per channel-year "
        "(5-minute data, the density of the issue's 100 M readings over 1,000 channels)"
    )  # fmt: skip
    parser.add_argument(
        "--bulk", action="store_true", help="generate the readings inside the server "
        "(generate_series) and build the roll-ups with InfraSight's rebuild_rollups, instead of "
        "the ingest path: 100 M readings in about 15 min on 2 cores; needs a superuser, as the "
        "load skips the per-row foreign-key check of the generated, existing channel ids",
    )  # fmt: skip
    parser.add_argument(
        "--keep-database", default="", metavar="NAME", help="load into database NAME and keep "
        "it; a later run with the same NAME and sizes reuses the load and only measures",
    )  # fmt: skip
    parser.add_argument(
        "--cost-readings", type=int, default=200_000, help="readings per side of the roll-up "
        "cost run (ingest with and without roll-up maintenance; 0 skips it)",
    )  # fmt: skip
    parser.add_argument(
        "--queries", type=int, default=30, help="one-year queries timed on each side (random "
        "channels; the same channel on both sides)",
    )  # fmt: skip
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--postgres-url", default="")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--datasets", default="../shared/datasets", help="unused: generated data")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--ingest-readings", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=1000, help="readings per ingest request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent ingest clients")
    parser.add_argument(
        "--only", choices=("timeseries", "ingest", "faults", "jobs"), default=None,
        help="run one section",
    )  # fmt: skip
    args = parser.parse_args()
    if args.smoke:
        args.readings, args.channels, args.images = 20_000, 2, 3
        args.ingest_readings, args.batch, args.cost_readings = 6_000, 500, 10_000
    size = (320, 240) if args.smoke else (1280, 960)
    pg_url = (
        args.postgres_url
        or os.environ.get("INFRASIGHT_BENCH_POSTGRES_URL", "")
        or os.environ.get("INFRASIGHT_TEST_POSTGRES_URL", "")
    )
    out: dict[str, Any] = {}
    if args.only not in (None, "timeseries"):
        out["timeseries"] = "skipped (--only)"
    elif pg_url:
        out["timeseries"] = bench_timeseries(
            pg_url,
            args.readings,
            args.channels,
            bulk=args.bulk,
            keep=args.keep_database,
            queries=args.queries,
        )
        if args.cost_readings:
            out["rollup_cost"] = bench_rollup_cost(pg_url, 2 * args.cost_readings, 20, args.batch)
    else:
        out["timeseries"] = "skipped: no PostgreSQL (give --postgres-url)"
    ingest_args = (args.ingest_readings, 20, args.batch, args.clients)
    if args.only not in (None, "ingest"):
        out["ingest"] = "skipped (--only)"
    elif pg_url:
        out["ingest"] = bench_ingest(pg_url, *ingest_args)
    else:
        out["ingest"] = "skipped: no PostgreSQL (give --postgres-url)"
    if args.only in (None, "faults"):
        out["faults"] = {
            "kill_api": fault_kill_api(pg_url, *ingest_args) if pg_url
            else "skipped: no PostgreSQL (give --postgres-url)",
            "kill_redis": fault_kill_redis(pg_url or None, [_png(s, size) for s in range(
                max(4, args.images))]) if redis_available()
            else "skipped: no redis-server (apt-get install redis-server)",
        }  # fmt: skip
    if args.only in (None, "jobs"):
        out["jobs"] = bench_jobs(args.redis_url or None, args.images, size)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    ts = out["timeseries"]
    print("== time series on partitioned PostgreSQL")
    if isinstance(ts, str):
        print(ts)
    else:
        print(f"{ts['readings']:,} readings, {ts['channels']} channels, one year"
              + (f" (reused database {ts['reused_database']})" if "reused_database" in ts
                 else ""))  # fmt: skip
        if ts["bulk"]:
            rate = ts["bulk_load_readings_per_s"]
            print(f"bulk load (server-side generate_series) {rate:>10,.0f} /s, "
                  f"then roll-ups rebuilt in {ts['rollup_rebuild_s']:,.0f} s")  # fmt: skip
        else:
            print(f"ingest (COPY + partitions + roll-ups) {ts['ingest_readings_per_s']:>12,.0f} /s")
            print(
                f"raw COPY, plain table (baseline)      {ts['raw_copy_readings_per_s']:>12,.0f} /s"
            )
        r, w = ts["query_rollups_ms"], ts["query_raw_ms"]
        print(f"({ts['queries']} one-year queries on each side, random channels)")
        print(
            f"1-year query, 500 buckets, roll-ups   p50 {r['p50']:8.2f} ms  p95 {r['p95']:8.2f} ms"
        )
        print(
            f"same query on raw rows (baseline)     p50 {w['p50']:8.2f} ms  p95 {w['p95']:8.2f} ms"
        )
        print(f"disk per million readings             {ts['mb_per_million_readings']:12.1f} MB"
              f"  ({ts['database_gb']:.2f} GB: partitions, roll-ups, indexes; roll-ups "
              f"{ts['rollups_gb']:.2f} GB)")  # fmt: skip
    if "rollup_cost" in out:
        c = out["rollup_cost"]
        print(f"== roll-up maintenance on ingest (insert_readings, {c['readings_each']:,} readings "
              f"a side, batches of {c['batch']:,}, 5-minute data, sides alternating)")  # fmt: skip
        print(
            f"ingest with roll-ups                  {c['with_rollups_readings_per_s']:>12,.0f} /s"
        )
        print(f"ingest without roll-ups (baseline)    "
              f"{c['without_rollups_readings_per_s']:>12,.0f} /s  "
              f"(roll-ups cost x{c['rollup_cost']:.2f} in time)")  # fmt: skip
        print(f"raw COPY, plain table (floor)         {c['raw_copy_readings_per_s']:>12,.0f} /s")
    _print_ingest(out["ingest"])
    if "faults" in out:
        _print_faults(out["faults"])
    if "jobs" not in out:
        return
    jobs = out["jobs"]
    print(f"== capture analysis jobs ({jobs['images']} images of {jobs['size']} px)")
    print(f"in-process pool, 2 threads (baseline) {jobs['in_process_images_per_s']:8.2f} images/s")
    if "celery" in jobs:
        print(jobs["celery"])
        return
    for workers in (1, 2):
        rate = jobs[f"celery_{workers}_workers_images_per_s"]
        print(f"Celery, {workers} worker process(es)         {rate:8.2f} images/s")
    kill = jobs["kill_worker"]
    print(f"kill -9 of a worker mid-run: {kill['done']} done, lost {kill['lost']}, "
          f"duplicated {kill['duplicated']}")  # fmt: skip


def _print_ingest(ingest: Any) -> None:
    print("== ingest through API processes into partitioned PostgreSQL")
    if isinstance(ingest, str):
        print(ingest)
        return
    print(f"{ingest['readings']:,} readings, {ingest['channels']} channels, batches of "
          f"{ingest['batch']}, {ingest['clients']} concurrent clients")  # fmt: skip
    for count in (1, 2):
        print(f"{count} API process(es)                    "
              f"{ingest[f'api_{count}_readings_per_s']:>12,.0f} /s  "
              f"(lost {ingest[f'api_{count}_lost']})")  # fmt: skip
    print(f"raw COPY, plain table (baseline)      {ingest['raw_copy_readings_per_s']:>12,.0f} /s")


def _print_faults(faults: dict[str, Any]) -> None:
    print("== faults")
    api = faults["kill_api"]
    if isinstance(api, str):
        print(f"kill -9 of an API process: {api}")
    else:
        print(f"kill -9 of 1 of 2 API processes after {api['killed_after_batches']} of "
              f"{api['batches']} batches: {api['acknowledged']:,} acknowledged, "
              f"{api['stored']:,} stored, lost {api['lost']}, duplicated {api['duplicated']} "
              f"({api['failed_requests_retried']} failed requests resent)")  # fmt: skip
    red = faults["kill_redis"]
    if isinstance(red, str):
        print(f"kill -9 of Redis: {red}")
    else:
        after = red["all_done_s_after_kill"]
        print(f"kill -9 of Redis mid-run ({red['jobs']} jobs, {red['queued_while_down']} queued "
              f"while it was down): {red['done']} done, lost {red['lost']}, duplicated "
              f"{red['duplicated']}, all done {after:.0f} s after the kill"
              if after is not None else f"kill -9 of Redis: NOT all done ({red})")  # fmt: skip


if __name__ == "__main__":
    main()
