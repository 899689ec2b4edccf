"""Subscriptions: create, change, rotate the secret of, and delete where notifications go.

A webhook's secret is made here (``secrets.token_urlsafe``) and handed back only in the answer
that created or rotated it. Every change is audited; a rejected request writes nothing.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.notify.kinds import CHANNELS, EVENT_KINDS, LANGUAGES
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.storage.models import Asset, NotificationSubscription

__all__ = [
    "check_webhook_url",
    "create_subscription",
    "delete_subscription",
    "get_subscription",
    "new_secret",
    "rotate_secret",
    "update_subscription",
]

_EMAIL = re.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
MAX_GRACE_HOURS = 168.0


def new_secret() -> str:
    """A fresh webhook signing secret (256 bits, URL-safe text)."""
    return "whsec_" + secrets.token_urlsafe(32)


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else (443 if scheme == "https" else 80)


def check_webhook_url(url: str, own_urls: Iterable[str] = ()) -> str:
    """A webhook target, checked: http(s), a host, not link-local, not this server.

    ``own_urls`` are the addresses this server answers at (its public URL, the request's base
    URL); a target on the same host and port is refused (it would call itself). Loopback names
    and addresses count as one host.

    Raises
    ------
    InvalidInputError
        Naming the field ``target`` and the problem.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise InvalidInputError(f"not a valid URL: {err}", field="target") from err
    if parts.scheme not in ("http", "https"):
        raise InvalidInputError("a webhook URL must start with http:// or https://", field="target")
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidInputError("a webhook URL needs a host", field="target")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and (address.is_link_local or address.is_multicast):
        raise InvalidInputError(
            f"a webhook may not point at the link-local or multicast address {host}",
            field="target",
        )
    for own in own_urls:
        mine = urlsplit(own)
        own_host = (mine.hostname or "").lower()
        if not own_host:
            continue
        same_host = host == own_host or (_is_loopback(host) and _is_loopback(own_host))
        own_port = _port(mine.scheme, mine.port)
        if same_host and _port(parts.scheme, port) == own_port:
            raise InvalidInputError(
                f"a webhook may not point at this server ({own_host}:{own_port})",
                field="target",
            )
    return url


def _check_email(address: str) -> str:
    address = address.strip()
    if not _EMAIL.fullmatch(address):
        raise InvalidInputError(f"{address!r} is not an e-mail address", field="target")
    return address


def _check_filters(session: Session, principal: Principal, values: dict[str, Any]) -> None:
    kinds = values.get("event_kinds")
    if kinds is not None:
        unknown = sorted(set(kinds) - set(EVENT_KINDS))
        if unknown:
            raise InvalidInputError(
                f"unknown event kind(s) {unknown}; kinds: {', '.join(EVENT_KINDS)}",
                field="event_kinds",
            )
    assets = values.get("asset_ids")
    if assets:
        found = set(
            session.scalars(
                select(Asset.id).where(
                    Asset.organization_id == principal.organization_id, Asset.id.in_(assets)
                )
            )
        )
        missing = sorted(set(assets) - found)
        if missing:
            raise InvalidInputError(f"asset(s) {missing} not found", field="asset_ids")
    language = values.get("language")
    if language is not None and language not in LANGUAGES:
        raise InvalidInputError(
            f"{language!r} is not a language; languages: {', '.join(LANGUAGES)}", field="language"
        )
    severity = values.get("min_severity")
    if severity is not None and not 0 <= int(severity) <= 5:
        raise InvalidInputError("min_severity must be 0-5", field="min_severity")


def get_subscription(
    session: Session, principal: Principal, subscription_id: int
) -> NotificationSubscription:
    """The subscription with this id in the caller's organisation (NotFoundError otherwise)."""
    try:
        sub = session.get(NotificationSubscription, subscription_id)
    except DataError as err:  # an id beyond the column (PostgreSQL integer)
        session.rollback()
        raise NotFoundError(f"subscription {subscription_id} not found") from err
    if sub is None or sub.organization_id != principal.organization_id:
        raise NotFoundError(f"subscription {subscription_id} not found")
    return sub


def create_subscription(
    session: Session,
    principal: Principal,
    *,
    name: str,
    channel: str,
    target: str,
    event_kinds: list[str] | None = None,
    asset_ids: list[int] | None = None,
    min_severity: int = 0,
    language: str = "en",
    own_urls: Iterable[str] = (),
) -> tuple[NotificationSubscription, str]:
    """Create a subscription; return it and its secret (empty for e-mail), shown only now.

    Raises
    ------
    InvalidInputError
        A bad channel, target, event kind, asset, language or severity (each named).
    """
    if channel not in CHANNELS:
        raise InvalidInputError(
            f"{channel!r} is not a channel; channels: {', '.join(CHANNELS)}", field="channel"
        )
    target = check_webhook_url(target, own_urls) if channel == "webhook" else _check_email(target)
    values = {
        "event_kinds": sorted(set(event_kinds or [])),
        "asset_ids": sorted(set(asset_ids or [])),
        "min_severity": min_severity,
        "language": language,
    }
    _check_filters(session, principal, values)
    secret = new_secret() if channel == "webhook" else ""
    sub = NotificationSubscription(
        organization_id=principal.organization_id,
        name=name.strip()[:120] or target[:120],
        channel=channel,
        target=target,
        secret=secret,
        created_by=principal.name,
        **values,
    )
    session.add(sub)
    session.flush()
    record_audit(
        session,
        principal,
        "notification_subscription.create",
        "notification_subscription",
        sub.id,
        {"channel": channel, "target": target, **values},
    )
    return sub, secret


def update_subscription(
    session: Session,
    principal: Principal,
    subscription_id: int,
    changes: dict[str, Any],
    *,
    own_urls: Iterable[str] = (),
) -> NotificationSubscription:
    """Change a subscription's name, target, filters, language or ``enabled`` (audited)."""
    sub = get_subscription(session, principal, subscription_id)
    if "target" in changes:
        changes["target"] = (
            check_webhook_url(changes["target"], own_urls)
            if sub.channel == "webhook"
            else _check_email(changes["target"])
        )
    for key in ("event_kinds", "asset_ids"):
        if key in changes:
            changes[key] = sorted(set(changes[key] or []))
    _check_filters(session, principal, changes)
    before = {k: getattr(sub, k) for k in changes}
    for key, value in changes.items():
        setattr(sub, key, value)
    record_audit(
        session,
        principal,
        "notification_subscription.update",
        "notification_subscription",
        sub.id,
        {"before": before, "after": changes},
    )
    session.flush()
    return sub


def rotate_secret(
    session: Session, principal: Principal, subscription_id: int, *, grace_hours: float
) -> tuple[NotificationSubscription, str]:
    """Give a webhook a new secret; the old one keeps signing beside it for ``grace_hours``.

    Raises
    ------
    InvalidInputError
        An e-mail subscription (field ``channel``) or a grace out of 0-168 h (``grace_hours``).
    """
    sub = get_subscription(session, principal, subscription_id)
    if sub.channel != "webhook":
        raise InvalidInputError("only a webhook has a secret", field="channel")
    if not 0 <= grace_hours <= MAX_GRACE_HOURS:
        raise InvalidInputError(f"grace_hours must be 0-{MAX_GRACE_HOURS:g}", field="grace_hours")
    secret = new_secret()
    sub.previous_secret = sub.secret if grace_hours > 0 else ""
    sub.previous_secret_until = (
        datetime.now(UTC) + timedelta(hours=grace_hours) if grace_hours > 0 else None
    )
    sub.secret = secret
    record_audit(
        session,
        principal,
        "notification_subscription.rotate_secret",
        "notification_subscription",
        sub.id,
        {"grace_hours": grace_hours},
    )
    session.flush()
    return sub, secret


def delete_subscription(session: Session, principal: Principal, subscription_id: int) -> None:
    """Delete a subscription and its delivery log (audited)."""
    sub = get_subscription(session, principal, subscription_id)
    record_audit(
        session,
        principal,
        "notification_subscription.delete",
        "notification_subscription",
        sub.id,
        {"channel": sub.channel, "target": sub.target},
    )
    session.delete(sub)
    session.flush()
