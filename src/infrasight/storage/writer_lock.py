"""One writer at a time on a SQLite file, across the threads *and processes* that share it.

SQLite has a single writer. Within a process the group commit and the background writers take
turns on a thread lock; several API processes (``infrasight serve --workers``) on one file
would otherwise meet only inside SQLite, whose busy handler polls with sleeps of up to 100 ms.
:class:`WriterLock` adds an exclusive ``flock`` on a file beside the database, so a writer of
another process waits in the kernel and is woken as soon as the lock is free. A killed process'
lock is released by the kernel with its file descriptor.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType

__all__ = ["WriterLock"]


class WriterLock:
    """A thread lock plus, when ``path`` is given, an exclusive ``flock`` on ``path``.

    Parameters
    ----------
    path
        The lock file (created if missing); None for a database no other process opens
        (in-memory).
    """

    def __init__(self, path: Path | None) -> None:
        self._thread_lock = threading.Lock()
        self.path = path
        self._fd: int | None = None
        self._fd_lock = threading.Lock()

    def _descriptor(self) -> int:
        with self._fd_lock:
            if self._fd is None:
                assert self.path is not None
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            return self._fd

    def acquire(self) -> bool:
        """Wait for the lock (threads of this process first, then other processes)."""
        self._thread_lock.acquire()
        if self.path is not None:
            try:
                fcntl.flock(self._descriptor(), fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise
        return True

    def release(self) -> None:
        """Let the next writer in."""
        try:
            if self.path is not None:
                fcntl.flock(self._descriptor(), fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def locked(self) -> bool:
        """Whether a thread of this process holds it."""
        return self._thread_lock.locked()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _trace: TracebackType | None,
    ) -> None:
        self.release()

    def close(self) -> None:
        """Close the lock file (the lock must not be held)."""
        with self._fd_lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
