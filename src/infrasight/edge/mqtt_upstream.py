"""Upstream over MQTT: readings published QoS 1 to ``<prefix>/readings`` with a message id,
acknowledged only when the server's bridge answers on ``<prefix>/ack`` with that id.

The agent deletes a batch from its queue only after that answer, which the bridge publishes
after the readings are committed: a broker or a bridge that is down means no answer within
``timeout_s``, the batch stays queued and is sent again later. The message id is a hash of the
batch's readings, so the same batch sent again is a no-op on the server (and each reading is
idempotent by channel and time anyway). Heartbeats, configuration and captures still go over
HTTP (:class:`~infrasight.edge.upstream.HttpUpstream`).

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

__all__ = ["MqttUpstream", "batch_message_id"]

_LOGGER = logging.getLogger(__name__)


def batch_message_id(readings: Sequence[EdgeReading]) -> str:
    """A message id that is the same whenever the same readings are sent again."""
    digest = hashlib.sha256()
    for reading in readings:
        digest.update(reading.key.encode())
        digest.update(b"\x1e")
    return "edge-" + digest.hexdigest()[:40]


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
        The HTTP upstream for heartbeats, configuration and captures.
    broker_url
        ``mqtt://[user:password@]host[:port]`` (``mqtts://`` for TLS).
    topic_prefix
        ``infrasight/<organization id>/<device id>``.
    token
        The device's ingest token (sent as the ``token`` user property).
    timeout_s
        How long to wait for the server's answer before the batch counts as not delivered.
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
    ) -> None:
        self._http = http
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

    def send(self, readings: Sequence[EdgeReading]) -> SendOutcome:
        """Publish the batch and wait for the server's answer (raises when there is none)."""
        if not self._subscribed.wait(min(self._timeout_s, 5.0)):
            raise UpstreamUnavailableError("MQTT broker not connected")
        message_id = batch_message_id(readings)
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.ContentType = "application/json"
        properties.UserProperty = [("message-id", message_id), ("token", self._token)]
        waiter = _Waiter()
        with self._lock:
            self._waiters[message_id] = waiter
        try:
            info = self._client.publish(
                f"{self._prefix}/readings", reading_document(readings), qos=1, properties=properties
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
        return SendOutcome(
            accepted=int(answer.get("accepted", 0)),  # type: ignore[call-overload]
            duplicates=int(answer.get("duplicates", 0)),  # type: ignore[call-overload]
        )

    def send_capture(self, body: bytes) -> tuple[int, bool]:
        return self._http.send_capture(body)

    def heartbeat(
        self, interval_s: float, health: dict[str, object], *, device_time: float
    ) -> float:
        return self._http.heartbeat(interval_s, health, device_time=device_time)

    def fetch_config(self) -> tuple[int, dict[str, object]]:
        return self._http.fetch_config()
