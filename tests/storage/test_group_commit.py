"""Group commit: concurrent ingest batches share one transaction; one bad batch fails alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError
from infrasight.platform import Platform
from infrasight.storage.models import Job, Reading
from infrasight.storage.readings import insert_readings
from tests.conftest import Site

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _run_together(
    platform: Platform,
    works: list[Callable[[Session], int]],
    finish: Callable[[Session], None] | None = None,
) -> list[object]:
    """Queue every unit while the writer's turn is held, then release: they form one group."""
    group = platform.database.group_commit
    outcomes: list[object] = [None] * len(works)

    def call(index: int) -> None:
        try:
            outcomes[index] = platform.database.write(works[index], finish=finish)
        except Exception as err:
            outcomes[index] = err

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(works))]
    with group.writer_lock:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(group._waiting) < len(works) and time.monotonic() < deadline:
            time.sleep(0.005)
    for thread in threads:
        thread.join(30)
    return outcomes


def _count(platform: Platform, channel_id: int) -> int:
    with platform.database.session() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Reading).where(Reading.channel_id == channel_id)
            )
            or 0
        )


def test_concurrent_units_share_one_commit(platform: Platform, site: Site) -> None:
    channel = site.strain_channel_id
    minute = 60_000_000

    def unit(i: int) -> Callable[[Session], int]:
        return lambda session: insert_readings(session, [(channel, i * minute, float(i))])

    before = platform.database.group_commit.groups
    outcomes = _run_together(platform, [unit(i) for i in range(12)])
    assert outcomes == [1] * 12  # each caller gets its own answer
    assert platform.database.group_commit.groups - before == 1  # in one transaction
    assert _count(platform, channel) == 12


def test_a_failing_unit_fails_alone_and_writes_nothing(platform: Platform, site: Site) -> None:
    channel = site.strain_channel_id

    def good(i: int) -> Callable[[Session], int]:
        return lambda session: insert_readings(session, [(channel, i, 1.0)])

    def bad(session: Session) -> int:
        insert_readings(session, [(channel, 999, 1.0)])
        raise InvalidInputError("refused", field="readings[0]")

    outcomes = _run_together(platform, [good(1), bad, good(2), good(3)])
    assert outcomes[0] == outcomes[2] == outcomes[3] == 1
    assert isinstance(outcomes[1], InvalidInputError)
    with platform.database.session() as session:
        stamps = session.scalars(select(Reading.ts).where(Reading.channel_id == channel)).all()
    assert sorted(stamps) == [1, 2, 3]  # the others' data kept, none of the failing unit's


def _finish_marking(channel: int, calls: list[int]) -> Callable[[Session], None]:
    """A finish step that writes one reading per transaction: at hour ``len(calls)``."""

    def finish(session: Session) -> None:
        insert_readings(session, [(channel, 3_600_000_000 * (len(calls) + 1), -1.0)])
        calls.append(len(session.info.get("units", [])))

    return finish


def _unit(channel: int, ts: int) -> Callable[[Session], int]:
    def work(session: Session) -> int:
        session.info.setdefault("units", []).append(ts)
        return insert_readings(session, [(channel, ts, 1.0)])

    return work


def test_the_finish_step_runs_once_per_group_after_its_units(
    platform: Platform, site: Site
) -> None:
    channel = site.strain_channel_id
    calls: list[int] = []
    before = platform.database.group_commit.groups
    outcomes = _run_together(
        platform, [_unit(channel, i) for i in range(1, 7)], _finish_marking(channel, calls)
    )
    assert outcomes == [1] * 6
    assert platform.database.group_commit.groups - before == 1
    assert calls == [6]  # once, after all six units, in their transaction
    with platform.database.session() as session:
        marks = session.scalars(
            select(Reading.ts).where(Reading.channel_id == channel, Reading.value == -1.0)
        ).all()
    assert marks == [3_600_000_000]


def test_a_failing_group_runs_each_unit_alone_with_its_finish_step(
    platform: Platform, site: Site
) -> None:
    channel = site.strain_channel_id
    calls: list[int] = []

    def bad(session: Session) -> int:
        insert_readings(session, [(channel, 999, 1.0)])
        raise InvalidInputError("refused", field="readings[0]")

    finish = _finish_marking(channel, calls)
    outcomes = _run_together(platform, [_unit(channel, 1), bad, _unit(channel, 2)], finish)
    assert outcomes[0] == outcomes[2] == 1
    assert isinstance(outcomes[1], InvalidInputError)
    # the group's try (finish never reached), then each good unit alone: one finish each
    assert calls == [1, 1]
    with platform.database.session() as session:
        marks = session.scalars(
            select(Reading.ts).where(Reading.channel_id == channel, Reading.value == -1.0)
        ).all()
        stamps = session.scalars(
            select(Reading.ts).where(Reading.channel_id == channel, Reading.value == 1.0)
        ).all()
    assert sorted(marks) == [3_600_000_000, 7_200_000_000]
    assert sorted(stamps) == [1, 2]


@pytest.mark.parametrize("clients", [8])
def test_concurrent_http_batches_are_all_stored_with_their_effect_rows(
    platform: Platform, client: TestClient, site: Site, clients: int
) -> None:
    """Requests at once through the API: every batch answered, stored and followed by effects."""
    platform.settings.anomaly_scoring = False
    answers: list[int] = []

    def post(index: int) -> None:
        readings = [
            {
                "channel": "VD-SETTLE",
                "time": (T0 + timedelta(minutes=10 * index + i)).isoformat(),
                "value": 1.0 + i,
            }
            for i in range(10)
        ]
        response = client.post(
            "/api/v1/ingest/readings", json={"readings": readings}, headers=site.device_headers
        )
        answers.append(response.json()["accepted"])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == [10] * clients
    assert _count(platform, site.settlement_channel_id) == 10 * clients
    with platform.database.session() as session:  # effects applied inline (no workers)
        assert session.scalar(select(func.count()).select_from(Job)) == 0
