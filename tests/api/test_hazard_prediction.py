"""Each damage hazard carries its prediction: the Markov forecast of its element's condition
state (fitted to recorded ratings), the growth of its crack-width gauges to the next MBEI width
boundary, and the soonest of them with the largest probability per horizon."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from infrasight.cli.app import app as cli
from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.services.hazard_prediction import crack_growth_prediction, width_boundaries_mm
from infrasight.storage.models import Asset, ConditionRatingRecord, Element
from tests.api.test_hazard_effects import _pier
from tests.conftest import Tenant

T0 = datetime(2015, 1, 1, tzinfo=UTC)
RATES = np.array([0.20, 0.10, 0.05])


def _fleet(platform: Platform, org: int, n: int = 120) -> None:
    """Piers rated twice, 1-3 years apart, from known CS transition rates (pure deterioration)."""
    rng = np.random.default_rng(3)
    with platform.database.transaction() as s:
        fleet = Asset(organization_id=org, name="fleet", kind="bridge")
        s.add(fleet)
        s.flush()
        for i in range(n):
            el = Element(asset_id=fleet.id, name=f"P{i}", kind="pier")
            s.add(el)
            s.flush()
            a = int(rng.integers(1, 4))
            years = float(rng.uniform(1, 3))
            b = a + int(rng.random() < 1 - np.exp(-RATES[a - 1] * years))
            for r, t in ((a, T0), (b, T0 + timedelta(days=365.25 * years))):
                s.add(
                    ConditionRatingRecord(
                        organization_id=org,
                        asset_id=fleet.id,
                        element_id=el.id,
                        standard="aashto-mbei",
                        rating=r,
                        inspected_at=t,
                    )
                )


def test_mbei_width_boundaries_come_from_the_standard() -> None:
    assert [b[:2] for b in width_boundaries_mm("rc")] == [(0.3048, 2), (1.27, 3)]
    assert [b[:2] for b in width_boundaries_mm("psc")] == [(0.1016, 2), (0.2286, 3)]
    assert width_boundaries_mm("steel") == ()


def test_crack_growth_known_answer() -> None:
    days = np.arange(60 * 24) / 24.0
    rng = np.random.default_rng(5)
    widths = 0.20 + 0.365 * days / 365.25 + rng.normal(0, 0.002, days.size)  # 0.365 mm/year
    p = crack_growth_prediction("CRK", days * 86_400.0, widths, "rc")
    assert p is not None
    assert p["rate_mm_per_year"] == pytest.approx(0.365, rel=0.02)
    assert p["limit_mm"] == 0.3048 and p["state_beyond"] == 2
    # width now ~0.26 mm: 0.045 mm to go at 0.365 mm/year -> ~0.12 year
    gap = 0.3048 - p["width_now_mm"]
    assert p["years_to_limit"] == pytest.approx(gap / p["rate_mm_per_year"], rel=1e-3)
    assert 0.1 < p["years_to_limit"] < 0.15
    assert p["probability_within"]["30d"] < 0.01 and p["probability_within"]["90d"] > 0.99
    assert crack_growth_prediction("CRK", days[:100] * 86_400.0, widths[:100], "rc") is None
    assert crack_growth_prediction("CRK", days * 86_400.0, widths + 2.0, "rc") is None


def test_hazard_shows_condition_and_crack_prediction(
    client: TestClient, platform: Platform, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _pier(client, tenant, "corrosion", 7)
    aid, eid = made["asset_id"], made["element_id"]
    eng = tenant.headers(Role.ENGINEER)
    _fleet(platform, tenant.organization_id)
    for rating, when in ((1, "2021-05-01T00:00:00Z"), (2, "2025-05-01T00:00:00Z")):
        r = client.post(
            f"/api/v1/assets/{aid}/ratings",
            headers=tenant.headers(Role.INSPECTOR),
            json={
                "element_id": eid,
                "standard": "aashto-mbei",
                "rating": rating,
                "inspected_at": when,
            },
        )
        assert r.status_code == 201, r.text
    assert client.post(f"/api/v1/assets/{aid}/hazards/update", headers=eng).status_code == 200
    listed = client.get("/api/v1/hazards", params={"asset_id": aid}, headers=eng).json()
    damage = [x for x in listed if x["hazard_kind"] in ("structural", "durability")]
    assert len(damage) == 1, listed
    hz = client.get(f"/api/v1/hazards/{damage[0]['id']}", headers=eng).json()
    pred = hz["prediction"]
    fit = client.get(
        f"/api/v1/assets/{aid}/deterioration", params={"standard": "aashto-mbei"}, headers=eng
    ).json()
    q2 = fit["kinds"]["pier"]["rates_per_year"][1]
    cond = pred["condition"]
    assert cond["standard"] == "aashto-mbei" and cond["latest_rating"] == 2 and cond["state"] == 2
    assert cond["expected_years_to_next"] == pytest.approx(1 / q2)
    for d in (30, 90, 365):
        assert cond["probability_within"][f"{d}d"] == pytest.approx(
            1 - np.exp(-q2 * d / 365.25), abs=1e-9
        )
    assert pred["crack_growth"], pred
    for c in pred["crack_growth"]:
        assert c["channel"].startswith("corrosion-CRK")
        assert c["limit_mm"] in (0.3048, 1.27) and c["width_now_mm"] < c["limit_mm"]
        assert c["rate_mm_per_year"] > 0 and "1130" in c["clause"]
    nxt = pred["next"]
    sources = [cond["probability_within"]] + [c["probability_within"] for c in pred["crack_growth"]]
    sources += [f["probability"] for f in pred["forecasts"]]
    for d in (30, 90, 365):
        best = max(s.get(f"{d}d", s.get(str(d), 0.0)) for s in sources)
        assert nxt["probability_within"][f"{d}d"] == pytest.approx(best, abs=1e-6)
    assert pred["progression_probability_1y"] == nxt["probability_within"]["365d"]
    years = [cond["expected_years_to_next"]] + [
        c["years_to_limit"] for c in pred["crack_growth"] if c["years_to_limit"] is not None
    ]
    assert nxt["years"] <= min(years) + 1e-4
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(platform.settings.data_dir))
    if platform.settings.database_url:
        monkeypatch.setenv("INFRASIGHT_DATABASE_URL", platform.settings.database_url)
    else:
        monkeypatch.delenv("INFRASIGHT_DATABASE_URL", raising=False)
    shown = CliRunner().invoke(cli, ["hazards", "show", str(hz["id"]), "--org", "Alpha Rail"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["prediction"]["condition"]["state"] == 2


def test_no_ratings_no_condition_prediction(client: TestClient, tenant: Tenant) -> None:
    made = _pier(client, tenant, "corrosion", 7)
    eng = tenant.headers(Role.ENGINEER)
    listed = client.get("/api/v1/hazards", params={"asset_id": made["asset_id"]}, headers=eng)
    damage = [x for x in listed.json() if x["hazard_kind"] in ("structural", "durability")]
    hz = client.get(f"/api/v1/hazards/{damage[0]['id']}", headers=eng).json()
    assert hz["prediction"]["condition"] is None
    assert hz["prediction"]["next"] is not None
