"""The wired platform: settings, database, blob store, event bus and job runner in one place.

The effects of stored facts are durable rows applied by the job runner (``jobs/runner.py``);
the event bus only tells the runner that rows were committed.

Built once per process by :meth:`Platform.create`; the HTTP app, the CLI and the tests all use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from infrasight.core.events import EventBus
from infrasight.core.settings import Settings
from infrasight.jobs.runner import JobContext, JobRunner
from infrasight.services.alarms import AlarmEngine
from infrasight.services.notify.notifier import Notifier
from infrasight.storage.blobs import BlobStore, open_blob_store
from infrasight.storage.db import Database

__all__ = ["Platform"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Platform:
    """Everything a use case needs, injected rather than global."""

    settings: Settings
    database: Database
    blobs: BlobStore
    bus: EventBus
    jobs: JobRunner
    alarms: AlarmEngine
    notifier: Notifier

    @classmethod
    def create(cls, settings: Settings, *, workers: int | None = None) -> Platform:
        """Wire the adapters for ``settings`` and register the background job handlers."""
        database = Database(settings)
        blobs = open_blob_store(settings)
        bus = EventBus()
        context = JobContext(database=database, blobs=blobs, settings=settings, bus=bus)
        worker_count = settings.worker_threads if workers is None else workers
        remote = None
        if settings.job_engine == "celery":  # rows run in `infrasight worker` processes
            from infrasight.workers.celery_app import CeleryDispatch

            remote = CeleryDispatch(settings)
        runner = JobRunner(
            context,
            workers=worker_count,
            queue_limit=settings.max_queued_analysis_jobs,
            remote=remote,
        )
        alarms = AlarmEngine(database, lock=runner.effect_lock)
        notifier = Notifier(database, runner, settings, background=worker_count > 0)
        platform = cls(
            settings=settings,
            database=database,
            blobs=blobs,
            bus=bus,
            jobs=runner,
            alarms=alarms,
            notifier=notifier,
        )
        from infrasight.services.analysis import register_analysis
        from infrasight.services.hazard_effects import register_hazard_effects
        from infrasight.services.notify import register_notifications
        from infrasight.services.reading_effects import register_reading_effects
        from infrasight.services.reports import register_reports

        register_reading_effects(platform)
        register_hazard_effects(platform)
        register_analysis(platform)
        register_reports(platform)
        register_notifications(platform)
        return platform

    def close(self, grace_s: float | None = None) -> bool:
        """Stop the workers and close the database connections.

        With ``grace_s`` (seconds), running work is waited for at most that long; False: some is
        still running (its rows are taken up again at the next start) and the database is left
        open for it, so the caller should end the process without waiting for its threads.
        """
        self.notifier.stop()
        if not self.jobs.shutdown(grace_s):
            return False
        self.database.dispose()
        return True
