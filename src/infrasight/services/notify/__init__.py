"""Notifications: facts captured with the change they follow, fanned out to subscriptions,
delivered (signed webhooks, e-mail) with retries and a dead-letter state; the SLA sweep."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infrasight.services.notify.capture import NOTIFY, install_capture
from infrasight.services.notify.fanout import apply_notify, merge_notify
from infrasight.services.notify.notifier import Notifier

if TYPE_CHECKING:
    from infrasight.platform import Platform

__all__ = ["NOTIFY", "Notifier", "register_notifications"]


def register_notifications(platform: Platform) -> None:
    """Capture facts on every flush, register the fan-out effect, wake the notifier on commit."""
    platform.jobs.register_effect(NOTIFY, apply_notify, merge=merge_notify)
    install_capture(platform.database, platform.notifier.wake)
