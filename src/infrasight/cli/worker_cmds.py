"""``infrasight worker`` and ``infrasight scheduler``: the Celery side of a scaled-out install."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from typing import Annotated

import typer

from infrasight.cli.common import console, load_settings
from infrasight.cli.i18n import say
from infrasight.core.settings import Settings

SCHEDULER_LOCK = "infrasight:scheduler"
_LOGGER = logging.getLogger(__name__)


def _celery_settings() -> Settings:
    settings = load_settings()
    if settings.job_engine != "celery":
        console.print(
            f"[red]{say('error:')}[/red] "
            + say(
                "INFRASIGHT_JOB_ENGINE: must be 'celery' (with INFRASIGHT_BROKER_URL) to run "
                "workers; the in-process pool needs none"
            )
        )
        raise typer.Exit(2)
    return settings


def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Worker processes")] = 2,
    pool: Annotated[str, typer.Option(help="Celery pool: prefork, threads or solo")] = "prefork",
) -> None:
    """Run jobs from the broker (Celery) until stopped; start one on each worker machine."""
    if pool not in ("prefork", "threads", "solo"):
        console.print(
            f"[red]{say('error:')}[/red] "
            + say("--pool: must be prefork, threads or solo, not {pool}", pool=repr(pool))
        )
        raise typer.Exit(2)
    from infrasight.workers.celery_app import QUEUE, create_celery

    settings = _celery_settings()
    app = create_celery(settings)
    name = f"infrasight-{os.getpid()}@{socket.gethostname()}"
    app.worker_main(
        [
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--queues={QUEUE}",
            f"--hostname={name}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def scheduler() -> None:
    """Send the periodic work (Celery beat); exactly one may run, a second one exits with 1."""
    import redis

    from infrasight.workers.celery_app import create_celery

    settings = _celery_settings()
    client = redis.Redis.from_url(settings.broker_url)
    me = uuid.uuid4().hex
    ttl_s = max(10, int(3 * settings.sweep_interval_s))
    if not client.set(SCHEDULER_LOCK, me, nx=True, ex=ttl_s):
        console.print(
            f"[red]{say('error:')}[/red] "
            + say(
                "another scheduler is running (exactly one may); its lock {lock} expires "
                "{seconds} s after it stops",
                lock=repr(SCHEDULER_LOCK),
                seconds=ttl_s,
            )
        )
        raise typer.Exit(1)
    stop = threading.Event()

    def keep() -> None:
        while not stop.wait(ttl_s / 3):
            try:
                holder = client.get(SCHEDULER_LOCK)
                if holder is None and client.set(SCHEDULER_LOCK, me, nx=True, ex=ttl_s):
                    continue  # Redis restarted without its data: the lock is taken again
                if (holder or client.get(SCHEDULER_LOCK)) != me.encode():
                    console.print(
                        f"[red]{say('error:')}[/red] {say('scheduler lock lost; stopping')}"
                    )
                    os._exit(1)
                client.expire(SCHEDULER_LOCK, ttl_s)
            except redis.RedisError as err:  # Redis down: keep going, nobody can take it meanwhile
                _LOGGER.warning("scheduler lock not renewed (Redis unreachable): %s", err)

    threading.Thread(target=keep, name="scheduler-lock", daemon=True).start()
    app = create_celery(settings)
    schedule = settings.data_dir / "celerybeat-schedule"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        app.start(["beat", "--loglevel=INFO", f"--schedule={schedule}"])
    finally:
        stop.set()
        if client.get(SCHEDULER_LOCK) == me.encode():
            client.delete(SCHEDULER_LOCK)
