"""MQTT ingest through a real Mosquitto broker: stored once, answered on ack/error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import orjson
import pytest
from sqlalchemy import func, select

from infrasight.core.errors import InvalidInputError
from infrasight.mqtt.bridge import MqttBridge, parse_broker_url
from infrasight.mqtt.messages import parse_topic
from infrasight.platform import Platform
from infrasight.storage.models import MqttMessage, Reading
from tests.conftest import Site, Tenant
from tests.mqtt.device import DeviceClient


def _count(platform: Platform, channel_id: int) -> int:
    with platform.database.session() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Reading).where(Reading.channel_id == channel_id)
            )
            or 0
        )


def _values(platform: Platform, channel_id: int) -> list[tuple[int, float]]:
    with platform.database.session() as session:
        rows = session.execute(
            select(Reading.ts, Reading.value)
            .where(Reading.channel_id == channel_id)
            .order_by(Reading.ts)
        ).all()
    return [(int(ts), float(value)) for ts, value in rows]


@pytest.fixture
def bridge(platform: Platform, broker_port: int) -> Iterator[MqttBridge]:
    running = MqttBridge(
        platform, f"mqtt://127.0.0.1:{broker_port}", client_id=f"bridge-{uuid.uuid4().hex[:8]}"
    )
    assert running.start(wait_s=10)
    yield running
    running.stop()


@pytest.fixture
def device(broker_port: int, tenant: Tenant, site: Site) -> Iterator[DeviceClient]:
    client = DeviceClient(broker_port, tenant.organization_id, site.device_id, "dl-01")
    yield client
    client.close()


def _json_body(site: Site, values: list[float], *, start_s: int = 0) -> bytes:
    readings = [
        {"channel": "VD-SETTLE", "time": f"2024-05-01T12:00:{start_s + i:02d}Z", "value": v}
        for i, v in enumerate(values)
    ]
    return orjson.dumps({"readings": readings})


def test_json_message_is_stored_and_acknowledged(
    platform: Platform, bridge: MqttBridge, device: DeviceClient, site: Site
) -> None:
    device.publish(_json_body(site, [1.5, 2.5]), message_id="m-1", token=site.device_token)
    kind, body = device.reply()
    assert kind == "ack"
    assert body == {"message_id": "m-1", "accepted": 2, "duplicates": 0, "redelivered": False}
    assert [v for _, v in _values(platform, site.settlement_channel_id)] == [1.5, 2.5]


def test_redelivered_message_id_is_a_no_op(
    platform: Platform, bridge: MqttBridge, device: DeviceClient, site: Site
) -> None:
    device.publish(_json_body(site, [1.0, 2.0]), message_id="m-7", token=site.device_token)
    assert device.reply()[1]["accepted"] == 2
    # the same id again, even with other content: nothing is written, the first counts come back
    device.publish(_json_body(site, [9.0], start_s=30), message_id="m-7", token=site.device_token)
    kind, body = device.reply()
    assert (kind, body["redelivered"], body["accepted"]) == ("ack", True, 2)
    assert _count(platform, site.settlement_channel_id) == 2
    # a new id with the same readings: idempotent by (channel, time)
    device.publish(_json_body(site, [1.0, 2.0]), message_id="m-8", token=site.device_token)
    kind, body = device.reply()
    assert (body["accepted"], body["duplicates"]) == (0, 2)
    with platform.database.session() as session:
        assert session.scalar(select(func.count()).select_from(MqttMessage)) == 2


def test_json_envelope_carries_id_and_token_for_mqtt311_clients(
    platform: Platform, bridge: MqttBridge, device: DeviceClient, site: Site
) -> None:
    body = orjson.dumps(
        {
            "message_id": "env-1",
            "token": site.device_token,
            "readings": [{"channel": "VD-SETTLE", "time": "2024-05-01T12:00:00Z", "value": 3.0}],
        }
    )
    device.publish(body)
    assert device.reply() == (
        "ack",
        {"message_id": "env-1", "accepted": 1, "duplicates": 0, "redelivered": False},
    )


def test_csv_message_with_unit_conversion(
    platform: Platform, bridge: MqttBridge, device: DeviceClient, site: Site
) -> None:
    csv = b"channel,time,value,unit\nVD-SETTLE,2024-05-01T12:00:00Z,0.002,m\n"
    device.publish(csv, message_id="c-1", token=site.device_token, content_type="text/csv")
    assert device.reply()[0] == "ack"
    assert _values(platform, site.settlement_channel_id) == [(1714564800000000, 2.0)]


def test_bad_reading_rejects_the_whole_message(
    platform: Platform, bridge: MqttBridge, device: DeviceClient, site: Site
) -> None:
    body = orjson.dumps(
        {
            "readings": [
                {"channel": "VD-SETTLE", "time": "2024-05-01T12:00:00Z", "value": 1.0},
                {"channel": "NOPE", "time": "2024-05-01T12:00:01Z", "value": 2.0},
            ]
        }
    )
    device.publish(body, message_id="bad-1", token=site.device_token)
    kind, reply = device.reply()
    assert kind == "error"
    assert reply["status"] == 422
    assert reply["field"] == "readings[1].channel"
    assert "NOPE" in str(reply["error"])
    assert _count(platform, site.settlement_channel_id) == 0
    # the id was not consumed: the corrected message with the same id is stored
    device.publish(_json_body(site, [1.0]), message_id="bad-1", token=site.device_token)
    assert device.reply()[1]["accepted"] == 1


@pytest.mark.parametrize(
    ("message_id", "token", "status", "field"),
    [
        (None, "real", 422, "message_id"),
        ("x y", "real", 422, "message_id"),
        ("ok-1", None, 401, None),
        ("ok-2", "isd_forged", 401, None),
    ],
)
def test_envelope_errors(
    platform: Platform,
    bridge: MqttBridge,
    device: DeviceClient,
    site: Site,
    message_id: str | None,
    token: str | None,
    status: int,
    field: str | None,
) -> None:
    device.publish(
        _json_body(site, [1.0]),
        message_id=message_id,
        token=site.device_token if token == "real" else token,
    )
    kind, reply = device.reply()
    assert (kind, reply["status"], reply["field"]) == ("error", status, field)
    assert _count(platform, site.settlement_channel_id) == 0


def test_token_of_another_device_is_refused(
    platform: Platform, bridge: MqttBridge, broker_port: int, tenant: Tenant, site: Site
) -> None:
    spoofed = DeviceClient(broker_port, tenant.organization_id, site.device_id + 999, "spoof")
    try:
        spoofed.publish(_json_body(site, [1.0]), message_id="s-1", token=site.device_token)
        kind, reply = spoofed.reply()
    finally:
        spoofed.close()
    assert (kind, reply["status"]) == ("error", 403)
    assert f"infrasight/{tenant.organization_id}/{site.device_id}/readings" in str(reply["error"])
    assert _count(platform, site.settlement_channel_id) == 0


def test_messages_published_while_the_bridge_is_down_are_stored_later(
    platform: Platform, broker_port: int, device: DeviceClient, site: Site
) -> None:
    url = f"mqtt://127.0.0.1:{broker_port}"
    first = MqttBridge(platform, url, client_id="bridge-persistent")
    assert first.start(wait_s=10)
    first.stop()  # the broker keeps the session and queues QoS 1 messages for it
    for index in range(5):
        device.publish(
            _json_body(site, [float(index)], start_s=index),
            message_id=f"q-{index}",
            token=site.device_token,
        )
    second = MqttBridge(platform, url, client_id="bridge-persistent")
    try:
        assert second.start(wait_s=10)
        acks = sorted(str(device.reply()[1]["message_id"]) for _ in range(5))
    finally:
        second.stop()
    assert acks == [f"q-{i}" for i in range(5)]
    assert [v for _, v in _values(platform, site.settlement_channel_id)] == [0, 1, 2, 3, 4]


def test_topic_and_url_parsing() -> None:
    assert parse_topic("infrasight/3/17/readings") == (3, 17)
    with pytest.raises(InvalidInputError) as caught:
        parse_topic("infrasight/x/17/readings")
    assert caught.value.field == "topic"
    address = parse_broker_url("mqtt://bridge:s%40cret@broker.local:1884")
    assert (address.host, address.port, address.username, address.password) == (
        "broker.local",
        1884,
        "bridge",
        "s@cret",
    )
    assert parse_broker_url("mqtts://b").port == 8883
    with pytest.raises(InvalidInputError):
        parse_broker_url("http://broker")


def test_storage_failure_is_not_acknowledged_and_the_broker_redelivers(
    platform: Platform,
    broker_port: int,
    device: DeviceClient,
    site: Site,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import infrasight.mqtt.bridge as bridge_module

    calls = {"n": 0}
    real = bridge_module.store_message

    def failing_once(platform: Platform, message: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("database unavailable")
        return real(platform, message)  # type: ignore[arg-type]

    monkeypatch.setattr(bridge_module, "store_message", failing_once)
    monkeypatch.setattr(MqttBridge, "BOUNCE_DELAY_S", 0.2)
    running = MqttBridge(platform, f"mqtt://127.0.0.1:{broker_port}", client_id="bridge-bounce")
    assert running.start(wait_s=10)
    try:
        device.publish(_json_body(site, [4.0]), message_id="r-1", token=site.device_token)
        kind, body = device.reply()
        assert (kind, body["status"]) == ("error", 503)
        # the broker redelivers the message once the bridge reconnected (the 503 itself is QoS 1
        # too, so the device may see it again: at least once)
        while kind == "error":
            assert body["status"] == 503
            kind, body = device.reply()
        assert (kind, body["message_id"], body["accepted"]) == ("ack", "r-1", 1)
    finally:
        running.stop()
    assert calls["n"] == 2
    assert _values(platform, site.settlement_channel_id) == [(1714564800000000, 4.0)]


def capture_body(key: str, size: tuple[int, int] = (96, 64), **changes: object) -> bytes:
    """The JSON body of an edge capture of a noise image (``size`` = width, height) with one
    crack."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(3).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    body: dict[str, object] = {
        "key": key,
        "camera": "cam-1",
        "time": "2024-05-01T12:00:00Z",
        "model_version": "1.0.0",
        "summary": {"frame_px": list(size)},
        "image": base64.b64encode(out.getvalue()).decode("ascii"),
        "image_kind": "original",
        "mm_per_px": 0.2,
        "defects": [
            {
                "confidence": 0.9,
                "geometry": {"bbox": [10, 12, 40, 6], "polyline_px": [[10, 14], [50, 15]]},
                "measurements": {"length": {"value": 8.0, "std": 0.1, "unit": "mm"}},
            }
        ],
    }
    body.update(changes)
    return orjson.dumps(body)


def test_capture_message_is_stored_once_and_acknowledged_with_its_capture(
    platform: Platform, bridge: MqttBridge, device: DeviceClient, site: Site
) -> None:
    from infrasight.storage.models import Capture, Defect

    topic = f"{device.base}/captures"
    device.publish(capture_body("cam-1:aa"), token=site.device_token, topic=topic)
    kind, body = device.reply()
    assert kind == "ack", body
    capture_id = body["capture_id"]
    assert body == {
        "message_id": "cam-1:aa",  # the capture's key is the message id
        "capture_id": capture_id,
        "duplicate": False,
        "defects": 1,
    }
    device.publish(capture_body("cam-1:aa"), token=site.device_token, topic=topic)  # redelivery
    assert device.reply() == (
        "ack",
        {"message_id": "cam-1:aa", "capture_id": capture_id, "duplicate": True, "defects": 1},
    )
    with platform.database.session() as session:
        capture = session.get_one(Capture, capture_id)
        assert (capture.device_id, capture.width, capture.mm_per_px) == (site.device_id, 96, 0.2)
        assert session.scalar(select(func.count()).select_from(Capture)) == 1
        assert session.scalar(select(func.count()).select_from(Defect)) == 1


@pytest.mark.parametrize(
    ("payload", "field", "status"),
    [
        (b"not json", "payload", 422),
        (capture_body("k1", image="bm90IGFuIGltYWdl"), "image", 422),
        (capture_body("k2", image_kind="raw"), "image_kind", 422),
        (capture_body("k3", asset_id=999999), "asset_id", 422),
        (capture_body(""), "key", 422),
    ],
)
def test_bad_capture_message_is_answered_on_error_and_nothing_is_stored(
    platform: Platform,
    bridge: MqttBridge,
    device: DeviceClient,
    site: Site,
    payload: bytes,
    field: str,
    status: int,
) -> None:
    from infrasight.storage.models import Capture

    device.publish(payload, token=site.device_token, topic=f"{device.base}/captures")
    kind, body = device.reply()
    assert (kind, body["status"], body["field"]) == ("error", status, field), body
    with platform.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Capture)) == 0


def test_capture_message_needs_the_topics_device_token(
    platform: Platform, bridge: MqttBridge, device: DeviceClient, site: Site
) -> None:
    device.publish(capture_body("k9"), topic=f"{device.base}/captures")  # no token
    kind, body = device.reply()
    assert (kind, body["status"]) == ("error", 401)
    device.publish(capture_body("k9"), token="isd_wrong", topic=f"{device.base}/captures")
    assert device.reply()[1]["status"] == 401
