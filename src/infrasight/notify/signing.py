"""Webhook signatures: HMAC-SHA256 over ``"<timestamp>.<body>"``, with a replay window.

Every webhook request carries the header ::

    X-InfraSight-Signature: t=1767225600,v1=5f2b...e9

``t`` is the sending time (Unix seconds) and ``v1`` the lowercase hex HMAC-SHA256 of the bytes
``f"{t}.".encode() + body`` under the subscription's secret. While a secret is being rotated the
header carries one ``v1`` per valid secret (new first). A receiver recomputes the HMAC with its
secret, compares in constant time with any ``v1``, and refuses a ``t`` further than its replay
window (300 s by default) from its own clock; the ``X-InfraSight-Delivery`` header is the same
on every retry of one delivery, so a receiver drops duplicates by it. :func:`verify` is that
receiver, usable as is (standard library only).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "REPLAY_WINDOW_S",
    "SIGNATURE_HEADER",
    "SignatureError",
    "sign",
    "signature_header",
    "verify",
]

SIGNATURE_HEADER = "X-InfraSight-Signature"
DELIVERY_HEADER = "X-InfraSight-Delivery"
EVENT_HEADER = "X-InfraSight-Event"
REPLAY_WINDOW_S = 300


class SignatureError(ValueError):
    """A webhook request whose signature is missing, malformed, wrong or too old."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``b"<timestamp>." + body`` under ``secret``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    """``t=<timestamp>,v1=<hex>[,v1=<hex>...]``: one signature per secret, in order."""
    parts = [f"t={timestamp}", *(f"v1={sign(s, timestamp, body)}" for s in secrets if s)]
    return ",".join(parts)


def verify(
    header: str, body: bytes, secret: str, *, now: float, window_s: float = REPLAY_WINDOW_S
) -> int:
    """Check a signature header as a receiver does; return its timestamp.

    Parameters
    ----------
    header
        The ``X-InfraSight-Signature`` value.
    body
        The raw request body, byte for byte as received.
    secret
        The receiver's copy of the subscription secret.
    now
        The receiver's clock, Unix seconds.
    window_s
        Largest accepted difference between ``t`` and ``now``, seconds (the replay window).

    Raises
    ------
    SignatureError
        Malformed header, no matching signature, or ``t`` outside the window.
    """
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("malformed signature header: expected t=<seconds>,v1=<hex>")
    if abs(now - timestamp) > window_s:
        raise SignatureError(f"timestamp {timestamp} is outside the {window_s:g} s replay window")
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise SignatureError("no signature matches the secret")
    return timestamp
