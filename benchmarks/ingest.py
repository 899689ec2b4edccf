"""Ingest and query benchmark: readings/s over HTTP beside the raw driver's bulk insert.

Starts the real API (uvicorn, one process) on a fresh database, posts 10,000-reading JSON batches
with a device token, and compares with a plain ``executemany`` of prepared rows into the same
table in the same run. Then times the downsampled one-year query (10-minute data, 500 buckets)
over HTTP. SQLite always; PostgreSQL too when ``--postgres-url`` (or
``INFRASIGHT_BENCH_POSTGRES_URL``) names a server where databases may be created.

Only the standard library talks HTTP here, so ``make bench`` (the base install) runs it. A
deployment's ``INFRASIGHT_DATABASE_URL`` is ignored: the benchmark makes its own databases.

Usage: python benchmarks/ingest.py [--json] [--smoke] [--batches 20] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
from sqlalchemy import create_engine, text

from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.accounts import create_user, ensure_organization
from infrasight.services.auth import new_device_token
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import Asset, Channel, Device, Element

BATCH = 10_000
CHANNELS = 10
YEAR_POINTS = 365 * 144


class HttpError(RuntimeError):
    """A non-2xx answer."""


class Client:
    """A keep-alive HTTP/1.1 client on ``http.client`` (one connection, like a device)."""

    def __init__(self, base: str, headers: dict[str, str], timeout: float = 60) -> None:
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=timeout
        )
        self.headers = headers

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        url = urlsplit(path).path + (f"?{urlencode(params)}" if params else "")
        self.connection.request(method, url, body=body, headers=self.headers)
        response = self.connection.getresponse()
        data = response.read()
        if not 200 <= response.status < 300:
            raise HttpError(f"{method} {url}: {response.status} {data[:200]!r}")
        return orjson.loads(data) if data else None

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: bytes) -> Any:
        return self.request("POST", path, body=body)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(settings: Settings) -> tuple[str, str, list[str], list[int]]:
    """Schema, an organisation, a device and its channels; returns tokens, keys and ids."""
    upgrade(settings)
    platform = Platform.create(settings, workers=0)
    with platform.database.transaction() as session:
        org, _ = ensure_organization(session, "Bench")
        _, user_token = create_user(session, org, "bench@bench.example", Role.ENGINEER)
        asset = Asset(organization_id=org.id, name="Bench bridge", kind="bridge")
        session.add(asset)
        session.flush()
        element = Element(asset_id=asset.id, name="Span", kind="span")
        token, digest = new_device_token()
        device = Device(
            organization_id=org.id,
            asset_id=asset.id,
            name="DL",
            kind="datalogger",
            token_hash=digest,
        )
        session.add_all([element, device])
        session.flush()
        channels = [
            Channel(
                organization_id=org.id,
                key=f"CH-{i:02d}",
                quantity="strain",
                unit="µε",
                element_id=element.id,
                device_id=device.id,
            )
            for i in range(CHANNELS + 2)
        ]
        session.add_all(channels)
        session.flush()
        keys = [c.key for c in channels]
        ids = [c.id for c in channels]
    platform.close()
    return token, user_token, keys, ids


def _bodies(keys: list[str], batches: int, start: datetime) -> list[bytes]:
    per_channel = BATCH // CHANNELS
    bodies = []
    for b in range(batches):
        readings = []
        for step in range(per_channel):
            stamp = (start + timedelta(minutes=10 * (b * per_channel + step))).isoformat()
            stamp = stamp.replace("+00:00", "Z")
            readings.extend(
                {"channel": key, "time": stamp, "value": 100.0 + step * 0.01 + i}
                for i, key in enumerate(keys[:CHANNELS])
            )
        bodies.append(orjson.dumps({"readings": readings}))
    return bodies


def _raw_rows(ids: list[int], batches: int, start_us: int) -> list[list[tuple[int, int, float]]]:
    per_channel = BATCH // CHANNELS
    step_us = 600_000_000
    return [
        [
            (cid, start_us + (b * per_channel + step) * step_us, 100.0 + step * 0.01)
            for step in range(per_channel)
            for cid in ids[:CHANNELS]
        ]
        for b in range(batches)
    ]


def _serve(
    settings: Settings, port: int, extra_env: dict[str, str] | None = None, *, workers: int = 1
) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        INFRASIGHT_DATA_DIR=str(settings.data_dir),
        INFRASIGHT_DATABASE_URL=settings.database_url,
        **(extra_env or {}),
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "infrasight.api.app:create_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            *(
                ["--workers", str(workers), "--timeout-worker-healthcheck", "120"]
                if workers > 1
                else []
            ),
        ],
        env=env,
    )
    deadline = time.time() + 120  # a busy machine imports slowly
    while time.time() < deadline:
        try:
            with Client(f"http://127.0.0.1:{port}", {}, timeout=1) as client:
                client.get("/healthz")
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the API server did not start")


def _raw_insert(settings: Settings, batches: list[list[tuple[int, int, float]]]) -> float:
    """Plain executemany of prepared rows, one transaction per batch; rows/s."""
    url = settings.effective_database_url
    total = sum(len(b) for b in batches)
    if url.startswith("sqlite"):
        import sqlite3

        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        sql = (
            "INSERT INTO readings (channel_id, ts, value, quality) VALUES (?, ?, ?, 0) "
            "ON CONFLICT DO NOTHING"
        )
        began = time.perf_counter()
        for rows in batches:
            connection.executemany(sql, rows)
            connection.commit()
        elapsed = time.perf_counter() - began
        connection.close()
    else:
        import psycopg

        connection = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        sql = (
            "INSERT INTO readings (channel_id, ts, value, quality) VALUES (%s, %s, %s, 0) "
            "ON CONFLICT DO NOTHING"
        )
        began = time.perf_counter()
        for rows in batches:
            with connection.cursor() as cursor:
                cursor.executemany(sql, rows)
            connection.commit()
        elapsed = time.perf_counter() - began
        connection.close()
    return total / elapsed


def _year_query(
    settings: Settings, base: str, user_token: str, channel_id: int, repeats: int = 60
) -> dict[str, float]:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    start_us = int(start.timestamp() * 1e6)
    rows = [(channel_id, start_us + i * 600_000_000, float(i % 1000)) for i in range(YEAR_POINTS)]
    _raw_insert(settings, [rows])
    params = {
        "start": start.isoformat(),
        "end": (start + timedelta(days=365)).isoformat(),
        "max_points": 500,
    }
    headers = {"Authorization": f"Bearer {user_token}"}
    url = f"/api/v1/channels/{channel_id}/readings"
    timings = []
    with Client(base, headers) as client:
        for repeat in range(repeats + 5):
            began = time.perf_counter()
            answer = client.get(url, params=params)
            elapsed = (time.perf_counter() - began) * 1000
            points = answer["points"]
            assert len(points) <= 500 and sum(p["count"] for p in points) == YEAR_POINTS
            if repeat >= 5:
                timings.append(elapsed)
    timings.sort()
    return {
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[int(0.95 * (len(timings) - 1))],
    }


def _scored_count(client: Client, channel_id: int) -> int:
    points = client.get(f"/api/v1/channels/{channel_id}/readings", params={"max_points": 1})[
        "points"
    ]
    return int(points[0]["count"]) if points else 0


def _wait_for_effects(settings: Settings, timeout_s: float = 300) -> None:
    """Wait until the server has applied every effect row (scores, rules, hazards): the raw
    baseline writes to the same database, and on SQLite it would otherwise wait for the
    server's background transactions."""
    engine = create_engine(settings.effective_database_url)
    try:
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            with engine.connect() as connection:
                left = connection.execute(
                    text("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
                ).scalar_one()
            if left == 0:
                return
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise RuntimeError("the server's effects did not finish")


def _wait_for_analytics(base: str, user_token: str, expected: int, timeout_s: float = 300) -> None:
    """Wait until the background anomaly scores of the first channel have caught up."""
    headers = {"Authorization": f"Bearer {user_token}"}
    with Client(base, headers) as client:
        deadline = time.perf_counter() + timeout_s
        derived = None
        while time.perf_counter() < deadline:
            if derived is None:
                items = client.get("/api/v1/channels", params={"limit": 1000})
                derived = next(
                    (c["id"] for c in items["items"] if c["key"] == "CH-00.anomaly"), None
                )
            if derived is not None and _scored_count(client, derived) >= expected:
                return
            time.sleep(0.05)
    raise RuntimeError("background analytics did not catch up")


def _post_batches(base: str, token: str, bodies: list[bytes]) -> float:
    """Post the batches (two warm-up ones first); readings/s of the timed ones."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with Client(base, headers) as client:
        for body in bodies[:2]:
            client.post("/api/v1/ingest/readings", body)
        began = time.perf_counter()
        for body in bodies[2:]:
            answer = client.post("/api/v1/ingest/readings", body)
            assert answer["accepted"] == BATCH
        return (len(bodies) - 2) * BATCH / (time.perf_counter() - began)


def run_backend(settings: Settings, batches: int, query_repeats: int = 60) -> dict[str, float]:
    """All figures for one backend, with the platform's default settings."""
    token, user_token, keys, ids = _prepare(settings)
    port = _free_port()
    server = _serve(settings, port)
    base = f"http://127.0.0.1:{port}"
    try:
        bodies = _bodies(keys, batches + 2, datetime(2022, 1, 1, tzinfo=UTC))
        began = time.perf_counter()
        http_rate = _post_batches(base, token, bodies)
        _wait_for_analytics(base, user_token, (batches + 2) * BATCH // CHANNELS)
        sustained = (batches + 2) * BATCH / (time.perf_counter() - began)
        raw_start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1e6)
        _wait_for_effects(settings)  # the baseline must not queue behind the server's writes
        raw_rate = _raw_insert(settings, _raw_rows(ids, batches, raw_start))
        query = _year_query(settings, base, user_token, ids[CHANNELS], query_repeats)
    finally:
        server.terminate()
        server.wait(10)
    return {
        "http_readings_per_s": http_rate,
        "raw_readings_per_s": raw_rate,
        "http_vs_raw_ratio": http_rate / raw_rate,
        "sustained_with_analytics_readings_per_s": sustained,
        "query_1y_p50_ms": query["p50_ms"],
        "query_1y_p95_ms": query["p95_ms"],
    }


def ingest_only(settings: Settings, batches: int) -> float:
    """HTTP readings/s with the online anomaly scoring switched off (the bare ingest path)."""
    token, _user, keys, _ids = _prepare(settings)
    port = _free_port()
    server = _serve(settings, port, {"INFRASIGHT_ANOMALY_SCORING": "false"})
    try:
        bodies = _bodies(keys, batches + 2, datetime(2022, 1, 1, tzinfo=UTC))
        return _post_batches(f"http://127.0.0.1:{port}", token, bodies)
    finally:
        server.terminate()
        server.wait(10)


def _postgres_settings(url: str, data_dir: Path) -> tuple[Settings, str, str]:
    name = f"infrasight_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    bench_url = f"{url.rpartition('/')[0]}/{name}"
    return Settings(data_dir=data_dir, database_url=bench_url), url, name


def _drop_postgres(url: str, name: str) -> None:
    admin = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--batches", type=int, default=20, help="timed batches of 10,000")
    parser.add_argument("--smoke", action="store_true", help="2 batches, 5 queries (seconds)")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("INFRASIGHT_BENCH_POSTGRES_URL", "")
    )
    args = parser.parse_args()
    # The benchmark makes its own databases; a deployment's must never be touched.
    os.environ.pop("INFRASIGHT_DATABASE_URL", None)
    repeats = 5 if args.smoke else 60
    if args.smoke:
        args.batches = 2
    results: dict[str, float | str] = {"batch_size": BATCH, "batches": args.batches}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = run_backend(Settings(data_dir=Path(tmp) / "sqlite"), args.batches, repeats)
        results.update({f"{k}_sqlite": v for k, v in sqlite.items()})
        bare = ingest_only(Settings(data_dir=Path(tmp) / "sqlite-bare"), args.batches)
        results["http_readings_per_s_sqlite_no_anomaly_scoring"] = bare
        if args.postgres_url:
            settings, admin_url, name = _postgres_settings(args.postgres_url, Path(tmp) / "pg")
            try:
                pg = run_backend(settings, args.batches, repeats)
            finally:
                _drop_postgres(admin_url, name)
            results.update({f"{k}_postgres": v for k, v in pg.items()})
        else:
            results["postgres"] = "skipped: no --postgres-url / INFRASIGHT_BENCH_POSTGRES_URL"
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"ingest benchmark: {args.batches} batches x {BATCH:,} readings, {CHANNELS} channels")
    for backend in ("sqlite", "postgres"):
        if f"http_readings_per_s_{backend}" not in results:
            continue
        print(f"[{backend}]")
        print(
            f"  HTTP ingest          {results[f'http_readings_per_s_{backend}']:>12,.0f} readings/s"
        )
        print(f"  raw executemany      {results[f'raw_readings_per_s_{backend}']:>12,.0f} rows/s")
        print(f"  HTTP / raw           {results[f'http_vs_raw_ratio_{backend}']:>12.2f}")
        sustained = results[f"sustained_with_analytics_readings_per_s_{backend}"]
        print(f"  sustained, analytics {sustained:>12,.0f} readings/s (scores caught up)")
        if backend == "sqlite":
            bare = results["http_readings_per_s_sqlite_no_anomaly_scoring"]
            print(f"  HTTP, scoring off    {bare:>12,.0f} readings/s")
        print(f"  1-year query p50     {results[f'query_1y_p50_ms_{backend}']:>12.1f} ms")
        print(f"  1-year query p95     {results[f'query_1y_p95_ms_{backend}']:>12.1f} ms")
    if "postgres" in results:
        print(results["postgres"])


if __name__ == "__main__":
    main()
