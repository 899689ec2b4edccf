"""The demo seeds the closed loop: a crack sealed and verified (closed, hazard resolved), a gauge
repair that failed verification (reopened), a settlement work order in progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from infrasight.cli.platform_cmds import _demo_summary
from infrasight.demo import seed as seed_module
from infrasight.demo.closed_loop import CREW_EMAIL
from infrasight.demo.seed import DEMO_PASSWORD, seed_demo
from infrasight.platform import Platform

API = "/api/v1"


def test_demo_closes_the_loop(
    platform: Platform, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seeded at 23:50 UTC, the hardest time of day: before the Span 3 girder had a recorded age,
    its growth then looked less decelerating, the cause ranking chose ASR over shrinkage and no
    crack work order was made (this test failed between about 23:36 and 23:56 UTC)."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    at = datetime.combine(yesterday, dt_time(23, 50), tzinfo=UTC).timestamp()
    monkeypatch.setattr(seed_module, "time", SimpleNamespace(time=lambda: at))
    outcome = seed_demo(platform, days=30, seed=7, console=Console(quiet=True))
    assert "1 closed after a passed verification" in outcome.summary
    assert "1 reopened after a failed verification, 1 in progress" in outcome.summary
    # the CLI says the summary from its figures: in English, byte for byte the seeder's line
    assert _demo_summary(outcome) == outcome.summary
    h = {"Authorization": f"Bearer {outcome.token}"}
    orders = client.get(f"{API}/work-orders", headers=h).json()
    by_status = {w["status"]: w for w in orders}
    assert set(by_status) == {"closed", "reopened", "in_progress"}
    closed = by_status["closed"]
    assert closed["action_id"] in {"routing_sealing", "epoxy_injection", "surface_sealing"}
    (verification,) = client.get(
        f"{API}/work-orders/{closed['id']}/verifications", headers=h
    ).json()
    assert (verification["method"], verification["outcome"]) == ("reinspection", "passed")
    assert verification["decided_by"] == "engineer@demo.infrasight.example"
    hazard = client.get(f"{API}/hazards/{closed['hazard_id']}", headers=h).json()
    assert (hazard["mechanism"], hazard["status"]) == ("shrinkage", "resolved")
    resolved = client.get(f"{API}/hazards", params={"status": "resolved"}, headers=h).json()
    assert [hz["mechanism"] for hz in resolved] == ["shrinkage"]
    track = int(verification["evidence"][0]["ref"].split(":")[1])
    # the crack's history: found before the repair, not detected at the re-inspection
    captures = client.get(f"{API}/captures", headers=h).json()["items"]
    before = next(c for c in captures if c["filename"] == "demo-span3-girder-before.png")
    defect = client.get(f"{API}/captures/{before['id']}/defects", headers=h).json()[0]
    history = client.get(f"{API}/defects/{defect['id']}/history", headers=h).json()
    assert history["track_id"] == track and history["status"] == "not_detected"
    assert [s["detected"] for s in history["sightings"]] == [True, False]
    reopened = by_status["reopened"]
    (failed,) = client.get(f"{API}/work-orders/{reopened['id']}/verifications", headers=h).json()
    assert (failed["method"], failed["outcome"]) == ("sensor_health", "failed")
    assert "stuck" in failed["evidence"][0]["detail"]
    # the crew logs in and sees the work orders assigned to them, with the repair photo
    login = client.post(f"{API}/auth/login", json={"email": CREW_EMAIL, "password": DEMO_PASSWORD})
    assert login.status_code == 200 and login.json()["role"] == "crew"
    crew = {"Authorization": f"Bearer {login.json()['token']}"}
    mine = client.get(f"{API}/work-orders", headers=crew).json()
    assert {w["id"] for w in mine} == {w["id"] for w in orders}
    photos = client.get(f"{API}/work-orders/{closed['id']}/attachments", headers=crew).json()
    assert [p["media_type"] for p in photos] == ["image/jpeg"]
