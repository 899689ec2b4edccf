"""Load test on loopback: many devices posting a reading each second while users read dashboards.

Starts the real API (uvicorn, as ``infrasight serve`` runs it) on a fresh SQLite
database with N devices, each bound to one channel. Then, for the duration:

* every device posts one reading per second (JSON, its own token; start times spread over the
  first second, one keep-alive connection per device);
* every user loads a dashboard once per second: a channel's readings of the last hour
  downsampled to 500 points, the open alarms and the asset list (one after the other);
* a probe asks ``/healthz`` ten times per second: the baseline, the cost of the HTTP stack
  alone under the same load (also measured on the idle server before the load).

Prints p50 / p99 latency (ms) per kind of request, request counts and errors (non-2xx answers,
failed connections and answers slower than 10 s; the target is 0), the readings stored against
those acknowledged, the server's CPU time per request, the load generator's own CPU time per
request and the machine's load average. The load generator is raw asyncio keep-alive HTTP/1.1
connections (one per device and per user) on uvloop when installed: about 0.2 ms of CPU per
request, so that it leaves the cores to the server. Where the server's CPU goes:
``docs/performance.md``. The load runs twice, each on a fresh database: first with
every request's batch committed alone (``INFRASIGHT_GROUP_COMMIT_MAX=1``, as before group
commit), then as shipped (concurrent batches share a transaction); ``--only-after`` skips the
first. The exit status is 1 when the second run has errors.

Usage: python benchmarks/load.py [--devices 1000] [--users 20] [--seconds 60] [--smoke]
       [--only-after] [--workers 1] [--json]

``--workers N`` serves with N API processes on one port and one SQLite file, as
``infrasight serve --workers N`` does (the API only: ``INFRASIGHT_WEB=false``); the server's
CPU is then that of all of them.

Needs only the base install. A deployment's ``INFRASIGHT_DATABASE_URL`` is ignored: the
benchmark makes its own database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.accounts import create_user, ensure_organization
from infrasight.services.auth import new_device_token
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import Asset, Channel, Device, Element

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import _free_port, _serve


class HttpError(OSError):
    """The server closed the connection or answered something that is not HTTP/1.1."""


class Connection:
    """One keep-alive HTTP/1.1 connection on raw asyncio streams: the cheapest client.

    A field unit keeps one connection open and sends its reading on it each second; this does
    the same with a few bytes of parsing per answer (no client library), so that the load
    generator, which shares the machine's cores with the server, costs little. A failed or
    timed-out request closes the connection; the next one opens a new one.
    """

    def __init__(self, base: str, timeout_s: float = 10.0) -> None:
        parts = urlsplit(base)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout_s = timeout_s
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        params: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send one request; its status and body. Raises OSError or TimeoutError."""
        target = path + (f"?{urlencode(params)}" if params else "")
        head = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}")
        wire = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        try:
            return await asyncio.wait_for(self._exchange(wire), self.timeout_s)
        except (OSError, TimeoutError) as err:
            self.close()
            raise err
        except (EOFError, ValueError, asyncio.LimitOverrunError) as err:
            self.close()
            raise HttpError(f"not an HTTP/1.1 answer ({err!r})") from err

    async def _exchange(self, wire: bytes) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(wire)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip().lower()
        if fields.get("transfer-encoding") == "chunked":
            chunks = []
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                chunks.append(await reader.readexactly(size + 2))
            await reader.readuntil(b"\r\n")
            payload = b"".join(c[:-2] for c in chunks)
        else:
            payload = await reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection") == "close":
            self.close()
        return status, payload

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Fleet:
    """What the load needs: device tokens and channel keys, a user token, channel ids."""

    device_tokens: list[str]
    channel_keys: list[str]
    channel_ids: list[int]
    user_token: str


@dataclass
class Tally:
    """Latencies (ms) and errors of one kind of request."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, began: float, ok: bool, what: str = "") -> None:
        self.latencies_ms.append((time.perf_counter() - began) * 1000)
        if not ok:
            self.errors += 1
            if len(self.examples) < 3:
                self.examples.append(what)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return {"requests": 0, "errors": self.errors}
        return {
            "requests": len(ordered),
            "errors": self.errors,
            "p50_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
            "max_ms": round(ordered[-1], 2),
            **({"error_examples": self.examples} if self.examples else {}),
        }


def prepare(settings: Settings, devices: int) -> Fleet:
    """Schema, one organisation with an asset, ``devices`` devices with a channel each."""
    upgrade(settings)
    platform = Platform.create(settings, workers=0)
    tokens: list[str] = []
    with platform.database.transaction() as session:
        org, _ = ensure_organization(session, "Load")
        _, user_token = create_user(session, org, "load@load.example", Role.VIEWER)
        asset = Asset(organization_id=org.id, name="Load viaduct", kind="bridge")
        session.add(asset)
        session.flush()
        element = Element(asset_id=asset.id, name="Deck", kind="span")
        session.add(element)
        session.flush()
        rows = []
        for i in range(devices):
            token, digest = new_device_token()
            tokens.append(token)
            rows.append(
                Device(
                    organization_id=org.id,
                    asset_id=asset.id,
                    name=f"DL-{i:04d}",
                    kind="datalogger",
                    token_hash=digest,
                )
            )
        session.add_all(rows)
        session.flush()
        channels = [
            Channel(
                organization_id=org.id,
                key=f"LOAD-{i:04d}",
                quantity="strain",
                unit="µε",
                element_id=element.id,
                device_id=device.id,
            )
            for i, device in enumerate(rows)
        ]
        session.add_all(channels)
        session.flush()
        keys = [c.key for c in channels]
        ids = [c.id for c in channels]
    platform.close()
    return Fleet(device_tokens=tokens, channel_keys=keys, channel_ids=ids, user_token=user_token)


async def _device(
    base: str, token: str, key: str, until: float, tally: Tally, rng: random.Random
) -> int:
    """Post one reading per second on one keep-alive connection until ``until``; returns the
    readings acknowledged.

    A device behind its schedule (slow answers) sends its next reading at once, but stops at
    ``until`` like the others: an overloaded server shows as fewer requests than offered, not
    as a run that never ends.
    """
    connection = Connection(base)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    await asyncio.sleep(rng.random())  # devices spread over the second
    acknowledged = 0
    tick = time.perf_counter()
    try:
        while tick < until and time.perf_counter() < until:
            stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            body = json.dumps(
                {"readings": [{"channel": key, "time": stamp, "value": 100 + rng.random()}]}
            ).encode()
            began = time.perf_counter()
            try:
                status, payload = await connection.request(
                    "POST", "/api/v1/ingest/readings", headers=headers, body=body
                )
                ok = status == 200
                tally.add(began, ok, f"{status} {payload[:120]!r}")
                acknowledged += json.loads(payload)["accepted"] if ok else 0
            except (OSError, TimeoutError) as err:
                tally.add(began, False, repr(err))
            tick += 1.0
            await asyncio.sleep(max(0.0, tick - time.perf_counter()))
    finally:
        connection.close()
    return acknowledged


async def _user(
    base: str,
    token: str,
    channel_ids: list[int],
    until: float,
    tallies: dict[str, Tally],
    rng: random.Random,
) -> None:
    """Load a dashboard (readings, alarms, assets) once per second until ``until``."""
    connection = Connection(base)
    headers = {"Authorization": f"Bearer {token}"}
    await asyncio.sleep(rng.random())
    tick = time.perf_counter()
    try:
        while tick < until and time.perf_counter() < until:
            now = datetime.now(UTC)
            channel = rng.choice(channel_ids)
            requests = [
                (
                    "dashboard: channel readings",
                    f"/api/v1/channels/{channel}/readings",
                    {
                        "start": (now - timedelta(hours=1)).isoformat(),
                        "end": now.isoformat(),
                        "max_points": "500",
                    },
                ),
                ("dashboard: alarms", "/api/v1/alarms", {"limit": "100"}),
                ("dashboard: assets", "/api/v1/assets", {}),
            ]
            for name, path, params in requests:
                began = time.perf_counter()
                try:
                    status, payload = await connection.request(
                        "GET", path, headers=headers, params=params
                    )
                    tallies[name].add(began, status == 200, f"{status} {payload[:120]!r}")
                except (OSError, TimeoutError) as err:
                    tallies[name].add(began, False, repr(err))
            tick += 1.0
            await asyncio.sleep(max(0.0, tick - time.perf_counter()))
    finally:
        connection.close()


async def _probe(base: str, until: float, tally: Tally) -> None:
    """``/healthz`` ten times per second: the HTTP stack's own latency."""
    connection = Connection(base)
    try:
        while time.perf_counter() < until:
            began = time.perf_counter()
            try:
                status, _ = await connection.request("GET", "/healthz")
                tally.add(began, status == 200, str(status))
            except (OSError, TimeoutError) as err:
                tally.add(began, False, repr(err))
            await asyncio.sleep(0.1)
    finally:
        connection.close()


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the API processes under uvicorn's supervisor)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return tree


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system, s) the process and its live descendants have used so far
    (Linux ``/proc``)."""
    total = 0.0
    for member in _process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _own_cpu_seconds() -> float:
    """CPU time (user + system, s) this process (the load generator) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _stored(base: str, token: str, channel_ids: list[int]) -> int | None:
    """Readings the server holds for ``channel_ids``; None when it cannot answer in time."""
    connection = Connection(base, timeout_s=30)
    headers = {"Authorization": f"Bearer {token}"}
    stored = 0
    try:
        for channel in channel_ids:
            status, payload = await connection.request(
                "GET",
                f"/api/v1/channels/{channel}/readings",
                headers=headers,
                params={"max_points": "1"},
            )
            if status != 200:
                return None
            stored += sum(int(p["count"]) for p in json.loads(payload)["points"])
    except (OSError, TimeoutError, KeyError):
        return None  # the server is still overloaded: not counted
    finally:
        connection.close()
    return stored


async def run_load(
    base: str, fleet: Fleet, users: int, seconds: float, server_pid: int
) -> dict[str, Any]:
    """Idle baseline, then the load; the figures as a dict."""
    rng = random.Random(0)
    idle = Tally()
    connection = Connection(base)
    for _ in range(200):
        began = time.perf_counter()
        status, _ = await connection.request("GET", "/healthz")
        idle.add(began, status == 200)
    connection.close()
    tallies = {
        name: Tally()
        for name in (
            "device: post a reading",
            "dashboard: channel readings",
            "dashboard: alarms",
            "dashboard: assets",
            "baseline: /healthz under load",
        )
    }
    began = time.perf_counter()
    cpu_began, own_cpu_began = _cpu_seconds(server_pid), _own_cpu_seconds()
    until = began + seconds
    # One connection per device (as separate field units have) and per user.
    device_tasks: list[Coroutine[Any, Any, int | None]] = [
        _device(base, token, key, until, tallies["device: post a reading"], rng)
        for token, key in zip(fleet.device_tokens, fleet.channel_keys, strict=True)
    ]
    other_tasks: list[Coroutine[Any, Any, int | None]] = [
        _user(base, fleet.user_token, fleet.channel_ids, until, tallies, rng) for _ in range(users)
    ]
    other_tasks.append(_probe(base, until, tallies["baseline: /healthz under load"]))
    results = await asyncio.gather(*device_tasks, *other_tasks)
    elapsed = time.perf_counter() - began
    server_cpu_s = _cpu_seconds(server_pid) - cpu_began
    client_cpu_s = _own_cpu_seconds() - own_cpu_began
    acknowledged = sum(r for r in results[: len(device_tasks)] if isinstance(r, int))
    stored = await _stored(base, fleet.user_token, fleet.channel_ids)
    errors = sum(t.errors for t in tallies.values())
    posted = len(tallies["device: post a reading"].latencies_ms)
    answered = sum(len(t.latencies_ms) for t in tallies.values())
    return {
        "devices": len(fleet.device_tokens),
        "users": users,
        "seconds": round(elapsed, 1),
        "device_requests_per_s": round(posted / elapsed, 1),
        "readings_acknowledged": acknowledged,
        "readings_stored": stored,
        "errors": errors,
        "server_cpu_s": round(server_cpu_s, 1),
        "server_cpu_ms_per_request": round(1000 * server_cpu_s / max(answered, 1), 2),
        "client_cpu_s": round(client_cpu_s, 1),
        "client_cpu_ms_per_request": round(1000 * client_cpu_s / max(answered, 1), 2),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "idle_baseline_healthz": idle.summary(),
        **{name: tally.summary() for name, tally in tallies.items()},
    }


def _raise_open_files_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


RUNS = {
    "before: one commit per batch": {"INFRASIGHT_GROUP_COMMIT_MAX": "1"},
    "after: group commit": {},
}
"""The same load on the server as it was (each request's batch committed alone) and as it is."""


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when installed (it comes with uvicorn's standard extra): a cheaper
    client; else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _one_run(args: argparse.Namespace, extra_env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        fleet = prepare(settings, args.devices)
        port = _free_port()
        env = dict(extra_env)
        if args.workers > 1:  # `infrasight serve --workers N` serves the API only
            env["INFRASIGHT_WEB"] = "false"
        server: subprocess.Popen[bytes] = _serve(settings, port, env, workers=args.workers)
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                return runner.run(
                    run_load(
                        f"http://127.0.0.1:{port}", fleet, args.users, args.seconds, server.pid
                    )
                )
        finally:
            server.terminate()
            server.wait(10)


def _print(label: str, report: dict[str, Any]) -> None:
    print(f"{label}:")
    print(f"  {'request':34s}{'count':>8s}{'errors':>8s}{'p50 ms':>10s}{'p99 ms':>10s}")
    rows = ["idle_baseline_healthz", "baseline: /healthz under load", "device: post a reading"]
    rows += ["dashboard: channel readings", "dashboard: alarms", "dashboard: assets"]
    for name in rows:
        s = report[name]
        row_label = "baseline: /healthz, idle" if name == "idle_baseline_healthz" else name
        p50 = f"{s['p50_ms']:10.1f}" if "p50_ms" in s else f"{'-':>10s}"
        p99 = f"{s['p99_ms']:10.1f}" if "p99_ms" in s else f"{'-':>10s}"
        print(f"  {row_label:34s}{s['requests']:>8d}{s['errors']:>8d}{p50}{p99}")
        for example in s.get("error_examples", []):
            print(f"      e.g. {example}")
    print(
        f"  device requests/s {report['device_requests_per_s']} "
        f"(offered {report['devices']}); readings acknowledged "
        f"{report['readings_acknowledged']}, stored {report['readings_stored']}; "
        f"errors {report['errors']}"
    )
    print(
        f"  server CPU {report['server_cpu_s']} s, {report['server_cpu_ms_per_request']} ms a "
        f"request; load generator CPU {report['client_cpu_s']} s, "
        f"{report['client_cpu_ms_per_request']} ms a request; load average (1 min) at the end "
        f"{report['load_average_1min']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes on the port (as `infrasight serve --workers N`; the API only)",
    )
    parser.add_argument("--smoke", action="store_true", help="50 devices, 3 users, 5 s")
    parser.add_argument(
        "--only-after", action="store_true", help="skip the run without group commit"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.smoke:
        args.devices, args.users, args.seconds = 50, 3, 5.0
    os.environ.pop("INFRASIGHT_DATABASE_URL", None)
    _raise_open_files_limit(2 * args.devices + 256)  # client and server (which inherits it)
    runs = {k: v for k, v in RUNS.items() if not args.only_after or k.startswith("after")}
    reports = {label: _one_run(args, env) for label, env in runs.items()}
    after = reports["after: group commit"]
    if args.json:
        print(json.dumps(reports, indent=2))
        return 0 if after["errors"] == 0 else 1
    print(
        f"load: {args.devices} devices x 1 reading/s, {args.users} dashboard users, "
        f"{args.seconds:g} s on loopback ({args.workers} API process"
        f"{'es' if args.workers > 1 else ''}, SQLite, {os.cpu_count()} CPUs)"
    )
    for label, report in reports.items():
        _print(label, report)
    return 0 if after["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
