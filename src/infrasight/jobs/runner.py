"""Durable work: rows of ``jobs`` written with the fact they follow from, run by a worker.

Two kinds of work share the table and the one entry point :meth:`JobRunner.execute`:

* **Jobs** (``register``): standalone background work such as the analysis of a capture. The
  handler opens its own transactions; it must be idempotent (skip what is already stored),
  because a crash between its commit and the status update makes it run again.
* **Effects** (``register_effect``): the consequences of stored readings (anomaly scores, sensor
  health, alarm rules). The rows of one organisation are merged and applied in *one* transaction
  that also deletes them, so an effect is applied exactly once, however often a worker crashes.
  A handler may write further effect rows (:func:`add_effect`) in that transaction, e.g. stored
  readings -> hazard update; they are dispatched after its commit.

A handler is addressed by name and its arguments are JSON, so ``execute(job_id)`` can run on any
worker that reaches the database and the blob store: the in-process threads are the default and a
distributed engine (Celery) only needs to call ``execute`` in its workers. Rows left by a stopped
process are resumed at start (:meth:`JobRunner.resume_queued`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from infrasight.core.domain import JobStatus
from infrasight.core.errors import QueueFullError
from infrasight.core.events import EventBus
from infrasight.core.settings import Settings
from infrasight.storage.blobs import BlobStore
from infrasight.storage.db import Database
from infrasight.storage.exclusive import one_at_a_time, only_one, serialise_transaction
from infrasight.storage.models import Job

__all__ = [
    "MAX_ATTEMPTS",
    "EffectHandler",
    "JobContext",
    "JobHandler",
    "JobRunner",
    "Outcome",
    "RemoteDispatch",
    "add_effect",
]

_LOGGER = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
"""A row whose run was interrupted or failed this often is marked failed (no crash loops)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobContext:
    """What a job handler may use."""

    database: Database
    blobs: BlobStore
    settings: Settings
    bus: EventBus


JobHandler = Callable[[JobContext, dict[str, Any]], dict[str, Any]]
EffectHandler = Callable[[JobContext, Session, dict[str, Any]], dict[str, Any]]
Merge = Callable[[list[dict[str, Any]]], dict[str, Any]]
Prepare = Callable[[JobContext, dict[str, Any]], None]
Outcome = Literal["ran", "done", "busy"]
"""What :meth:`JobRunner.execute` did: ran the row, found nothing to do, or found it running
elsewhere (within its lease)."""


class RemoteDispatch(Protocol):
    """A distributed engine that runs rows in other processes (``workers/celery_app.py``)."""

    def send_job(self, job_id: int) -> None:
        """Have some worker call ``execute(job_id)``."""
        ...

    def send_effects(self, name: str, organization_id: int) -> None:
        """Have some worker call ``run_effects(name, organization_id)``."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class _Effect:
    handler: EffectHandler
    merge: Merge
    quiet_s: float
    max_delay_s: float
    max_rows: int
    prepare: Prepare | None


def _serialise_effects(session: Session, name: str, organization_id: int) -> None:
    """One applier per (effect, organisation) at a time across processes."""
    serialise_transaction(session, f"infrasight-effects:{name}:{organization_id}")


_INSERT_EFFECT = insert(Job).returning(Job.id)


def add_effect(session: Session, name: str, arguments: dict[str, Any], organization_id: int) -> int:
    """Write an effect row in the fact's transaction; return its id.

    After the commit, tell the runner with :meth:`JobRunner.dispatch` (the platform does this
    for published events); a row nobody dispatched is run when the next process starts.
    """
    # A Core insert on the session's connection, not an ORM object: every stored batch writes
    # one, and the unit of work's flush was a good share of an ingest request's cost. The
    # values are parameters of one prepared statement (``.values(...)`` with them built and
    # checked a new statement each time).
    job_id: int = (
        session.connection()
        .execute(
            _INSERT_EFFECT,
            {"name": name, "arguments": arguments, "organization_id": organization_id},
        )
        .scalar_one()
    )
    session.info.setdefault(_ADDED_EFFECTS, set()).add((name, organization_id))
    return job_id


def _job_lock(job_id: int) -> str:
    """The name of the lock a process holds while it runs job ``job_id``."""
    return f"job-{job_id}"


_ADDED_EFFECTS = "infrasight.effects_added"
"""``session.info`` key: the effect rows added in the session, dispatched after an effect
handler's commit (an effect may cause another, e.g. stored readings -> hazard update)."""


class _Debouncer:
    """Merges bursts: a key runs once dispatching pauses ``quiet_s`` (at most ``max_delay_s``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.scheduled = False


class JobRunner:
    """Registry of handlers plus in-process workers.

    With ``workers == 0`` nothing runs in the background: effects run inline when dispatched and
    jobs stay queued until :meth:`run_pending` is called (the CLI and deterministic tests).
    With workers, jobs run on a pool of ``workers`` threads and effects on one thread of their
    own, so a long image analysis never delays an alarm.
    """

    def __init__(
        self,
        context: JobContext,
        *,
        workers: int,
        queue_limit: int | None = None,
        remote: RemoteDispatch | None = None,
    ):
        self.context = context
        self.queue_limit = queue_limit
        self.remote = remote
        if remote is not None:
            workers = 0
        self._handlers: dict[str, JobHandler] = {}
        self._limited: set[str] = set()
        self._effects: dict[str, _Effect] = {}
        self.effect_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="job") if workers else None
        self._effect_pool = ThreadPoolExecutor(1, thread_name_prefix="effects") if workers else None
        self._pending: set[Future[Any]] = set()
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._burst = _Debouncer()

    # -- registration -------------------------------------------------------------------------

    def register(self, name: str, handler: JobHandler, *, limited: bool = False) -> None:
        """Make ``handler`` run jobs called ``name``.

        ``limited`` jobs count against the per-organisation :attr:`queue_limit`.
        """
        self._handlers[name] = handler
        if limited:
            self._limited.add(name)

    def register_effect(
        self,
        name: str,
        handler: EffectHandler,
        *,
        merge: Merge,
        quiet_s: float = 0.25,
        max_delay_s: float = 5.0,
        max_rows: int = 5000,
        prepare: Prepare | None = None,
    ) -> None:
        """Make ``handler`` apply effect rows called ``name``.

        The rows of one organisation are merged with ``merge`` (a list of arguments -> one) and
        applied with ``handler(context, session, arguments)`` in the transaction that deletes
        them. In the background a burst is merged: it runs once dispatching pauses for
        ``quiet_s`` seconds, at the latest ``max_delay_s`` after the first dispatch.
        ``prepare(context, arguments)``, when given, runs first in transactions of its own: the
        idempotent bulk of the work (it must store its progress), so the transaction of the
        handler stays short.
        """
        self._effects[name] = _Effect(
            handler=handler,
            merge=merge,
            quiet_s=quiet_s,
            max_delay_s=max_delay_s,
            max_rows=max_rows,
            prepare=prepare,
        )

    # -- writing rows -------------------------------------------------------------------------

    def create(self, session: Any, name: str, arguments: dict[str, Any], org_id: int | None) -> Job:
        """Add a queued job to ``session``; call :meth:`enqueue` after the commit.

        Raises
        ------
        QueueFullError
            When the organisation already has :attr:`queue_limit` analysis jobs waiting.
        """
        if name not in self._handlers:
            raise KeyError(f"no job handler named {name!r}")
        if name in self._limited and self.queue_limit is not None and org_id is not None:
            waiting = session.scalar(
                select(func.count())
                .select_from(Job)
                .where(
                    Job.organization_id == org_id,
                    Job.name.in_(self._limited),
                    Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
                )
            )
            if waiting >= self.queue_limit:
                raise QueueFullError(
                    f"the organisation has {waiting} analysis jobs waiting, the limit "
                    f"(INFRASIGHT_MAX_QUEUED_ANALYSIS_JOBS) is {self.queue_limit}; "
                    "retry when some have finished",
                    retry_after_s=30,
                )
        job = Job(name=name, arguments=arguments, organization_id=org_id)
        session.add(job)
        session.flush()
        return job

    # -- dispatching --------------------------------------------------------------------------

    def enqueue(self, job_id: int) -> None:
        """Hand a committed job to the worker pool or the distributed engine (no-op without)."""
        if self.remote is not None:
            self.remote.send_job(job_id)
            return
        if self._pool is None:
            return
        self._track(self._pool.submit(self.execute, job_id))

    def dispatch(self, name: str, organization_id: int) -> None:
        """Effect rows ``name`` of the organisation were committed: apply them.

        Inline without workers; in the background after the burst otherwise; on a distributed
        engine by whichever worker takes the message.
        """
        if self.remote is not None:
            self.remote.send_effects(name, organization_id)
            return
        if self._effect_pool is None:
            self.run_effects(name, organization_id)
            return
        burst = self._burst
        with burst.lock:
            now = time.monotonic()
            key = (name, organization_id)
            burst.first.setdefault(key, now)
            burst.last[key] = now
            if burst.scheduled:
                return
            burst.scheduled = True
        self._track(self._effect_pool.submit(self._drain))

    def _track(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _drain(self) -> None:
        burst = self._burst
        while True:
            with burst.lock:
                now = time.monotonic()
                due = []
                delay = 1.0
                for key, last in burst.last.items():
                    effect = self._effects.get(key[0])
                    quiet_s = effect.quiet_s if effect else 0.0
                    max_delay_s = effect.max_delay_s if effect else 0.0
                    quiet, age = now - last, now - burst.first[key]
                    if quiet >= quiet_s or age >= max_delay_s:
                        due.append(key)
                    else:
                        delay = min(delay, quiet_s - quiet, max_delay_s - age)
                for key in due:
                    del burst.first[key], burst.last[key]
                if not due and not burst.last:
                    burst.scheduled = False
                    return
            for name, organization_id in due:
                try:
                    self.run_effects(name, organization_id)
                except Exception:
                    _LOGGER.exception("effects %s of organisation %s failed", name, organization_id)
            if not due:
                time.sleep(max(delay, 0.005))

    # -- running ------------------------------------------------------------------------------

    def execute(self, job_id: int, *, reclaim_after_s: float | None = None) -> Outcome:
        """Run one row: a job to completion, or the effects it belongs to (merged).

        With ``reclaim_after_s`` (a distributed worker's lease), a row another worker started
        longer ago than that is taken over: that worker is presumed dead (killed, machine
        lost). A row running for less is ``"busy"``; the caller tries again later. A row
        interrupted :data:`MAX_ATTEMPTS` times is marked failed instead of run again.
        """
        database = self.context.database
        with database.session() as session:
            row = session.get(Job, job_id)
            if row is None or row.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
                return "done"
            name, organization_id = row.name, row.organization_id
        if name in self._effects and organization_id is not None:
            self.run_effects(name, organization_id)
            return "ran"
        # held while the job runs: another process' resume_queued sees it is alive
        with only_one(database, _job_lock(job_id), cleanup=True) as mine:
            if not mine:
                return "busy"
            label = f"{name} (job {job_id})"
            with self._lock:
                self._running.add(label)
            try:
                return self._run(job_id, reclaim_after_s)
            finally:
                with self._lock:
                    self._running.discard(label)

    def _run(self, job_id: int, reclaim_after_s: float | None) -> Outcome:
        """Claim the row (queued -> running, or a running one whose lease ran out), run it."""
        database = self.context.database
        with database.transaction() as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is None or job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
                return "done"
            if job.status == JobStatus.RUNNING:
                started = job.started_at
                if started is not None and started.tzinfo is None:
                    started = started.replace(tzinfo=UTC)
                lease_over = (
                    reclaim_after_s is not None
                    and started is not None
                    and datetime.now(UTC) - started > timedelta(seconds=reclaim_after_s)
                )
                if not lease_over:
                    return "busy"
                if job.attempts >= MAX_ATTEMPTS:
                    job.status = JobStatus.FAILED
                    job.error = f"interrupted {MAX_ATTEMPTS} times (its worker stopped)"
                    job.finished_at = datetime.now(UTC)
                    _LOGGER.warning("job %s (%s) failed: interrupted too often", job_id, job.name)
                    return "done"
                _LOGGER.warning(
                    "job %s (%s): its worker's lease ran out; taken over", job_id, job.name
                )
            job.status = JobStatus.RUNNING
            job.started_at = datetime.now(UTC)
            job.attempts += 1
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
        return "ran"

    def run_effects(self, name: str, organization_id: int) -> int:
        """Apply the organisation's queued effect rows ``name``; return how many were applied.

        The handler's writes and the deletion of the rows commit together; a failing batch
        leaves its rows queued with one more attempt counted (failed after ``MAX_ATTEMPTS``).
        """
        effect = self._effects[name]
        applied = 0
        while True:
            # Several API processes on one SQLite file: one applies an organisation's rows at
            # a time; another waits (without the writer's turn) and then applies what is left,
            # instead of scoring the same channels beside it. PostgreSQL: the advisory lock.
            with one_at_a_time(self.context.database, f"effects-{name}-{organization_id}"):
                count, follow_ups = self._apply_batch(effect, name, organization_id)
            applied += max(count, 0)
            for follow_name, follow_org in sorted(follow_ups):
                if follow_name in self._effects:
                    self.dispatch(follow_name, follow_org)
            if count < effect.max_rows:
                return applied

    def _apply_batch(
        self, effect: _Effect, name: str, organization_id: int
    ) -> tuple[int, set[tuple[str, int]]]:
        """Apply up to ``max_rows`` queued rows; how many (-1: failed) and the effect rows the
        handler added (to dispatch after the commit)."""
        with self.effect_lock:
            ids: list[int] = []
            try:
                if effect.prepare is not None and not self._prepare(name, organization_id):
                    return 0, set()
                with self.context.database.write_transaction() as session:
                    _serialise_effects(session, name, organization_id)
                    rows = session.execute(
                        select(Job.id, Job.arguments)
                        .where(
                            Job.name == name,
                            Job.organization_id == organization_id,
                            Job.status == JobStatus.QUEUED,
                        )
                        .order_by(Job.id)
                        .limit(effect.max_rows)
                        .with_for_update(skip_locked=True)
                    ).all()
                    ids = [row[0] for row in rows]
                    if not ids:
                        return 0, set()
                    merged = effect.merge([dict(row[1]) for row in rows])
                    effect.handler(self.context, session, merged)
                    session.execute(delete(Job).where(Job.id.in_(ids)))
                    follow_ups = set(session.info.get(_ADDED_EFFECTS, ()))
            except Exception as err:
                _LOGGER.exception("effect %s failed on %d rows", name, len(ids))
                self._count_failure(ids, err)
                return -1, set()
        return len(ids), follow_ups

    def _prepare(self, name: str, organization_id: int) -> bool:
        """Run the effect's ``prepare`` on the queued rows; False when there are none."""
        effect = self._effects[name]
        assert effect.prepare is not None
        with self.context.database.session() as session:
            rows = session.execute(
                select(Job.arguments)
                .where(
                    Job.name == name,
                    Job.organization_id == organization_id,
                    Job.status == JobStatus.QUEUED,
                )
                .order_by(Job.id)
                .limit(effect.max_rows)
            ).all()
        if not rows:
            return False
        effect.prepare(self.context, effect.merge([dict(row[0]) for row in rows]))
        return True

    def resend_stale(self, *, queued_after_s: float, reclaim_after_s: float) -> int:
        """Send again what a distributed engine may have lost; return how many rows.

        Jobs queued longer than ``queued_after_s`` (the API process stopped between its commit
        and the send, or the broker lost the message) and jobs running longer than
        ``reclaim_after_s`` (their worker died) are sent again; :meth:`execute` makes a
        duplicate message harmless. Effects still queued are dispatched once per organisation.
        The periodic scheduler calls this (``infrasight.sweep``).
        """
        now = datetime.now(UTC)
        queued_before = now - timedelta(seconds=queued_after_s)
        running_before = now - timedelta(seconds=reclaim_after_s)
        with self.context.database.session() as session:
            rows = session.execute(
                select(Job.id, Job.name, Job.organization_id, Job.status, Job.created_at)
                .where(
                    ((Job.status == JobStatus.QUEUED) & (Job.created_at < queued_before))
                    | ((Job.status == JobStatus.RUNNING) & (Job.started_at < running_before))
                )
                .order_by(Job.id)
            ).all()
        effects: set[tuple[str, int]] = set()
        sent = 0
        for job_id, name, organization_id, _status, _created in rows:
            if name in self._effects:
                if organization_id is not None:
                    effects.add((name, organization_id))
                continue
            self.enqueue(job_id)
            sent += 1
        for name, organization_id in sorted(effects):
            self.dispatch(name, organization_id)
        return sent + len(effects)

    def _count_failure(self, ids: list[int], err: Exception) -> None:
        if not ids:
            return
        with self.context.database.transaction() as session:
            session.execute(
                update(Job)
                .where(Job.id.in_(ids))
                .values(attempts=Job.attempts + 1, error=f"{type(err).__name__}: {err}")
            )
            session.execute(
                update(Job)
                .where(Job.id.in_(ids), Job.attempts >= MAX_ATTEMPTS)
                .values(status=JobStatus.FAILED, finished_at=datetime.now(UTC))
            )

    def run_pending(self) -> int:
        """Run every queued job and effect in this thread; return how many jobs ran."""
        with self.context.database.session() as session:
            rows = session.execute(
                select(Job.id, Job.name, Job.organization_id)
                .where(Job.status == JobStatus.QUEUED)
                .order_by(Job.id)
            ).all()
        count = 0
        for job_id, name, organization_id in rows:
            if name in self._effects:
                if organization_id is not None:
                    self.run_effects(name, organization_id)
                continue
            self.execute(job_id)
            count += 1
        return count

    def settle(self, timeout: float = 600.0) -> bool:
        """Block until no job or effect is queued or running; False on timeout.

        :meth:`run_pending` alone runs only *queued* rows: a job a worker thread has already
        taken is skipped, so a caller that reads that job's outcome next (a verification reading
        a capture's analysis) would race it. This waits for the worker threads, runs what is
        queued in this thread, then waits for what that dispatched.
        """
        deadline = time.monotonic() + timeout
        if not self.wait_idle(timeout):
            return False
        self.run_pending()
        return self.wait_idle(max(0.0, deadline - time.monotonic()))

    def resume_queued(self) -> None:
        """At start: requeue what a stopped process left running, then run every queued row.

        A job interrupted ``MAX_ATTEMPTS`` times is marked failed instead (an image that kills
        the process must not kill it at every start). A running row whose process is alive
        (another API process on the same database holds the job's lock while it runs it) is
        left to that process. With a distributed engine this does nothing: the broker's
        redelivery, the workers' leases and the scheduler's :meth:`resend_stale` take this role.
        """
        if self.remote is not None:
            return
        database = self.context.database
        with database.session() as session:
            running = session.scalars(select(Job.id).where(Job.status == JobStatus.RUNNING)).all()
        for job_id in running:
            # a row another live process runs (several API processes) keeps running there
            with only_one(database, _job_lock(job_id), cleanup=True) as abandoned:
                if abandoned:
                    self._requeue_abandoned(job_id)
        with database.session() as session:
            rows = session.execute(
                select(Job.id, Job.name, Job.organization_id)
                .where(Job.status == JobStatus.QUEUED)
                .order_by(Job.id)
            ).all()
        effects = {(name, org) for _id, name, org in rows if name in self._effects and org}
        for name, organization_id in sorted(effects):
            self.dispatch(name, organization_id)
        for job_id, name, _org in rows:
            if name not in self._effects:
                self.enqueue(job_id)

    def _requeue_abandoned(self, job_id: int) -> None:
        """Queue a running row whose process stopped (failed after ``MAX_ATTEMPTS``)."""
        running = (Job.id == job_id) & (Job.status == JobStatus.RUNNING)
        with self.context.database.transaction() as session:
            session.execute(
                update(Job)
                .where(running, Job.attempts >= MAX_ATTEMPTS)
                .values(
                    status=JobStatus.FAILED,
                    error=f"interrupted {MAX_ATTEMPTS} times (the process stopped while running)",
                    finished_at=datetime.now(UTC),
                )
            )
            session.execute(update(Job).where(running).values(status=JobStatus.QUEUED))

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until every enqueued job and dispatched effect finished; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return True
            _done, not_done = wait(pending, timeout=max(0.0, deadline - time.monotonic()))
            if not_done:
                return False

    def shutdown(self, grace_s: float | None = None) -> bool:
        """Stop the workers after the running work finishes (queued rows stay for next start).

        With ``grace_s``, wait at most that long (seconds) and return False if work is still
        running then: its rows stay ``running`` and are queued again at the next start, as after
        a crash. The threads cannot be stopped, so the caller should then end the process
        without waiting for them (``infrasight serve`` does). True: everything finished.
        """
        for pool in (self._effect_pool, self._pool):
            if pool is not None:
                pool.shutdown(wait=grace_s is None, cancel_futures=False)
        if grace_s is None:
            return True
        finished = self.wait_idle(timeout=grace_s)
        if not finished:
            _LOGGER.warning(
                "stopping with work still running after %.0f s (left for the next start): %s",
                grace_s,
                ", ".join(self.running_names()) or "effects",
            )
        return finished

    def running_names(self) -> list[str]:
        """The jobs running now, e.g. ``render_report (job 51)``."""
        with self._lock:
            return sorted(self._running)
