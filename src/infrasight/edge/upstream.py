"""Upstream over HTTP: the server's ingest API with the device token (standard library only)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import orjson

from infrasight.edge.items import EdgeReading, iso_time

__all__ = [
    "HttpUpstream",
    "SendOutcome",
    "Upstream",
    "UpstreamRejectedError",
    "UpstreamUnavailableError",
]


class UpstreamUnavailableError(Exception):
    """The server could not take the batch now (network, 5xx, 429, 401): retry later."""


class UpstreamRejectedError(Exception):
    """The server refused the batch for good (4xx validation error); ``detail`` says why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True, kw_only=True)
class SendOutcome:
    accepted: int
    duplicates: int


def reading_document(readings: Sequence[EdgeReading]) -> bytes:
    """The ingest body: the terminal's timestamps, kept as they are."""
    items = []
    for reading in readings:
        item: dict[str, object] = {
            "channel": reading.channel,
            "time": iso_time(reading.ts_us),
            "value": reading.value,
        }
        if reading.unit is not None:
            item["unit"] = reading.unit
        items.append(item)
    return orjson.dumps({"readings": items})


class Upstream(Protocol):
    """Where the agent sends: :class:`HttpUpstream` or the MQTT one."""

    def send(self, readings: Sequence[EdgeReading]) -> SendOutcome: ...

    def send_capture(self, body: bytes) -> tuple[int, bool]: ...

    def heartbeat(
        self, interval_s: float, health: dict[str, object], *, device_time: float
    ) -> float: ...

    def fetch_config(self) -> tuple[int, dict[str, object]]: ...


class HttpUpstream:
    """POSTs readings to ``/api/v1/ingest/readings`` and heartbeats to ``/devices/heartbeat``."""

    def __init__(self, server_url: str, token: str, *, timeout_s: float = 30.0) -> None:
        self._base = server_url.rstrip("/") + "/api/v1"
        self._token = token
        self._timeout_s = timeout_s

    def _post(self, path: str, body: bytes | None) -> dict[str, object]:
        request = urllib.request.Request(
            self._base + path,
            data=body,
            method="GET" if body is None else "POST",
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                answer: dict[str, object] = orjson.loads(response.read())
                return answer
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")[:500]
            if err.code in (401, 408, 429) or err.code >= 500:
                raise UpstreamUnavailableError(f"HTTP {err.code}: {detail}") from err
            raise UpstreamRejectedError(err.code, detail) from err
        except (OSError, ValueError) as err:  # URLError, timeouts, resets, bad JSON
            raise UpstreamUnavailableError(str(err)) from err

    def send(self, readings: Sequence[EdgeReading]) -> SendOutcome:
        """Store ``readings`` on the server (idempotent by channel and time)."""
        answer = self._post("/ingest/readings", reading_document(readings))
        return SendOutcome(
            accepted=int(answer.get("accepted", 0)),  # type: ignore[call-overload]
            duplicates=int(answer.get("duplicates", 0)),  # type: ignore[call-overload]
        )

    def send_capture(self, body: bytes) -> tuple[int, bool]:
        """Store an analysed frame (idempotent by its key): ``(capture id, was a resend)``."""
        answer = self._post("/devices/captures", body)
        return int(answer.get("capture_id", 0)), bool(answer.get("duplicate", False))  # type: ignore[call-overload]

    def heartbeat(
        self, interval_s: float, health: dict[str, object], *, device_time: float
    ) -> float:
        """Report health at the terminal's clock ``device_time`` (epoch s); return the offset."""
        body = orjson.dumps(
            {
                "device_time": datetime.fromtimestamp(device_time, UTC).isoformat(),
                "interval_s": interval_s,
                "health": health,
            }
        )
        answer = self._post("/devices/heartbeat", body)
        return float(answer.get("clock_offset_s", 0.0))  # type: ignore[arg-type]

    def fetch_config(self) -> tuple[int, dict[str, object]]:
        """The device's configuration on the server: ``(version, document)``."""
        answer = self._post("/devices/config", None)
        config = answer.get("config")
        return int(answer.get("version", 0)), config if isinstance(config, dict) else {}  # type: ignore[call-overload]
