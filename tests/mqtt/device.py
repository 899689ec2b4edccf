"""A device-side MQTT 5 client for tests and benchmarks: publish readings, collect replies."""

from __future__ import annotations

import queue
import threading

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

__all__ = ["DeviceClient"]


class DeviceClient:
    """Connects as a device, subscribes to its ack and error topics."""

    def __init__(self, port: int, org_id: int, device_id: int, client_id: str) -> None:
        self.base = f"infrasight/{org_id}/{device_id}"
        self.replies: queue.Queue[tuple[str, dict[str, object]]] = queue.Queue()
        self._ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self._ready.set()
        self.client.on_connect = lambda client, *_: client.subscribe(
            [(f"{self.base}/ack", 1), (f"{self.base}/error", 1)]
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise RuntimeError("device client could not subscribe")

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        kind = message.topic.rsplit("/", 1)[-1]
        self.replies.put((kind, orjson.loads(message.payload)))

    def publish(
        self,
        payload: bytes,
        *,
        message_id: str | None = None,
        token: str | None = None,
        content_type: str | None = None,
        topic: str | None = None,
    ) -> None:
        properties = Properties(PacketTypes.PUBLISH)
        pairs = []
        if message_id is not None:
            pairs.append(("message-id", message_id))
        if token is not None:
            pairs.append(("token", token))
        if pairs:
            properties.UserProperty = pairs
        if content_type is not None:
            properties.ContentType = content_type
        info = self.client.publish(
            topic or f"{self.base}/readings", payload, qos=1, properties=properties
        )
        info.wait_for_publish(10)

    def reply(self, timeout: float = 15.0) -> tuple[str, dict[str, object]]:
        return self.replies.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
