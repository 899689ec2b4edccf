"""Defects tracked across inspections through the HTTP API: the same cracks found again in a
moved, rotated, relit capture of the element are one defect with a history and growth; sealed
cracks are "not detected"; another element's capture starts its own tracks."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.synthetic import render_crack_series
from tests.conftest import Site, Tenant

API = "/api/v1"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def upload(
    client: TestClient,
    tenant: Tenant,
    site: Site,
    image: np.ndarray,
    mm_per_px: float,
    time: datetime,
    element_id: int | None = None,
) -> int:
    r = client.post(
        f"{API}/captures",
        files={"file": ("wall.png", _png(image))},
        data={
            "asset_id": str(site.asset_id),
            "element_id": str(element_id or site.element_id),
            "mm_per_px": str(mm_per_px),
            "time": time.isoformat(),
        },
        headers=tenant.headers(Role.INSPECTOR),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_cracks_are_tracked_across_inspections(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site, other_tenant: Tenant
) -> None:
    series = render_crack_series(seed=5, n_visits=3, sealed_from_visit=None)
    ids = []
    for v in series.visits:
        ids.append(upload(client, tenant, site, v.image, v.mm_per_px, T0 + timedelta(days=v.day)))
        platform.jobs.run_pending()
    h = tenant.headers(Role.VIEWER)
    per_capture = [client.get(f"{API}/captures/{c}/defects", headers=h).json() for c in ids]
    assert all(len(d) == 2 for d in per_capture), [len(d) for d in per_capture]
    tracks = set()
    for d in per_capture[0]:
        hist = client.get(f"{API}/defects/{d['id']}/history", headers=h)
        assert hist.status_code == 200, hist.text
        body = hist.json()
        tracks.add(body["track_id"])
        assert [s["capture_id"] for s in body["sightings"]] == ids
        assert all(s["detected"] for s in body["sightings"])
        assert body["status"] == "detected"
        # registration found the camera move between visits
        assert body["sightings"][1]["registration"]["inliers"] >= 15
        assert body["sightings"][1]["overlap"] >= 0.5
        # the truth of the same physical crack: nearest first-visit centreline
        centre = np.mean(np.asarray(d["geometry"]["polyline_px"]), axis=0)
        truth = min(
            series.visits[0].cracks,
            key=lambda c: float(np.min(np.hypot(*(c.centreline_px - centre).T))),
        )
        true_rate = (
            series.visits[-1].cracks[truth.identity].length_mm - truth.length_mm
        ) / series.visits[-1].day
        growth = body["growth"]["length"]
        assert growth["n"] == 3 and growth["unit"] == "mm"
        assert growth["rate_per_day"] == pytest.approx(
            true_rate, abs=3 * growth["rate_std_per_day"] + 0.01
        )
        assert body["growth"]["width_max"]["rate_per_day"] > 0
    assert len(tracks) == 2 and None not in tracks
    # the same history from the newest sighting
    last = per_capture[-1][0]["id"]
    assert client.get(f"{API}/defects/{last}/history", headers=h).json()["track_id"] in tracks
    # tenancy and unknown ids
    assert (
        client.get(f"{API}/defects/{last}/history", headers=other_tenant.headers()).status_code
        == 404
    )
    assert client.get(f"{API}/defects/999999/history", headers=h).status_code == 404


def test_sealed_crack_is_not_detected_any_more(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    series = render_crack_series(seed=8, n_visits=2, n_cracks=1, sealed_from_visit=1)
    first = upload(client, tenant, site, series.visits[0].image, 0.2, T0)
    platform.jobs.run_pending()
    second = series.visits[1]
    upload(client, tenant, site, second.image, second.mm_per_px, T0 + timedelta(days=90))
    platform.jobs.run_pending()
    h = tenant.headers(Role.VIEWER)
    defect = client.get(f"{API}/captures/{first}/defects", headers=h).json()[0]
    body = client.get(f"{API}/defects/{defect['id']}/history", headers=h).json()
    assert [s["detected"] for s in body["sightings"]] == [True, False]
    assert body["status"] == "not_detected"
    assert body["sightings"][1]["registration"]["inliers"] >= 15


def test_other_element_starts_its_own_tracks(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    series = render_crack_series(seed=5, n_visits=2)
    other = client.post(
        f"{API}/assets/{site.asset_id}/elements",
        json={"name": "Pier 3", "kind": "pier"},
        headers=tenant.headers(Role.ENGINEER),
    ).json()["id"]
    a = upload(client, tenant, site, series.visits[0].image, 0.2, T0)
    platform.jobs.run_pending()
    v = series.visits[1]
    b = upload(client, tenant, site, v.image, v.mm_per_px, T0 + timedelta(days=9), other)
    platform.jobs.run_pending()
    # a capture of no element is not tracked: its history is itself
    r = client.post(
        f"{API}/captures",
        files={"file": ("wall.png", _png(v.image))},
        data={"asset_id": str(site.asset_id), "mm_per_px": str(v.mm_per_px)},
        headers=tenant.headers(Role.INSPECTOR),
    )
    c = int(r.json()["id"])
    platform.jobs.run_pending()
    h = tenant.headers(Role.VIEWER)
    for cid in (a, b, c):
        for d in client.get(f"{API}/captures/{cid}/defects", headers=h).json():
            body = client.get(f"{API}/defects/{d['id']}/history", headers=h).json()
            assert [s["capture_id"] for s in body["sightings"]] == [cid]
            assert (body["track_id"] is None) == (cid == c)
            assert body["growth"] == {"length": None, "width_max": None}
