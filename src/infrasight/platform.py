"""The wired platform: settings, database, blob store, event bus and job runner in one place.

Built once per process by :meth:`Platform.create`; the HTTP app, the CLI and the tests all use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from infrasight.core.events import EventBus
from infrasight.core.settings import Settings
from infrasight.jobs.runner import JobContext, JobRunner
from infrasight.storage.blobs import BlobStore
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

    @classmethod
    def create(cls, settings: Settings, *, workers: int | None = None) -> Platform:
        """Wire the adapters for ``settings`` and register the background job handlers."""
        database = Database(settings)
        blobs = BlobStore(settings.blob_dir)
        bus = EventBus()
        context = JobContext(database=database, blobs=blobs, settings=settings, bus=bus)
        runner = JobRunner(context, workers=settings.worker_threads if workers is None else workers)
        platform = cls(settings=settings, database=database, blobs=blobs, bus=bus, jobs=runner)
        from infrasight.services.analysis import register_analysis

        register_analysis(platform)
        return platform

    def close(self) -> None:
        """Stop the workers and close the database connections."""
        self.jobs.shutdown()
        self.database.dispose()
