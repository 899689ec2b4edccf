"""Ingest and its effects with several API processes on one database (``serve --workers``).

Each process has its own group commit and its own effect thread; the database (SQLite's file,
or PostgreSQL) is what they share. Every acknowledged reading must be stored once and every
effect row applied once, whichever process stored it and whichever applies it.
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infrasight.api.app import create_app
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services import reading_effects
from infrasight.services.auth import resolve_token
from infrasight.services.ingest import ReadingColumns, ingest_readings
from infrasight.services.reading_effects import READINGS_STORED
from infrasight.storage.models import AlarmEventRecord, AlarmRecord, Channel, Job, Reading
from tests.api.test_durable_effects import RULE, T0, _add_rule, _readings
from tests.conftest import Site, Tenant, make_site
from tests.servers import free_port as _free_port


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
    original = reading_effects.evaluate_stored_readings  # type: ignore[attr-defined]
    calls: list[int] = []

    def slow_evaluation(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        transitions: int = original(*args, **kwargs)
        time.sleep(0.4)  # the other process wakes meanwhile
        return transitions

    monkeypatch.setattr(reading_effects, "evaluate_stored_readings", slow_evaluation)
    together = threading.Barrier(2)
    applied: dict[str, int] = {}

    def apply(name: str, wired: Platform) -> None:
        together.wait()
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


_INFRASIGHT = [str(Path(sys.executable).parent / "infrasight")]
DEVICES = 6
READINGS = 24  # per device: 4 blocks of 6, below and above the rule's limit in turn


def _fleet(platform: Platform, tenant: Tenant, client: TestClient) -> list[tuple[str, str]]:
    """``DEVICES`` devices with a channel each, and a rule over all the channels."""
    site = make_site(client, tenant, prefix="MP")
    headers = tenant.headers(Role.ENGINEER)
    fleet = []
    for i in range(DEVICES):
        device = client.post(
            "/api/v1/devices",
            json={"name": f"MP-D{i}", "kind": "datalogger", "asset_id": site.asset_id},
            headers=headers,
        )
        key = f"MP-CH{i}"
        channel = client.post(
            "/api/v1/channels",
            json={
                "key": key,
                "quantity": "settlement",
                "unit": "mm",
                "element_id": site.element_id,
                "device_id": device.json()["id"],
            },
            headers=headers,
        )
        assert channel.status_code == 201, channel.text
        fleet.append((device.json()["token"], key))
    rule = {**RULE, "id": "mp-upper", "channels": [key for _, key in fleet]}
    _add_rule(client, tenant, rule)
    return fleet


def _body(key: str, index: int) -> bytes:
    value = 500.0 + index if (index // 6) % 2 else 1.0 + 0.1 * (index % 3)
    moment = (T0 + timedelta(minutes=index)).isoformat()
    return orjson.dumps({"readings": [{"channel": key, "time": moment, "value": value}]})


def _outcome(platform: Platform) -> dict[str, Any]:
    with platform.database.session() as session:
        return {
            "readings": sorted(
                session.execute(
                    select(Channel.key, func.count())
                    .join(Reading, Reading.channel_id == Channel.id)
                    .group_by(Channel.key)
                ).all()
            ),
            "events": sorted(
                (a.key, e.kind, e.level, e.time.isoformat())
                for e, a in session.execute(
                    select(AlarmEventRecord, AlarmRecord).join(
                        AlarmRecord, AlarmRecord.id == AlarmEventRecord.alarm_id
                    )
                )
            ),
            "jobs": sorted(
                (j.name, j.status, j.attempts)
                for j in session.scalars(select(Job).where(Job.name != "notify"))
            ),
        }


@pytest.mark.skipif(sys.platform != "linux", reason="uvicorn's process supervisor, /proc")
def test_two_server_processes_on_one_sqlite_file(
    settings: Settings, platform: Platform, client: TestClient, tenant: Tenant, tmp_path: Path
) -> None:
    """``serve --workers 2`` on one SQLite file: every acknowledged reading is stored once and
    the effects (scores, alarms) are those of one process given the same readings."""
    if not platform.database.is_sqlite:
        pytest.skip("the embedded database's case (PostgreSQL: tests/scale)")
    fleet = _fleet(platform, tenant, client)
    reference_dir = tmp_path / "reference"
    shutil.copytree(settings.data_dir, reference_dir)
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*_INFRASIGHT, "serve", "--workers", "2", "--port", str(port)],
        env={
            **os.environ,
            "INFRASIGHT_DATA_DIR": str(settings.data_dir),
            "INFRASIGHT_WEB": "false",
            "INFRASIGHT_DATABASE_URL": "",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_up(port, server)
        acknowledged = _post_all(port, fleet)
        assert acknowledged == DEVICES * READINGS
        deadline = time.monotonic() + 120
        while _outcome(platform)["jobs"] and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(60)
        log.close()
    served = _outcome(platform)
    text = (tmp_path / "serve.log").read_text(errors="replace")
    assert "database is locked" not in text and "Traceback" not in text, text[-3000:]
    assert served["jobs"] == []  # every effect applied, none failed or retried
    # the same readings stored and applied by one process, inline
    reference = Platform.create(settings.model_copy(update={"data_dir": reference_dir}), workers=0)
    try:
        with TestClient(create_app(platform=reference)) as one:
            for index in range(READINGS):
                for token, key in fleet:
                    answer = one.post(
                        "/api/v1/ingest/readings",
                        content=_body(key, index),
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Content-Type": "application/json",
                        },
                    )
                    assert answer.status_code == 200
        expected = _outcome(reference)
    finally:
        reference.close()
    assert [n for k, n in served["readings"] if k.startswith("MP-CH") and "." not in k] == [
        READINGS
    ] * DEVICES
    assert served == expected
    assert {kind for _, kind, _, _ in served["events"]} == {"raised", "cleared", "re_raised"}


def _wait_until_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180  # two processes importing on busy cores
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server stopped"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text()
                if len(children.split()) >= 2:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError("serve --workers 2 did not start")


def _post_all(port: int, fleet: list[tuple[str, str]]) -> int:
    """Each device posts its readings in order on a connection of its own, concurrently."""
    acknowledged = [0] * len(fleet)

    def device(slot: int) -> None:
        token, key = fleet[slot]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for index in range(READINGS):
            connection.request(
                "POST",
                "/api/v1/ingest/readings",
                body=_body(key, index),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            answer = connection.getresponse()
            payload = answer.read()
            assert answer.status == 200, payload
            acknowledged[slot] += orjson.loads(payload)["accepted"]
            connection.close()  # a new connection each time: either process may take it
        connection.close()

    threads = [threading.Thread(target=device, args=(slot,)) for slot in range(len(fleet))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return sum(acknowledged)
