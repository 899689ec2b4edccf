"""The notifier: fans out ``notify`` effect rows and sends due deliveries with backoff.

Deliveries of one subscription go out one at a time in event order: only the oldest pending
delivery of a subscription is attempted, so a receiver that was down gets its backlog in order
once it is back. A failed attempt is retried after ``backoff_s * 2**(attempts-1)`` seconds
(capped); after ``max_attempts`` the delivery is dead-lettered and the next one goes. Every row
lives in the database, so a restart resumes where the last process stopped (at least once: a
crash between a receiver's answer and its record repeats that one delivery, with the same
``X-InfraSight-Delivery`` id for the receiver to drop).

Several processes may run notifiers on one database (several API processes): before sending, a
notifier claims the delivery with one conditional ``UPDATE`` that moves its ``next_attempt_at``
past the send's time limit (:func:`claim_s`), so the other notifiers no longer find it due and
only one of them sends it. A notifier that dies after its claim leaves the delivery to be sent
again once the claim has run out.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from infrasight.core.settings import Settings
from infrasight.jobs.runner import JobRunner
from infrasight.notify.sla import SlaPolicy, load_sla
from infrasight.notify.texts import render
from infrasight.services.notify.capture import NOTIFY
from infrasight.services.notify.senders import Outcome, send_email, send_webhook, webhook_body
from infrasight.services.notify.sweep import Escalation, sweep_sla
from infrasight.storage.db import Database
from infrasight.storage.models import (
    Job,
    NotificationDelivery,
    NotificationEvent,
    NotificationSubscription,
)

__all__ = ["Attempt", "Notifier", "backoff_s", "claim_s", "webhook_document"]

_LOGGER = logging.getLogger(__name__)


def backoff_s(attempts: int, *, base_s: float, max_s: float) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones (exponential, capped)."""
    return float(min(max_s, base_s * 2.0 ** max(0, attempts - 1)))


def webhook_document(
    delivery: NotificationDelivery, event: NotificationEvent, language: str
) -> dict[str, Any]:
    """The JSON a webhook receives (documented in docs/notifications.md)."""
    payload = dict(event.payload)
    text = render(event.kind, payload, language)
    return {
        "delivery_id": delivery.id,
        "event_id": event.id,
        "kind": event.kind,
        "occurred_at": event.created_at.isoformat(),
        "organization_id": event.organization_id,
        "severity": event.severity,
        "subject": {"type": event.subject_type, "id": event.subject_id},
        "asset": {"id": event.asset_id, "name": payload.get("asset", "")},
        "element": payload.get("element", ""),
        "link": payload.get("link", ""),
        "data": payload,
        "text": {"language": text.language, "title": text.title, "body": text.body},
    }


def claim_s(timeout_s: float) -> float:
    """Seconds a claimed delivery is withheld from other notifiers: well past the longest send
    (an SMTP exchange may spend ``timeout_s`` on each of a few steps)."""
    return max(60.0, 6.0 * timeout_s)


def claim_delivery(session: Session, delivery_id: int, now: datetime, claim_for_s: float) -> bool:
    """Take a due pending delivery for this notifier; False when another one has it.

    One conditional ``UPDATE`` (atomic on PostgreSQL and SQLite): it succeeds for one notifier
    only, and moves ``next_attempt_at`` to ``now + claim_for_s``, so the others no longer see
    the delivery as due.
    """
    claimed = session.execute(
        update(NotificationDelivery)
        .where(
            NotificationDelivery.id == delivery_id,
            NotificationDelivery.status == "pending",
            NotificationDelivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + timedelta(seconds=claim_for_s))
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(claimed, "rowcount", 0) == 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One attempt and its outcome (returned by :meth:`Notifier.deliver_due`)."""

    delivery_id: int
    subscription_id: int
    event_id: int
    outcome: Outcome
    status: str


class Notifier:
    """Fans out notification facts and sends deliveries; in a thread or on demand.

    Without :meth:`start` nothing happens in the background: :meth:`run_once` does one pass
    (the CLI and deterministic tests call it with their own ``now``).
    """

    def __init__(
        self, database: Database, jobs: JobRunner, settings: Settings, *, background: bool
    ) -> None:
        self.database = database
        self.jobs = jobs
        self.settings = settings
        self.background = background
        self.policy: SlaPolicy = load_sla(settings.notify_sla_file)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    # -- background ---------------------------------------------------------------------------

    def wake(self, _organizations: object = None) -> None:
        """New facts were committed: run a pass soon (safe from any thread)."""
        self._wake.set()

    def start(self, *, senders: int = 4) -> None:
        """Run passes in a daemon thread until :meth:`stop` (``senders`` parallel receivers).

        A no-op for a platform without background workers (the CLI, deterministic tests).
        """
        if self._thread is not None or not self.background:
            return
        self._stop.clear()
        self._pool = ThreadPoolExecutor(senders, thread_name_prefix="notify-send")
        self._thread = threading.Thread(target=self._loop, name="notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current pass (pending rows stay for the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_once()
            except Exception:
                _LOGGER.exception("notification pass failed")
            self._wake.wait(self.settings.notify_poll_s)

    def sweep(self, now: datetime | None = None) -> list[Escalation]:
        """Run the SLA sweep at ``now`` (default: the clock) in one transaction."""
        with self.database.transaction() as session:
            done = sweep_sla(session, self.policy, now or datetime.now(UTC))
        if done:
            self.wake()
        return done

    # -- one pass -----------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> list[Attempt]:
        """Fan out every queued fact, then send every due delivery; return the attempts."""
        self.fan_out()
        return self.deliver_due(now)

    def fan_out(self) -> int:
        """Apply the queued ``notify`` effect rows of every organisation; return rows applied."""
        with self.database.session() as session:
            orgs = session.scalars(
                select(Job.organization_id)
                .where(Job.name == NOTIFY, Job.status == "queued")
                .distinct()
            ).all()
        return sum(self.jobs.run_effects(NOTIFY, int(org)) for org in orgs if org is not None)

    def _due_heads(self, now: datetime) -> list[int]:
        pending = NotificationDelivery.status == "pending"
        heads = (
            select(func.min(NotificationDelivery.id))
            .where(pending)
            .group_by(NotificationDelivery.subscription_id)
        )
        with self.database.session() as session:
            return list(
                session.scalars(
                    select(NotificationDelivery.id)
                    .join(
                        NotificationSubscription,
                        NotificationSubscription.id == NotificationDelivery.subscription_id,
                    )
                    .where(
                        NotificationDelivery.id.in_(heads),
                        NotificationDelivery.next_attempt_at <= now,
                        NotificationSubscription.enabled,
                    )
                    .order_by(NotificationDelivery.id)
                )
            )

    def deliver_due(
        self, now: datetime | None = None, *, max_rounds: int = 10_000
    ) -> list[Attempt]:
        """Send the due head delivery of each subscription, repeatedly, until none is due.

        ``now`` (default: the clock) decides what is due and when a retry falls.
        """
        attempts: list[Attempt] = []
        for _ in range(max_rounds):
            moment = now or datetime.now(UTC)
            heads = self._due_heads(moment)
            if not heads:
                break
            if self._pool is not None and len(heads) > 1:
                results = list(self._pool.map(self._attempt, heads, [moment] * len(heads)))
            else:
                results = [self._attempt(d, moment) for d in heads]
            done = [a for a in results if a is not None]
            attempts.extend(done)
            if now is not None and not any(a.outcome.ok for a in done):
                break  # a fixed clock: what failed now is not due again in this pass
        return attempts

    def _attempt(self, delivery_id: int, now: datetime) -> Attempt | None:
        settings = self.settings
        with self.database.transaction() as session:
            if not claim_delivery(session, delivery_id, now, claim_s(settings.notify_timeout_s)):
                return None  # sent or being sent by another notifier
        with self.database.session() as session:
            delivery = session.get(NotificationDelivery, delivery_id)
            if delivery is None or delivery.status != "pending":
                return None
            event = session.get_one(NotificationEvent, delivery.event_id)
            sub = session.get_one(NotificationSubscription, delivery.subscription_id)
            kind, channel, target = event.kind, sub.channel, sub.target
            if channel == "webhook":
                secrets = [sub.secret]
                until = sub.previous_secret_until
                if sub.previous_secret and until is not None and until > datetime.now(UTC):
                    secrets.append(sub.previous_secret)
                body = webhook_body(webhook_document(delivery, event, sub.language))
            else:
                text = render(event.kind, dict(event.payload), sub.language)
        if channel == "webhook":
            outcome = send_webhook(
                target,
                body,
                secrets=secrets,
                timestamp=int(time.time()),
                delivery_id=delivery_id,
                kind=kind,
                timeout_s=settings.notify_timeout_s,
            )
        else:
            outcome = send_email(
                settings.smtp_url,
                sender=settings.notify_email_from,
                to=target,
                text=text,
                delivery_id=delivery_id,
                kind=kind,
                timeout_s=settings.notify_timeout_s,
            )
        with self.database.transaction() as session:
            row = session.get(NotificationDelivery, delivery_id)
            if row is None:  # its subscription was deleted meanwhile
                return None
            row.attempts += 1
            row.last_status_code = outcome.status_code
            row.last_error = outcome.error[:2000]
            if outcome.ok:
                row.status, row.delivered_at = "delivered", datetime.now(UTC)
            elif row.attempts >= settings.notify_max_attempts:
                row.status = "dead"
                _LOGGER.warning(
                    "delivery %s dead after %s attempts: %s",
                    delivery_id,
                    row.attempts,
                    outcome.error,
                )
            else:
                wait_s = backoff_s(
                    row.attempts,
                    base_s=settings.notify_backoff_s,
                    max_s=settings.notify_backoff_max_s,
                )
                row.next_attempt_at = now + timedelta(seconds=wait_s)
            status, subscription_id, event_id = row.status, row.subscription_id, row.event_id
        return Attempt(
            delivery_id=delivery_id,
            subscription_id=subscription_id,
            event_id=event_id,
            outcome=outcome,
            status=status,
        )
