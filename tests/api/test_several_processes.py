"""State shared by several API processes on one database: two notifiers never send the same
delivery, periodic work is done by one process at a time, and ``serve --workers`` refuses the web
pages it cannot route. Two platforms on one database stand for two processes (each has its own
engine, connections, pools and notifier thread pool)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from infrasight.cli.app import app as cli
from infrasight.core.domain import JobStatus
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.notify.notifier import claim_delivery, claim_s
from infrasight.storage.exclusive import only_one
from infrasight.storage.models import Job, NotificationDelivery
from tests.api.test_notifications import _hazard, _subscribe
from tests.conftest import Site, Tenant
from tests.notify.receiver import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    yield hook
    hook.close()


@pytest.fixture
def second(settings: Settings) -> Iterator[Platform]:
    """A second process' platform on the same database."""
    wired = Platform.create(settings, workers=0)
    yield wired
    wired.close()


def test_two_notifiers_send_each_delivery_once(
    client: TestClient,
    platform: Platform,
    second: Platform,
    tenant: Tenant,
    site: Site,
    receiver: WebhookReceiver,
) -> None:
    for _ in range(3):
        _subscribe(client, tenant, receiver.url, event_kinds=["hazard.opened"])
    hazards = [_hazard(platform, tenant, site) for _ in range(6)]
    platform.notifier.fan_out()
    with platform.database.session() as s:
        pending = s.scalars(select(NotificationDelivery.id)).all()
    assert len(pending) == 18  # 3 subscriptions x 6 hazards
    start = threading.Barrier(4)

    def send(notifier_platform: Platform) -> None:
        start.wait()
        notifier_platform.notifier.deliver_due()

    # two threads per "process", all racing for the same heads
    runners = [threading.Thread(target=send, args=(p,)) for p in (platform, second) * 2]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(60)
    sent = Counter(int(r.headers["X-InfraSight-Delivery"]) for r in receiver.received)
    assert sorted(sent) == sorted(pending) and set(sent.values()) == {1}, sent
    subjects = Counter(r.document["subject"]["id"] for r in receiver.received)
    assert subjects == dict.fromkeys(hazards, 3)
    with platform.database.session() as s:
        rows = s.scalars(select(NotificationDelivery)).all()
        assert {(r.status, r.attempts) for r in rows} == {("delivered", 1)}
    assert platform.notifier.run_once() == [] and second.notifier.run_once() == []


def test_a_claimed_delivery_waits_until_its_claim_runs_out(
    client: TestClient, platform: Platform, tenant: Tenant, site: Site
) -> None:
    _subscribe(client, tenant, "http://127.0.0.1:9/hook", event_kinds=["hazard.opened"])
    _hazard(platform, tenant, site)
    platform.notifier.fan_out()
    with platform.database.session() as s:
        [delivery_id] = s.scalars(select(NotificationDelivery.id)).all()
    now = datetime.now(UTC) + timedelta(seconds=1)
    hold_s = claim_s(platform.settings.notify_timeout_s)
    assert hold_s == 60.0  # the default 10 s timeout: a minute
    with platform.database.transaction() as s:
        assert claim_delivery(s, delivery_id, now, hold_s)
    with platform.database.transaction() as s:  # a second notifier, or the same one again
        assert not claim_delivery(s, delivery_id, now, hold_s)
        assert not claim_delivery(s, delivery_id, now + timedelta(seconds=hold_s - 1), hold_s)
    # the notifier that claimed it died: after the claim it is due again for anyone
    assert platform.notifier.deliver_due(now + timedelta(seconds=hold_s - 1)) == []
    later = now + timedelta(seconds=hold_s + 1)
    [attempt] = platform.notifier.deliver_due(later)
    assert attempt.delivery_id == delivery_id and not attempt.outcome.ok  # port 9: refused
    with platform.database.session() as s:
        row = s.get_one(NotificationDelivery, delivery_id)
        assert row.attempts == 1 and row.status == "pending"


def test_periodic_work_is_done_by_one_process_at_a_time(
    platform: Platform, second: Platform
) -> None:
    with only_one(platform.database, "alarm-sweep") as first:
        assert first
        with only_one(second.database, "alarm-sweep") as other:
            assert not other  # taken: the second process skips this round
        with only_one(second.database, "sla-sweep") as unrelated:
            assert unrelated  # another piece of work is free
    with only_one(second.database, "alarm-sweep") as after:
        assert after  # released when the first one finished
    with pytest.raises(ValueError, match="name must match"), only_one(platform.database, "A b"):
        pass


def test_serve_workers_refuses_the_web_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFRASIGHT_WEB", "true")
    result = CliRunner().invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers" in result.output and "INFRASIGHT_WEB=false" in result.output
    result = CliRunner().invoke(cli, ["serve", "--workers", "0"])
    assert result.exit_code == 2 and "--workers" in result.output


def test_a_process_starting_leaves_jobs_another_live_process_runs(
    platform: Platform, second: Platform
) -> None:
    with platform.database.transaction() as s:
        s.add_all(
            [
                Job(name="analyse_capture", arguments={}, status=JobStatus.RUNNING, attempts=1)
                for _ in range(2)
            ]
        )
    with platform.database.session() as s:
        alive, abandoned = s.scalars(select(Job.id).order_by(Job.id)).all()
    # the first process runs `alive` (it holds the job's lock while the handler runs)
    with only_one(platform.database, f"job-{alive}", cleanup=True) as running:
        assert running
        second.jobs.resume_queued()  # the second process starts meanwhile
        with second.database.session() as s:
            statuses = {row[0]: row[1] for row in s.execute(select(Job.id, Job.status))}
        assert statuses == {alive: JobStatus.RUNNING, abandoned: JobStatus.QUEUED}
        assert second.jobs.execute(alive) == "busy"  # nor does it run it a second time
    second.jobs.resume_queued()  # after the first process stopped: taken up again
    with second.database.session() as s:
        assert s.get_one(Job, alive).status == JobStatus.QUEUED
