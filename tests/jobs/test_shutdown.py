"""Stopping never waits for ever on a job: the grace period, then the process exits.

A report render that never returned (Typst on a runaway chart) held ``infrasight serve`` in
"Waiting for application shutdown" until CI's 90 minutes ran out.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from infrasight.core.domain import JobStatus
from infrasight.core.settings import Settings
from infrasight.jobs.runner import JobContext
from infrasight.platform import Platform
from infrasight.services.accounts import ensure_organization
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import Job


def test_shutdown_gives_up_on_a_job_after_the_grace(settings: Settings) -> None:
    platform = Platform.create(settings, workers=1)
    started = threading.Event()
    release = threading.Event()

    def stuck(context: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
        started.set()
        assert release.wait(60)
        return {}

    platform.jobs.register("stuck", stuck)
    with platform.database.transaction() as session:
        org, _ = ensure_organization(session, "Delta")
        job_id = platform.jobs.create(session, "stuck", {}, org.id).id
    platform.jobs.enqueue(job_id)
    assert started.wait(30)
    try:
        assert platform.jobs.running_names() == [f"stuck (job {job_id})"]
        assert platform.close(grace_s=0.2) is False  # still running: not waited for
        with platform.database.session() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.status == JobStatus.RUNNING  # taken up at next start
    finally:
        release.set()
    assert platform.jobs.shutdown(grace_s=30) is True  # it finished once released
    assert platform.jobs.running_names() == []
    platform.database.dispose()


# the child registers a job that never returns, then serves as `infrasight serve` does
_CHILD = """
import threading
from infrasight.platform import Platform
created = Platform.create.__func__

def create(cls, *args, **kwargs):
    platform = created(cls, *args, **kwargs)
    platform.jobs.register("stuck", lambda context, arguments: threading.Event().wait() or {})
    return platform

Platform.create = classmethod(create)
from infrasight.cli.app import main
main()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_exits_when_stopped_while_a_job_never_returns(
    tmp_path: Path, stop: signal.Signals
) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, database_url="", worker_threads=0)
    upgrade(settings)
    setup = Platform.create(settings, workers=0)
    setup.jobs.register("stuck", lambda context, arguments: {})  # only to write the row
    with setup.database.transaction() as session:
        org, _ = ensure_organization(session, "Stop test")
        job_id = setup.jobs.create(session, "stuck", {}, org.id).id  # queued: run at start
    setup.close()
    port = _free_port()
    env = dict(
        os.environ,
        INFRASIGHT_DATA_DIR=str(data_dir),
        INFRASIGHT_DATABASE_URL="",
        INFRASIGHT_SHUTDOWN_GRACE_S="1",
        INFRASIGHT_WEB="false",
    )
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        for _ in range(1200):
            with setup.database.session() as session:
                job = session.get(Job, job_id)
                if job is not None and job.status == JobStatus.RUNNING:
                    break
            assert process.poll() is None, log.read_text()[-2000:]
            time.sleep(0.05)
        else:
            raise AssertionError(f"the job never started: {log.read_text()[-2000:]}")
        for _ in range(1200):  # serving (the job starts before the port is bound)
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert process.poll() is None, log.read_text()[-2000:]
                time.sleep(0.05)
        else:
            raise AssertionError(f"the server did not start: {log.read_text()[-2000:]}")
        process.send_signal(stop)
        # uvicorn ends with the signal itself after a SIGTERM; after a SIGINT serve exits
        assert process.wait(timeout=120) in (0, -stop), log.read_text()[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert f"stuck (job {job_id})" in text and "left for the next start" in text, text[-2000:]
    with setup.database.session() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == JobStatus.RUNNING
    setup.database.dispose()
