"""Job rows run by Celery workers on a real Redis: the API sends, ``infrasight worker``
processes run, a worker killed with SIGKILL mid-job means the job is taken over and its result
stored once, and only one ``infrasight scheduler`` may run."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from infrasight.api.app import create_app
from infrasight.core.domain import JobStatus, Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.storage.models import CaptureAnalysis, Defect, Job
from infrasight.synthetic import render_crack_scene
from tests.conftest import make_site, make_tenant

LEASE_S = 4.0


@pytest.fixture
def celery_settings(settings: Settings, redis_url: str) -> Settings:
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    return settings.model_copy(
        update={
            "job_engine": "celery",
            "broker_url": redis_url,
            "job_lease_s": LEASE_S,
            "sweep_interval_s": 1.0,
            "anomaly_scoring": False,
        }
    )


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFRASIGHT_")}
    env.update(
        INFRASIGHT_DATA_DIR=str(settings.data_dir),
        INFRASIGHT_DATABASE_URL=settings.database_url,
        INFRASIGHT_JOB_ENGINE="celery",
        INFRASIGHT_BROKER_URL=settings.broker_url,
        INFRASIGHT_JOB_LEASE_S=str(settings.job_lease_s),
        INFRASIGHT_SWEEP_INTERVAL_S=str(settings.sweep_interval_s),
        INFRASIGHT_ANOMALY_SCORING="false",
        INFRASIGHT_WEB="false",
    )
    return env


@pytest.fixture
def spawn(celery_settings: Settings, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start ``infrasight <args>`` processes in their own process groups; stop them after."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"proc-{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("infrasight")), *args],
            env=_env(celery_settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def _upload_scene(platform: Platform, *, width: int, height: int) -> int:
    scene = render_crack_scene(
        width=width, height=height, seed=5, n_cracks=2, width_range_px=(3.0, 6.0), mm_per_px=0.1
    )
    with TestClient(create_app(platform=platform)) as client:
        tenant = make_tenant(platform, "Rail North")
        site = make_site(client, tenant)
        answer = client.post(
            "/api/v1/captures",
            files={"file": ("wall.png", _png(scene.image))},
            data={"asset_id": str(site.asset_id), "mm_per_px": "0.1"},
            headers=tenant.headers(Role.INSPECTOR),
        )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _job(platform: Platform) -> Job:
    with platform.database.session() as session:
        job = session.scalars(select(Job).where(Job.name == "analyse_capture")).one()
        session.expunge(job)
        return job


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _stored(platform: Platform, capture_id: int) -> tuple[int, int, int]:
    """Analyses, distinct (model, version) among them, and defects of the capture; a result
    stored once has as many analyses as distinct models and every defect on one of them."""
    with platform.database.session() as session:
        analyses = session.execute(
            select(
                CaptureAnalysis.id, CaptureAnalysis.model_name, CaptureAnalysis.model_version
            ).where(CaptureAnalysis.capture_id == capture_id)
        ).all()
        defects = session.scalars(
            select(Defect.analysis_id).where(Defect.capture_id == capture_id)
        ).all()
    ids = {row[0] for row in analyses}
    assert set(defects) <= ids
    return len(analyses), len({(row[1], row[2]) for row in analyses}), len(defects)


@pytest.fixture
def celery_platform(celery_settings: Settings) -> Iterator[Platform]:
    wired = Platform.create(celery_settings)
    yield wired
    wired.close()


def test_a_worker_runs_the_job_the_api_sent(
    celery_platform: Platform, spawn: Callable[..., subprocess.Popen]
) -> None:
    capture_id = _upload_scene(celery_platform, width=640, height=480)
    assert _job(celery_platform).status == JobStatus.QUEUED  # nothing ran in the API process
    spawn("worker", "--concurrency", "1", "--pool", "solo")
    _wait_for(lambda: _job(celery_platform).status == JobStatus.SUCCEEDED, 120, "the worker")
    job = _job(celery_platform)
    assert job.attempts == 1 and job.error == ""
    analyses, models, defects = _stored(celery_platform, capture_id)
    assert analyses == models == 2 and defects >= 1  # image quality and cracks, once each


def test_worker_killed_mid_job_is_taken_over_and_stored_once(
    celery_platform: Platform, spawn: Callable[..., subprocess.Popen]
) -> None:
    capture_id = _upload_scene(celery_platform, width=4000, height=3000)
    first = spawn("worker", "--concurrency", "1", "--pool", "solo")
    _wait_for(lambda: _job(celery_platform).status != JobStatus.QUEUED, 120, "the job to start")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    job = _job(celery_platform)
    assert job.status == JobStatus.RUNNING, "the job finished before the kill; use a larger image"
    assert _stored(celery_platform, capture_id)[2] == 0
    spawn("worker", "--concurrency", "1", "--pool", "solo")
    spawn("scheduler")  # resends rows whose lease ran out, whatever the broker did
    _wait_for(lambda: _job(celery_platform).status == JobStatus.SUCCEEDED, 240, "the takeover")
    assert _job(celery_platform).attempts == 2
    stored = _stored(celery_platform, capture_id)
    assert stored[0] == stored[1] == 2 and stored[2] >= 1
    time.sleep(LEASE_S + 2)  # later duplicate deliveries find the row done and change nothing
    assert _stored(celery_platform, capture_id) == stored


def test_exactly_one_scheduler(
    celery_settings: Settings, spawn: Callable[..., subprocess.Popen]
) -> None:
    import redis

    first = spawn("scheduler")
    client = redis.Redis.from_url(celery_settings.broker_url)
    _wait_for(lambda: client.get("infrasight:scheduler") is not None, 60, "the scheduler lock")
    second = spawn("scheduler")
    assert second.wait(60) == 1
    assert first.poll() is None
