"""A 14-day demo updated with the default 90-day window (and a longer one): the window is cut
to the data, every hazard's confidence and risk are finite, and a second update changes nothing
(reported as ``OutOfRangeError: cause_confidence nan``)."""

from __future__ import annotations

import math

from fastapi.testclient import TestClient
from rich.console import Console

from infrasight.demo.seed import seed_demo
from infrasight.platform import Platform
from infrasight.services.hazards import update_hazards
from infrasight.storage.models import Asset

API = "/api/v1"


def test_short_demo_updates_with_a_long_window(platform: Platform, client: TestClient) -> None:
    outcome = seed_demo(platform, days=14, seed=7, console=Console(quiet=True))
    h = {"Authorization": f"Bearer {outcome.token}"}
    assets = client.get(f"{API}/assets", headers=h).json()
    assets = assets["items"] if isinstance(assets, dict) else assets
    assert len(assets) == 2
    for a in assets:
        r = client.post(f"{API}/assets/{a['id']}/hazards/update", headers=h)
        assert r.status_code == 200, r.text
        again = client.post(f"{API}/assets/{a['id']}/hazards/update", headers=h)
        assert again.json()["hazards"] == []
    hazards = client.get(f"{API}/hazards", headers=h).json()
    assert hazards
    for x in hazards:
        assert math.isfinite(x["confidence"]) and 0 < x["confidence"] <= 1
        assert 1 <= x["risk"] <= 25
    settlement = [x for x in hazards if x["mechanism"] == "settlement"]
    assert settlement and settlement[0]["hazard_kind"] == "structural"
    with platform.database.transaction() as s:
        for a in assets:
            row = s.get_one(Asset, a["id"])
            for days in (90, 365):  # longer than the data: the same hazards, nothing changes
                assert update_hazards(s, row.organization_id, row.id, window_days=days) == []
