"""Send one notification: a signed webhook POST (standard library HTTP) or an e-mail (smtplib).

A sender returns an :class:`Outcome`; it never raises for a receiver's failure, so the notifier
records every attempt the same way.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from infrasight.notify.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)
from infrasight.notify.texts import Text

__all__ = ["Outcome", "send_email", "send_webhook", "webhook_body"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What one attempt gave: delivered or not, the HTTP status (webhooks) and the error."""

    ok: bool
    status_code: int | None = None
    error: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook is not followed to another address (a redirect is a failed attempt)."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def webhook_body(document: dict[str, Any]) -> bytes:
    """The exact bytes that are signed and sent (compact JSON, UTF-8)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def send_webhook(
    url: str,
    body: bytes,
    *,
    secrets: list[str],
    timestamp: int,
    delivery_id: int,
    kind: str,
    timeout_s: float,
) -> Outcome:
    """POST ``body`` to ``url`` signed with ``secrets``; a 2xx answer is a delivery."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "InfraSight-Webhook/1",
            SIGNATURE_HEADER: signature_header(secrets, timestamp, body),
            DELIVERY_HEADER: str(delivery_id),
            EVENT_HEADER: kind,
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            status = int(response.status)
    except urllib.error.HTTPError as err:
        return Outcome(ok=False, status_code=err.code, error=f"HTTP {err.code} {err.reason}")
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        return Outcome(ok=False, error=f"{type(err).__name__}: {reason}")
    if 200 <= status < 300:
        return Outcome(ok=True, status_code=status)
    return Outcome(ok=False, status_code=status, error=f"HTTP {status}")


def send_email(
    smtp_url: str,
    *,
    sender: str,
    to: str,
    text: Text,
    delivery_id: int,
    kind: str,
    timeout_s: float,
) -> Outcome:
    """Send ``text`` to ``to`` through the server of ``smtp_url``.

    ``smtp://[user:password@]host[:port][?starttls=true]`` or ``smtps://`` (TLS from the start).
    """
    if not smtp_url:
        return Outcome(ok=False, error="no mail server configured (INFRASIGHT_SMTP_URL)")
    parts = urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        return Outcome(ok=False, error="INFRASIGHT_SMTP_URL must be smtp://host[:port]")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = text.title
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=f"delivery-{delivery_id}")
    message["Content-Language"] = text.language
    message[DELIVERY_HEADER] = str(delivery_id)
    message[EVENT_HEADER] = kind
    message.set_content(text.body)
    starttls = parse_qs(parts.query).get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
    try:
        client: smtplib.SMTP
        if parts.scheme == "smtps":
            client = smtplib.SMTP_SSL(
                parts.hostname,
                parts.port or 465,
                timeout=timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=timeout_s)
        with client:
            if starttls:
                client.starttls(context=ssl.create_default_context())
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as err:
        return Outcome(ok=False, error=f"{type(err).__name__}: {err}")
    return Outcome(ok=True)
