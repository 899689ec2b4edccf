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


def _run_together(platform: Platform, works: list[Callable[[Session], int]]) -> list[object]:
    """Queue every unit while the writer's turn is held, then release: they form one group."""
    group = platform.database.group_commit
    outcomes: list[object] = [None] * len(works)

    def call(index: int) -> None:
        try:
            outcomes[index] = platform.database.write(works[index])
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
