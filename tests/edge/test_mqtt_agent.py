"""The agent over MQTT against a real Mosquitto and the server's bridge: readings acknowledged
by the server's ``.../ack``; the broker down for a while loses nothing and stores nothing twice.
Skipped (with the reason) when mosquitto is not installed; CI installs it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from infrasight.core.errors import InvalidInputError
from infrasight.edge.agent import EdgeAgent
from infrasight.edge.config import EdgeConfig, load_config
from infrasight.edge.items import EdgeReading
from infrasight.edge.mqtt_upstream import batch_message_id
from infrasight.mqtt.bridge import MqttBridge
from infrasight.platform import Platform
from tests.conftest import Site, Tenant
from tests.edge.netfaults import TcpProxy
from tests.edge.test_agent import _stored
from tests.mqtt.broker import find_mosquitto, free_port, mosquitto

BASE_US = 1_714_564_800 * 1_000_000


def _wait(condition: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


class _Broker:
    """A Mosquitto on a fixed port that a test can stop and start again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self._stack: ExitStack | None = None

    def start(self) -> None:
        self._stack = ExitStack()
        self._stack.enter_context(mosquitto(self.folder, self.port))

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[_Broker]:
    if find_mosquitto() is None:
        pytest.skip("the mosquitto broker is not installed (apt-get install -y mosquitto)")
    running = _Broker(tmp_path / "broker")
    running.start()
    yield running
    running.stop()


@pytest.fixture
def bridge(platform: Platform, broker: _Broker) -> Iterator[MqttBridge]:
    running = MqttBridge(
        platform, f"mqtt://127.0.0.1:{broker.port}", client_id=f"bridge-{uuid.uuid4().hex[:8]}"
    )
    assert running.start(wait_s=10)
    yield running
    running.stop()


def _agent(
    tmp_path: Path, link: TcpProxy, broker: _Broker, tenant: Tenant, site: Site
) -> EdgeAgent:
    config = EdgeConfig.model_validate(
        {
            "server_url": f"http://127.0.0.1:{link.port}",
            "token": site.device_token,
            "queue_path": tmp_path / "edge" / "queue.db",
            "listen_port": None,
            "poll_s": 0.05,
            "heartbeat_s": 0.5,
            "backoff_min_s": 0.05,
            "backoff_max_s": 0.5,
            "request_timeout_s": 3.0,
            "batch_size": 40,
            "transport": "mqtt",
            "mqtt_url": f"mqtt://127.0.0.1:{broker.port}",
            "mqtt_topic": f"infrasight/{tenant.organization_id}/{site.device_id}",
        }
    )
    return EdgeAgent(config, seed=2)


def _produce(agent: EdgeAgent, start: int, count: int) -> None:
    agent.accept(
        [
            EdgeReading(channel="VD-SETTLE", ts_us=BASE_US + i * 1_000_000, value=float(i))
            for i in range(start, start + count)
        ]
    )


def _expected(count: int) -> list[tuple[int, float]]:
    return [(BASE_US + i * 1_000_000, float(i)) for i in range(count)]


def test_agent_over_mqtt_survives_the_broker_down(
    tmp_path: Path,
    platform: Platform,
    link: TcpProxy,
    broker: _Broker,
    bridge: MqttBridge,
    tenant: Tenant,
    site: Site,
) -> None:
    agent = _agent(tmp_path, link, broker, tenant, site)
    agent.start()
    try:
        _produce(agent, 0, 100)
        _wait(lambda: agent.queue.stats().depth == 0)  # acknowledged by the server over MQTT
        assert _stored(platform, site.settlement_channel_id) == _expected(100)
        broker.stop()  # the broker is down while the terminal keeps producing
        for block in range(1, 5):
            _produce(agent, block * 100, 100)
            time.sleep(0.3)
        _wait(lambda: agent.failures >= 1)
        assert agent.queue.stats().depth == 400
        assert len(_stored(platform, site.settlement_channel_id)) == 100
        broker.start()
        _wait(lambda: agent.queue.stats().depth == 0, timeout=120)
    finally:
        agent.stop()
    # acknowledged lost 0, duplicates 0, order kept
    assert _stored(platform, site.settlement_channel_id) == _expected(500)


def test_rejected_reading_over_mqtt_is_set_aside_and_the_rest_stored(
    tmp_path: Path,
    platform: Platform,
    link: TcpProxy,
    broker: _Broker,
    bridge: MqttBridge,
    tenant: Tenant,
    site: Site,
) -> None:
    agent = _agent(tmp_path, link, broker, tenant, site)
    agent.start()
    try:
        _produce(agent, 0, 10)
        agent.accept([EdgeReading(channel="NO-SUCH-CHANNEL", ts_us=BASE_US, value=1.0)])
        _wait(lambda: agent.queue.stats().depth == 0)
        assert agent.queue.stats().dead == 1
    finally:
        agent.stop()
    assert _stored(platform, site.settlement_channel_id) == _expected(10)


def test_mqtt_transport_needs_url_and_topic(tmp_path: Path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text('server_url = "http://x"\ntoken = "isd_x"\ntransport = "mqtt"\n')
    with pytest.raises(InvalidInputError, match="mqtt_url and mqtt_topic"):
        load_config(config)
    config.write_text(
        'server_url = "http://x"\ntoken = "isd_x"\ntransport = "mqtt"\n'
        'mqtt_url = "mqtt://broker"\nmqtt_topic = "infrasight/one/7"\n'
    )
    with pytest.raises(InvalidInputError) as err:
        load_config(config)
    assert err.value.field == "mqtt_topic"


def test_batch_message_id_is_stable() -> None:
    batch = [EdgeReading(channel="A", ts_us=i, value=float(i)) for i in range(3)]
    same = [EdgeReading(channel="A", ts_us=i, value=9.0) for i in range(3)]
    assert batch_message_id(batch) == batch_message_id(same)  # identity is channel and time
    assert batch_message_id(batch) != batch_message_id(batch[:2])
    assert len(batch_message_id(batch)) <= 128


def test_captures_over_mqtt_wait_out_the_broker_and_large_ones_go_over_http(
    tmp_path: Path,
    platform: Platform,
    link: TcpProxy,
    broker: _Broker,
    bridge: MqttBridge,
    tenant: Tenant,
    site: Site,
) -> None:
    from sqlalchemy import select

    from infrasight.edge.mqtt_upstream import MqttUpstream
    from infrasight.storage.models import Capture
    from tests.mqtt.test_bridge import capture_body

    small = capture_body("cam-1:small")
    large = capture_body("cam-1:large", size=(512, 512))
    assert len(small) < 64 * 1024 < len(large)
    config = _agent(tmp_path, link, broker, tenant, site).config
    agent = EdgeAgent(config.model_copy(update={"mqtt_max_capture_bytes": 64 * 1024}), seed=2)
    upstream = agent.upstream
    assert isinstance(upstream, MqttUpstream)
    agent.start()
    try:
        broker.stop()
        agent.queue.put_capture("cam-1:small", "cam-1", BASE_US, small, cracks=1)
        _wait(lambda: agent.failures >= 1)
        assert agent.queue.stats().capture_depth == 1  # kept until the server answers
        link.set_up(False)  # HTTP down: the small capture can only travel over MQTT
        broker.start()
        _wait(lambda: agent.queue.stats().captures_sent == 1, timeout=120)
        assert upstream.captures_over_http == 0
        agent.queue.put_capture("cam-1:large", "cam-1", BASE_US + 1, large, cracks=1)
        _wait(lambda: upstream.captures_over_http >= 1)
        assert agent.queue.stats().capture_depth == 1  # over the MQTT limit: waits for HTTP
        link.set_up(True)
        _wait(lambda: agent.queue.stats().captures_sent == 2)
        first = agent.upstream.send_capture(small)  # a resend: the capture stored first
        assert first[1] is True
    finally:
        agent.stop()
    with platform.database.session() as session:
        stored = session.execute(select(Capture.id, Capture.width).order_by(Capture.id)).all()
    assert [width for _, width in stored] == [96, 512]
    assert first[0] == stored[0][0]
