"""Periodic work that exactly one process of a deployment does at a time.

Every API process (with the in-process job engine) and every Celery worker may run the periodic
sweeps (alarm no-data checks and escalations, the SLA sweep, the readings' partitions and
retention). :func:`only_one` lets the first process that asks do a given piece of work and tells
the others, which skip this round, that it is taken: a session-level PostgreSQL advisory lock
(released when the work ends or its connection dies, so a killed process never keeps it), or on
SQLite an exclusive ``flock`` on a file beside the database (one machine, as SQLite is).
"""

from __future__ import annotations

import fcntl
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from infrasight.storage.db import Database

__all__ = ["one_at_a_time", "only_one", "serialise_transaction"]

_LOGGER = logging.getLogger(__name__)
_NAME = re.compile(r"^[a-z0-9_-]+$")


def serialise_transaction(session: Session, key: str) -> None:
    """Hold ``key`` until the session's transaction ends: one such transaction at a time
    across processes.

    On PostgreSQL a transaction-scoped advisory lock (released at commit, rollback or when the
    holder's connection dies), taken before the transaction's reads so that they see what the
    previous holder committed. SQLite's single writer already serialises processes (its write
    transactions begin immediately).
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


@contextmanager
def only_one(database: Database, name: str, *, cleanup: bool = False) -> Iterator[bool]:
    """Yield True to the one process that may do the work ``name`` now, False to the others.

    Held for the ``with`` block. Also a probe of liveness: a process that holds ``name``
    while it works is alive exactly while another one gets False. ``name`` is lower-case
    letters, digits, ``-`` and ``_`` (it also names a lock file). ``cleanup`` removes SQLite's
    lock file afterwards (names used once, such as one job's).
    """
    if not _NAME.match(name):
        raise ValueError(f"name must match {_NAME.pattern}, not {name!r}")
    if database.is_sqlite:
        with _file_lock(database, name, cleanup=cleanup) as got:
            yield got
        return
    with database.engine.connect() as connection:
        key = f"infrasight-periodic:{name}"
        got = bool(
            connection.execute(
                text("SELECT pg_try_advisory_lock(hashtext(:key))"), {"key": key}
            ).scalar()
        )
        connection.commit()  # the lock is the session's; no transaction stays open meanwhile
        try:
            yield got
        finally:
            if got:
                connection.execute(text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": key})
                connection.commit()


@contextmanager
def one_at_a_time(database: Database, name: str) -> Iterator[None]:
    """Wait until no other process of a SQLite database does the work ``name``, and hold it
    for the ``with`` block (an exclusive ``flock`` beside the database file; a killed process'
    lock is released with it). A no-op on PostgreSQL, whose callers serialise in the database
    (advisory transaction locks)."""
    if not _NAME.match(name):
        raise ValueError(f"name must match {_NAME.pattern}, not {name!r}")
    if not database.is_sqlite:
        yield
        return
    path = _sqlite_folder(database.url) / f".infrasight-{name}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _file_lock(database: Database, name: str, *, cleanup: bool) -> Iterator[bool]:
    path = _sqlite_folder(database.url) / f".infrasight-{name}.lock"
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _LOGGER.debug("%s is being done by another process", name)
            yield False
            return
        try:
            yield True
        finally:
            if cleanup:  # before the unlock: a process that opens it later makes a new file
                path.unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sqlite_folder(url: str) -> Path:
    """The folder of a ``sqlite:///path`` database (the working folder for in-memory ones)."""
    path = url.split("///", 1)[1] if "///" in url else ""
    return Path(path).parent if path and path != ":memory:" else Path.cwd()
