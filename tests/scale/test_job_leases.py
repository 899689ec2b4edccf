"""The row rules a distributed engine relies on (no server needed): a running row is taken
over only after its lease, at most MAX_ATTEMPTS times; lost sends are sent again; a Celery
install refuses to start half-configured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import update
from typer.testing import CliRunner

from infrasight.cli.app import app
from infrasight.core.domain import JobStatus
from infrasight.core.settings import Settings
from infrasight.jobs.runner import MAX_ATTEMPTS, JobContext, JobRunner, add_effect
from infrasight.platform import Platform
from infrasight.storage.models import Job
from tests.conftest import Tenant


class Recorder:
    """A stand-in broker: what the runner would have sent."""

    def __init__(self) -> None:
        self.jobs: list[int] = []
        self.effects: list[tuple[str, int]] = []

    def send_job(self, job_id: int) -> None:
        self.jobs.append(job_id)

    def send_effects(self, name: str, organization_id: int) -> None:
        self.effects.append((name, organization_id))


def _runner(platform: Platform, remote: Recorder | None = None) -> tuple[JobRunner, list[int]]:
    calls: list[int] = []
    runner = JobRunner(platform.jobs.context, workers=0, remote=remote)

    def handler(_context: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
        calls.append(arguments["n"])
        return {"n": arguments["n"]}

    runner.register("count", handler)
    runner.register_effect("noted", lambda _c, _s, merged: merged, merge=lambda rows: rows[0])
    return runner, calls


def _job(platform: Platform, runner: JobRunner, organization_id: int) -> int:
    with platform.database.transaction() as session:
        return runner.create(session, "count", {"n": 1}, organization_id).id


def _set(platform: Platform, job_id: int, **values: Any) -> None:
    with platform.database.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))


def _row(platform: Platform, job_id: int) -> Job:
    with platform.database.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


@pytest.mark.parametrize(
    ("started_s_ago", "attempts", "outcome", "status", "runs"),
    [
        (10, 1, "busy", JobStatus.RUNNING, 0),  # within the lease: someone is on it
        (120, 1, "ran", JobStatus.SUCCEEDED, 1),  # lease over: its worker died, taken over
        (120, MAX_ATTEMPTS, "done", JobStatus.FAILED, 0),  # killed too often: given up
    ],
)
def test_running_row_is_taken_over_only_after_its_lease(
    platform: Platform,
    tenant: Tenant,
    started_s_ago: float,
    attempts: int,
    outcome: str,
    status: JobStatus,
    runs: int,
) -> None:
    runner, calls = _runner(platform)
    job_id = _job(platform, runner, tenant.organization_id)
    started = datetime.now(UTC) - timedelta(seconds=started_s_ago)
    _set(platform, job_id, status=JobStatus.RUNNING, started_at=started, attempts=attempts)
    assert runner.execute(job_id, reclaim_after_s=60) == outcome
    row = _row(platform, job_id)
    assert row.status == status and len(calls) == runs
    assert row.attempts == attempts + runs


def test_without_a_lease_a_running_row_is_never_taken(platform: Platform, tenant: Tenant) -> None:
    runner, calls = _runner(platform)
    job_id = _job(platform, runner, tenant.organization_id)
    _set(platform, job_id, status=JobStatus.RUNNING, started_at=datetime(2000, 1, 1, tzinfo=UTC))
    assert runner.execute(job_id) == "busy" and calls == []


def test_a_duplicate_message_runs_the_job_once(platform: Platform, tenant: Tenant) -> None:
    runner, calls = _runner(platform)
    job_id = _job(platform, runner, tenant.organization_id)
    assert runner.execute(job_id, reclaim_after_s=60) == "ran"
    assert runner.execute(job_id, reclaim_after_s=60) == "done"
    assert calls == [1] and _row(platform, job_id).attempts == 1


def test_remote_engine_gets_the_sends_and_resend_finds_lost_rows(
    platform: Platform, tenant: Tenant
) -> None:
    broker = Recorder()
    runner, calls = _runner(platform, broker)
    org = tenant.organization_id
    fresh = _job(platform, runner, org)
    lost = _job(platform, runner, org)
    dead = _job(platform, runner, org)
    alive = _job(platform, runner, org)
    with platform.database.transaction() as session:
        effect = add_effect(session, "noted", {"x": 1}, org)
    old = datetime.now(UTC) - timedelta(hours=1)
    _set(platform, effect, created_at=old)
    _set(platform, lost, created_at=old)
    _set(platform, dead, created_at=old, status=JobStatus.RUNNING, started_at=old)
    _set(platform, alive, created_at=old, status=JobStatus.RUNNING, started_at=datetime.now(UTC))
    runner.enqueue(fresh)
    runner.dispatch("noted", org)
    assert broker.jobs == [fresh] and broker.effects == [("noted", org)]
    assert calls == []  # nothing runs in this process
    runner.resume_queued()  # an API process starting: the engine's business, not its own
    assert broker.jobs == [fresh] and _row(platform, dead).status == JobStatus.RUNNING
    broker.jobs.clear()
    broker.effects.clear()
    assert runner.resend_stale(queued_after_s=60, reclaim_after_s=600) == 3
    assert broker.jobs == [lost, dead] and broker.effects == [("noted", org)]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"job_engine": "celery"}, "INFRASIGHT_BROKER_URL"),
        ({"job_engine": "celery", "broker_url": "amqp://x"}, "INFRASIGHT_BROKER_URL"),
        ({"blob_backend": "s3", "s3_bucket": ""}, "INFRASIGHT_S3_BUCKET"),
        ({"blob_backend": "ftp"}, "blob_backend"),
        ({"job_engine": "kafka"}, "job_engine"),
    ],
)
def test_half_configured_scale_out_is_refused(values: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**values)  # type: ignore[arg-type]


def test_worker_refuses_the_in_process_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFRASIGHT_JOB_ENGINE", raising=False)
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 2 and "INFRASIGHT_JOB_ENGINE" in result.output
    bad_pool = CliRunner().invoke(app, ["worker", "--pool", "gevent"])
    assert bad_pool.exit_code == 2 and "--pool" in bad_pool.output
