"""Engine and session factory: SQLite in WAL mode by default, PostgreSQL by URL.

The connection pool keeps as many connections as the server has threads that use one (the
request threads plus the workers). A request may also hold its session while it waits for a
thread, so SQLite (whose connections are file handles) opens more when needed rather than make
a request wait; PostgreSQL opens up to :data:`POOL_SIZE`. Writes of concurrent requests go
through :attr:`Database.group_commit`.

On SQLite the group commits and the background writers (:meth:`Database.write_transaction`)
take turns on one :class:`~infrasight.storage.writer_lock.WriterLock`, shared by every process
that opens the file (``serve --workers``), and a background write transaction begins with
``BEGIN IMMEDIATE``: the Python driver otherwise starts a transaction only at its first write,
so what it read before (the effect rows it is about to apply) could be applied meanwhile by
another process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from infrasight.core.settings import Settings
from infrasight.storage.group_commit import GroupCommit
from infrasight.storage.writer_lock import WriterLock

__all__ = ["POOL_SIZE", "WROTE", "Database"]

T = TypeVar("T")

POOL_SIZE = 64
"""Connections kept per process: the 40 request threads of the server (AnyIO's default), the
workers and requests waiting for a thread. Idle PostgreSQL connections above
:data:`PG_IDLE_CONNECTIONS` are closed again, and PostgreSQL opens no more than this."""

#: ``session.info`` key set by writes the ORM does not see (raw SQL such as readings inserts),
#: so ``after_commit`` listeners (the web pages' cache) know the transaction wrote.
WROTE = "infrasight.wrote"

PG_IDLE_CONNECTIONS = 10


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


class Database:
    """Owns the engine and hands out sessions; one per application."""

    def __init__(self, settings: Settings) -> None:
        url = settings.effective_database_url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=POOL_SIZE,
                max_overflow=-1,
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(
                url,
                pool_size=PG_IDLE_CONNECTIONS,
                max_overflow=POOL_SIZE - PG_IDLE_CONNECTIONS,
                pool_pre_ping=True,
            )
        self.url = url
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.writer_lock = WriterLock(_writer_lock_path(url) if self.is_sqlite else None)
        """The turn of the writers that go through the group commit or
        :meth:`write_transaction` (on SQLite across processes)."""
        self.group_commit = GroupCommit(
            self.transaction,
            writer_lock=self.writer_lock,
            max_units=settings.group_commit_max,
        )
        """Shared transactions for the small writes of concurrent requests (ingest)."""

    def listen(self, name: str, handler: Any) -> None:
        """Register a session event handler (``after_flush``, ``after_commit``...) on this
        database's sessions only."""
        event.listen(self._sessions, name, handler)

    def session(self) -> Session:
        """A new session; the caller commits or rolls back and closes it."""
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_transaction(self) -> Iterator[Session]:
        """A transaction of background writing that takes turns with the group commits.

        On SQLite (one writer at a time) it holds the group commit's writer lock, so requests
        wait on that lock, woken at once, rather than polling SQLite's busy timeout, and begins
        with ``BEGIN IMMEDIATE``, so that everything it reads is read inside the transaction
        that writes (another process cannot change it in between); on PostgreSQL it is a plain
        transaction.
        """
        if not self.is_sqlite:
            with self.transaction() as session:
                yield session
            return
        with self.writer_lock, self.transaction() as session:
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            yield session

    def write(
        self, work: Callable[[Session], T], *, finish: Callable[[Session], None] | None = None
    ) -> T:
        """``work(session)`` committed, possibly in one transaction with concurrent callers.

        See :class:`~infrasight.storage.group_commit.GroupCommit`: ``work`` must only write
        through the session and may run twice (alone, when its group's transaction fails);
        ``finish`` runs once per transaction after its units (a write they share).
        """
        return self.group_commit.run(work, finish=finish)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        self.writer_lock.close()


def _writer_lock_path(url: str) -> Path | None:
    """The writer lock's file beside a ``sqlite:///path`` database (None in memory)."""
    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path.startswith(":memory:") or "mode=memory" in path:
        return None
    return Path(path.split("?", 1)[0] + ".writer-lock")
