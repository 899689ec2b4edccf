"""Notifications, pure parts: event kinds, webhook signatures, service levels (SLA) and texts.

Delivery, subscriptions and the sweep are services (``infrasight.services.notify``).
"""

from infrasight.notify.kinds import BAND_SEVERITY, CHANNELS, EVENT_KINDS, LANGUAGES
from infrasight.notify.signing import SignatureError, signature_header, verify

__all__ = [
    "BAND_SEVERITY",
    "CHANNELS",
    "EVENT_KINDS",
    "LANGUAGES",
    "SignatureError",
    "signature_header",
    "verify",
]
