"""Hostile-site benchmark of the edge agent and MQTT ingest: faults, backfill, latency.

Runs the real server (``infrasight serve`` in a subprocess, fresh SQLite database, MQTT bridge
on when Mosquitto is installed), the real agent (``infrasight edge run`` in a subprocess) behind
a TCP proxy that can cut the link, and a producer posting to the agent's local endpoint. Each
scenario counts acknowledged readings lost, duplicate rows stored and readings out of order:

- outage: the server unreachable while the terminal keeps producing, then backfill while live
  data flows (backfill readings/s, live latency p99), beside a direct HTTP upload of the same
  backlog (the baseline: no agent, no proxy);
- flapping: the link cut and restored every ``--flap-s`` seconds while producing;
- kill -9: the agent killed mid-backfill and restarted;
- queue limit: more readings than ``max_items`` while offline: routine readings dropped oldest
  first, alarm readings kept;
- disk limit: more readings than the queue file may hold (``max_bytes``, the same path as a full
  disk) while offline: routine readings dropped oldest first, alarm readings kept;
- clock skew: an agent whose clock is minutes ahead: the terminal's timestamps stored as they
  are, the offset measured by the server and shown in the device status;
- MQTT: readings/s through Mosquitto beside HTTP in the same run, and publish -> stored
  latency (the bridge acknowledges after the commit).

- broker down: an agent sending over MQTT (QoS 1, each batch deleted only after the server's
  ``.../ack``) while Mosquitto is stopped for ``--broker-down-s`` seconds and restarted.

Usage: python benchmarks/edge_faults.py [--smoke] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
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
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.edge.netfaults import TcpProxy
from tests.mqtt.broker import find_mosquitto, mosquitto

from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.edge.agent import EdgeAgent
from infrasight.edge.config import EdgeConfig
from infrasight.edge.items import parse_items
from infrasight.platform import Platform
from infrasight.services.accounts import create_user, ensure_organization
from infrasight.services.auth import new_device_token
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import Asset, Channel, Device, Element

CLI = "from infrasight.cli.app import main; main()"
LIVE_RATE = 100  # readings/s, the terminal
BACKLOG_CHANNELS = 4
ALARM_PROBES = 50  # channels, one alarm rule each, for the publish -> alarm row latency


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _usage(pid: int, seconds: float) -> dict[str, float]:
    """Resident memory (MB) and CPU use (% of one core) of process ``pid`` over ``seconds``."""
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu_s() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    before, began = cpu_s(), time.monotonic()
    time.sleep(seconds)
    used, elapsed = cpu_s() - before, time.monotonic() - began
    rss_kb = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return {"rss_mb": round(rss_kb / 1024, 1), "cpu_percent": round(100 * used / elapsed, 1)}


def _has_paho() -> bool:
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _iso(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us / 1e6, UTC).isoformat().replace("+00:00", "Z")


def _post(url: str, body: bytes, token: str | None = None) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read() or b"{}")


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


@dataclass
class Site:
    org_id: int
    device_id: int
    token: str
    channels: dict[str, int]
    user_token: str = ""


def _prepare(settings: Settings) -> Site:
    upgrade(settings)
    platform = Platform.create(settings, workers=0)
    with platform.database.transaction() as session:
        org, _ = ensure_organization(session, "Field bench")
        _, user_token = create_user(session, org, "bench@field.example", Role.ENGINEER)
        asset = Asset(organization_id=org.id, name="Viaduct", kind="bridge")
        session.add(asset)
        session.flush()
        element = Element(asset_id=asset.id, name="Pier", kind="pier")
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
        keys = [
            "LIVE",
            "ALARM",
            "MQTT",
            *(f"MQTT-ALARM-{k}" for k in range(ALARM_PROBES)),
            *(f"BACK-{i}" for i in range(BACKLOG_CHANNELS)),
        ]
        rows = [
            Channel(
                organization_id=org.id,
                key=key,
                quantity="strain",
                unit="µε",
                element_id=element.id,
                device_id=device.id,
            )
            for key in keys
        ]
        session.add_all(rows)
        session.flush()
        site = Site(
            org_id=org.id,
            device_id=device.id,
            token=token,
            channels={c.key: c.id for c in rows},
            user_token=user_token,
        )
    platform.close()
    return site


class Stored:
    """Read-only view of the server's SQLite database."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=30000")
        self._lock = threading.Lock()

    def rows(self, channel_id: int) -> list[tuple[int, float]]:
        with self._lock:
            return self._db.execute(
                "SELECT ts, value FROM readings WHERE channel_id = ? ORDER BY ts", (channel_id,)
            ).fetchall()

    def count(self, channel_ids: list[int]) -> int:
        marks = ",".join("?" * len(channel_ids))
        with self._lock:
            return int(
                self._db.execute(
                    f"SELECT count(*) FROM readings WHERE channel_id IN ({marks})", channel_ids
                ).fetchone()[0]
            )

    def raised(self) -> int:
        with self._lock:
            return int(
                self._db.execute(
                    "SELECT count(*) FROM alarm_events WHERE kind = 'raised'"
                ).fetchone()[0]
            )

    def queued_effects(self, up_to_id: int | None = None) -> int:
        """Effect rows (consequences of stored readings) not yet applied, up to a row id."""
        with self._lock:
            return int(
                self._db.execute(
                    "SELECT count(*) FROM jobs WHERE status = 'queued' AND name IN "
                    "('readings_stored', 'hazards_due') AND id <= ?",
                    (2**62 if up_to_id is None else up_to_id,),
                ).fetchone()[0]
            )

    def wait_effects(self, timeout: float = 300.0) -> float:
        """Seconds until the server has applied the effect rows queued now (live data keeps
        adding new ones, which are not waited for)."""
        with self._lock:
            last = int(self._db.execute("SELECT coalesce(max(id), 0) FROM jobs").fetchone()[0])
        start = time.monotonic()
        while self.queued_effects(last) and time.monotonic() - start < timeout:
            time.sleep(0.1)
        return time.monotonic() - start

    def since(self, channel_id: int, after_ts: int) -> list[int]:
        with self._lock:
            return [
                int(r[0])
                for r in self._db.execute(
                    "SELECT ts FROM readings WHERE channel_id = ? AND ts > ?",
                    (channel_id, after_ts),
                )
            ]


@dataclass
class Ledger:
    """What the producer was told is safe: (channel key, ts) -> value."""

    acked: dict[tuple[str, int], float] = field(default_factory=dict)
    produced_at: dict[int, float] = field(default_factory=dict)  # LIVE ts -> monotonic time
    lock: threading.Lock = field(default_factory=threading.Lock)


class Agent:
    """The agent subprocess: start, kill -9, restart with the same queue."""

    def __init__(self, folder: Path, server_port: int, token: str, **config: object) -> None:
        self.folder = folder
        self.port = _free_port()
        values: dict[str, object] = {
            "server_url": f"http://127.0.0.1:{server_port}",
            "token": token,
            "queue_path": str(folder / "queue.db"),
            "listen_port": self.port,
            "poll_s": 0.05,
            "live_window_s": 2.0,
            "batch_size": 5000,
            "heartbeat_s": 5.0,
            "backoff_min_s": 0.1,
            "backoff_max_s": 1.0,
            "request_timeout_s": 10.0,
            **config,
        }
        lines = [f"{k} = {json.dumps(v)}" for k, v in values.items()]
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "edge.toml"
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.folder / "agent.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infrasight.edge", "run", "--config", str(self.config)],
            stdout=log,
            stderr=log,
        )
        log.close()
        _wait_http(f"{self.url}/status")

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)

    def status(self) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.url}/status", timeout=10) as response:
            answer: dict[str, object] = orjson.loads(response.read())
            return answer

    def put(self, ledger: Ledger, readings: list[dict[str, object]]) -> None:
        status, answer = _post(f"{self.url}/readings", orjson.dumps({"readings": readings}))
        if status != 202:
            raise RuntimeError(f"local endpoint refused a batch: {answer}")
        with ledger.lock:
            for r in readings:
                ts = round(datetime.fromisoformat(str(r["time"])).timestamp() * 1e6)
                ledger.acked[(str(r["channel"]), ts)] = float(r["value"])  # type: ignore[arg-type]


class LiveProducer:
    """100 readings/s with the terminal's current time on the LIVE channel."""

    def __init__(self, agent: Agent, ledger: Ledger) -> None:
        self.agent = agent
        self.ledger = ledger
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sequence = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        period = 0.1
        per_tick = LIVE_RATE // 10
        while not self._stop.is_set():
            now_us = int(time.time() * 1e6)
            readings = []
            for i in range(per_tick):
                ts = now_us + i  # distinct, increasing within the tick
                self.sequence += 1
                readings.append({"channel": "LIVE", "time": _iso(ts), "value": self.sequence})
                with self.ledger.lock:
                    self.ledger.produced_at[
                        round(datetime.fromisoformat(_iso(ts)).timestamp() * 1e6)
                    ] = time.monotonic()
            # while the agent restarts (kill -9) a batch is refused: not acknowledged, not counted
            with contextlib.suppress(OSError, RuntimeError):
                self.agent.put(self.ledger, readings)
            self._stop.wait(period)


def _backlog(count: int, start_us: int, offset: int = 0) -> list[dict[str, object]]:
    """``count`` past readings over the backlog channels, 100/s, values = their index."""
    step_us = 1_000_000 // LIVE_RATE
    return [
        {
            "channel": f"BACK-{i % BACKLOG_CHANNELS}",
            "time": _iso(start_us + (offset + i) * step_us),
            "value": float(offset + i),
        }
        for i in range(count)
    ]


def _put_backlog(agent: Agent, ledger: Ledger, readings: list[dict[str, object]]) -> None:
    for start in range(0, len(readings), 5000):
        agent.put(ledger, readings[start : start + 5000])


def _verify(stored: Stored, site: Site, acked: dict[tuple[str, int], float]) -> dict[str, object]:
    """Acknowledged readings lost, duplicate rows, and whether each channel's order was kept.

    Order kept: per channel, the stored readings of acknowledged keys, ordered by time, carry
    exactly the values the terminal gave, in the terminal's time order (timestamps unaltered).
    """
    lost = duplicates = 0
    order_kept = True
    by_channel: dict[str, dict[int, float]] = {}
    for (key, ts), value in acked.items():
        by_channel.setdefault(key, {})[ts] = value
    for key, expected in by_channel.items():
        rows = stored.rows(site.channels[key])
        have = dict(rows)
        duplicates += len(rows) - len(have)
        lost += sum(1 for ts, value in expected.items() if have.get(ts) != value)
        stored_order = [value for ts, value in rows if ts in expected]
        order_kept &= stored_order == [expected[ts] for ts in sorted(expected)]
    return {
        "acked_cumulative": len(acked),
        "lost": lost,
        "duplicates": duplicates,
        "order_kept": order_kept,
    }


def _wait_drained(
    agent: Agent, ledger: Ledger, timeout: float
) -> tuple[float, dict[tuple[str, int], float]]:
    """Seconds until the queue is empty, and what had been acknowledged before that moment.

    The snapshot is taken before each status call: a queue found empty means every reading in
    it was delivered (readings acknowledged later may still be on their way).
    """
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        with ledger.lock:
            snapshot = dict(ledger.acked)
        if agent.status()["queue_depth"] == 0:
            return time.monotonic() - start, snapshot
        time.sleep(0.02)
    raise RuntimeError(f"agent queue not drained in {timeout} s: {agent.status()}")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class LiveWatcher:
    """Polls the server database every 20 ms for LIVE readings; records when each appeared."""

    def __init__(self, stored: Stored, channel_id: int) -> None:
        self.stored = stored
        self.channel_id = channel_id
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._last = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for ts in self.stored.since(self.channel_id, self._last):
                self.seen.setdefault(ts, now)
                self._last = max(self._last, ts)
            self._stop.wait(0.02)

    def latencies(self, ledger: Ledger, window: tuple[float, float]) -> list[float]:
        with ledger.lock:
            produced = dict(ledger.produced_at)
        return [
            self.seen[ts] - at
            for ts, at in produced.items()
            if window[0] <= at <= window[1] and ts in self.seen
        ]


def run(args: argparse.Namespace) -> dict[str, object]:
    smoke = args.smoke
    backlog_n = args.backlog or (20_000 if smoke else 360_000)  # smoke: 200 s; full: one hour
    outage_s = args.outage_s if args.outage_s is not None else (2.0 if smoke else 180.0)
    flap_total_s = 4.0 if smoke else 30.0
    results: dict[str, object] = {"mode": "smoke" if smoke else "full"}
    with tempfile.TemporaryDirectory(prefix="edge-faults-") as tmp:
        root = Path(tmp)
        settings = Settings(data_dir=root / "server", database_url="")
        site = _prepare(settings)
        broker_cm = mosquitto(root / "broker") if find_mosquitto() else None
        broker_port = broker_cm.__enter__() if broker_cm is not None else None
        server_port = _free_port()
        env = dict(
            os.environ,
            INFRASIGHT_DATA_DIR=str(settings.data_dir),
            INFRASIGHT_DATABASE_URL="",
            INFRASIGHT_MQTT_URL="",
        )
        if broker_port is not None:
            env["INFRASIGHT_MQTT_URL"] = f"mqtt://127.0.0.1:{broker_port}"
        with (root / "server.log").open("ab") as log:
            server = subprocess.Popen(
                [sys.executable, "-c", CLI, "serve", "--port", str(server_port)],
                env=env,
                stdout=log,
                stderr=log,
            )
        try:
            _wait_http(f"http://127.0.0.1:{server_port}/healthz")
            stored = Stored(settings.data_dir / "infrasight.db")
            proxy = TcpProxy(server_port)
            results.update(
                _scenarios(
                    root, site, stored, proxy, server_port, backlog_n, outage_s, flap_total_s, args
                )
            )
            if broker_port is not None and not _has_paho():
                results["mqtt"] = "skipped: paho-mqtt is not installed (pip install -e '.[mqtt]')"
            elif broker_port is not None:
                _say("scenario: mqtt")
                results["mqtt"] = _mqtt(site, stored, broker_port, server_port, smoke)
            if broker_port is not None and _has_paho() and not args.figures_only:
                _say("scenario: broker down")

                def restart_broker(down_s: float) -> None:
                    nonlocal broker_cm
                    assert broker_cm is not None and broker_port is not None
                    broker_cm.__exit__(None, None, None)
                    broker_cm = None
                    time.sleep(down_s)
                    broker_cm = mosquitto(root / "broker", broker_port)
                    broker_cm.__enter__()

                results["broker_down"] = _broker_down(
                    root,
                    site,
                    stored,
                    broker_port,
                    server_port,
                    restart_broker,
                    down_s=args.broker_down_s or (3.0 if smoke else 60.0),
                )
            elif broker_port is None:
                results["mqtt"] = "skipped: mosquitto is not installed"
                results["broker_down"] = "skipped: mosquitto is not installed"
            proxy.close()
        finally:
            server.terminate()
            server.wait(30)
            if broker_cm is not None:
                broker_cm.__exit__(None, None, None)
    return results


def _scenarios(
    root: Path,
    site: Site,
    stored: Stored,
    proxy: TcpProxy,
    server_port: int,
    backlog_n: int,
    outage_s: float,
    flap_total_s: float,
    args: argparse.Namespace,
) -> dict[str, object]:
    out: dict[str, object] = {}
    ledger = Ledger()
    agent = Agent(root / "agent", proxy.port, site.token)
    agent.start()
    assert agent.process is not None
    idle = _usage(agent.process.pid, 3.0)
    watcher = LiveWatcher(stored, site.channels["LIVE"])
    watcher.start()
    live = LiveProducer(agent, ledger)
    live.start()
    time.sleep(1.0)
    out["agent_footprint"] = {"idle": idle, "live_100_per_s": _usage(agent.process.pid, 3.0)}
    try:
        # 1. outage, then backfill while live data flows
        _say("scenario: outage")
        time.sleep(1.0)
        proxy.set_up(False)
        start_us = int((time.time() - backlog_n / LIVE_RATE - 60) * 1e6)
        _put_backlog(agent, ledger, _backlog(backlog_n, start_us))
        time.sleep(outage_s)
        depth = int(agent.status()["queue_depth"])  # type: ignore[call-overload]
        _say(f"backlog queued ({depth}); reconnecting")
        proxy.set_up(True)
        t0 = time.monotonic()
        drained, acked = _wait_drained(agent, ledger, timeout=600)
        t1 = time.monotonic()
        time.sleep(0.5)
        latencies = watcher.latencies(ledger, (t0, t1))
        effects_s = stored.wait_effects()
        out["outage"] = {
            "server_down_s": outage_s,
            "queued_at_reconnect": depth,
            "backfill_s": round(drained, 2),
            "backfill_readings_per_s": round(depth / drained),
            "live_latency_p50_s": round(_percentile(latencies, 0.5), 3),
            "live_latency_p99_s": round(_percentile(latencies, 0.99), 3),
            "live_readings_during_backfill": len(latencies),
            "effects_applied_s_after_backfill": round(effects_s, 2),
            **_verify(stored, site, acked),
        }
        # baseline: the same volume posted straight to the server, no agent, no proxy
        base_us = start_us - int(backlog_n / LIVE_RATE * 1e6) - 10_000_000
        base = _backlog(backlog_n, base_us)
        began = time.perf_counter()
        for s in range(0, backlog_n, 5000):
            chunk = [dict(r, channel=str(r["channel"])) for r in base[s : s + 5000]]
            status, _ = _post(
                f"http://127.0.0.1:{server_port}/api/v1/ingest/readings",
                orjson.dumps({"readings": chunk}),
                site.token,
            )
            assert status == 200
        out["baseline_direct_http_readings_per_s"] = round(
            backlog_n / (time.perf_counter() - began)
        )
        # its consequences (scores, alarms, hazards) before the next scenario starts
        out["baseline_effects_applied_s"] = round(stored.wait_effects(), 2)
        with ledger.lock:
            for r in base:
                ts = round(datetime.fromisoformat(str(r["time"])).timestamp() * 1e6)
                ledger.acked[(str(r["channel"]), ts)] = float(r["value"])  # type: ignore[arg-type]

        if args.figures_only:
            return out

        # 2. link flapping while producing
        _say("scenario: flapping")
        flap_start_us = base_us - 3_600_000_000
        sent = 0
        end = time.monotonic() + flap_total_s
        while time.monotonic() < end:
            proxy.set_up(not proxy.up)
            chunk = _backlog(500, flap_start_us, offset=sent)
            agent.put(ledger, chunk)
            sent += 500
            time.sleep(args.flap_s)
        proxy.set_up(True)
        _, acked = _wait_drained(agent, ledger, timeout=300)
        time.sleep(0.3)
        out["flapping"] = {
            "produced": sent,
            "flap_period_s": args.flap_s,
            **_verify(stored, site, acked),
        }

        # 3. kill -9 of the agent mid-backfill, then restart
        _say("scenario: kill -9")
        kill_start_us = flap_start_us - 3_600_000_000
        proxy.set_up(False)
        _put_backlog(agent, ledger, _backlog(backlog_n // 2, kill_start_us))
        proxy.set_up(True)
        time.sleep(0.15)  # mid-send
        agent.kill9()
        agent.start()
        _, acked = _wait_drained(agent, ledger, timeout=600)
        time.sleep(0.3)
        out["kill9"] = {"produced": backlog_n // 2, **_verify(stored, site, acked)}
    finally:
        live.stop()
        watcher.stop()
        agent.stop()

    # 4. the queue limit while offline: drop order
    _say("scenario: queue limit")
    small = Agent(root / "agent-small", proxy.port, site.token, max_items=2000)
    small.start()
    try:
        proxy.set_up(False)
        limit_ledger = Ledger()
        limit_us = kill_start_us - 3_600_000_000
        alarms = [
            {
                "channel": "ALARM",
                "time": _iso(limit_us + i * 10_000_000),
                "value": float(i),
                "priority": "alarm",
            }
            for i in range(100)
        ]
        small.put(limit_ledger, alarms)
        routine = _backlog(3000, limit_us)
        for s in range(0, 3000, 500):
            small.put(limit_ledger, routine[s : s + 500])
        status = small.status()
        proxy.set_up(True)
        _wait_drained(small, limit_ledger, timeout=120)
        time.sleep(0.3)
        alarm_rows = stored.rows(site.channels["ALARM"])
        back_ids = [site.channels[f"BACK-{i}"] for i in range(BACKLOG_CHANNELS)]
        on_server: set[tuple[int, float]] = set()
        for channel_id in back_ids:
            on_server.update(stored.rows(channel_id))
        kept = [
            r
            for r in routine
            if (round(datetime.fromisoformat(str(r["time"])).timestamp() * 1e6), r["value"])
            in on_server
        ]
        out["queue_limit"] = {
            "max_items": 2000,
            "produced_routine": 3000,
            "produced_alarm": 100,
            "dropped_routine": status["dropped_routine"],
            "dropped_alarm": status["dropped_alarm"],
            "alarm_stored": len(alarm_rows),
            "routine_stored": len(kept),
            "kept_are_newest": [r["value"] for r in kept] == [float(v) for v in range(1100, 3000)],
        }
    finally:
        small.stop()

    out["disk_limit"] = _disk_limit(root, site, stored, proxy, limit_us - 3_600_000_000)
    out["clock_skew"] = _clock_skew(root, site, stored, proxy, server_port)
    return out


def _broker_down(
    root: Path,
    site: Site,
    stored: Stored,
    broker_port: int,
    server_port: int,
    restart_broker: Callable[[float], None],
    *,
    down_s: float,
) -> dict[str, object]:
    """The agent sending over MQTT (QoS 1, waiting for the server's ack) while the broker is
    down for ``down_s`` seconds and 100 readings/s keep coming: nothing acknowledged is lost,
    nothing is stored twice, each channel keeps its order."""
    agent = Agent(
        root / "agent-mqtt",
        server_port,
        site.token,
        transport="mqtt",
        mqtt_url=f"mqtt://127.0.0.1:{broker_port}",
        mqtt_topic=f"infrasight/{site.org_id}/{site.device_id}",
        request_timeout_s=5.0,
    )
    agent.start()
    ledger = Ledger()
    live = LiveProducer(agent, ledger)
    live.start()
    try:
        time.sleep(2.0)
        _say(f"broker stopped for {down_s:.0f} s")
        restart_broker(down_s)
        depth = int(agent.status()["queue_depth"])  # type: ignore[call-overload]
        _say(f"broker back ({depth} readings queued)")
        caught_up_s, acked = _wait_drained(agent, ledger, timeout=600)
    finally:
        live.stop()
        agent.stop()
    time.sleep(0.5)
    return {
        "broker_down_s": down_s,
        "queued_at_restart": depth,
        "caught_up_s": round(caught_up_s, 2),
        **_verify(stored, site, acked),
    }


def _in_range(rows: list[tuple[int, float]], low_us: int, high_us: int) -> list[tuple[int, float]]:
    return [(ts, value) for ts, value in rows if low_us <= ts < high_us]


def _disk_limit(
    root: Path, site: Site, stored: Stored, proxy: TcpProxy, start_us: int
) -> dict[str, object]:
    """Offline with a queue file bound of 512 KiB: routine dropped oldest first, alarms kept."""
    _say("scenario: disk limit")
    max_bytes = 512 * 1024
    routine_n, alarm_n = 30_000, 100
    agent = Agent(root / "agent-disk", proxy.port, site.token, max_bytes=max_bytes)
    agent.start()
    ledger = Ledger()
    end_us = start_us + routine_n * (1_000_000 // LIVE_RATE)
    try:
        proxy.set_up(False)
        alarms = [
            {
                "channel": "ALARM",
                "time": _iso(start_us + i * 1_000_000),  # within the routine span
                "value": float(i),
                "priority": "alarm",
            }
            for i in range(alarm_n)
        ]
        agent.put(ledger, alarms)
        routine = _backlog(routine_n, start_us)
        for s in range(0, routine_n, 500):
            agent.put(ledger, routine[s : s + 500])
        status = agent.status()
        file_bytes = (root / "agent-disk" / "queue.db").stat().st_size
        proxy.set_up(True)
        _wait_drained(agent, ledger, timeout=300)
        time.sleep(0.3)
    finally:
        agent.stop()
    alarm_rows = _in_range(stored.rows(site.channels["ALARM"]), start_us, end_us)
    routine_rows: list[tuple[int, float]] = []
    duplicates = 0
    order_kept = True
    for i in range(BACKLOG_CHANNELS):
        rows = _in_range(stored.rows(site.channels[f"BACK-{i}"]), start_us, end_us)
        duplicates += len(rows) - len({ts for ts, _ in rows})
        order_kept &= [v for _, v in rows] == sorted(v for _, v in rows)
        routine_rows.extend(rows)
    kept = sorted(value for _, value in routine_rows)
    dropped = int(status["dropped_routine"])  # type: ignore[call-overload]
    return {
        "max_bytes": max_bytes,
        "queue_file_bytes_when_full": file_bytes,
        "produced_routine": routine_n,
        "produced_alarm": alarm_n,
        "dropped_routine": dropped,
        "dropped_alarm": status["dropped_alarm"],
        "alarm_stored": len(alarm_rows),
        "routine_stored": len(kept),
        # acknowledged and neither stored nor dropped by the bound
        "lost": alarm_n - len(alarm_rows) + routine_n - dropped - len(kept),
        "duplicates": duplicates + len(alarm_rows) - len({ts for ts, _ in alarm_rows}),
        "order_kept": order_kept,
        "kept_are_newest": kept == [float(v) for v in range(routine_n - len(kept), routine_n)],
    }


def _clock_skew(
    root: Path, site: Site, stored: Stored, proxy: TcpProxy, server_port: int
) -> dict[str, object]:
    """An agent whose clock runs 3 minutes ahead: timestamps kept, offset reported."""
    _say("scenario: clock skew")
    skew_s = 180.0
    config = EdgeConfig(
        server_url=f"http://127.0.0.1:{proxy.port}",
        token=site.token,
        queue_path=root / "agent-skew" / "queue.db",
        listen_port=None,
    )
    agent = EdgeAgent(config, clock=lambda: time.time() + skew_s, seed=1)
    terminal_now = int(time.time() + skew_s - 20)
    acked: dict[tuple[str, int], float] = {}
    readings = []
    for i in range(100):  # the last 10 s of the terminal's clock, 10/s
        ts_us = terminal_now * 1_000_000 + i * 100_000
        readings.append({"channel": "LIVE", "time": _iso(ts_us), "value": float(i) + 0.5})
        acked[("LIVE", ts_us)] = float(i) + 0.5
    try:
        proxy.set_up(True)
        agent.queue.put(parse_items({"readings": readings}))
        while agent.queue.stats().depth:
            agent.send_once()
        agent.beat()
    finally:
        agent.stop()
    request = urllib.request.Request(
        f"http://127.0.0.1:{server_port}/api/v1/devices/{site.device_id}/status",
        headers={"Authorization": f"Bearer {site.user_token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        device = orjson.loads(response.read())
    return {
        "terminal_clock_ahead_s": skew_s,
        "offset_reported_s": round(float(device["clock_offset_s"]), 2),
        "device_state": device["state"],
        "reasons": device["reasons"],
        **_verify(stored, site, acked),
    }


def _mqtt(
    site: Site, stored: Stored, broker_port: int, server_port: int, smoke: bool
) -> dict[str, object]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    acks: dict[str, float] = {}
    errors: list[bytes] = []
    done = threading.Event()
    expected = {"n": 0}

    def on_message(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/error"):
            errors.append(message.payload)
            done.set()
            return
        acks[str(orjson.loads(message.payload)["message_id"])] = time.perf_counter()
        if len(acks) >= expected["n"]:
            done.set()

    base = f"infrasight/{site.org_id}/{site.device_id}"
    ready = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-device", protocol=mqtt.MQTTv5
    )
    client.on_message = on_message
    client.on_subscribe = lambda *_: ready.set()
    client.on_connect = lambda c, *_: c.subscribe([(f"{base}/ack", 1), (f"{base}/error", 1)])
    client.connect("127.0.0.1", broker_port)
    client.loop_start()
    ready.wait(10)

    def publish(body: bytes) -> tuple[str, float]:
        message_id = uuid.uuid4().hex
        properties = Properties(PacketTypes.PUBLISH)
        properties.UserProperty = [("message-id", message_id), ("token", site.token)]
        at = time.perf_counter()
        client.publish(f"{base}/readings", body, qos=1, properties=properties)
        return message_id, at

    messages = 10 if smoke else 60
    per_message = 1000
    t_base = int((time.time() - 30 * 86400) * 1e6)
    bodies = [
        orjson.dumps(
            {
                "readings": [
                    {
                        "channel": "MQTT",
                        "time": _iso(t_base + (m * per_message + i) * 10_000),
                        "value": float(m * per_message + i),
                    }
                    for i in range(per_message)
                ]
            }
        )
        for m in range(messages)
    ]
    expected["n"] = messages
    began = time.perf_counter()
    for body in bodies:
        publish(body)
    done.wait(120)
    mqtt_rate = messages * per_message / (time.perf_counter() - began)
    stored.wait_effects()  # each phase on a server that has caught up with the one before
    # HTTP beside it: the same volume, same batch size, one connection after another
    http_bodies = [
        orjson.dumps(
            {
                "readings": [
                    {
                        "channel": "MQTT",
                        "time": _iso(t_base - 86_400_000_000 + (m * per_message + i) * 10_000),
                        "value": 0.0,
                    }
                    for i in range(per_message)
                ]
            }
        )
        for m in range(messages)
    ]
    began = time.perf_counter()
    for body in http_bodies:
        _post(f"http://127.0.0.1:{server_port}/api/v1/ingest/readings", body, site.token)
    http_rate = messages * per_message / (time.perf_counter() - began)
    stored.wait_effects()
    # publish -> stored (acknowledged after commit) latency, one reading per message, 20/s
    acks.clear()
    done.clear()
    singles = 40 if smoke else 400
    expected["n"] = singles
    sent_at: dict[str, float] = {}
    for k in range(singles):
        body = orjson.dumps(
            {
                "readings": [
                    {"channel": "MQTT", "time": _iso(int(time.time() * 1e6)), "value": float(k)}
                ]
            }
        )
        message_id, at = publish(body)
        sent_at[message_id] = at
        time.sleep(0.05)
    done.wait(30)
    latencies = [acks[m] - at for m, at in sent_at.items() if m in acks]
    alarm_latencies = _alarm_latencies(site, stored, server_port, publish, 10 if smoke else 50)
    client.disconnect()
    client.loop_stop()
    return {
        "mqtt_readings_per_s": round(mqtt_rate),
        "http_readings_per_s_same_batches": round(http_rate),
        "readings_per_message": per_message,
        "publish_to_stored_p50_s": round(_percentile(latencies, 0.5), 4),
        "publish_to_stored_p99_s": round(_percentile(latencies, 0.99), 4),
        "acks": len(latencies),
        "publish_to_alarm_row_p50_s": round(_percentile(alarm_latencies, 0.5), 4),
        "publish_to_alarm_row_p99_s": round(_percentile(alarm_latencies, 0.99), 4),
        "alarms_raised": len(alarm_latencies),
        "errors": len(errors),
        "stored_rows": stored.count([site.channels["MQTT"]]),
    }


def _alarm_latencies(
    site: Site, stored: Stored, server_port: int, publish: object, count: int
) -> list[float]:
    """Seconds from publishing a reading over a rule's limit to its ``raised`` alarm event row.

    One channel and one rule per probe, so each high reading raises exactly one new alarm.
    """
    for k in range(count):
        rule = {
            "id": f"bench-mqtt-alarm-{k}",
            "channels": [f"MQTT-ALARM-{k}"],
            "levels": [
                {"name": "red", "severity": 2, "limits": [{"quantity": "value", "upper": 100.0}]}
            ],
            "persistence_count": 1,
        }
        status, answer = _post(
            f"http://127.0.0.1:{server_port}/api/v1/rules",
            orjson.dumps({"definition": rule}),
            site.user_token,
        )
        if status != 201:
            raise RuntimeError(f"rule not created: {answer}")
    latencies = []
    for k in range(count):
        before = stored.raised()
        body = orjson.dumps(
            {
                "readings": [
                    {
                        "channel": f"MQTT-ALARM-{k}",
                        "time": _iso(int(time.time() * 1e6)),
                        "value": 200.0,
                    }
                ]
            }
        )
        _, at = publish(body)  # type: ignore[operator]
        deadline = time.perf_counter() + 10
        while stored.raised() == before and time.perf_counter() < deadline:
            time.sleep(0.002)
        if stored.raised() > before:
            latencies.append(time.perf_counter() - at)
        time.sleep(0.05)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="seconds, not minutes")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    parser.add_argument("--flap-s", type=float, default=0.5, help="link flap period (s)")
    parser.add_argument(
        "--outage-s",
        type=float,
        default=None,
        help="how long the server stays unreachable (default 180 s, smoke 2 s)",
    )
    parser.add_argument(
        "--broker-down-s",
        type=float,
        default=None,
        help="how long the broker stays down under an agent sending over MQTT "
        "(default 60 s, smoke 3 s)",
    )
    parser.add_argument(
        "--backlog",
        type=int,
        default=None,
        help="readings queued during the outage (default one hour at 100/s: 360,000; smoke 20,000)",
    )
    parser.add_argument(
        "--figures-only",
        action="store_true",
        help="only the outage backfill (full one-hour backlog) and the MQTT figures: no fault "
        "scenarios (a run of a few minutes)",
    )
    parser.add_argument(
        "--datasets", default="../shared/datasets", help="unused: the benchmark generates its data"
    )
    args = parser.parse_args()
    results = run(args)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(json.dumps(results, indent=2))
    print("reference (not measured here): ThingsBoard Edge backfills at about 50 messages/s")


if __name__ == "__main__":
    main()
