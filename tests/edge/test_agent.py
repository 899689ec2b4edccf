"""The agent against the real API: outages, a flapping link, rejects, folder input, clock skew."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infrasight.core.domain import Role
from infrasight.edge.agent import EdgeAgent
from infrasight.edge.config import EdgeConfig
from infrasight.edge.items import parse_items
from infrasight.edge.local_http import LocalEndpoint
from infrasight.platform import Platform
from infrasight.storage.models import Reading
from tests.conftest import Site, Tenant
from tests.edge.netfaults import TcpProxy

BASE_S = 1_714_564_800  # 2024-05-01T12:00:00Z


def _post(url: str, document: object) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url, data=orjson.dumps(document), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as response:
        answer: dict[str, object] = orjson.loads(response.read())
        return answer


def _stored(platform: Platform, channel_id: int) -> list[tuple[int, float]]:
    with platform.database.session() as session:
        rows = session.execute(
            select(Reading.ts, Reading.value)
            .where(Reading.channel_id == channel_id)
            .order_by(Reading.ts)
        ).all()
    return [(int(ts), float(value)) for ts, value in rows]


def _wait(condition: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def _config(tmp_path: Path, proxy: TcpProxy, site: Site, **overrides: object) -> EdgeConfig:
    values: dict[str, object] = {
        "server_url": f"http://127.0.0.1:{proxy.port}",
        "token": site.device_token,
        "queue_path": tmp_path / "edge" / "queue.db",
        "listen_port": 0,
        "poll_s": 0.05,
        "heartbeat_s": 0.2,
        "backoff_min_s": 0.05,
        "backoff_max_s": 0.2,
        "request_timeout_s": 5.0,
        "batch_size": 50,
    }
    values.update(overrides)
    return EdgeConfig.model_validate(values)


@pytest.fixture
def running(tmp_path: Path, link: TcpProxy, site: Site) -> Iterator[tuple[EdgeAgent, str]]:
    agent = EdgeAgent(_config(tmp_path, link, site), seed=1)
    endpoint = LocalEndpoint(agent, "127.0.0.1", 0)
    endpoint.start()
    agent.start()
    yield agent, f"http://127.0.0.1:{endpoint.port}"
    endpoint.stop()
    agent.stop()


def _produce(local: str, start: int, count: int, channel: str = "VD-SETTLE") -> None:
    readings = [
        {"channel": channel, "time": f"{BASE_S + i}", "value": float(i)}
        for i in range(start, start + count)
    ]
    for item in readings:  # ISO-8601 of the epoch second
        item["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(str(item["time"]))))
    status, answer = _post(f"{local}/readings", {"readings": readings})
    assert status == 202, answer
    assert answer["queued"] == count


def _expected(count: int) -> list[tuple[int, float]]:
    return [((BASE_S + i) * 1_000_000, float(i)) for i in range(count)]


def test_server_outage_loses_nothing_and_stores_once(
    platform: Platform, link: TcpProxy, running: tuple[EdgeAgent, str], site: Site
) -> None:
    agent, local = running
    _produce(local, 0, 100)
    _wait(lambda: agent.queue.stats().depth == 0)  # stored and acknowledged to the agent
    assert len(_stored(platform, site.settlement_channel_id)) == 100
    link.set_up(False)  # the server is unreachable while the terminal keeps producing
    for block in range(1, 6):
        _produce(local, block * 100, 100)
    _wait(lambda: agent.failures >= 2)
    assert len(_stored(platform, site.settlement_channel_id)) == 100
    assert agent.queue.stats().depth == 500
    link.set_up(True)
    _wait(lambda: agent.queue.stats().depth == 0)
    assert _stored(platform, site.settlement_channel_id) == _expected(600)


def test_flapping_link_loses_nothing(
    platform: Platform, link: TcpProxy, running: tuple[EdgeAgent, str], site: Site
) -> None:
    _agent, local = running
    for block in range(20):
        link.set_up(block % 3 != 2)
        _produce(local, block * 25, 25)
        time.sleep(0.03)
    link.set_up(True)
    _wait(lambda: len(_stored(platform, site.settlement_channel_id)) == 500)
    assert _stored(platform, site.settlement_channel_id) == _expected(500)


def test_rejected_reading_is_set_aside_and_the_rest_stored(
    platform: Platform, running: tuple[EdgeAgent, str], site: Site
) -> None:
    agent, local = running
    _produce(local, 0, 10)
    _produce(local, 10, 1, channel="NO-SUCH-CHANNEL")
    _produce(local, 11, 9)
    _wait(lambda: agent.queue.stats().depth == 0)
    stored = _stored(platform, site.settlement_channel_id)
    assert stored == [r for r in _expected(20) if r[1] != 10.0]
    assert agent.queue.stats().dead == 1


def test_local_endpoint_names_bad_fields(running: tuple[EdgeAgent, str]) -> None:
    agent, local = running
    code, answer = _post(
        f"{local}/readings", {"readings": [{"channel": "VD-SETTLE", "time": "soon", "value": 1}]}
    )
    assert code == 400
    assert answer["field"] == "readings[0].time"
    assert agent.queue.stats().depth == 0
    status = _get(f"{local}/status")
    assert status["queue_depth"] == 0
    assert status["disk_free_bytes"] > 0


def test_folder_input_and_rejected_files(
    tmp_path: Path, platform: Platform, link: TcpProxy, site: Site
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text(
        "channel,time,value,unit\nVD-SETTLE,2024-05-01T12:00:00Z,0.003,m\n"
        "VD-SETTLE,2024-05-01T12:00:01Z,4,mm\n"
    )
    (inbox / "bad.csv").write_text("VD-SETTLE,2024-05-01T12:00:02Z,oops\n")
    agent = EdgeAgent(_config(tmp_path, link, site, watch_dir=inbox, poll_s=0.01), seed=1)
    time.sleep(0.05)
    assert agent.scan_folder() == 2
    assert (inbox / "done" / "a.csv").exists()
    assert "CSV row 1" in (inbox / "rejected" / "bad.csv.error").read_text()
    assert agent.send_once() == 2
    agent.stop()
    assert _stored(platform, site.settlement_channel_id) == [
        (BASE_S * 1_000_000, 3.0),
        ((BASE_S + 1) * 1_000_000, 4.0),
    ]


def test_clock_off_by_minutes_keeps_timestamps_and_reports_the_offset(
    tmp_path: Path,
    platform: Platform,
    link: TcpProxy,
    site: Site,
    client: TestClient,
    tenant: Tenant,
) -> None:
    agent = EdgeAgent(_config(tmp_path, link, site), clock=lambda: time.time() + 180.0, seed=1)
    ts = (int(time.time()) + 170) * 1_000_000  # the terminal's "now": 3 minutes ahead
    moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts // 1_000_000))
    reading = {"channel": "VD-SETTLE", "time": moment, "value": 7.0}
    agent.queue.put(parse_items({"readings": [reading]}))
    assert agent.send_once() == 1
    agent.beat()
    agent.stop()
    assert agent.clock_offset_s == pytest.approx(180.0, abs=5.0)
    assert _stored(platform, site.settlement_channel_id) == [(ts, 7.0)]
    status = client.get(
        f"/api/v1/devices/{site.device_id}/status", headers=tenant.headers(Role.VIEWER)
    )
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["state"] == "degraded"
    assert body["clock_offset_s"] == pytest.approx(180.0, abs=5.0)
    assert any("clock off" in reason for reason in body["reasons"])
    assert body["health"]["queue_depth"] == 0


def test_heartbeat_needs_a_device_token(client: TestClient, tenant: Tenant) -> None:
    answer = client.post(
        "/api/v1/devices/heartbeat",
        json={"device_time": "2024-05-01T12:00:00Z"},
        headers=tenant.headers(Role.ADMIN),
    )
    assert answer.status_code == 403
    assert orjson.loads(answer.content)["detail"]


def test_full_queue_answers_507_and_acknowledges_nothing(
    tmp_path: Path, link: TcpProxy, site: Site
) -> None:
    agent = EdgeAgent(_config(tmp_path, link, site, max_bytes=65536), seed=1)
    endpoint = LocalEndpoint(agent, "127.0.0.1", 0)
    endpoint.start()
    try:
        readings = [
            {
                "channel": "VD-SETTLE",
                "time": f"2024-05-01T12:{i // 60:02d}:{i % 60:02d}Z",
                "value": 1.0,
            }
            for i in range(3000)
        ]
        status, answer = _post(f"http://127.0.0.1:{endpoint.port}/readings", {"readings": readings})
        assert status == 507, answer
        assert "full" in str(answer["detail"])
        assert agent.queue.stats().depth == 0
    finally:
        endpoint.stop()
        agent.stop()
