"""The MQTT adapter: subscribe to device readings, store each message, answer on ack/error.

QoS 1 end to end, with manual acknowledgement: the broker gets its PUBACK only after the
readings and the message id are committed, so a crash at any moment means redelivery, which the
stored message id turns into a no-op. The bridge keeps a persistent session (clean start off,
session expiry of a week) so the broker queues messages while it is down.
"""

from __future__ import annotations

import logging
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from infrasight.mqtt.address import BrokerAddress, parse_broker_url
from infrasight.mqtt.messages import (
    CAPTURES_FILTER,
    TOPIC_FILTER,
    MqttOutcome,
    ReadingsMessage,
    reply_topic,
    store_capture_message,
    store_message,
)
from infrasight.platform import Platform

__all__ = ["BrokerAddress", "MqttBridge", "parse_broker_url"]

_LOGGER = logging.getLogger(__name__)
SESSION_EXPIRY_S = 7 * 24 * 3600


def _reply_properties() -> Properties:
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.ContentType = "application/json"
    return properties


class MqttBridge:
    """Subscribes ``infrasight/+/+/readings`` and ``.../captures``; stores what arrives through
    ``platform``.

    Parameters
    ----------
    platform
        The wired platform whose ingest service stores the readings.
    url
        The broker, ``mqtt://[user:password@]host[:port]``.
    client_id
        The bridge's MQTT client id; keep it stable so the broker keeps its session.
    """

    BOUNCE_DELAY_S = 2.0

    def __init__(
        self, platform: Platform, url: str, *, client_id: str = "infrasight-bridge"
    ) -> None:
        self._platform = platform
        self._address = parse_broker_url(url)
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self._address.username is not None:
            self._client.username_pw_set(self._address.username, self._address.password)
        if self._address.tls:
            self._client.tls_set()
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect
        self._bouncing = threading.Event()
        self._stopping = False
        self.handled = 0

    def start(self, *, wait_s: float = 10.0) -> bool:
        """Connect and serve in paho's network thread; True once subscribed within ``wait_s``.

        A broker that is down is retried in the background (1 to 30 s apart).
        """
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self._client.connect_async(
            self._address.host,
            self._address.port,
            keepalive=30,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()
        return self._subscribed.wait(wait_s)

    def stop(self) -> None:
        """Disconnect and stop the network thread (the broker keeps the session)."""
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()

    def _bounce(self) -> None:
        """Reconnect after a storage failure so the broker redelivers what was not acked."""
        self._client.disconnect()
        self._client.loop_stop()
        time.sleep(self.BOUNCE_DELAY_S)
        self._bouncing.clear()
        try:
            self._client.reconnect()
        except OSError:
            _LOGGER.warning("MQTT broker unreachable after a storage failure; retrying")
        self._client.loop_start()

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            _LOGGER.error("MQTT broker refused the bridge: %s", reason_code)
            return
        _LOGGER.info("MQTT bridge connected to %s:%d", self._address.host, self._address.port)
        client.subscribe([(TOPIC_FILTER, 1), (CAPTURES_FILTER, 1)])

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        if any(code.is_failure for code in reason_codes):
            _LOGGER.error(
                "MQTT subscription to %s, %s refused: %s",
                TOPIC_FILTER,
                CAPTURES_FILTER,
                reason_codes,
            )
            return
        self._subscribed.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._subscribed.clear()
        if not self._stopping:
            _LOGGER.warning("MQTT bridge disconnected (%s); reconnecting", reason_code)

    def _on_message(
        self, client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        properties = getattr(message, "properties", None)
        user_properties = tuple(getattr(properties, "UserProperty", None) or ())
        received = ReadingsMessage(
            topic=message.topic,
            payload=bytes(message.payload),
            content_type=getattr(properties, "ContentType", None),
            user_properties=tuple((str(k), str(v)) for k, v in user_properties),
        )
        store = store_capture_message if message.topic.endswith("/captures") else store_message
        try:
            outcome = store(self._platform, received)
        except Exception:
            # Not acknowledged: the broker redelivers it on the next connection.
            _LOGGER.exception("MQTT message on %s could not be stored", message.topic)
            failure = MqttOutcome(
                ok=False, message_id=None, status=503, error="server error; will be retried"
            )
            self._answer(client, message.topic, failure)
            if not self._bouncing.is_set():
                self._bouncing.set()
                threading.Thread(target=self._bounce, name="mqtt-bounce", daemon=True).start()
            return
        self._answer(client, message.topic, outcome)
        client.ack(message.mid, message.qos)
        self.handled += 1

    @staticmethod
    def _answer(client: mqtt.Client, topic: str, outcome: MqttOutcome) -> None:
        target = reply_topic(topic, "ack" if outcome.ok else "error")
        if target is None:
            return
        if not outcome.ok:
            _LOGGER.info("MQTT message on %s rejected: %s", topic, outcome.error)
        client.publish(target, outcome.payload(), qos=1, properties=_reply_properties())
