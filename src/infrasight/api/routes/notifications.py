"""Notifications: subscriptions (webhook or e-mail, with filters), the delivery log with its
dead letters, the events, and the SLA sweep. A webhook secret is in the answer that creates or
rotates it and nowhere else."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import DataError

from infrasight.api.deps import CallerDep, PlatformDep, SessionDep
from infrasight.api.routes.common import DbId, Limit, Offset, Page, ReadModel, RequestModel, page_of
from infrasight.core.domain import Action, role_allows
from infrasight.core.errors import ConflictError, NotFoundError, PermissionDeniedError
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.services.notify.subscriptions import (
    create_subscription,
    delete_subscription,
    get_subscription,
    rotate_secret,
    update_subscription,
)
from infrasight.services.user_locale import recipient_locale
from infrasight.storage.models import NotificationDelivery, NotificationEvent

router = APIRouter(tags=["notifications"])

Channel = Literal["webhook", "email"]
Language = Literal["en", "zh-Hant", "zh-Hans"]


class SubscriptionRead(ReadModel):
    id: int
    name: str
    channel: str
    target: str
    event_kinds: list[str]
    asset_ids: list[int]
    min_severity: int
    language: str
    enabled: bool
    previous_secret_until: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(description="The webhook signing secret; shown only in this answer.")


class SubscriptionCreate(RequestModel):
    name: str = Field(default="", max_length=120)
    channel: Channel
    target: str = Field(min_length=1, max_length=500, description="Webhook URL or e-mail address")
    event_kinds: list[str] = Field(default_factory=list, max_length=50)
    asset_ids: list[DbId] = Field(default_factory=list, max_length=1000)
    min_severity: int = Field(default=0, ge=0, le=5)
    language: Language | None = Field(
        default=None,
        description=(
            "Language of the texts; default: the locale of the user the e-mail address belongs "
            "to, else the creator's locale"
        ),
    )


class SubscriptionPatch(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    target: str | None = Field(default=None, min_length=1, max_length=500)
    event_kinds: list[str] | None = Field(default=None, max_length=50)
    asset_ids: list[DbId] | None = Field(default=None, max_length=1000)
    min_severity: int | None = Field(default=None, ge=0, le=5)
    language: Language | None = None
    enabled: bool | None = None


class RotateIn(RequestModel):
    grace_hours: float = Field(
        default=24.0, ge=0, le=168, description="How long the old secret keeps signing too"
    )


class DeliveryRead(ReadModel):
    id: int
    event_id: int
    subscription_id: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str
    delivered_at: datetime | None
    created_at: datetime


class EventRead(ReadModel):
    id: int
    kind: str
    severity: int
    asset_id: int | None
    subject_type: str
    subject_id: int
    payload: dict[str, Any]
    created_at: datetime


def _own_urls(request: Request, platform: PlatformDep) -> list[str]:
    urls = [str(request.base_url)]
    if platform.settings.public_url:
        urls.append(platform.settings.public_url)
    return urls


def _configures(caller: Principal) -> bool:
    """Engineers and admins manage every subscription of the organisation."""
    return caller.role is not None and role_allows(caller.role, Action.CONFIGURE)


def _check_personal(caller: Principal, channel: str, target: str) -> None:
    """Any other user may subscribe only their own e-mail address (a personal subscription)."""
    caller.require(Action.READ)
    if _configures(caller):
        return
    if channel != "email" or target.strip().lower() != caller.name.lower():
        raise PermissionDeniedError(
            f"role {caller.role.value if caller.role else 'device'!r} may subscribe only its "
            f"own e-mail address ({caller.name}); webhooks and other addresses need an engineer"
        )


def _owned_subscription(session: SessionDep, caller: Principal, subscription_id: int) -> Any:
    """The subscription, if the caller manages it (engineers: all; others: their own)."""
    caller.require(Action.READ)
    sub = get_subscription(session, caller, subscription_id)
    if not _configures(caller) and sub.created_by != caller.name:
        raise NotFoundError(f"subscription {subscription_id} not found")
    return sub


def _created(sub: Any, secret: str) -> SubscriptionCreated:
    return SubscriptionCreated.model_validate(
        {**SubscriptionRead.model_validate(sub).model_dump(), "secret": secret}
    )


@router.post("/notifications/subscriptions", status_code=201)
def post_subscription(
    body: SubscriptionCreate,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    platform: PlatformDep,
) -> SubscriptionCreated:
    """Subscribe a webhook URL or an e-mail address to the organisation's notifications.

    Empty ``event_kinds``/``asset_ids`` mean all. A webhook gets a signing secret, returned in
    this answer only (see docs/notifications.md for verifying the signature). Engineers and
    admins subscribe any target; every other user may subscribe their own e-mail address (a
    personal subscription, listed and changed by them)."""
    _check_personal(caller, body.channel, body.target)
    sub, secret = create_subscription(
        session,
        caller,
        name=body.name,
        channel=body.channel,
        target=body.target,
        event_kinds=body.event_kinds,
        asset_ids=list(body.asset_ids),
        min_severity=body.min_severity,
        language=body.language
        or recipient_locale(
            session,
            caller.organization_id,
            body.target if body.channel == "email" else "",
            fallback_user_id=caller.user_id,
        ),
        own_urls=_own_urls(request, platform),
    )
    out = _created(sub, secret)
    session.commit()
    return out


@router.get("/notifications/subscriptions")
def list_subscriptions(session: SessionDep, caller: CallerDep) -> list[SubscriptionRead]:
    """The organisation's subscriptions (never their secrets); for a user who is not an
    engineer or admin, their own personal subscriptions."""
    caller.require(Action.READ)
    from infrasight.storage.models import NotificationSubscription

    query = select(NotificationSubscription).where(
        NotificationSubscription.organization_id == caller.organization_id
    )
    if not _configures(caller):
        query = query.where(NotificationSubscription.created_by == caller.name)
    rows = session.scalars(query.order_by(NotificationSubscription.id))
    return [SubscriptionRead.model_validate(r) for r in rows]


@router.get("/notifications/subscriptions/{subscription_id}")
def get_one(subscription_id: DbId, session: SessionDep, caller: CallerDep) -> SubscriptionRead:
    """One subscription (never its secret)."""
    return SubscriptionRead.model_validate(_owned_subscription(session, caller, subscription_id))


@router.patch("/notifications/subscriptions/{subscription_id}")
def patch_subscription(
    subscription_id: DbId,
    body: SubscriptionPatch,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    platform: PlatformDep,
) -> SubscriptionRead:
    """Change a subscription's name, target, filters, language or ``enabled`` (audited)."""
    sub = _owned_subscription(session, caller, subscription_id)
    if body.target is not None:
        _check_personal(caller, sub.channel, body.target)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    sub = update_subscription(
        session, caller, subscription_id, changes, own_urls=_own_urls(request, platform)
    )
    out = SubscriptionRead.model_validate(sub)
    session.commit()
    return out


@router.post("/notifications/subscriptions/{subscription_id}/rotate-secret")
def post_rotate(
    subscription_id: DbId, body: RotateIn, session: SessionDep, caller: CallerDep
) -> SubscriptionCreated:
    """A new webhook secret (shown only here); the old one also signs for ``grace_hours``."""
    caller.require(Action.CONFIGURE)
    sub, secret = rotate_secret(session, caller, subscription_id, grace_hours=body.grace_hours)
    out = _created(sub, secret)
    session.commit()
    return out


@router.delete("/notifications/subscriptions/{subscription_id}", status_code=204)
def delete_one(subscription_id: DbId, session: SessionDep, caller: CallerDep) -> Response:
    """Delete a subscription and its delivery log (audited)."""
    _owned_subscription(session, caller, subscription_id)
    delete_subscription(session, caller, subscription_id)
    session.commit()
    return Response(status_code=204)


@router.get("/notifications/deliveries")
def list_deliveries(
    session: SessionDep,
    caller: CallerDep,
    limit: Limit = 100,
    offset: Offset = 0,
    status: Annotated[
        Literal["pending", "delivered", "dead"] | None,
        Query(description="Only this status (dead: the dead letters)"),
    ] = None,
    subscription_id: DbId | None = None,
) -> Page[DeliveryRead]:
    """The delivery log, newest first: each attempt's count, last status and error."""
    caller.require(Action.CONFIGURE)
    q = select(NotificationDelivery).where(
        NotificationDelivery.organization_id == caller.organization_id
    )
    if status is not None:
        q = q.where(NotificationDelivery.status == status)
    if subscription_id is not None:
        q = q.where(NotificationDelivery.subscription_id == subscription_id)
    return page_of(session, q.order_by(NotificationDelivery.id.desc()), limit, offset, DeliveryRead)


@router.post("/notifications/deliveries/{delivery_id}/retry")
def post_retry(
    delivery_id: DbId, session: SessionDep, caller: CallerDep, platform: PlatformDep
) -> DeliveryRead:
    """Send a dead-lettered delivery again (its attempts start over; 409 unless dead)."""
    caller.require(Action.CONFIGURE)
    try:
        row = session.get(NotificationDelivery, delivery_id)
    except DataError:
        row = None
    if row is None or row.organization_id != caller.organization_id:
        raise NotFoundError(f"delivery {delivery_id} not found")
    if row.status != "dead":
        raise ConflictError(f"delivery {delivery_id} is {row.status}; only a dead one is retried")
    row.status, row.attempts, row.last_error = "pending", 0, ""
    row.next_attempt_at = datetime.now(row.created_at.tzinfo)
    record_audit(session, caller, "notification_delivery.retry", "notification_delivery", row.id)
    out = DeliveryRead.model_validate(row)
    session.commit()
    platform.notifier.wake()
    return out


@router.get("/notifications/events")
def list_events(
    session: SessionDep,
    caller: CallerDep,
    limit: Limit = 100,
    offset: Offset = 0,
    kind: str | None = None,
) -> Page[EventRead]:
    """Notification events of the organisation, newest first."""
    caller.require(Action.READ)
    q = select(NotificationEvent).where(NotificationEvent.organization_id == caller.organization_id)
    if kind is not None:
        q = q.where(NotificationEvent.kind == kind)
    return page_of(session, q.order_by(NotificationEvent.id.desc()), limit, offset, EventRead)


@router.post("/notifications/sweep")
def post_sweep(caller: CallerDep, platform: PlatformDep) -> dict[str, Any]:
    """Run the SLA sweep now (it also runs every minute in the server); answers the new steps."""
    caller.require(Action.ADMINISTER)
    done = platform.notifier.sweep()
    return {
        "escalations": [
            {
                "subject_type": e.subject_type,
                "subject_id": e.subject_id,
                "rule": e.rule,
                "event": e.event,
                "step": e.step,
            }
            for e in done
        ]
    }
