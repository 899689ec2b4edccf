"""Ingest and its effects with several API processes on one database (``serve --workers``).

Each process has its own group commit and its own effect thread; the database (SQLite's file,
or PostgreSQL) is what they share. Every acknowledged reading must be stored once and every
effect row applied once, whichever process stored it and whichever applies it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services import reading_effects
from infrasight.services.auth import resolve_token
from infrasight.services.ingest import ReadingColumns, ingest_readings
from infrasight.services.reading_effects import READINGS_STORED
from infrasight.storage.models import AlarmEventRecord, Job
from tests.api.test_durable_effects import _add_rule, _readings
from tests.conftest import Site, Tenant


@pytest.fixture
def second(settings: Settings) -> Iterator[Platform]:
    """A second process' platform on the same database (its own engine and connections)."""
    wired = Platform.create(settings, workers=0)
    yield wired
    wired.close()


def _store_unpublished(platform: Platform, site: Site, values: list[float], start: int) -> None:
    """Readings stored with their effect row, as a request does, but not yet applied."""
    rows = _readings(values, start)
    with platform.database.transaction() as session:
        caller = resolve_token(session, site.device_token)
        batch = ReadingColumns(
            channels=[r["channel"] for r in rows],
            times=[r["time"] for r in rows],
            values=[r["value"] for r in rows],
            units=[None] * len(rows),
        )
        ingest_readings(session, caller, batch, future_tolerance_s=300)


def _events(platform: Platform) -> list[tuple[str, int]]:
    with platform.database.session() as session:
        return sorted((e.kind, e.level) for e in session.scalars(select(AlarmEventRecord)))


def test_two_processes_apply_each_effect_row_once(
    platform: Platform,
    second: Platform,
    client: TestClient,
    tenant: Tenant,
    site: Site,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Both processes' effect threads wake for the same rows at once: one applies them, the
    other finds nothing left (its reads wait for the first one's commit)."""
    _add_rule(client, tenant)
    for start in range(0, 40, 10):
        _store_unpublished(platform, site, [1.0] * 5 + [500.0] * 5, start)
    original = reading_effects.evaluate_stored_readings
    calls: list[int] = []

    def slow_evaluation(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        transitions: int = original(*args, **kwargs)
        time.sleep(0.4)  # the other process wakes meanwhile
        return transitions

    monkeypatch.setattr(reading_effects, "evaluate_stored_readings", slow_evaluation)
    start = threading.Barrier(2)
    applied: dict[str, int] = {}

    def apply(name: str, wired: Platform) -> None:
        start.wait()
        applied[name] = wired.jobs.run_effects(READINGS_STORED, tenant.organization_id)

    threads = [
        threading.Thread(target=apply, args=(name, wired))
        for name, wired in (("first", platform), ("second", second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == []  # e.g. both scoring the first readings: one failed on the other's
    assert sorted(applied.values()) == [0, 4], applied  # 4 rows, applied once in all
    assert len(calls) == 1
    with platform.database.session() as session:
        left = session.scalar(
            select(func.count()).select_from(Job).where(Job.name == READINGS_STORED)
        )
    assert left == 0
    # raised, cleared, re-raised, cleared, ... once each: as one process applies them
    assert _events(platform) == sorted([("raised", 1)] + [("cleared", 0), ("re_raised", 1)] * 3)
