"""Inspector ratings (POST/GET /assets/{id}/ratings) and the deterioration forecast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy.linalg import expm

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.storage.models import Asset, ConditionRatingRecord, Element
from tests.conftest import Tenant

T0 = datetime(2015, 1, 1, tzinfo=UTC)
RATES = np.array([0.10, 0.07, 0.05])


def _q() -> np.ndarray:
    q = np.zeros((4, 4))
    for i, r in enumerate(RATES):
        q[i, i], q[i, i + 1] = -r, r
    return q


def _history(platform: Platform, org: int, n_elements: int = 500) -> None:
    """A fleet of girders rated twice, 1-3 years apart, from known CS transition rates."""
    rng = np.random.default_rng(0)
    with platform.database.transaction() as s:
        fleet = Asset(organization_id=org, name="fleet", kind="bridge")
        s.add(fleet)
        s.flush()
        for i in range(n_elements):
            el = Element(asset_id=fleet.id, name=f"G{i}", kind="girder")
            s.add(el)
            s.flush()
            a = int(rng.integers(1, 4))
            dt = float(rng.uniform(1, 3))
            b = int(rng.choice(4, p=expm(_q() * dt)[a - 1])) + 1
            for r, t in ((a, T0), (b, T0 + timedelta(days=365.25 * dt))):
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


def test_ratings_feed_the_deterioration_forecast(
    client: TestClient, platform: Platform, tenant: Tenant
) -> None:
    h = tenant.headers(Role.INSPECTOR)
    eng = tenant.headers(Role.ENGINEER)
    aid = client.post("/api/v1/assets", json={"name": "B9", "kind": "bridge"}, headers=eng).json()[
        "id"
    ]
    eid = client.post(
        f"/api/v1/assets/{aid}/elements", json={"name": "G1", "kind": "girder"}, headers=eng
    ).json()["id"]
    _history(platform, tenant.organization_id)
    for r, t in ((1, "2020-05-01T00:00:00Z"), (2, "2024-05-01T00:00:00Z")):
        ok = client.post(
            f"/api/v1/assets/{aid}/ratings",
            headers=h,
            json={
                "element_id": eid,
                "standard": "aashto-mbei",
                "rating": r,
                "inspected_at": t,
                "inspector": "A. Inspector",
            },
        )
        assert ok.status_code == 201, ok.text
    listed = client.get(f"/api/v1/assets/{aid}/ratings", headers=h).json()
    assert [x["rating"] for x in listed] == [1, 2]
    body = client.get(
        f"/api/v1/assets/{aid}/deterioration", params={"standard": "aashto-mbei"}, headers=h
    ).json()
    fit = body["kinds"]["girder"]
    assert fit["pairs"] == 501
    # each true rate inside its 95 % interval (Fisher information), estimates within 0.06
    for (lo, hi), true in zip(fit["rates_interval_95"], RATES, strict=True):
        assert lo < true < hi
    np.testing.assert_allclose(fit["rates_per_year"], RATES, atol=0.06)
    el = body["elements"][0]
    assert el["latest_rating"] == 2 and el["forecast"]["state"] == 2
    q2 = fit["rates_per_year"][1]
    # P(leave CS2 within 365 days) = 1 - exp(-q2 x 365 / 365.25)
    assert el["forecast"]["probability_within"]["365d"] == pytest.approx(
        1 - np.exp(-q2 * 365 / 365.25), abs=1e-9
    )
    assert el["forecast"]["expected_years_to_next"] == pytest.approx(1 / q2)


def test_rating_bad_input(client: TestClient, tenant: Tenant) -> None:
    eng = tenant.headers(Role.ENGINEER)
    aid = client.post("/api/v1/assets", json={"name": "B8", "kind": "bridge"}, headers=eng).json()[
        "id"
    ]
    eid = client.post(
        f"/api/v1/assets/{aid}/elements", json={"name": "P1", "kind": "pier"}, headers=eng
    ).json()["id"]
    base = {
        "element_id": eid,
        "standard": "aashto-mbei",
        "rating": 2,
        "inspected_at": "2025-01-01T00:00:00Z",
    }
    cases = [
        ({"rating": 5}, 422, "rating"),
        ({"standard": "nbi", "rating": 10}, 422, "rating"),
        ({"standard": "eurocode"}, 422, "unknown standard"),
        ({"element_id": 99999}, 422, "element_id: element 99999 not found"),
    ]
    for change, code, text in cases:
        r = client.post(f"/api/v1/assets/{aid}/ratings", json={**base, **change}, headers=eng)
        assert r.status_code == code and text in r.text, (change, r.text)
    assert client.get(f"/api/v1/assets/{aid}/ratings", headers=eng).json() == []
    none = client.get(f"/api/v1/assets/{aid}/deterioration", headers=eng)
    assert none.status_code == 422 and "no aashto-mbei ratings" in none.text
    assert (
        client.post(
            f"/api/v1/assets/{aid}/ratings", json=base, headers=tenant.headers(Role.VIEWER)
        ).status_code
        == 403
    )
