"""One MQTT readings message -> one ingest transaction, exactly once per message id.

A message is addressed to ``infrasight/<organization id>/<device id>/readings``. Its payload is
the HTTP ingest body (JSON ``{"readings": [...]}`` or CSV ``channel,time,value[,unit]``). The
message id (idempotency key) and the device's ingest token travel either as MQTT 5 user
properties (``message-id``, ``token``; any payload) or as top-level JSON keys ``message_id`` and
``token`` (JSON payloads, for MQTT 3.1.1 clients). The id is stored in ``mqtt_messages`` in the
same transaction as the readings, so a redelivered message changes nothing and is acknowledged
again with the counts of its first delivery.

A capture a terminal analysed goes to ``infrasight/<organization id>/<device id>/captures``: the
payload is the body of ``POST /api/v1/devices/captures`` (JSON, the image base64), at most the
server's ``max_body_bytes``; its ``key`` is the idempotency key (the message id defaults to it),
so a redelivery answers with the capture stored the first time. The answer, on ``.../ack``,
carries ``capture_id``, ``duplicate`` and ``defects``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from infrasight.core.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from infrasight.platform import Platform
from infrasight.services.auth import Principal, resolve_token
from infrasight.services.ingest import (
    ReadingColumns,
    ingest_readings,
    parse_csv_readings,
    parse_json_readings,
)
from infrasight.storage.models import MqttMessage

__all__ = [
    "CAPTURES_FILTER",
    "TOPIC_FILTER",
    "MqttOutcome",
    "ReadingsMessage",
    "parse_topic",
    "reply_topic",
    "store_capture_message",
    "store_message",
]

TOPIC_FILTER = "infrasight/+/+/readings"
CAPTURES_FILTER = "infrasight/+/+/captures"
_TOPIC = re.compile(r"^infrasight/(\d{1,18})/(\d{1,18})/(readings|captures)$")
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingsMessage:
    """What the bridge received: topic, payload and the MQTT 5 properties that matter."""

    topic: str
    payload: bytes
    content_type: str | None = None
    user_properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttOutcome:
    """The answer to publish: on ``.../ack`` when ``ok``, else on ``.../error``."""

    ok: bool
    message_id: str | None
    accepted: int = 0
    duplicates: int = 0
    redelivered: bool = False
    status: int = 200
    error: str = ""
    field: str | None = None
    capture_id: int | None = None
    defects: int = 0

    def payload(self) -> bytes:
        """The JSON document published back to the device."""
        if self.ok and self.capture_id is not None:
            body: dict[str, object] = {
                "message_id": self.message_id,
                "capture_id": self.capture_id,
                "duplicate": self.redelivered,
                "defects": self.defects,
            }
        elif self.ok:
            body = {
                "message_id": self.message_id,
                "accepted": self.accepted,
                "duplicates": self.duplicates,
                "redelivered": self.redelivered,
            }
        else:
            body = {
                "message_id": self.message_id,
                "status": self.status,
                "error": self.error,
                "field": self.field,
            }
        return orjson.dumps(body)


def parse_topic(topic: str, kind: str = "readings") -> tuple[int, int]:
    """``(organization id, device id)`` of a readings (or ``kind``) topic.

    Raises
    ------
    InvalidInputError
        If ``topic`` is not ``infrasight/<org id>/<device id>/<kind>``.
    """
    match = _TOPIC.match(topic)
    if match is None or match.group(3) != kind:
        raise InvalidInputError(
            f"topic {topic!r} is not infrasight/<organization id>/<device id>/{kind}",
            field="topic",
        )
    return int(match.group(1)), int(match.group(2))


def reply_topic(topic: str, kind: str) -> str | None:
    """``.../ack`` or ``.../error`` beside a readings or captures topic (None otherwise)."""
    for suffix in ("/readings", "/captures"):
        if topic.endswith(suffix):
            return topic.removesuffix(suffix) + "/" + kind
    return None


def _envelope(message: ReadingsMessage) -> tuple[str | None, str | None, bool]:
    """Message id, token and whether the payload is JSON (before validation)."""
    properties = dict(message.user_properties)
    message_id = properties.get("message-id")
    token = properties.get("token")
    content_type = (message.content_type or "").split(";")[0].strip().lower()
    if content_type in ("text/csv", "application/json"):
        is_json = content_type == "application/json"
    else:
        is_json = message.payload.lstrip()[:1] == b"{"
    if is_json and (message_id is None or token is None):
        try:
            document = orjson.loads(message.payload)
        except orjson.JSONDecodeError:
            document = None
        if isinstance(document, dict):
            raw_id = document.get("message_id")
            raw_token = document.get("token")
            message_id = message_id or (raw_id if isinstance(raw_id, str) else None)
            token = token or (raw_token if isinstance(raw_token, str) else None)
    return message_id, token, is_json


def _authenticate(
    platform: Platform, token: str, org_id: int, device_id: int, kind: str = "readings"
) -> Principal:
    with platform.database.session() as session:
        caller = resolve_token(session, token)
    if caller.device_id is None:
        raise PermissionDeniedError("MQTT ingest takes a device token, not a user token")
    if caller.device_id != device_id or caller.organization_id != org_id:
        raise PermissionDeniedError(
            "the token belongs to another device than the topic names; publish on "
            f"infrasight/{caller.organization_id}/{caller.device_id}/{kind}"
        )
    return caller


def _failure(message_id: str | None, err: Exception) -> MqttOutcome:
    status = 422
    if isinstance(err, AuthenticationError):
        status = 401
    elif isinstance(err, PermissionDeniedError):
        status = 403
    elif isinstance(err, NotFoundError):
        status = 404
    field = getattr(err, "field", None)
    detail = getattr(err, "detail", None) or str(err)
    return MqttOutcome(ok=False, message_id=message_id, status=status, error=detail, field=field)


def store_message(platform: Platform, message: ReadingsMessage) -> MqttOutcome:
    """Authenticate, validate and store one message atomically with its id.

    Never raises for bad input: the outcome says what went wrong, naming the field, and
    nothing is written. A message id seen before from the same device is a no-op that is
    acknowledged with ``redelivered`` set and the counts of the first delivery.
    """
    message_id: str | None = None
    try:
        org_id, device_id = parse_topic(message.topic)
        message_id, token, is_json = _envelope(message)
        if message_id is None or not _MESSAGE_ID.match(message_id):
            raise InvalidInputError(
                "a message id (1-128 characters of A-Z a-z 0-9 . _ : @ / + = -) is required",
                field="message_id",
            )
        if not token:
            raise AuthenticationError("no device token in the message")
        caller = _authenticate(platform, token, org_id, device_id)
        return _store(platform, caller, device_id, message_id, message.payload, is_json)
    except (InvalidInputError, AuthenticationError, PermissionDeniedError) as err:
        return _failure(message_id, err)


def _previous(platform: Platform, device_id: int, message_id: str) -> MqttOutcome | None:
    with platform.database.session() as session:
        seen = session.scalars(
            select(MqttMessage).where(
                MqttMessage.device_id == device_id, MqttMessage.message_id == message_id
            )
        ).one_or_none()
    if seen is None:
        return None
    return MqttOutcome(
        ok=True,
        message_id=message_id,
        accepted=seen.accepted,
        duplicates=seen.duplicates,
        redelivered=True,
    )


def _store(
    platform: Platform,
    caller: Principal,
    device_id: int,
    message_id: str,
    payload: bytes,
    is_json: bool,
) -> MqttOutcome:
    previous = _previous(platform, device_id, message_id)
    if previous is not None:
        return previous
    settings = platform.settings
    if len(payload) > settings.max_body_bytes:
        raise InvalidInputError(
            f"payload of {len(payload)} bytes exceeds the limit of {settings.max_body_bytes}",
            field="payload",
        )
    batch: ReadingColumns
    if is_json:
        batch = parse_json_readings(payload, max_readings=settings.max_batch_readings)
    else:
        batch = parse_csv_readings(payload, max_readings=settings.max_batch_readings)
    try:
        with platform.database.session() as session:
            result = ingest_readings(
                session, caller, batch, future_tolerance_s=settings.future_tolerance_s
            )
            session.add(
                MqttMessage(
                    device_id=device_id,
                    message_id=message_id,
                    accepted=result.accepted,
                    duplicates=result.duplicates,
                )
            )
            session.commit()
    except IntegrityError:
        # The same id committed concurrently (another bridge): that delivery won.
        again = _previous(platform, device_id, message_id)
        if again is None:
            raise
        return again
    if result.event is not None and result.accepted:
        platform.bus.publish(result.event)
    return MqttOutcome(
        ok=True, message_id=message_id, accepted=result.accepted, duplicates=result.duplicates
    )


def store_capture_message(platform: Platform, message: ReadingsMessage) -> MqttOutcome:
    """Authenticate, validate and store one capture message (the HTTP body of an edge capture).

    Never raises for bad input: the outcome names the field, and nothing is written. The
    capture's ``key`` makes a redelivery a no-op answered with the capture stored first.
    """
    from infrasight.api.routes.device_status import EdgeCaptureBody, receive_edge_capture

    message_id: str | None = dict(message.user_properties).get("message-id")
    try:
        org_id, device_id = parse_topic(message.topic, "captures")
        if len(message.payload) > platform.settings.max_body_bytes:
            raise InvalidInputError(
                f"payload of {len(message.payload)} bytes exceeds the limit of "
                f"{platform.settings.max_body_bytes}",
                field="payload",
            )
        try:
            document = orjson.loads(message.payload)
        except orjson.JSONDecodeError as err:
            raise InvalidInputError(f"payload is not JSON: {err}", field="payload") from err
        if not isinstance(document, dict):
            raise InvalidInputError("payload is not a JSON object", field="payload")
        token = dict(message.user_properties).get("token") or document.pop("token", None)
        document.pop("message_id", None)
        if message_id is None and isinstance(document.get("key"), str):
            message_id = document["key"]
        if not isinstance(token, str) or not token:
            raise AuthenticationError("no device token in the message")
        caller = _authenticate(platform, token, org_id, device_id, "captures")
        try:
            body = EdgeCaptureBody.model_validate(document)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "payload"
            raise InvalidInputError(f"{field}: {first['msg']}", field=field) from err
        with platform.database.session() as session:
            answer = receive_edge_capture(platform, session, caller, body)
    except (InvalidInputError, AuthenticationError, PermissionDeniedError, NotFoundError) as err:
        return _failure(message_id, err)
    return MqttOutcome(
        ok=True,
        message_id=message_id,
        redelivered=answer.duplicate,
        capture_id=answer.capture_id,
        defects=answer.defects,
    )
