"""Group commit: concurrent units of writing share one transaction, and one commit.

Under load many requests write small batches at once (a thousand devices each posting a
reading a second). Committing each on its own makes them queue for the database's single
writer (SQLite) or pay a commit each (PostgreSQL). Instead a caller hands its unit of writing
to :meth:`GroupCommit.run`: the units waiting at that moment are applied, in arrival order,
in one transaction by whichever caller holds the writer's turn, and every caller returns only
after the commit that contains its unit (so what it acknowledges is durable). The turn passes
from caller to caller: the one that writes stops once its own unit is committed and wakes the
oldest waiting caller, which writes everything that queued meanwhile; the others sleep on
their own event until their unit is written.

A unit is a function of the session that only writes through it and may run again: when the
shared transaction fails, it is rolled back and every unit of the group runs once more in a
transaction of its own, so a unit's error reaches only its own caller and never undoes another
caller's data.

A unit may also name a ``finish`` step: after the units of a group ran, each distinct finish
step runs once, in the same transaction, before the commit. Units use it to share one write
per group (one device last-seen update, one effect row of the readings of a thousand requests)
instead of one each: they leave what to write in ``session.info`` and the finish step writes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

__all__ = ["GroupCommit"]

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(eq=False)
class _Unit(Generic[T]):
    work: Callable[[Session], T]
    finish: Callable[[Session], None] | None = None
    done: bool = False
    result: T | None = None
    error: BaseException | None = field(default=None)
    wake: threading.Event = field(default_factory=threading.Event)
    """Set when the unit is written, or when its thread is to write the next group."""


class GroupCommit:
    """Applies units of writing of concurrent callers in shared transactions.

    Parameters
    ----------
    transaction
        Opens a transaction: a context manager yielding a session, committed on success and
        rolled back on error (:meth:`infrasight.storage.db.Database.transaction`).
    writer_lock
        Held while a group is written; share it with other writers of the same database that
        should not contend with the groups inside the database (SQLite's single writer).
    max_units
        The most units in one transaction (bounds its size and its latency).
    """

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Session]],
        *,
        writer_lock: AbstractContextManager[object] | None = None,
        max_units: int = 2000,
    ) -> None:
        self._transaction = transaction
        self.writer_lock: AbstractContextManager[object] = writer_lock or threading.Lock()
        self._queue_lock = threading.Lock()
        self._waiting: list[_Unit[Any]] = []
        self._leader: _Unit[Any] | None = None
        self.max_units = max_units
        self.groups = 0
        self.units = 0

    def run(
        self, work: Callable[[Session], T], *, finish: Callable[[Session], None] | None = None
    ) -> T:
        """Apply ``work(session)`` in a committed transaction, possibly shared; its result.

        ``finish(session)`` runs once per transaction after all its units (the same function
        given by several units of a group runs once), before the commit.

        Raises whatever ``work`` (or ``finish``) raised when it ran alone (nothing of it is then
        written).
        """
        unit: _Unit[T] = _Unit(work, finish)
        with self._queue_lock:
            self._waiting.append(unit)
            lead = self._leader is None
            if lead:
                self._leader = unit
        if not lead:
            unit.wake.wait()  # written by another thread, or its turn to write
        if not unit.done:
            self._lead(unit)
        if unit.error is not None:
            raise unit.error
        return unit.result  # type: ignore[return-value]

    def _lead(self, unit: _Unit[Any]) -> None:
        """Write groups until ``unit``'s is written, then hand the turn to the oldest waiting
        unit's thread. The other callers wait on their own event, not on the writer's lock
        (which, shared with other processes, each of them would otherwise take in turn just to
        learn that its unit was written)."""
        try:
            while not unit.done:
                with self.writer_lock:
                    with self._queue_lock:
                        group = self._waiting[: self.max_units]
                        del self._waiting[: self.max_units]
                    if group:
                        self._write(group)
        finally:
            with self._queue_lock:
                successor = self._waiting[0] if self._waiting else None
                self._leader = successor
            if successor is not None:
                successor.wake.set()

    def _write(self, group: list[_Unit[Any]]) -> None:
        try:
            with self._transaction() as session:
                results = [unit.work(session) for unit in group]
                finishers = {id(u.finish): u.finish for u in group if u.finish is not None}
                for finish in finishers.values():
                    finish(session)
        except Exception as err:
            if len(group) == 1:
                group[0].error, group[0].done = err, True
                group[0].wake.set()
                return
            _LOGGER.debug("group of %d units failed (%s): each runs alone", len(group), err)
            for unit in group:
                self._write([unit])
            return
        for unit, result in zip(group, results, strict=True):
            unit.result, unit.done = result, True
            unit.wake.set()
        self.groups += 1
        self.units += len(group)
