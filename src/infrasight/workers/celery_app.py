"""The Celery application: the same job rows and handlers as the in-process pool, run by
``infrasight worker`` processes on any machine that reaches the database, the broker and the
blob store; ``infrasight scheduler`` (Celery beat, run exactly once) sends the periodic work.

Delivery: tasks are acknowledged after they finish (``acks_late``) and given back to the broker
when their worker process dies (``reject_on_worker_lost``); a worker machine that disappears
leaves its message unacknowledged, and Redis hands it out again after the visibility timeout
(``INFRASIGHT_JOB_LEASE_S``). The row decides what runs: :meth:`JobRunner.execute` takes a
queued row, takes over a running row whose lease ran out, and refuses the rest, so a message
delivered twice runs its job once and the handlers' idempotency covers a crash after commit.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from infrasight.core.settings import Settings
from infrasight.storage.exclusive import only_one

if TYPE_CHECKING:
    from celery import Celery

    from infrasight.platform import Platform

__all__ = ["CeleryDispatch", "create_celery"]

_LOGGER = logging.getLogger(__name__)
EXECUTE = "infrasight.execute"
EFFECTS = "infrasight.effects"
SWEEP = "infrasight.sweep"
MAINTAIN = "infrasight.maintain"
QUEUE = "infrasight"


def _import_celery() -> Any:
    try:
        import celery
    except ImportError as err:  # pragma: no cover - depends on the installed extras
        raise RuntimeError(
            "INFRASIGHT_JOB_ENGINE=celery needs Celery: pip install 'infrasight[scale]'"
        ) from err
    return celery


class _ProcessPlatform:
    """One platform per worker process, built after the fork (never inherited)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._pid = 0
        self._platform: Platform | None = None

    def get(self) -> Platform:
        with self._lock:
            if self._platform is None or self._pid != os.getpid():
                from infrasight.platform import Platform

                self._platform = Platform.create(self.settings, workers=0)
                self._pid = os.getpid()
            return self._platform


def create_celery(settings: Settings) -> Celery:
    """The Celery app for ``settings``: broker, delivery options, tasks and the beat schedule."""
    celery = _import_celery()
    app = celery.Celery("infrasight", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.job_lease_s},
        beat_schedule={
            "sweep": {"task": SWEEP, "schedule": settings.sweep_interval_s},
            "maintain": {"task": MAINTAIN, "schedule": 3600.0},  # partitions, retention
        },
        timezone="UTC",
    )
    platforms = _ProcessPlatform(settings)
    lease_s = settings.job_lease_s

    @app.task(name=EXECUTE, bind=True, max_retries=None)  # type: ignore[untyped-decorator]
    def execute(self: Any, job_id: int) -> str:
        outcome = platforms.get().jobs.execute(job_id, reclaim_after_s=lease_s)
        if outcome == "busy":  # running elsewhere: look again once its lease may have run out
            raise self.retry(countdown=max(1.0, lease_s / 2))
        return outcome

    @app.task(name=EFFECTS)  # type: ignore[untyped-decorator]
    def effects(name: str, organization_id: int) -> int:
        return platforms.get().jobs.run_effects(name, organization_id)

    @app.task(name=SWEEP)  # type: ignore[untyped-decorator]
    def sweep() -> dict[str, int]:
        platform = platforms.get()
        with only_one(platform.database, "celery-sweep") as mine:
            if not mine:  # a slow sweep still runs on another worker
                return {"alarm_events": 0, "escalations": 0, "resent": 0}
            alarms = platform.alarms.sweep()
            escalations = len(platform.notifier.sweep())
            resent = platform.jobs.resend_stale(
                queued_after_s=max(30.0, settings.sweep_interval_s), reclaim_after_s=lease_s
            )
        return {"alarm_events": alarms, "escalations": escalations, "resent": resent}

    @app.task(name=MAINTAIN)  # type: ignore[untyped-decorator]
    def maintain() -> dict[str, int]:
        from infrasight.services.readings_maintenance import maintain_readings

        database = platforms.get().database
        with only_one(database, "readings-maintenance") as mine:
            if not mine:
                return {"partitions_created": 0, "readings_deleted": 0}
            done = maintain_readings(database)
        return {
            "partitions_created": len(done.partitions_created),
            "readings_deleted": done.readings_deleted,
        }

    app.infrasight_platforms = platforms
    return app


_SEND_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.4, "interval_max": 1.0}
"""A broker that is down costs a request about a second, not Celery's default minutes."""


class CeleryDispatch:
    """The :class:`~infrasight.jobs.runner.RemoteDispatch` of an API process or a worker.

    A message that cannot be sent (the broker is down or restarting) is logged and dropped:
    its row is already committed, and the scheduler's sweep resends rows left queued
    (:meth:`~infrasight.jobs.runner.JobRunner.resend_stale`), so the caller's request succeeds
    and nothing is lost.
    """

    def __init__(self, settings: Settings) -> None:
        self._app = create_celery(settings)

    def _send(self, task: str, args: list[Any]) -> None:
        try:
            self._app.send_task(task, args=args, queue=QUEUE, retry=True, retry_policy=_SEND_RETRY)
        except Exception as err:  # kombu raises several kinds for an unreachable broker
            _LOGGER.warning("broker unreachable, %s%s left to the sweep: %s", task, args, err)

    def send_job(self, job_id: int) -> None:
        """Queue ``execute(job_id)`` on the broker."""
        self._send(EXECUTE, [job_id])

    def send_effects(self, name: str, organization_id: int) -> None:
        """Queue ``run_effects(name, organization_id)`` on the broker."""
        self._send(EFFECTS, [name, organization_id])
