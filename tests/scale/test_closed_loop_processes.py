"""The closed loop end to end on a scaled-out deployment: two API processes (``infrasight serve``
on two ports), two Celery workers and one scheduler, on PostgreSQL, Redis and an S3 server.

Every request alternates between the two API processes, so no step can lean on state that only
one process holds: readings ingested -> the workers apply their effects -> an alarm -> a hazard ->
a work order carried out by a crew (photo in S3) -> the repair verified from the readings after
it -> closed and resolved; a capture analysed by a worker from its S3 blob; and every
notification delivered exactly once although both API processes run a notifier.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select, text, update

from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.storage.models import User, WorkOrderEvent
from infrasight.synthetic import render_crack_scene
from infrasight.synthetic.scenarios import generate_scenario
from tests.conftest import POSTGRES_URL, Tenant, _truncate_postgres, make_tenant
from tests.notify.receiver import WebhookReceiver
from tests.servers import free_port

API = "/api/v1"
NOW = datetime.now(UTC).replace(microsecond=0)
KINDS = ["alarm.raised", "hazard.opened", "work_order.assigned", "work_order.verified"]


@pytest.fixture
def deployment_settings(
    tmp_path: Path, redis_url: str, s3_url: str, request: pytest.FixtureRequest
) -> Settings:
    """PostgreSQL + Redis + S3 settings shared by every process of the deployment."""
    if not POSTGRES_URL:
        pytest.skip("INFRASIGHT_TEST_POSTGRES_URL is not set")
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    url = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return Settings(
        data_dir=data_dir,
        database_url=url,
        worker_threads=0,
        blob_backend="s3",
        s3_endpoint_url=s3_url,
        s3_bucket="infrasight-test",
        s3_prefix=f"{uuid.uuid4().hex[:12]}/",
        s3_access_key="infrasight",
        s3_secret_key="infrasight",
        job_engine="celery",
        broker_url=redis_url,
        job_lease_s=30.0,
        sweep_interval_s=1.0,
        anomaly_scoring=False,
        notify_poll_s=0.2,
    )


def process_env(settings: Settings) -> dict[str, str]:
    """The environment of every process: the same settings everywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFRASIGHT_")}
    env.update(
        INFRASIGHT_DATA_DIR=str(settings.data_dir),
        INFRASIGHT_DATABASE_URL=settings.database_url,
        INFRASIGHT_BLOB_BACKEND=settings.blob_backend,
        INFRASIGHT_S3_ENDPOINT_URL=settings.s3_endpoint_url,
        INFRASIGHT_S3_BUCKET=settings.s3_bucket,
        INFRASIGHT_S3_PREFIX=settings.s3_prefix,
        INFRASIGHT_S3_ACCESS_KEY=settings.s3_access_key,
        INFRASIGHT_S3_SECRET_KEY=settings.s3_secret_key,
        INFRASIGHT_JOB_ENGINE=settings.job_engine,
        INFRASIGHT_BROKER_URL=settings.broker_url,
        INFRASIGHT_JOB_LEASE_S=str(settings.job_lease_s),
        INFRASIGHT_SWEEP_INTERVAL_S=str(settings.sweep_interval_s),
        INFRASIGHT_ANOMALY_SCORING=str(settings.anomaly_scoring).lower(),
        INFRASIGHT_NOTIFY_POLL_S=str(settings.notify_poll_s),
        INFRASIGHT_WEB="false",
        INFRASIGHT_WEB_SECRET="the-same-on-every-process",
    )
    return env


@dataclass
class Processes:
    """``infrasight`` processes in their own process groups, stopped at the end."""

    env: dict[str, str]
    folder: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.folder / f"proc-{len(self.started)}-{args[0]}.log").open("wb")
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("infrasight")), *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def serve(self) -> tuple[subprocess.Popen[bytes], str]:
        """An API process on a port of its own, once it answers."""
        port = free_port()
        process = self.start("serve", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _healthy(base, process), 120, f"the API process on {port}")
        return process, base

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.folder.glob("proc-*.log"))
        )

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _healthy(base: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"the API process exited with {process.returncode}")
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


class Alternating:
    """An HTTP client whose requests take turns between the API processes."""

    def __init__(self, bases: list[str]) -> None:
        self.clients = [httpx.Client(base_url=b + API, timeout=120) for b in bases]
        self.served = Counter[int]()
        self._next = 0

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        index = self._next % len(self.clients)
        self._next += 1
        response = self.clients[index].request(method, url, **kwargs)
        if response.status_code < 500:
            self.served[index] += 1  # answered by that process
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture
def deployment(
    deployment_settings: Settings, tmp_path: Path
) -> Iterator[tuple[Platform, Alternating, Processes]]:
    """Two API processes, two workers and one scheduler; a platform for the test's own reads."""
    processes = Processes(process_env(deployment_settings), tmp_path)
    direct = Platform.create(deployment_settings.model_copy(update={"job_engine": "threads"}))
    try:
        processes.start("worker", "--concurrency", "1", "--pool", "solo")
        processes.start("worker", "--concurrency", "1", "--pool", "solo")
        processes.start("scheduler")
        bases = [processes.serve()[1], processes.serve()[1]]
        client = Alternating(bases)
        yield direct, client, processes
        client.close()
    finally:
        processes.stop()
        direct.close()


def _ok(answer: httpx.Response, code: int = 200) -> Any:
    assert answer.status_code == code, answer.text
    return answer.json()


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def _ingest(
    client: Alternating, auth: dict[str, str], series: dict[str, tuple[list[datetime], Any]]
) -> int:
    items = [
        {"channel": key, "time": t.isoformat(), "value": float(v)}
        for key, (times, values) in series.items()
        for t, v in zip(times, values, strict=True)
    ]
    items.sort(key=lambda item: str(item["time"]))  # a datalogger sends in time order
    for k in range(0, len(items), 2000):
        done = _ok(
            client.post("/ingest/readings", json={"readings": items[k : k + 2000]}, headers=auth)
        )
        assert done["accepted"] == len(items[k : k + 2000])
    return len(items)


def test_closed_loop_on_two_api_processes_and_two_workers(
    deployment: tuple[Platform, Alternating, Processes],
) -> None:
    direct, client, processes = deployment
    receiver = WebhookReceiver()
    try:
        _closed_loop(direct, client, receiver, processes)
    except BaseException:
        print(processes.logs())  # the processes' logs explain a failure
        raise
    finally:
        receiver.close()


def _closed_loop(
    direct: Platform, client: Alternating, receiver: WebhookReceiver, processes: Processes
) -> None:
    tenant: Tenant = make_tenant(direct, "Scale Rail")
    eng, crew_h = tenant.headers(Role.ENGINEER), tenant.headers(Role.CREW)
    _ok(
        client.post(
            "/notifications/subscriptions",
            json={"channel": "webhook", "target": receiver.url, "event_kinds": KINDS},
            headers=eng,
        ),
        201,
    )
    # a pier with the settlement scenario's gauges, an alarm rule on its settlement
    aid = _ok(client.post("/assets", json={"name": "B-scale", "kind": "bridge"}, headers=eng), 201)[
        "id"
    ]
    eid = _ok(
        client.post(
            f"/assets/{aid}/elements",
            json={"name": "Pier 2", "kind": "pier", "material": "reinforced concrete"},
            headers=eng,
        ),
        201,
    )["id"]
    dev = _ok(
        client.post(
            "/devices",
            json={"name": "DL-scale", "kind": "datalogger", "asset_id": aid},
            headers=eng,
        ),
        201,
    )
    auth = {"Authorization": f"Bearer {dev['token']}"}
    obs = generate_scenario("settlement", 7).observations
    quantities = {"CRK-1": "crack_width", "CRK-2": "crack_width", "SET-P2": "settlement"}
    values = {c.key: np.asarray(c.values) for c in obs.channels if c.key in quantities}
    values["TEMP"] = np.asarray(obs.drivers["temperature"])
    quantities["TEMP"] = "temperature"
    for key, quantity in quantities.items():
        _ok(
            client.post(
                "/channels",
                json={
                    "key": f"S-{key}",
                    "quantity": quantity,
                    "unit": "degC" if quantity == "temperature" else "mm",
                    "element_id": eid,
                    "device_id": dev["id"],
                },
                headers=eng,
            ),
            201,
        )
    settle = values["SET-P2"]
    limit = float(settle[0] + 0.5 * (settle.max() - settle[0]))
    rule = {
        "id": "pier-settlement",
        "channels": ["S-SET-P2"],
        "levels": [
            {"name": "over", "severity": 2, "limits": [{"quantity": "value", "upper": limit}]}
        ],
    }
    _ok(client.post("/rules", json={"definition": rule}, headers=eng), 201)
    done_at = NOW - timedelta(days=20)
    start = done_at - timedelta(hours=float(obs.times_h[-1]))
    times = [start + timedelta(hours=float(t)) for t in obs.times_h]
    sent = _ingest(client, auth, {f"S-{k}": (times, v) for k, v in values.items()})

    # the workers apply the readings' effects: an alarm, then the hazard
    wait_for(lambda: bool(client.get("/alarms", headers=eng).json()["items"]), 120, "the alarm")
    [alarm] = client.get("/alarms", headers=eng).json()["items"]
    assert alarm["key"] == "pier-settlement"

    def hazards() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = client.get(
            "/hazards", params={"asset_id": aid}, headers=eng
        ).json()
        return items

    wait_for(lambda: bool(hazards()), 120, "the hazard from the readings' effect")
    _ok(client.post(f"/assets/{aid}/hazards/update", headers=eng))  # changes nothing now
    [hazard] = hazards()
    hid = hazard["id"]
    assert client.get(f"/hazards/{hid}", headers=eng).json()["mechanism"] == "settlement"

    # a capture analysed by a worker from its blob in S3
    scene = render_crack_scene(
        width=320, height=240, seed=5, n_cracks=1, width_range_px=(3.0, 6.0), mm_per_px=0.1
    )
    capture = _ok(
        client.post(
            "/captures",
            files={"file": ("wall.png", _png(scene.image))},
            data={"asset_id": str(aid), "element_id": str(eid), "mm_per_px": "0.1"},
            headers=tenant.headers(Role.INSPECTOR),
        ),
        201,
    )

    def analysed() -> bool:
        jobs = client.get("/jobs", headers=eng).json()["items"]
        return bool(jobs) and all(j["status"] == "succeeded" for j in jobs)

    wait_for(analysed, 180, "the capture's analysis on a worker")
    assert _ok(client.get(f"/captures/{capture['id']}/analyses", headers=eng))

    # the work order: recommendation -> assigned -> in progress -> photo (S3) -> completed
    top = _ok(client.get(f"/hazards/{hid}/recommendations", headers=eng))["recommendations"][0]
    wid = _ok(client.post("/work-orders", json={"hazard_id": hid}, headers=eng), 201)["id"]
    with direct.database.session() as s:
        crew_id = int(s.scalars(select(User.id).where(User.email.like("crew@%"))).one())
    _ok(client.patch(f"/work-orders/{wid}", json={"assignee_id": crew_id}, headers=eng))
    move = f"/work-orders/{wid}/transitions"
    _ok(client.post(move, json={"to": "assigned"}, headers=eng))
    _ok(client.post(move, json={"to": "in_progress"}, headers=crew_h))
    photo = _png(np.full((32, 32, 3), 128, np.uint8))
    attached = client.post(
        f"/work-orders/{wid}/attachments", files={"file": ("repair.png", photo)}, headers=crew_h
    )
    attachment = _ok(attached, 201)["id"]
    _ok(client.post(move, json={"to": "completed", "note": "jacked"}, headers=crew_h))
    with direct.database.transaction() as s:  # the crew finished 20 days ago
        s.execute(
            update(WorkOrderEvent)
            .where(WorkOrderEvent.work_order_id == wid, WorkOrderEvent.to_status == "completed")
            .values(at=done_at)
        )
    # the photo is read back from S3 by either process
    for _ in range(2):
        got = client.get(f"/work-orders/{wid}/attachments/{attachment}", headers=crew_h)
        assert got.status_code == 200 and got.content == photo

    # readings after the repair: settled; the verification closes and resolves
    rng = np.random.default_rng(3)
    hours = np.arange(19 * 24, dtype=np.float64)
    after = [done_at + timedelta(hours=float(x) + 1) for x in hours]
    level = {k: float(np.median(v[-24:])) for k, v in values.items()}
    level["SET-P2"] = float(settle[0])  # jacked back below the alarm's limit
    series = {f"S-{k}": (after, level[k] + 0.005 * rng.standard_normal(hours.size)) for k in values}
    sent += _ingest(client, auth, series)
    verification = _ok(client.post(f"/work-orders/{wid}/verify", json={}, headers=eng))
    assert verification["method"] == "readings" and top["action"]
    failed = [e for e in verification["evidence"] if e["outcome"] != "passed"]
    assert verification["outcome"] == "passed", failed
    assert client.get(f"/work-orders/{wid}", headers=eng).json()["status"] == "closed"
    assert client.get(f"/hazards/{hid}", headers=eng).json()["status"] == "resolved"
    with direct.database.session() as s:
        stored = s.scalar(text("SELECT count(*) FROM readings"))
    assert stored == sent  # every acknowledged reading, once

    # every notification delivered exactly once, though both API processes run a notifier
    def deliveries() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = client.get(
            "/notifications/deliveries", params={"limit": 500}, headers=tenant.headers()
        ).json()["items"]
        return items

    wait_for(
        lambda: (
            {d["status"] for d in deliveries()} == {"delivered"}
            and {r.document["kind"] for r in receiver.received} >= set(KINDS)
        ),
        120,
        "the notifications",
    )
    time.sleep(2.0)  # ten notifier polls of each process: a duplicate would have gone by now
    rows = deliveries()
    got = Counter(int(r.headers["X-InfraSight-Delivery"]) for r in receiver.received)
    assert set(got.values()) == {1}, got
    assert sorted(got) == sorted(d["id"] for d in rows)
    assert all(d["attempts"] == 1 for d in rows)
    # both processes answered a share of the loop (the count of polls varies with the speed)
    assert len(client.served) == 2 and min(client.served.values()) >= 20, client.served


def test_serve_workers_starts_api_processes_on_one_port(tmp_path: Path) -> None:
    """``infrasight serve --workers 2``: two API processes under uvicorn's supervisor, one port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFRASIGHT_")}
    env.update(INFRASIGHT_DATA_DIR=str(tmp_path), INFRASIGHT_WEB="false")
    command = str(Path(sys.executable).with_name("infrasight"))
    assert subprocess.run([command, "db", "upgrade"], env=env, capture_output=True).returncode == 0
    port = free_port()
    processes = Processes(env, tmp_path)
    supervisor = processes.start("serve", "--port", str(port), "--workers", "2")
    try:
        wait_for(lambda: _healthy(f"http://127.0.0.1:{port}", supervisor), 240, "serve --workers")
        children = Path(f"/proc/{supervisor.pid}/task/{supervisor.pid}/children").read_text()
        servers = [
            pid
            for pid in children.split()
            if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
        ]
        assert len(servers) == 2, processes.logs()
        wait_for(lambda: processes.logs().count("Application startup complete") == 2, 240, "both")
    finally:
        processes.stop()
