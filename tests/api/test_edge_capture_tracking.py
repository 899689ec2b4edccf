"""Captures analysed on a terminal get what server-analysed captures get: the agent's analysis
of three visits of a cracked element (one of them sent as a reduced preview), uploaded with the
device token, gives each crack one tracked defect with a length and width history, and opens a
hazard on the element; a resend adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.edge.analysis import CrackAnalyser
from infrasight.edge.cameras import Frame
from infrasight.edge.remote import CameraSource
from infrasight.platform import Platform
from infrasight.storage.models import DefectSighting, Job
from infrasight.synthetic import render_crack_series
from tests.conftest import Site, Tenant

API = "/api/v1"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _body(
    analyser: CrackAnalyser, site: Site, image: np.ndarray, mm_per_px: float, day: float, **cam: str
) -> dict[str, object]:
    camera = CameraSource(
        name="pier-2",
        source="/unused",
        element_id=site.element_id,
        mm_per_px=mm_per_px,
        **cam,  # type: ignore[arg-type]
    )
    frame = Frame(pixels=image, taken_at=(T0 + timedelta(days=day)).timestamp(), label="v")
    item = analyser.analyse(camera, frame)
    assert item is not None
    body: dict[str, object] = orjson.loads(item.body)
    return body


@pytest.mark.slow
def test_terminal_captures_are_tracked_and_reassess_the_hazard(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    series = render_crack_series(seed=5, n_visits=3, sealed_from_visit=None)
    analyser = CrackAnalyser(bounded_memory=False)
    bodies = [
        _body(
            analyser,
            site,
            v.image,
            v.mm_per_px,
            v.day,
            send_original="never" if k == 1 else "always",
            preview_px="512",
        )
        for k, v in enumerate(series.visits)
    ]
    assert [b["image_kind"] for b in bodies] == ["original", "preview", "original"]
    ids = []
    for body in bodies:
        r = client.post(f"{API}/devices/captures", json=body, headers=site.device_headers)
        assert r.status_code == 201, r.text
        ids.append(r.json()["capture_id"])
        assert platform.jobs.run_pending() >= 1  # the tracking job (and the hazard effect)
    h = tenant.headers(Role.VIEWER)
    preview = client.get(f"{API}/captures/{ids[1]}", headers=h).json()
    assert (preview["width"], preview["height"]) == (512, 384)  # 768 x 576 reduced
    per_capture = [client.get(f"{API}/captures/{c}/defects", headers=h).json() for c in ids]
    assert [len(d) for d in per_capture] == [2, 2, 2]
    tracks = set()
    for defect in per_capture[0]:
        history = client.get(f"{API}/defects/{defect['id']}/history", headers=h).json()
        tracks.add(history["track_id"])
        assert [s["capture_id"] for s in history["sightings"]] == ids
        assert all(s["detected"] for s in history["sightings"])
        assert history["status"] == "detected"
        # the preview was registered (scaled back to the frame) to the first visit
        assert history["sightings"][1]["registration"]["inliers"] >= 15
        assert history["sightings"][1]["overlap"] >= 0.5
        assert history["sightings"][2]["registration"]["reference_capture_id"] == ids[1]
        width = [s["width_max"]["value"] for s in history["sightings"]]
        assert all(w > 0 for w in width)
        growth = history["growth"]
        assert growth["length"]["n"] == 3 and growth["length"]["unit"] == "mm"
        assert growth["length"]["rate_per_day"] > 0  # the series' cracks grow 10 % per visit
        assert growth["width_max"]["n"] == 3
    assert len(tracks) == 2 and None not in tracks

    hazards = client.get(
        f"{API}/hazards", params={"asset_id": site.asset_id}, headers=tenant.headers()
    ).json()
    on_element = [hz for hz in hazards if hz["element_id"] == site.element_id]
    assert on_element, hazards
    detail = client.get(f"{API}/hazards/{on_element[0]['id']}", headers=tenant.headers()).json()
    linked = {e["ref"].split("#")[0] for e in detail["evidence"] if e["kind"] == "defect"}
    assert linked & {f"defect:{d['id']}" for d in per_capture[-1]}

    # a resend after a lost answer: the same capture, no new job, no new sighting
    with platform.database.session() as session:
        sightings = session.query(DefectSighting).count()
    again = client.post(f"{API}/devices/captures", json=bodies[2], headers=site.device_headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert platform.jobs.run_pending() == 0
    with platform.database.session() as session:
        assert session.query(DefectSighting).count() == sightings == 6
        assert session.query(Job).filter(Job.name == "analyse_capture").count() == 0
