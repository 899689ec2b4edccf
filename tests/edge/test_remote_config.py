"""Configuration pulled from the server and applied by a running agent without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.core.errors import InvalidInputError
from infrasight.edge.agent import EdgeAgent
from infrasight.edge.items import Priority
from infrasight.edge.local_http import LocalEndpoint
from infrasight.edge.remote import parse_remote_config
from infrasight.platform import Platform
from tests.conftest import Site, Tenant
from tests.edge.netfaults import TcpProxy
from tests.edge.test_agent import _config, _post, _stored, _wait


def _set_config(client: TestClient, tenant: Tenant, site: Site, config: object) -> int:
    answer = client.post(
        f"/api/v1/devices/{site.device_id}/calibrations",
        json={"kind": "edge_config", "parameters": config},
        headers=tenant.headers(Role.ENGINEER),
    )
    assert answer.status_code == 201, answer.text
    version: int = answer.json()["id"]
    return version


def test_agent_applies_each_new_configuration_while_running(
    tmp_path: Path,
    platform: Platform,
    link: TcpProxy,
    site: Site,
    client: TestClient,
    tenant: Tenant,
) -> None:
    agent = EdgeAgent(_config(tmp_path, link, site, config_poll_s=0.05), seed=1)
    endpoint = LocalEndpoint(agent, "127.0.0.1", 0)
    endpoint.start()
    agent.start()
    local = f"http://127.0.0.1:{endpoint.port}"
    try:
        first = _set_config(
            client,
            tenant,
            site,
            {
                "batch_size": 7,
                "thresholds": {"VD-SETTLE": {"low": -3.0, "high": 10.0}},
                "cameras": [{"name": "pier-2", "source": "/var/lib/cam1", "interval_s": 10}],
            },
        )
        _wait(lambda: agent.config_version == first)
        assert agent.config.batch_size == 7
        assert agent.config.heartbeat_s == 0.2  # not set by the server: the local value
        assert [camera.name for camera in agent.remote.cameras] == ["pier-2"]

        link.set_up(False)  # keep the readings queued to look at their priority
        readings = [
            {"channel": "VD-SETTLE", "time": f"2024-05-01T12:00:0{i}Z", "value": value}
            for i, value in enumerate([5.0, 15.0, -4.0, 10.0])
        ]
        status, answer = _post(f"{local}/readings", {"readings": readings})
        assert (status, answer["queued"]) == (202, 4)
        priorities = {
            item.reading.value: item.reading.priority for item in agent.queue.backfill(10)
        }
        assert priorities == {
            5.0: Priority.ROUTINE,
            15.0: Priority.ALARM,
            -4.0: Priority.ALARM,
            10.0: Priority.ROUTINE,  # on the bound is inside the band
        }
        assert agent.queue.stats().alarm_depth == 2
        link.set_up(True)
        _wait(lambda: agent.queue.stats().depth == 0)
        assert len(_stored(platform, site.settlement_channel_id)) == 4

        second = _set_config(client, tenant, site, {"heartbeat_s": 0.1})
        assert second > first
        _wait(lambda: agent.config_version == second)
        assert agent.config.batch_size == 50  # back to the local file's value
        assert agent.config.heartbeat_s == 0.1
        assert agent.remote.thresholds == {}

        def reported() -> bool:
            body = client.get(
                f"/api/v1/devices/{site.device_id}/status", headers=tenant.headers(Role.VIEWER)
            ).json()
            return bool(body["health"].get("config_version") == second)

        _wait(reported)
    finally:
        endpoint.stop()
        agent.stop()

    # restarted while the server is unreachable: the cached version runs
    link.set_up(False)
    again = EdgeAgent(_config(tmp_path, link, site), seed=1)
    try:
        assert again.config_version == second
        assert again.config.heartbeat_s == 0.1
    finally:
        again.stop()


def test_config_endpoint(client: TestClient, tenant: Tenant, site: Site) -> None:
    empty = client.get("/api/v1/devices/config", headers=site.device_headers)
    assert empty.status_code == 200, empty.text
    assert empty.json() == {"version": 0, "config": {}}
    assert (
        client.get("/api/v1/devices/config", headers=tenant.headers(Role.ADMIN)).status_code == 403
    )
    bad = client.post(
        f"/api/v1/devices/{site.device_id}/calibrations",
        json={"kind": "edge_config", "parameters": {"thresholds": {"X": {"low": 5, "high": 1}}}},
        headers=tenant.headers(Role.ENGINEER),
    )
    assert bad.status_code == 422, bad.text
    assert "low must be below high" in bad.text
    assert "parameters.thresholds.X" in bad.text
    version = _set_config(client, tenant, site, {"poll_s": 2.5})
    current = client.get("/api/v1/devices/config", headers=site.device_headers).json()
    assert current == {"version": version, "config": {"poll_s": 2.5}}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"heartbeat_s": 0}, "config.heartbeat_s"),
        ({"cameras": [{"name": "a", "source": "usb:0"}] * 2}, "config.cameras"),
        ({"thresholds": {"X": {}}}, "config.thresholds.X"),
        ({"colour": "red"}, "config.colour"),
    ],
)
def test_bad_remote_config_names_the_key(document: object, field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_remote_config(document, field="config")
    assert caught.value.field == field
