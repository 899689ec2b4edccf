"""``settle`` waits for a job a worker thread already took, which ``run_pending`` skips."""

from __future__ import annotations

import threading
from typing import Any

from infrasight.core.domain import JobStatus
from infrasight.core.settings import Settings
from infrasight.jobs.runner import JobContext
from infrasight.platform import Platform
from infrasight.services.accounts import ensure_organization
from infrasight.storage.models import Job


def test_settle_waits_for_a_job_a_worker_already_runs(settings: Settings) -> None:
    platform = Platform.create(settings, workers=1)
    started = threading.Event()
    release = threading.Event()
    finished: list[int] = []

    def slow(context: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
        started.set()
        assert release.wait(30)
        finished.append(int(arguments["n"]))
        return {}

    try:
        platform.jobs.register("slow", slow)
        with platform.database.transaction() as session:
            org, _ = ensure_organization(session, "Delta")
            job_id = platform.jobs.create(session, "slow", {"n": 7}, org.id).id
        platform.jobs.enqueue(job_id)
        assert started.wait(30)
        assert platform.jobs.run_pending() == 0  # the worker holds it: run_pending skips it
        assert finished == []
        threading.Timer(0.2, release.set).start()
        assert platform.jobs.settle(30)
        assert finished == [7]
        with platform.database.session() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.status == JobStatus.SUCCEEDED
    finally:
        release.set()
        platform.close()
