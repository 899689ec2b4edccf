"""Background jobs: named handlers with JSON arguments, persisted as rows of ``jobs``.

A job is addressed by name and its arguments are JSON, so :func:`JobRunner.execute` can run on
any worker that can reach the database and the blob store. The in-process runner (a thread pool)
is the default; a distributed engine (Celery, Dramatiq, Ray) only needs to call ``execute(job_id)``
in its own worker. Jobs left queued by a stopped process are picked up again at start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from infrasight.core.domain import JobStatus
from infrasight.core.events import EventBus
from infrasight.core.settings import Settings
from infrasight.storage.blobs import BlobStore
from infrasight.storage.db import Database
from infrasight.storage.models import Job

__all__ = ["JobContext", "JobHandler", "JobRunner"]

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobContext:
    """What a job handler may use."""

    database: Database
    blobs: BlobStore
    settings: Settings
    bus: EventBus


JobHandler = Callable[[JobContext, dict[str, Any]], dict[str, Any]]


class JobRunner:
    """Registry of handlers plus an in-process worker pool.

    With ``workers == 0`` nothing runs in the background: jobs stay queued until
    :meth:`run_pending` is called (used by the CLI and deterministic tests).
    """

    def __init__(self, context: JobContext, *, workers: int) -> None:
        self.context = context
        self._handlers: dict[str, JobHandler] = {}
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="job") if workers else None
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def register(self, name: str, handler: JobHandler) -> None:
        """Make ``handler`` run jobs called ``name``."""
        self._handlers[name] = handler

    def create(self, session: Any, name: str, arguments: dict[str, Any], org_id: int | None) -> Job:
        """Add a queued job to ``session``; call :meth:`enqueue` after the commit."""
        if name not in self._handlers:
            raise KeyError(f"no job handler named {name!r}")
        job = Job(name=name, arguments=arguments, organization_id=org_id)
        session.add(job)
        session.flush()
        return job

    def enqueue(self, job_id: int) -> None:
        """Hand a committed job to the worker pool (no-op without workers)."""
        if self._pool is None:
            return
        future = self._pool.submit(self.execute, job_id)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def execute(self, job_id: int) -> None:
        """Run one job to completion, recording its status, result or error."""
        database = self.context.database
        with database.transaction() as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is None or job.status != JobStatus.QUEUED:
                return
            job.status = JobStatus.RUNNING
            job.started_at = datetime.now(UTC)
            name, arguments = job.name, dict(job.arguments)
        handler = self._handlers.get(name)
        status, result, error = JobStatus.SUCCEEDED, {}, ""
        try:
            if handler is None:
                raise LookupError(f"no job handler named {name!r}")
            result = handler(self.context, arguments)
        except Exception as err:
            _LOGGER.exception("job %s (%s) failed", job_id, name)
            status, error = JobStatus.FAILED, f"{type(err).__name__}: {err}"
        with database.transaction() as session:
            job = session.get(Job, job_id)
            assert job is not None
            job.status, job.result, job.error = status, result, error
            job.finished_at = datetime.now(UTC)
        _LOGGER.info("job %s (%s) %s", job_id, name, status.value)

    def run_pending(self) -> int:
        """Run every queued job in this thread; return how many ran."""
        with self.context.database.session() as session:
            ids = list(
                session.scalars(
                    select(Job.id).where(Job.status == JobStatus.QUEUED).order_by(Job.id)
                )
            )
        for job_id in ids:
            self.execute(job_id)
        return len(ids)

    def resume_queued(self) -> None:
        """Enqueue jobs a previous process left queued."""
        with self.context.database.session() as session:
            ids = session.scalars(select(Job.id).where(Job.status == JobStatus.QUEUED)).all()
        for job_id in ids:
            self.enqueue(job_id)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until every enqueued job finished; False on timeout."""
        with self._lock:
            pending = list(self._pending)
        _done, not_done = wait(pending, timeout=timeout)
        return not not_done

    def shutdown(self) -> None:
        """Stop the pool after the running jobs finish."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
