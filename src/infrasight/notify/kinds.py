"""The notification event kinds and their severity scale (data, shared by every part)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["BAND_SEVERITY", "CHANNELS", "EVENT_KINDS", "LANGUAGES"]

EVENT_KINDS: tuple[str, ...] = (
    "alarm.raised",
    "alarm.escalated",
    "alarm.cleared",
    "alarm.unacknowledged",
    "hazard.opened",
    "hazard.escalated",
    "hazard.reopened",
    "hazard.unattended",
    "work_order.assigned",
    "work_order.overdue",
    "work_order.not_started",
    "work_order.verified",
    "work_order.verification_failed",
)
"""Every kind a subscription may filter on."""

CHANNELS: tuple[str, ...] = ("webhook", "email")
LANGUAGES: tuple[str, ...] = ("en", "zh-Hant", "zh-Hans")

BAND_SEVERITY: Mapping[str, int] = {"low": 1, "medium": 2, "high": 3, "very high": 4}
"""A hazard's risk band as a severity (alarms carry their rule's severity)."""
