"""What the overview and asset pages read, kept between page loads until something is written.

Building the overview or an asset page reads a dozen listings through the API's route functions
(assets, rules, open alarms, hazards, work orders, condition ratings, a channel's downsampled
readings). Those answers are the same for every user of one organisation and role until
something is written, so they are kept here by (organisation, role, page, arguments) and shared
by page loads:

- any commit of this process's database sessions that wrote (an ORM row added, changed or
  deleted, or readings inserted; a token's last-use time alone does not count) drops them all;
- an answer is also dropped ``ttl_s`` seconds after it was computed, for writes made by other
  processes (API workers behind a load balancer, ingest workers, the CLI).

Only a page that is about to read the same data as the caller asks, with a key holding the
caller's organisation and role (and user, for a crew member), so the cache never widens access.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from infrasight.services.auth import Principal
from infrasight.storage.db import WROTE, Database
from infrasight.storage.models import ApiToken

__all__ = ["SummaryCache", "caller_key"]

T = TypeVar("T")

#: How long an answer is kept at most (seconds): the staleness bound for other processes' writes.
DEFAULT_TTL_S = 30.0


def caller_key(caller: Principal) -> tuple[Hashable, ...]:
    """The part of a key that decides what ``caller`` may see: organisation and role, and the
    user for a crew member (who sees their own work orders only)."""
    role = caller.role.value if caller.role is not None else None
    user = caller.user_id if role == "crew" else None
    return (caller.organization_id, role, user)


@dataclass(slots=True)
class SummaryCache:
    """Answers by key, the newest ``size`` kept, each valid for one write generation and at
    most ``ttl_s`` seconds."""

    size: int = 512
    ttl_s: float = DEFAULT_TTL_S
    clock: Callable[[], float] = time.monotonic
    generation: int = 0
    _done: OrderedDict[Hashable, tuple[int, float, Any]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The stored answer for ``key``, or ``compute()``'s (then stored)."""
        with self._lock:
            stored = self._done.get(key)
            if stored is not None:
                generation, at, answer = stored
                if generation == self.generation and self.clock() - at < self.ttl_s:
                    self._done.move_to_end(key)
                    return answer  # type: ignore[no-any-return]
            generation = self.generation
        answer = compute()
        with self._lock:
            if generation == self.generation:  # nothing was written while computing
                self._done[key] = (generation, self.clock(), answer)
                while len(self._done) > self.size:
                    self._done.popitem(last=False)
        return answer

    def invalidate(self) -> None:
        """Drop every answer (something was written)."""
        with self._lock:
            self.generation += 1
            self._done.clear()

    def watch(self, database: Database) -> None:
        """Drop the answers whenever a session of ``database`` commits a write."""
        database.listen("after_flush", _note_flush)
        database.listen("after_commit", lambda session: self._committed(session))

    def _committed(self, session: Session) -> None:
        if session.info.pop(WROTE, False):
            self.invalidate()


def _note_flush(session: Session, _context: Any) -> None:
    """Mark ``session`` as having written, unless all it flushed was tokens' last-use times."""
    changed = [*session.new, *session.dirty, *session.deleted]
    if any(not isinstance(row, ApiToken) or row in session.new for row in changed):
        session.info[WROTE] = True
