"""Where an MQTT broker listens: ``mqtt://[user:password@]host[:port]`` parsed (no client)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from infrasight.core.errors import InvalidInputError

__all__ = ["BrokerAddress", "parse_broker_url"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerAddress:
    """Where the broker listens and how to log in to it."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://[user:password@]host[:port]`` (or ``mqtts://``) as a :class:`BrokerAddress`.

    Raises
    ------
    InvalidInputError
        For another scheme or a missing host.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise InvalidInputError(
            f"{url!r} is not an mqtt://[user:password@]host[:port] URL", field="mqtt_url"
        )
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as err:
        raise InvalidInputError(f"bad port in {url!r}", field="mqtt_url") from err
    return BrokerAddress(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )
