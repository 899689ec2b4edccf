"""Crash benchmark: ``kill -9`` the server while it ingests, restart, compare with a calm run.

Starts the real server (``infrasight serve``, SQLite in a temporary data directory) with a rule
``upper 100`` per channel and the online anomaly scoring on, posts batches of readings over HTTP
as a device would (a batch that got no answer is sent again after the restart), and kills the
server with SIGKILL at random (seeded) moments: while a request is in flight, right after an
answer, or while the effects of a burst wait to run. After the last cycle the server runs to the
end. The same data is then sent to a server that is never killed, in the same run, and the two
databases are compared:

* acknowledged readings lost: readings answered with HTTP 200 and missing from the database;
* duplicate rows: readings, anomaly scores or alarm events stored twice;
* alarm evaluations lost: alarm events of the calm run missing from the killed one (and extra
  ones), compared on (alarm, kind, time, level);
* anomaly readings missing: readings without their anomaly score (and scores that differ).

Only the base install is needed (``make install``): HTTP goes through ``urllib.request``.

Usage: python benchmarks/crash.py [--cycles 20] [--seed 7] [--smoke] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.accounts import create_user, ensure_organization
from infrasight.storage.migrate import upgrade

CHANNELS = 3
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SERVER_CODE = "from infrasight.cli.app import main; main()"


@dataclass
class Plan:
    """The data every run sends: ``batches[i]`` is a JSON body of readings."""

    batches: list[bytes]
    readings: int


def make_plan(*, batches: int, per_channel: int, seed: int) -> Plan:
    """Seeded readings in time order: a noisy level near 50 with excursions to 500."""
    rng = np.random.default_rng(seed)
    bodies = []
    total = 0
    step = timedelta(seconds=10)
    for b in range(batches):
        readings = []
        for c in range(CHANNELS):
            values = rng.normal(50.0, 5.0, per_channel)
            if rng.random() < 0.3:  # an excursion over the limit in this batch
                start = int(rng.integers(0, per_channel))
                values[start : start + int(rng.integers(1, 40))] = 500.0
            for i, value in enumerate(values):
                moment = T0 + step * (b * per_channel + i)
                readings.append(
                    {"channel": f"CH-{c}", "time": moment.isoformat(), "value": float(value)}
                )
        total += len(readings)
        bodies.append(json.dumps({"readings": readings}).encode())
    return Plan(batches=bodies, readings=total)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(
    method: str, url: str, token: str, body: dict[str, Any] | bytes | None = None, timeout=30.0
) -> Any:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


class Server:
    """``infrasight serve`` in a subprocess on a data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.base = ""
        self.log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - closed in close()

    def start(self) -> None:
        port = _free_port()
        env = dict(os.environ, INFRASIGHT_DATA_DIR=str(self.data_dir), INFRASIGHT_DATABASE_URL="")
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER_CODE, "serve", "--port", str(port)],
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited; see {self.log.name}") from None
                time.sleep(0.05)
        raise RuntimeError("the server did not start")

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)

    def close(self) -> None:
        self.log.close()


def prepare(data_dir: Path) -> str:
    """Schema and an administrator; return the admin token."""
    settings = Settings(data_dir=data_dir, database_url="", worker_threads=0)
    upgrade(settings)
    platform = Platform.create(settings, workers=0)
    try:
        with platform.database.transaction() as session:
            org, _ = ensure_organization(session, "Crash test")
            _, token = create_user(session, org, "crash@bench.example", Role.ADMIN)
    finally:
        platform.close()
    return token


def configure(base: str, token: str) -> str:
    """An asset, a datalogger, its channels and a rule ``upper 100`` per channel; device token."""
    api = f"{base}/api/v1"
    asset = _call("POST", f"{api}/assets", token, {"name": "Crash viaduct", "kind": "bridge"})
    element = _call(
        "POST", f"{api}/assets/{asset['id']}/elements", token, {"name": "Pier", "kind": "pier"}
    )
    device = _call(
        "POST",
        f"{api}/devices",
        token,
        {"name": "DL-1", "kind": "datalogger", "asset_id": asset["id"]},
    )
    for c in range(CHANNELS):
        channel = {
            "key": f"CH-{c}",
            "quantity": "strain",
            "unit": "µε",
            "element_id": element["id"],
            "device_id": device["id"],
        }
        _call("POST", f"{api}/channels", token, channel)
        rule = {
            "id": f"upper-100-ch{c}",
            "channels": [f"CH-{c}"],
            "levels": [
                {"name": "over", "severity": 2, "limits": [{"quantity": "value", "upper": 100}]}
            ],
        }
        _call("POST", f"{api}/rules", token, {"definition": rule})
    return str(device["token"])


@dataclass
class Sender:
    """Posts the plan's batches in order from ``next_batch``; stops at the first failure."""

    base: str
    token: str
    plan: Plan
    next_batch: int = 0
    acknowledged: int = 0
    failed: bool = False
    in_flight: bool = False
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        url = f"{self.base}/api/v1/ingest/readings"
        while self.next_batch < len(self.plan.batches) and not self.stop.is_set():
            self.in_flight = True
            try:
                _call("POST", url, self.token, self.plan.batches[self.next_batch], timeout=120)
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                self.failed = True
                return
            finally:
                self.in_flight = False
            self.next_batch += 1
            self.acknowledged += 1


def wait_for_effects(db: Path, timeout_s: float = 300) -> int:
    """Wait until no effect or job row is queued or running; return the failed rows."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as connection:
            waiting = connection.execute(
                "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"
            ).fetchone()[0]
            failed = connection.execute(
                "SELECT count(*) FROM jobs WHERE status = 'failed'"
            ).fetchone()[0]
        if not waiting:
            return int(failed)
        time.sleep(0.2)
    raise RuntimeError("the effects did not finish in time")


def calm_run(root: Path, plan: Plan) -> Path:
    """The same data to a server that is never killed."""
    data_dir = root / "calm"
    data_dir.mkdir()
    token = prepare(data_dir)
    server = Server(data_dir)
    try:
        server.start()
        device = configure(server.base, token)
        sender = Sender(server.base, device, plan)
        sender.run()
        if sender.failed:
            raise RuntimeError("the calm run failed to ingest")
        wait_for_effects(data_dir / "infrasight.db")
        server.stop()
    finally:
        server.close()
    return data_dir / "infrasight.db"


@dataclass
class CrashStats:
    kills: int = 0
    kills_in_flight: int = 0
    resent_batches: int = 0
    failed_rows: int = 0


def crash_run(root: Path, plan: Plan, cycles: int, seed: int) -> tuple[Path, CrashStats]:
    """Ingest the plan while killing the server ``cycles`` times at random moments."""
    rng = np.random.default_rng(seed + 1)
    data_dir = root / "crash"
    data_dir.mkdir()
    token = prepare(data_dir)
    server = Server(data_dir)
    stats = CrashStats()
    device = ""
    position = 0
    try:
        for cycle in range(cycles + 1):
            server.start()
            if cycle == 0:
                device = configure(server.base, token)
            sender = Sender(server.base, device, plan, next_batch=position)
            thread = threading.Thread(target=sender.run)
            thread.start()
            if cycle == cycles:  # the last cycle runs to the end
                thread.join()
                if sender.failed:
                    raise RuntimeError("the final cycle failed to ingest")
                stats.failed_rows = wait_for_effects(data_dir / "infrasight.db")
                server.stop()
                break
            time.sleep(float(rng.uniform(0.0, 0.6)))
            stats.kills_in_flight += int(sender.in_flight)
            server.kill()
            stats.kills += 1
            thread.join()
            stats.resent_batches += int(sender.failed)
            position = sender.next_batch
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()
        server.close()
    return data_dir / "infrasight.db", stats


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return [tuple(row) for row in connection.execute(sql).fetchall()]


def compare(calm: Path, crashed: Path, plan: Plan) -> dict[str, int]:
    """The figures: what the killed run lost, doubled or computed differently."""
    readings_sql = (
        "SELECT c.key, r.ts, r.value FROM readings r JOIN channels c ON c.id = r.channel_id"
    )
    events_sql = (
        "SELECT a.key, a.category, e.kind, e.time, e.level FROM alarm_events e "
        "JOIN alarms a ON a.id = e.alarm_id"
    )
    crash_readings = _rows(crashed, readings_sql)
    calm_readings = _rows(calm, readings_sql)
    sent = set()
    for body in plan.batches:
        for item in json.loads(body)["readings"]:
            moment = datetime.fromisoformat(item["time"])
            sent.add((item["channel"], round(moment.timestamp() * 1e6)))
    stored = {(key, ts) for key, ts, _v in crash_readings if not key.endswith(".anomaly")}
    scores = {(key.removesuffix(".anomaly"), ts) for key, ts, _v in crash_readings}
    calm_scores = {(k, ts): v for k, ts, v in calm_readings if k.endswith(".anomaly")}
    crash_scores = {(k, ts): v for k, ts, v in crash_readings if k.endswith(".anomaly")}
    differing = sum(
        1
        for key, value in calm_scores.items()
        if key not in crash_scores or abs(crash_scores[key] - value) > 1e-9
    )
    crash_events = _rows(crashed, events_sql)
    calm_events = _rows(calm, events_sql)
    rule_events = [e for e in calm_events if e[1] == "rule"]
    crash_rule_events = [e for e in crash_events if e[1] == "rule"]
    other_calm = sorted(e for e in calm_events if e[1] != "rule")
    other_crash = sorted(e for e in crash_events if e[1] != "rule")
    return {
        "readings_sent": len(sent),
        "acknowledged_readings_lost": len(sent - stored),
        "duplicate_rows": (len(crash_readings) - len({(k, ts) for k, ts, _ in crash_readings}))
        + (len(crash_events) - len(set(crash_events))),
        "rule_alarm_events_calm": len(rule_events),
        "alarm_evaluations_lost": len(set(rule_events) - set(crash_rule_events)),
        "alarm_events_extra": len(set(crash_rule_events) - set(rule_events)),
        "alarm_states_differing": _alarm_states_differing(calm, crashed),
        "anomaly_readings_missing": len(sent - scores),
        "anomaly_scores_differing": differing,
        "sensor_health_events_calm": len(other_calm),
        "sensor_health_events_differing": len(set(other_calm) ^ set(other_crash)),
    }


def _alarm_states_differing(calm: Path, crashed: Path) -> int:
    sql = "SELECT key, status, level, raised_at FROM alarms"
    return len(set(_rows(calm, sql)) ^ set(_rows(crashed, sql)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=20, help="kill -9 and restart cycles")
    parser.add_argument("--batches", type=int, default=0, help="batches (default 6 a cycle)")
    parser.add_argument("--per-channel", type=int, default=200, help="readings per channel")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="2 cycles, small plan (seconds)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.smoke:
        args.cycles, args.batches, args.per_channel = 2, 12, 50
    args.batches = args.batches or 6 * (args.cycles + 1)
    plan = make_plan(batches=args.batches, per_channel=args.per_channel, seed=args.seed)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="infrasight-crash-") as tmp:
        root = Path(tmp)
        crashed, stats = crash_run(root, plan, args.cycles, args.seed)
        calm = calm_run(root, plan)
        figures = compare(calm, crashed, plan)
    result = {
        "cycles": args.cycles,
        "kills": stats.kills,
        "kills_during_a_request": stats.kills_in_flight,
        "batches_resent": stats.resent_batches,
        "failed_rows": stats.failed_rows,
        **figures,
        "seconds": round(time.perf_counter() - began, 1),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"crash benchmark: {args.cycles} cycles of ingest + kill -9 + restart "
        f"(seed {args.seed}), {plan.readings} readings in {len(plan.batches)} batches, "
        f"rule 'upper 100' on {CHANNELS} channels, anomaly scoring on"
    )
    print(
        f"  kills {stats.kills} (during a request {stats.kills_in_flight}), "
        f"batches sent again {stats.resent_batches}, failed effect rows {stats.failed_rows}"
    )
    print("  figure                               killed run   (uninterrupted run)")
    print(f"  acknowledged readings lost           {figures['acknowledged_readings_lost']:>10}")
    print(f"  duplicate rows                       {figures['duplicate_rows']:>10}")
    print(
        f"  alarm evaluations lost               {figures['alarm_evaluations_lost']:>10}"
        f"   ({figures['rule_alarm_events_calm']} rule alarm events)"
    )
    print(f"  alarm events extra                   {figures['alarm_events_extra']:>10}")
    print(f"  alarm states differing               {figures['alarm_states_differing']:>10}")
    print(
        f"  anomaly readings missing             {figures['anomaly_readings_missing']:>10}"
        f"   ({figures['readings_sent']} readings)"
    )
    print(f"  anomaly scores differing             {figures['anomaly_scores_differing']:>10}")
    print(
        f"  sensor-health alarm events differing {figures['sensor_health_events_differing']:>10}"
        f"   ({figures['sensor_health_events_calm']} events)"
    )
    print(f"  wall time {result['seconds']} s")


if __name__ == "__main__":
    main()
