"""Parts of ``benchmarks/scale.py`` that run whole processes: ingest through 1 and 2 API
processes (``infrasight serve``) into PostgreSQL beside a raw ``COPY`` of the same rows, kill -9
of one API process during ingest, and kill -9 of Redis while Celery workers run jobs.

Lost and duplicated are counted from the database, never from the clients' view alone:

* ingest: every batch is sent until one API process acknowledges it (a client whose process
  dies sends it again to the other one); lost = acknowledged readings not stored, duplicated =
  stored rows beyond one per (channel, time) plus readings counted twice in the hourly roll-up.
* jobs: lost = queued captures without a crack analysis at the end, duplicated = analyses
  beyond one per capture.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from sqlalchemy import create_engine, text

from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.accounts import create_user, ensure_organization
from infrasight.storage.migrate import upgrade
from infrasight.storage.timeseries import ensure_partitions

__all__ = ["bench_ingest", "fault_kill_api", "fault_kill_redis", "free_port", "pg_database"]

STEP_US = 60_000_000  # one reading a minute per channel
START_US = (int(time.time()) // 86_400 - 30) * 86_400 * 1_000_000  # 30 days ago, at midnight


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def pg_database(url: str) -> Iterator[str]:
    """A fresh PostgreSQL database on the server of ``url``, dropped afterwards."""
    name = f"infrasight_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")  # fmt: skip
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFRASIGHT_")}
    env.update(
        INFRASIGHT_DATA_DIR=str(settings.data_dir), INFRASIGHT_DATABASE_URL=settings.database_url,
        INFRASIGHT_WEB="false", INFRASIGHT_ANOMALY_SCORING="false", **extra,
    )  # fmt: skip
    return env


@dataclass
class _Servers:
    """API processes (``infrasight serve``) on ports of their own."""

    env: dict[str, str]
    folder: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)

    def start(self, count: int) -> None:
        command = str(Path(sys.executable).with_name("infrasight"))
        for _ in range(count):
            port = free_port()
            log = (self.folder / f"serve-{port}.log").open("wb")
            self.processes.append(subprocess.Popen(
                [command, "serve", "--port", str(port)], env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            ))  # fmt: skip
            self.bases.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 180
        for base, process in zip(self.bases, self.processes, strict=True):
            while not _healthy(base):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the API process {base} did not start (see {self.folder})")
                time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class _Site:
    admin_token: str
    device_token: str
    channel_keys: tuple[str, ...]


def _site(base: str, admin_token: str, channels: int) -> _Site:
    h = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=f"{base}/api/v1", headers=h, timeout=60) as client:
        asset = client.post("/assets", json={"name": "Line 1", "kind": "rail_line"}).json()
        element = client.post(
            f"/assets/{asset['id']}/elements", json={"name": "Track", "kind": "track"}
        ).json()
        device = client.post(
            "/devices", json={"name": "DL-1", "kind": "datalogger", "asset_id": asset["id"]}
        ).json()
        keys = tuple(f"CH{i:04d}" for i in range(channels))
        for key in keys:
            answer = client.post("/channels", json={
                "key": key, "quantity": "strain", "unit": "µε", "element_id": element["id"],
                "device_id": device["id"],
            })  # fmt: skip
            answer.raise_for_status()
    return _Site(admin_token=admin_token, device_token=device["token"], channel_keys=keys)


def _batches(keys: tuple[str, ...], readings: int, batch: int) -> list[tuple[bytes, int]]:
    """Request bodies of ``batch`` readings, all channels in time order (as a datalogger
    sends), JSON-encoded before the clock starts; with their reading counts."""
    per_channel = max(1, readings // len(keys))
    rng = np.random.default_rng(11)
    items = []
    for k in range(per_channel):
        ts = START_US + k * STEP_US
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts / 1e6))
        for key in keys:
            items.append({"channel": key, "time": stamp, "value": float(rng.normal(100.0, 5.0))})
    return [
        (orjson.dumps({"readings": items[i : i + batch]}), len(items[i : i + batch]))
        for i in range(0, len(items), batch)
    ]


@dataclass
class _Load:
    """Clients posting every batch until some API process acknowledges it."""

    bases: list[str]
    token: str
    acknowledged: int = 0
    accepted: int = 0
    failed_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, index: int, body: bytes, count: int, clients: dict[int, httpx.Client]) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        for attempt in range(20):
            base = self.bases[(index + attempt) % len(self.bases)]
            client = clients.setdefault(threading.get_ident() * 100 + self.bases.index(base),
                                        httpx.Client(base_url=base, timeout=120))  # fmt: skip
            try:
                answer = client.post("/api/v1/ingest/readings", content=body, headers=headers)
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code == 200:
                result = answer.json()
                with self.lock:
                    self.acknowledged += count
                    self.accepted += int(result["accepted"])
                return
            with self.lock:
                self.failed_requests += 1
            time.sleep(0.05)
        raise RuntimeError(f"batch {index} was never acknowledged")

    def run(self, batches: list[tuple[bytes, int]], clients: int,
            on_progress: Any = None) -> float:  # fmt: skip
        """Send every batch with ``clients`` concurrent clients; return the seconds taken."""
        pool: dict[int, httpx.Client] = {}
        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as executor:
            futures = []
            for index, (body, count) in enumerate(batches):
                futures.append(executor.submit(self.send, index, body, count, pool))
            for done, future in enumerate(futures):
                future.result()
                if on_progress is not None:
                    on_progress(done + 1)
        elapsed = time.perf_counter() - t0
        for client in pool.values():
            client.close()
        return elapsed


def _prepared(db_url: str, folder: Path) -> tuple[Settings, str]:
    settings = Settings(data_dir=folder, database_url=db_url, worker_threads=2)
    upgrade(settings)
    platform = Platform.create(settings, workers=0)
    with platform.database.transaction() as session:
        org, _ = ensure_organization(session, "Bench Rail")
        _, token = create_user(session, org, "bench@rail.example", Role.ADMIN)
        ensure_partitions(session, START_US, START_US + 400 * 86_400_000_000)
    platform.close()
    return settings, token


def _stored(db_url: str) -> dict[str, int]:
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT count(*) FROM readings")).scalar_one()
        keys = connection.execute(
            text("SELECT count(*) FROM (SELECT DISTINCT channel_id, ts FROM readings) k")
        ).scalar_one()
        hourly = connection.execute(
            text("SELECT COALESCE(SUM(count), 0) FROM readings_hourly")
        ).scalar_one()
    engine.dispose()
    return {"rows": int(rows), "keys": int(keys), "hourly_count": int(hourly)}


def _copy_rate(db_url: str, batches: list[tuple[bytes, int]]) -> float:
    """Readings/s of a raw ``COPY`` of the same rows into a plain table (the baseline)."""
    rows = []
    keys: dict[str, int] = {}
    for body, _count in batches:
        for item in orjson.loads(body)["readings"]:
            channel = keys.setdefault(item["channel"], len(keys) + 1)
            rows.append((channel, item["time"], item["value"]))
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TABLE raw_copy (channel_id integer, ts timestamptz, "
            "value double precision, PRIMARY KEY (channel_id, ts))"
        ))  # fmt: skip
    raw = engine.raw_connection()
    t0 = time.perf_counter()
    try:
        cursor = raw.cursor()
        with cursor.copy("COPY raw_copy (channel_id, ts, value) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()
    elapsed = time.perf_counter() - t0
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE raw_copy"))
    engine.dispose()
    return len(rows) / elapsed


def bench_ingest(pg_url: str, readings: int, channels: int, batch: int,
                 clients: int) -> dict[str, Any]:  # fmt: skip
    """Readings/s through 1 and 2 API processes, beside raw COPY of the same rows."""
    out: dict[str, Any] = {"readings": 0, "channels": channels, "batch": batch, "clients": clients}
    for count in (1, 2):
        with pg_database(pg_url) as db_url, _tmp() as folder:
            settings, token = _prepared(db_url, folder)
            servers = _Servers(_env(settings), folder)
            try:
                servers.start(count)
                site = _site(servers.bases[0], token, channels)
                batches = _batches(site.channel_keys, readings, batch)
                load = _Load(servers.bases, site.device_token)
                elapsed = load.run(batches, clients)
            finally:
                servers.stop()
            stored = _stored(db_url)
            out["readings"] = load.acknowledged
            out[f"api_{count}_readings_per_s"] = load.acknowledged / elapsed
            out[f"api_{count}_lost"] = load.acknowledged - stored["keys"]
            if count == 1:
                out["raw_copy_readings_per_s"] = _copy_rate(db_url, batches)
    return out


def fault_kill_api(pg_url: str, readings: int, channels: int, batch: int,
                   clients: int) -> dict[str, Any]:  # fmt: skip
    """Two API processes; one is killed with SIGKILL when 40 % of the batches are in."""
    with pg_database(pg_url) as db_url, _tmp() as folder:
        settings, token = _prepared(db_url, folder)
        servers = _Servers(_env(settings), folder)
        try:
            servers.start(2)
            site = _site(servers.bases[0], token, channels)
            batches = _batches(site.channel_keys, readings, batch)
            victim = servers.processes[1]
            kill_at = max(1, int(0.4 * len(batches)))

            def progress(done: int) -> None:
                if done == kill_at and victim.poll() is None:
                    os.killpg(victim.pid, signal.SIGKILL)

            load = _Load(servers.bases, site.device_token)
            load.run(batches, clients, on_progress=progress)
        finally:
            servers.stop()
        stored = _stored(db_url)
    return {
        "batches": len(batches),
        "killed_after_batches": kill_at,
        "failed_requests_retried": load.failed_requests,
        "acknowledged": load.acknowledged,
        "stored": stored["rows"],
        "lost": load.acknowledged - stored["keys"],
        "duplicated": (stored["rows"] - stored["keys"]) + (stored["hourly_count"] - stored["rows"]),
    }


@contextmanager
def _tmp() -> Iterator[Path]:
    import tempfile

    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


# -- kill -9 of Redis -----------------------------------------------------------------------------


@dataclass
class _Redis:
    """A Redis without persistence (a restart loses every queued message) on a fixed port."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # SIGKILL: queued messages are gone
            self.process.wait()


def redis_available() -> bool:
    return Path(shutil.which("redis-server") or "/usr/bin/redis-server").exists()


def fault_kill_redis(pg_url: str | None, images: list[bytes]) -> dict[str, Any]:
    """Two Celery workers and the scheduler run capture analyses; Redis is killed with SIGKILL
    after the first analysis and restarted empty; more captures arrive while it is down."""
    import scale  # the jobs section's helpers (this module is imported by scale.py's main)

    with _tmp() as folder, _maybe_pg(pg_url) as db_url:
        broker = _Redis(folder)
        broker.start()
        settings = Settings(data_dir=folder, database_url=db_url, job_engine="celery",
                            broker_url=broker.url, job_lease_s=5.0,
                            sweep_interval_s=1.0)  # fmt: skip
        upgrade(settings)
        processes = scale._workers(settings, 2, folder)
        processes.append(_scheduler(settings, folder))
        time.sleep(4.0)
        platform = Platform.create(settings)
        half = len(images) // 2
        for job_id in scale._store(platform, images[:half]):
            platform.jobs.enqueue(job_id)
        scale._wait_done(settings, 1, 600)
        broker.kill()
        down_at = time.perf_counter()
        second = scale._store(platform, images[half:], asset_name="Tunnel 2")
        for job_id in second:
            platform.jobs.enqueue(job_id)  # the broker is down: left to the sweep
        time.sleep(1.0)
        broker.start()  # empty: every message it held is lost
        finished = scale._wait_done(settings, len(images), 900)
        recovered_s = time.perf_counter() - down_at
        platform.close()
        scale._stop(processes)
        done, lost, duplicated = scale._counts(settings)
        broker.kill()
    return {
        "jobs": len(images),
        "queued_while_down": len(second),
        "done": done,
        "lost": lost,
        "duplicated": duplicated,
        "all_done_s_after_kill": recovered_s if finished else None,
    }


def _scheduler(settings: Settings, folder: Path) -> subprocess.Popen[bytes]:
    env = _env(settings, INFRASIGHT_JOB_ENGINE="celery", INFRASIGHT_BROKER_URL=settings.broker_url,
               INFRASIGHT_JOB_LEASE_S=str(settings.job_lease_s),
               INFRASIGHT_SWEEP_INTERVAL_S=str(settings.sweep_interval_s))  # fmt: skip
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("infrasight")), "scheduler"], env=env,
        stdout=(folder / "scheduler.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


@contextmanager
def _maybe_pg(pg_url: str | None) -> Iterator[str]:
    if pg_url:
        with pg_database(pg_url) as url:
            yield url
    else:
        yield ""
