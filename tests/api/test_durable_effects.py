"""Durable effects: what stored readings and captures cause survives a crash, and only once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from infrasight.api.app import create_app
from infrasight.core.domain import JobStatus, Role
from infrasight.core.settings import Settings
from infrasight.jobs.runner import MAX_ATTEMPTS, add_effect
from infrasight.platform import Platform
from infrasight.services.accounts import create_user, ensure_organization
from infrasight.services.auth import resolve_token
from infrasight.services.ingest import ReadingColumns, ingest_readings
from infrasight.services.reading_effects import READINGS_STORED, apply_readings_stored
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import (
    AlarmEventRecord,
    AlarmRecord,
    AlarmRule,
    Capture,
    CaptureAnalysis,
    ChannelAnalytics,
    Job,
    Reading,
)
from tests.api.test_captures import encode, gradient, upload
from tests.conftest import Site, Tenant

T0 = datetime(2024, 5, 1, tzinfo=UTC)
RULE = {
    "id": "settle-upper",
    "channels": ["VD-SETTLE"],
    "levels": [{"name": "over", "severity": 2, "limits": [{"quantity": "value", "upper": 100}]}],
}


# Above the rule's limit and moving like a live gauge (a flat line would also be, rightly, a
# stuck-sensor maintenance alarm).
MOVING_500 = [500.0 + 0.3 * (i % 7) for i in range(100)]


def _readings(values: list[float], start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "channel": "VD-SETTLE",
            "time": (T0 + timedelta(minutes=start + i)).isoformat(),
            "value": v,
        }
        for i, v in enumerate(values)
    ]


def _add_rule(client: TestClient, tenant: Tenant, rule: dict[str, Any] = RULE) -> int:
    created = client.post(
        "/api/v1/rules", json={"definition": rule}, headers=tenant.headers(Role.ENGINEER)
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _snapshot(platform: Platform) -> dict[str, Any]:
    """Everything the effects of readings write."""
    with platform.database.session() as session:
        return {
            "readings": session.scalar(select(func.count()).select_from(Reading)),
            "events": sorted(
                (e.alarm_id, e.kind, e.time.isoformat(), e.level)
                for e in session.scalars(select(AlarmEventRecord))
            ),
            "alarms": sorted(
                (a.key, a.status, a.level, json.dumps(a.state, sort_keys=True))
                for a in session.scalars(select(AlarmRecord))
            ),
            "rule_state": [r.state for r in session.scalars(select(AlarmRule))],
            "scorer": [
                (a.last_ts, a.anomaly_state) for a in session.scalars(select(ChannelAnalytics))
            ],
        }


def test_the_effect_row_is_written_with_the_readings_and_resumed_at_start(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    """A crash right after the commit (nothing published) loses no alarm: the row waits."""
    _add_rule(client, tenant)
    with platform.database.transaction() as session:
        caller = resolve_token(session, site.device_token)
        values = [1.0] * 20 + [500.0] * 5
        batch = ReadingColumns(
            channels=["VD-SETTLE"] * len(values),
            times=[r["time"] for r in _readings(values)],
            values=values,
            units=[None] * len(values),
        )
        result = ingest_readings(session, caller, batch, future_tolerance_s=300)
        assert result.accepted == 25
    # the process "dies" here: the event is never published
    with platform.database.session() as session:
        queued = session.scalars(select(Job).where(Job.name == READINGS_STORED)).all()
        assert [job.status for job in queued] == ["queued"]
        assert session.scalar(select(func.count()).select_from(AlarmRecord)) == 0
    with TestClient(create_app(platform=platform)) as restarted:  # start: resume_queued
        items = restarted.get("/api/v1/alarms", headers=tenant.headers()).json()["items"]
    assert [(a["key"], a["level_name"], a["status"]) for a in items] == [
        ("settle-upper", "over", "active")
    ]
    with platform.database.session() as session:  # applied rows are gone
        left = session.scalars(select(Job.name)).all()
    assert left == ["notify"]  # the alarm's notification fact waits for the notifier


def test_applying_an_effect_again_changes_nothing(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    _add_rule(client, tenant)
    for start, values in ((0, [1.0] * 30 + [500.0] * 3), (33, [2.0] * 10 + [600.0, 1.0])):
        response = client.post(
            "/api/v1/ingest/readings",
            json={"readings": _readings(values, start)},
            headers=site.device_headers,
        )
        assert response.status_code == 200, response.text
    before = _snapshot(platform)
    assert len(before["events"]) == 4  # raised, cleared, re-raised, cleared
    assert before["readings"] == 2 * 45  # the readings and their anomaly scores
    arguments = {
        "organization_id": tenant.organization_id,
        "channel_ids": [site.settlement_channel_id],
        "start_us": round(T0.timestamp() * 1e6),
        "end_us": round((T0 + timedelta(minutes=44)).timestamp() * 1e6),
    }
    with platform.database.transaction() as session:  # the handler itself, twice
        apply_readings_stored(platform.jobs.context, session, arguments)
    with platform.database.transaction() as session:  # and a row delivered again
        add_effect(session, READINGS_STORED, arguments, tenant.organization_id)
    platform.jobs.run_pending()
    assert _snapshot(platform) == before


def test_re_evaluating_an_evaluated_period_adds_no_events(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    rule_id = _add_rule(client, tenant)
    client.post(
        "/api/v1/ingest/readings",
        json={"readings": _readings([1.0, 500.0, 2.0, 700.0, 3.0])},
        headers=site.device_headers,
    )
    events = client.get("/api/v1/alarms", headers=tenant.headers()).json()["items"]
    [alarm] = events
    detail = client.get(f"/api/v1/alarms/{alarm['id']}", headers=tenant.headers()).json()
    assert [e["kind"] for e in detail["events"]] == ["raised", "cleared", "re_raised", "cleared"]
    for _ in range(2):
        again = client.post(
            f"/api/v1/rules/{rule_id}/evaluate",
            json={"since": T0.isoformat()},
            headers=tenant.headers(Role.ENGINEER),
        )
        assert again.status_code == 200, again.text
        assert again.json() == {"transitions": 0}
    after = client.get(f"/api/v1/alarms/{alarm['id']}", headers=tenant.headers()).json()
    assert after["events"] == detail["events"]
    assert after["status"] == "cleared"


def test_analysis_queue_limit_per_organisation(
    settings: Settings, tenant: Tenant, other_tenant: Tenant
) -> None:
    limited = Platform.create(
        settings.model_copy(update={"max_queued_analysis_jobs": 2}), workers=0
    )
    try:
        with TestClient(create_app(platform=limited)) as client:
            from tests.conftest import make_site

            site = make_site(client, tenant, prefix="QL")
            other = make_site(client, other_tenant, prefix="QO")
            images = [encode(gradient(48 + i, 64), "PNG") for i in range(4)]
            for i in range(2):
                ok = upload(client, tenant.headers(), images[i], f"{i}.png", asset_id=site.asset_id)
                assert ok.status_code == 201, ok.text
            refused = upload(client, tenant.headers(), images[2], "2.png", asset_id=site.asset_id)
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "30"
            assert "INFRASIGHT_MAX_QUEUED_ANALYSIS_JOBS" in refused.json()["detail"]
            assert "is 2" in refused.json()["detail"]
            again = client.post(
                f"/api/v1/captures/{ok.json()['id']}/analyse", headers=tenant.headers()
            )
            assert again.status_code == 429
            # another organisation is not held up, and nothing of the refused upload was stored
            other_ok = upload(
                client, other_tenant.headers(), images[3], "3.png", asset_id=other.asset_id
            )
            assert other_ok.status_code == 201, other_ok.text
            with limited.database.session() as session:
                assert session.scalar(select(func.count()).select_from(Capture)) == 3
            assert limited.jobs.run_pending() == 3  # once they ran, uploads are accepted again
            accepted = upload(client, tenant.headers(), images[2], "2.png", asset_id=site.asset_id)
            assert accepted.status_code == 201, accepted.text
    finally:
        limited.close()


def test_an_interrupted_analysis_runs_again_once_and_a_crash_looping_one_fails(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    first = upload(
        client, tenant.headers(), encode(gradient(), "PNG"), "a.png", asset_id=site.asset_id
    ).json()
    second = upload(
        client, tenant.headers(), encode(gradient(50, 64), "PNG"), "b.png", asset_id=site.asset_id
    ).json()
    assert platform.jobs.run_pending() == 2
    with platform.database.session() as session:
        stored = session.scalar(select(func.count()).select_from(CaptureAnalysis))
    # the process died after the handler committed but before the job was marked finished
    with platform.database.transaction() as session:
        session.execute(
            update(Job).where(Job.id == first["job_id"]).values(status="running", attempts=1)
        )
        session.execute(
            update(Job)
            .where(Job.id == second["job_id"])
            .values(status="running", attempts=MAX_ATTEMPTS)
        )
    platform.jobs.resume_queued()
    assert platform.jobs.run_pending() == 1
    with platform.database.session() as session:
        jobs = {j.id: j for j in session.scalars(select(Job))}
        assert jobs[first["job_id"]].status == JobStatus.SUCCEEDED
        assert jobs[first["job_id"]].attempts == 2
        assert jobs[second["job_id"]].status == JobStatus.FAILED
        assert "interrupted" in jobs[second["job_id"]].error
        # running the analysis again stored nothing twice
        assert session.scalar(select(func.count()).select_from(CaptureAnalysis)) == stored


# -- a real server killed with SIGKILL ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def _serve(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = dict(os.environ, INFRASIGHT_DATA_DIR=str(data_dir), INFRASIGHT_DATABASE_URL="")
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from infrasight.cli.app import main; main()",
                "serve",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=out,
        )
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return process, base
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"the server did not start: {log.read_text()[-2000:]}")


def test_kill_9_right_after_an_acknowledged_ingest_keeps_its_alarm(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, database_url="", worker_threads=0)
    upgrade(settings)
    setup = Platform.create(settings, workers=0)
    with setup.database.transaction() as session:
        org, _ = ensure_organization(session, "Kill test")
        _, token = create_user(session, org, "kill@test.example", Role.ADMIN)
    setup.close()
    log = tmp_path / "server.log"
    process, base = _serve(data_dir, log)
    try:
        api = f"{base}/api/v1"
        asset = _http("POST", f"{api}/assets", token, {"name": "K bridge", "kind": "bridge"})
        element = _http(
            "POST", f"{api}/assets/{asset['id']}/elements", token, {"name": "P", "kind": "pier"}
        )
        channel = {"key": "VD-SETTLE", "quantity": "settlement", "unit": "mm"}
        _http("POST", f"{api}/channels", token, {**channel, "element_id": element["id"]})
        _http("POST", f"{api}/rules", token, {"definition": RULE})
        answer = _http("POST", f"{api}/ingest/readings", token, {"readings": _readings(MOVING_500)})
        assert answer == {"accepted": 100, "duplicates": 0, "conflicts": 0}
        os.kill(process.pid, signal.SIGKILL)  # at once: the effects had no time to run
        process.wait()
        process, base = _serve(data_dir, log)
        alarms: list[dict[str, Any]] = []
        for _ in range(600):
            alarms = _http("GET", f"{base}/api/v1/alarms", token)["items"]
            if alarms:
                break
            time.sleep(0.05)
        assert [(a["key"], a["status"]) for a in alarms] == [("settle-upper", "active")]
        scores = _http("GET", f"{base}/api/v1/channels", token)["items"]
        assert any(c["key"] == "VD-SETTLE.anomaly" for c in scores)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


@pytest.mark.parametrize("workers", [0, 1])
def test_inline_and_background_effects_give_the_same_alarms(
    settings: Settings, tenant: Tenant, workers: int
) -> None:
    wired = Platform.create(settings, workers=workers)
    try:
        with TestClient(create_app(platform=wired)) as client:
            from tests.conftest import make_site

            site = make_site(client, tenant)
            _add_rule(client, tenant)
            for start in range(0, 60, 6):  # a burst of small batches
                values = [500.0 if (start + i) % 20 == 7 else 1.0 for i in range(6)]
                client.post(
                    "/api/v1/ingest/readings",
                    json={"readings": _readings(values, start)},
                    headers=site.device_headers,
                )
            assert wired.jobs.wait_idle()
            [alarm] = client.get("/api/v1/alarms", headers=tenant.headers()).json()["items"]
            detail = client.get(f"/api/v1/alarms/{alarm['id']}", headers=tenant.headers()).json()
            assert [e["kind"] for e in detail["events"]] == [
                "raised",
                "cleared",
                "re_raised",
                "cleared",
                "re_raised",
                "cleared",
            ]
    finally:
        wired.close()
