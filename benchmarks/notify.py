"""Notification benchmark: a webhook receiver down a while, the notifier restarted, nothing lost.

A producer opens hazards and raises their risk band step by step (low -> medium -> high -> very
high), each change in its own transaction, as the hazard engine does: every change is one
notification (``hazard.opened`` then three ``hazard.escalated``). The platform's notifier
(background thread, durable rows in a temporary SQLite database) sends them, signed, to a real
HTTP receiver that checks each signature and records what it got. The run has three phases:

1. healthy: the receiver is up (latency from the change's commit to its receipt);
2. outage: the receiver is down (connections refused) for ``--outage-s`` seconds while the
   producer keeps going; half-way the platform is closed and a new one started on the same
   database (a restart of the process's notifier);
3. recovery: the receiver is back; the run waits until every event has arrived.

It prints deliveries, retries, duplicates, lost events, order violations per hazard, bad
signatures and latency percentiles, beside a **baseline in the same run**: the naive sender that
POSTs each event once at commit time (no durable row, no retry) to a second receiver that is down
during the same outage.

The database is a temporary SQLite file unless ``--database-url`` names one (a deployment's
``INFRASIGHT_DATABASE_URL`` is ignored). No dataset is needed (``--datasets`` is accepted for
the common interface and unused).

Usage: python benchmarks/notify.py [--smoke] [--hazards 60] [--outage-s 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from infrasight.core.settings import Settings
from infrasight.notify.signing import SignatureError, verify
from infrasight.platform import Platform
from infrasight.services.accounts import ensure_organization
from infrasight.services.notify.senders import webhook_body
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import (
    Asset,
    Element,
    Hazard,
    HazardTransitionRecord,
    NotificationDelivery,
    NotificationSubscription,
)

BANDS = ("low", "medium", "high", "very high")
SECRET = "whsec_benchmark_secret_0123456789abcdef"


@dataclass
class Receiver:
    """A webhook receiver that can go down and come back on the same port."""

    secret: str
    verify_signatures: bool = True
    got: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    bad_signatures: int = 0
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server: ThreadingHTTPServer | None = None
        self.up()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.time()
                headers: Message = self.headers
                ok = True
                if receiver.verify_signatures:
                    try:
                        verify(
                            headers.get("X-InfraSight-Signature", ""),
                            body,
                            receiver.secret,
                            now=now,
                        )
                    except SignatureError:
                        ok = False
                with receiver.lock:
                    if ok:
                        receiver.got.append((now, json.loads(body)))
                    else:
                        receiver.bad_signatures += 1
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        return Handler

    def up(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def _settings(data_dir: Path, database_url: str, backoff_max_s: float) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        worker_threads=1,
        web=False,
        notify_backoff_s=0.5,
        notify_backoff_max_s=backoff_max_s,
        notify_max_attempts=100,
        notify_poll_s=0.2,
        notify_timeout_s=2.0,
    )


def _setup(platform: Platform, url: str) -> tuple[int, int, int]:
    with platform.database.transaction() as s:
        org, _ = ensure_organization(s, "Bench Org")
        asset = Asset(organization_id=org.id, name="Bench viaduct", kind="bridge")
        s.add(asset)
        s.flush()
        element = Element(asset_id=asset.id, name="Pier 1", kind="pier")
        s.add(element)
        s.flush()
        s.add(
            NotificationSubscription(
                organization_id=org.id,
                name="bench",
                channel="webhook",
                target=url,
                secret=SECRET,
                created_by="bench",
            )
        )
        return org.id, asset.id, element.id


@dataclass
class Change:
    """One committed change and when it was committed."""

    hazard: int
    band: str
    committed: float
    document: bytes


def _open(platform: Platform, org: int, asset: int, element: int) -> tuple[int, float]:
    with platform.database.transaction() as s:
        hz = Hazard(
            organization_id=org,
            asset_id=asset,
            element_id=element,
            mechanism="settlement",
            hazard_kind="structural",
            status="open",
            confidence=0.7,
            likelihood=2,
            consequence=2,
            risk=4,
            risk_band="low",
            causes=[],
            prediction={},
        )
        s.add(hz)
        s.flush()
        s.add(
            HazardTransitionRecord(hazard_id=hz.id, from_status="", action="open", to_status="open")
        )
        hazard_id = int(hz.id)
    return hazard_id, time.time()


def _raise(platform: Platform, hazard_id: int, band: str) -> float:
    with platform.database.transaction() as s:
        hz = s.get_one(Hazard, hazard_id)
        hz.risk_band = band
    return time.time()


def _naive_post(url: str, change: Change) -> bool:
    """The baseline: one POST at commit time, no durable row, no retry."""
    request = urllib.request.Request(
        url, data=change.document, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2.0) as answer:
            return 200 <= answer.status < 300
    except (urllib.error.URLError, OSError):
        return False


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    receiver = Receiver(SECRET)
    baseline = Receiver(SECRET, verify_signatures=False)
    settings = _settings(tmp, args.database_url, args.backoff_max_s)
    upgrade(settings)
    platform = Platform.create(settings)
    org, asset, element = _setup(platform, receiver.url)
    platform.notifier.start()
    changes: list[Change] = []
    naive_ok = 0

    def change(hazard_id: int, band: str, committed: float) -> None:
        nonlocal naive_ok
        doc = webhook_body({"subject": {"type": "hazard", "id": hazard_id}, "band": band})
        c = Change(hazard=hazard_id, band=band, committed=committed, document=doc)
        changes.append(c)
        naive_ok += _naive_post(baseline.url, c)

    # the schedule: hazards start at random times over the run, each raises its band 3 times
    total_s = args.healthy_s + args.outage_s
    starts = np.sort(rng.uniform(0.0, total_s, args.hazards))
    steps: list[tuple[float, int, int]] = []  # (time, hazard index, band index)
    for i, start in enumerate(starts):
        gaps = np.cumsum(rng.exponential(args.step_s, 3))
        steps.append((float(start), i, 0))
        steps += [(float(start + g), i, b + 1) for b, g in enumerate(gaps)]
    steps.sort()
    ids: dict[int, int] = {}
    t0 = time.monotonic()
    outage_start, restart_at = args.healthy_s, args.healthy_s + args.outage_s / 2
    phase = "healthy"
    restarted = False
    outage_wall = back = float("inf")
    for when, index, band in steps:
        wait = when - (time.monotonic() - t0)
        if wait > 0:
            time.sleep(wait)
        elapsed = time.monotonic() - t0
        if phase == "healthy" and elapsed >= outage_start:
            outage_wall = time.time()
            receiver.down()
            baseline.down()
            phase = "outage"
        if phase == "outage" and not restarted and elapsed >= restart_at:
            platform.close()  # the notifier stops; the rows stay
            platform = Platform.create(settings)
            platform.notifier.start()
            restarted = True
        if phase == "outage" and elapsed >= outage_start + args.outage_s:
            receiver.up()
            baseline.up()
            back = time.time()
            phase = "recovery"
        if band == 0:
            hazard_id, committed = _open(platform, org, asset, element)
            ids[index] = hazard_id
        else:
            hazard_id = ids[index]
            committed = _raise(platform, hazard_id, BANDS[band])
        change(hazard_id, BANDS[band], committed)
    remaining = outage_start + args.outage_s - (time.monotonic() - t0)
    if phase != "recovery":
        if remaining > 0:
            time.sleep(remaining)
        outage_wall = min(outage_wall, time.time() - max(remaining, 0.0))
        if not restarted:
            platform.close()
            platform = Platform.create(settings)
            platform.notifier.start()
        receiver.up()
        baseline.up()
        back = time.time()
    deadline = time.monotonic() + args.drain_timeout_s
    while time.monotonic() < deadline:
        with receiver.lock:
            if len(receiver.got) >= len(changes):
                break
        time.sleep(0.05)
    time.sleep(0.5)  # anything sent twice would arrive now
    with platform.database.session() as s:
        attempts = int(s.scalar(select(func.sum(NotificationDelivery.attempts))) or 0)
        dead = int(s.scalar(select(func.count()).where(NotificationDelivery.status == "dead")) or 0)
    platform.close()
    receiver.down()
    baseline.down()
    return _figures(args, changes, receiver, attempts, dead, outage_wall, back, naive_ok)


def _figures(
    args: argparse.Namespace,
    changes: list[Change],
    receiver: Receiver,
    attempts: int,
    dead: int,
    outage_wall: float,
    back: float,
    naive_ok: int,
) -> dict[str, Any]:
    committed = {(c.hazard, c.band): c.committed for c in changes}
    seen: dict[tuple[int, str], int] = {}
    order: dict[int, list[str]] = {}
    latency_healthy: list[float] = []
    latency_all: list[float] = []
    for received_at, doc in receiver.got:
        hazard = int(doc["subject"]["id"])
        band = str(doc["data"]["risk_band"])
        key = (hazard, band)
        seen[key] = seen.get(key, 0) + 1
        order.setdefault(hazard, []).append(band)
        if key in committed:
            lat = received_at - committed[key]
            latency_all.append(lat)
            if committed[key] < outage_wall:
                latency_healthy.append(lat)
    backlog = [
        received_at
        for received_at, doc in receiver.got
        if outage_wall
        <= committed.get((int(doc["subject"]["id"]), str(doc["data"]["risk_band"])), back)
        < back
    ]
    lost = sum(1 for key in committed if key not in seen)
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    out_of_order = sum(1 for bands in order.values() if bands != list(BANDS[: len(bands)]))
    delivered = len(seen)

    def pct(values: list[float], q: float) -> float | None:
        return round(float(np.percentile(values, q)) * 1000, 1) if values else None

    return {
        "events": len(changes),
        "hazards": args.hazards,
        "outage_s": args.outage_s,
        "durable": {
            "delivered": delivered,
            "lost": lost,
            "duplicates": duplicates,
            "out_of_order_hazards": out_of_order,
            "bad_signatures": receiver.bad_signatures,
            "attempts": attempts,
            "retries": attempts - delivered - duplicates,
            "dead": dead,
            "latency_healthy_p50_ms": pct(latency_healthy, 50),
            "latency_healthy_p95_ms": pct(latency_healthy, 95),
            "latency_all_p95_s": round((pct(latency_all, 95) or 0) / 1000, 2),
            "backlog": len(backlog),
            "backlog_drained_after_recovery_s": round(max(backlog, default=back) - back, 2),
        },
        "baseline_naive_post": {"delivered": naive_ok, "lost": len(changes) - naive_ok},
    }


def _print(fig: dict[str, Any]) -> None:
    d, b = fig["durable"], fig["baseline_naive_post"]
    print(
        f"notify benchmark: {fig['events']} events on {fig['hazards']} hazards, "
        f"receiver down {fig['outage_s']:g} s, notifier restarted mid-outage"
    )
    rows = [
        ("", "durable notifier", "naive POST (baseline)"),
        ("delivered", d["delivered"], b["delivered"]),
        ("lost", d["lost"], b["lost"]),
        ("duplicates", d["duplicates"], "-"),
        ("hazards out of order", d["out_of_order_hazards"], "-"),
        ("bad signatures", d["bad_signatures"], "unsigned"),
        ("attempts (retries)", f"{d['attempts']} ({d['retries']})", "-"),
        (
            "latency p50 / p95, healthy",
            f"{d['latency_healthy_p50_ms']} / {d['latency_healthy_p95_ms']} ms",
            "-",
        ),
        ("latency p95, all events", f"{d['latency_all_p95_s']} s", "-"),
        (
            f"backlog of {d['backlog']} drained in",
            f"{d['backlog_drained_after_recovery_s']} s",
            "-",
        ),
    ]
    for name, durable, naive in rows:
        print(f"{name:28}{durable!s:>20}{naive!s:>24}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--smoke", action="store_true", help="a few seconds: 10 hazards, 2 s outage"
    )
    parser.add_argument("--hazards", type=int, default=60)
    parser.add_argument("--healthy-s", type=float, default=30.0, help="receiver up first, s")
    parser.add_argument("--outage-s", type=float, default=300.0, help="receiver down, s")
    parser.add_argument(
        "--step-s", type=float, default=20.0, help="mean time between band rises, s"
    )
    parser.add_argument("--backoff-max-s", type=float, default=30.0, help="longest retry wait, s")
    parser.add_argument("--drain-timeout-s", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--datasets", default="../shared/datasets", help="unused (no data needed)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.hazards, args.healthy_s, args.outage_s, args.step_s = 10, 1.5, 2.0, 0.5
        args.backoff_max_s, args.drain_timeout_s = 2.0, 30.0
    figures = run(args)
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        _print(figures)


if __name__ == "__main__":
    main()
