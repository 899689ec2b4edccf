"""Upstream over MQTT: readings published QoS 1 to ``<prefix>/readings`` with a message id,
acknowledged only when the server's bridge answers on ``<prefix>/ack`` with that id.

The agent deletes a batch from its queue only after that answer, which the bridge publishes
after the readings are committed: a broker or a bridge that is down means no answer within
``timeout_s``, the batch stays queued and is sent again later. The message id is a hash of the
batch's readings, so the same batch sent again is a no-op on the server (and each reading is
idempotent by channel and time anyway). Heartbeats and configuration still go over HTTP
(:class:`~infrasight.edge.upstream.HttpUpstream`).

Captures (the body of ``POST /api/v1/devices/captures``, the image base64 inside) are published
QoS 1 to ``<prefix>/captures`` with their idempotency key as the message id, and leave the queue
only on the server's ``.../ack`` (``capture_id``, ``duplicate``), exactly like readings. A
capture larger than ``max_capture_bytes`` (brokers often cap a message: AWS IoT Core at 128 KiB,
Mosquitto's ``message_size_limit``) is not split: it goes to the same endpoint over HTTP.

Needs the ``mqtt`` extra (paho-mqtt); imported only when the configuration selects MQTT.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from infrasight.edge.items import EdgeReading
from infrasight.edge.upstream import (
    HttpUpstream,
    SendOutcome,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    reading_document,
)
from infrasight.mqtt.address import parse_broker_url

__all__ = ["MqttUpstream", "batch_message_id", "capture_message_id"]

_LOGGER = logging.getLogger(__name__)


def batch_message_id(readings: Sequence[EdgeReading]) -> str:
    """A message id that is the same whenever the same readings are sent again."""
    digest = hashlib.sha256()
    for reading in readings:
        digest.update(reading.key.encode())
        digest.update(b"\x1e")
    return "edge-" + digest.hexdigest()[:40]


def capture_message_id(body: bytes) -> str:
    """The capture's idempotency key (its ``key``), or a hash of the body when it has none."""
    try:
        key = orjson.loads(body).get("key")
    except (orjson.JSONDecodeError, AttributeError):
        key = None
    if isinstance(key, str) and 0 < len(key) <= 128:
        return key
    return "capture-" + hashlib.sha256(body).hexdigest()[:40]


@dataclass(slots=True)
class _Waiter:
    done: threading.Event = field(default_factory=threading.Event)
    answer: dict[str, object] | None = None
    kind: str = ""


class MqttUpstream:
    """Readings over MQTT, the rest over HTTP.

    Parameters
    ----------
    http
        The HTTP upstream for heartbeats, configuration and captures too large for the broker.
    broker_url
        ``mqtt://[user:password@]host[:port]`` (``mqtts://`` for TLS).
    topic_prefix
        ``infrasight/<organization id>/<device id>``.
    token
        The device's ingest token (sent as the ``token`` user property).
    timeout_s
        How long to wait for the server's answer before the batch counts as not delivered.
    max_capture_bytes
        Largest capture published over MQTT; a larger one is sent over HTTP.
    """

    def __init__(
        self,
        http: HttpUpstream,
        *,
        broker_url: str,
        topic_prefix: str,
        token: str,
        client_id: str,
        timeout_s: float = 30.0,
        max_capture_bytes: int = 256 * 1024,
    ) -> None:
        self._http = http
        self.max_capture_bytes = max_capture_bytes
        self.captures_over_http = 0
        self._prefix = topic_prefix.rstrip("/")
        self._token = token
        self._timeout_s = timeout_s
        self._waiters: dict[str, _Waiter] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        address = parse_broker_url(broker_url)
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if address.username is not None:
            self._client.username_pw_set(address.username, address.password)
        if address.tls:
            self._client.tls_set()
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.connect_async(address.host, address.port, keepalive=15)
        self._client.loop_start()

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()

    # -- paho callbacks (network thread) ---------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            _LOGGER.error("MQTT broker refused the agent: %s", reason_code)
            return
        client.subscribe([(f"{self._prefix}/ack", 1), (f"{self._prefix}/error", 1)])

    def _on_subscribe(self, *_args: object) -> None:
        self._subscribed.set()

    def _on_disconnect(self, *_args: object) -> None:
        self._subscribed.clear()

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        try:
            answer = orjson.loads(message.payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(answer, dict):
            return
        with self._lock:
            waiter = self._waiters.get(str(answer.get("message_id")))
        if waiter is not None:
            waiter.answer = answer
            waiter.kind = message.topic.rsplit("/", 1)[-1]
            waiter.done.set()

    # -- the upstream interface ------------------------------------------------------------

    def _exchange(self, kind: str, payload: bytes, message_id: str) -> dict[str, object]:
        """Publish ``payload`` to ``<prefix>/<kind>`` and wait for the server's answer.

        Raises
        ------
        UpstreamUnavailableError
            Broker not connected, publish failed, no answer in time, or a retryable error.
        UpstreamRejectedError
            The server refused the message for good (a 4xx naming the field).
        """
        if not self._subscribed.wait(min(self._timeout_s, 5.0)):
            raise UpstreamUnavailableError("MQTT broker not connected")
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.ContentType = "application/json"
        properties.UserProperty = [("message-id", message_id), ("token", self._token)]
        waiter = _Waiter()
        with self._lock:
            self._waiters[message_id] = waiter
        try:
            info = self._client.publish(
                f"{self._prefix}/{kind}", payload, qos=1, properties=properties
            )
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise UpstreamUnavailableError(
                    f"MQTT publish failed ({mqtt.error_string(info.rc)})"
                )
            if not waiter.done.wait(self._timeout_s):
                raise UpstreamUnavailableError(
                    f"no answer to message {message_id} within {self._timeout_s:.0f} s"
                )
        finally:
            with self._lock:
                self._waiters.pop(message_id, None)
        answer = waiter.answer or {}
        if waiter.kind == "error":
            status = int(answer.get("status", 422))  # type: ignore[call-overload]
            detail = str(answer.get("error", ""))
            if status in (401, 408, 429) or status >= 500:
                raise UpstreamUnavailableError(f"MQTT {status}: {detail}")
            raise UpstreamRejectedError(status, detail)
        return answer

    def send(self, readings: Sequence[EdgeReading]) -> SendOutcome:
        """Publish the batch and wait for the server's answer (raises when there is none)."""
        answer = self._exchange("readings", reading_document(readings), batch_message_id(readings))
        return SendOutcome(
            accepted=int(answer.get("accepted", 0)),  # type: ignore[call-overload]
            duplicates=int(answer.get("duplicates", 0)),  # type: ignore[call-overload]
        )

    def send_capture(self, body: bytes) -> tuple[int, bool]:
        """Publish an analysed frame (idempotent by its key): ``(capture id, was a resend)``.

        Over HTTP when ``body`` is larger than :attr:`max_capture_bytes`.
        """
        if len(body) > self.max_capture_bytes:
            self.captures_over_http += 1
            return self._http.send_capture(body)
        answer = self._exchange("captures", body, capture_message_id(body))
        return int(answer.get("capture_id", 0)), bool(answer.get("duplicate", False))  # type: ignore[call-overload]

    def heartbeat(
        self, interval_s: float, health: dict[str, object], *, device_time: float
    ) -> float:
        return self._http.heartbeat(interval_s, health, device_time=device_time)

    def fetch_config(self) -> tuple[int, dict[str, object]]:
        return self._http.fetch_config()
