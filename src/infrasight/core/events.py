"""A typed in-process event bus: services publish what happened, analytics subscribe.

Events are notifications, not the work itself: what a stored fact causes is a durable row
written in the fact's transaction (``jobs/runner.py``), so a lost event loses nothing.
``subscribe(EventType, listener)`` returns a callable that unsubscribes. A failing listener is
logged and never breaks the publisher or the other listeners.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "CaptureStored",
    "DefectsStored",
    "Event",
    "EventBus",
    "ReadingBatchStored",
    "RecordStored",
]

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event; ``organization_id`` scopes it to one tenant."""

    organization_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingBatchStored(Event):
    """A batch of readings was committed.

    ``channel_ids`` are the channels that received new readings; ``start_us``/``end_us`` bound
    their times (microseconds since the Unix epoch, inclusive).
    """

    channel_ids: tuple[int, ...]
    start_us: int
    end_us: int
    accepted: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureStored(Event):
    """An image capture was stored."""

    capture_id: int
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DefectsStored(Event):
    """The analysis of a capture stored its defects (and the hazard update they call for)."""

    capture_id: int
    defect_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordStored(Event):
    """A high-rate waveform record was stored."""

    record_id: int


E = TypeVar("E", bound=Event)
Listener = Callable[[E], None]


class EventBus:
    """Synchronous publish/subscribe keyed by event type (subclasses reach base listeners)."""

    def __init__(self) -> None:
        self._listeners: dict[type[Event], list[Callable[[Event], None]]] = {}
        self._lock = threading.Lock()

    def subscribe(self, event_type: type[E], listener: Callable[[E], None]) -> Callable[[], None]:
        """Call ``listener`` for every published event of ``event_type``; return an unsubscriber."""
        entry: Callable[[Event], None] = listener  # type: ignore[assignment]
        with self._lock:
            self._listeners.setdefault(event_type, []).append(entry)

        def unsubscribe() -> None:
            with self._lock:
                listeners = self._listeners.get(event_type, [])
                if entry in listeners:
                    listeners.remove(entry)

        return unsubscribe

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to its listeners in subscription order; log listener failures."""
        with self._lock:
            targets = [
                listener
                for event_type, listeners in self._listeners.items()
                if isinstance(event, event_type)
                for listener in listeners
            ]
        for listener in targets:
            try:
                listener(event)
            except Exception:
                _LOGGER.exception("listener %r failed on %s", listener, type(event).__name__)
