"""A crack captured on an element with no gauges and no position on the element opens a hazard
whose mechanism comes from the crack's orientation (transverse: flexure, diagonal: shear), the
position counted as unknown; a capture again changes nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.services.hazards import _orientation
from infrasight.synthetic import render_crack_scene
from tests.api.test_hazard_effects import _png
from tests.conftest import Tenant

EXPECTED = {"transverse": "flexural_overload", "diagonal": "shear", "map": "asr"}


def test_a_capture_without_position_opens_a_crack_hazard(
    platform: Platform, client: TestClient, tenant: Tenant
) -> None:
    eng = tenant.headers(Role.ENGINEER)
    aid = client.post(
        "/api/v1/assets", json={"name": "Capture only", "kind": "bridge"}, headers=eng
    ).json()["id"]
    eid = client.post(
        f"/api/v1/assets/{aid}/elements",
        json={"name": "Girder 3", "kind": "girder", "material": "reinforced concrete"},
        headers=eng,
    ).json()["id"]
    scene = render_crack_scene(
        branch_probability=0.0,
        width=640,
        height=480,
        seed=21,
        n_cracks=1,
        width_range_px=(3.0, 6.0),
        mm_per_px=0.1,
    )
    r = client.post(
        "/api/v1/captures",
        files={"file": ("girder.png", _png(scene.image))},
        data={"asset_id": str(aid), "element_id": str(eid), "mm_per_px": "0.1"},
        headers=tenant.headers(Role.INSPECTOR),
    )
    assert r.status_code == 201, r.text
    assert platform.jobs.run_pending() == 1
    defects = client.get(f"/api/v1/captures/{r.json()['id']}/defects", headers=eng).json()
    main = max(defects, key=lambda d: d["geometry"]["pixel_count"])
    orientation = _orientation(main["measurements"])
    assert orientation in EXPECTED, orientation  # the scene's crack is not along the axis
    [hz] = client.get("/api/v1/hazards", params={"asset_id": aid}, headers=eng).json()
    assert hz["element_id"] == eid and hz["mechanism"] == EXPECTED[orientation]
    detail = client.get(f"/api/v1/hazards/{hz['id']}", headers=eng).json()
    top = detail["causes"][0]
    assert top["mechanism"] == EXPECTED[orientation]
    pattern = [e for e in top["evidence_for"] if e["kind"] == "defect"]
    assert pattern and "position on the element unknown" in pattern[0]["detail"]
    linked = {e["ref"].split("#")[0] for e in detail["evidence"] if e["kind"] == "defect"}
    assert f"defect:{main['id']}" in linked
    again = client.post(f"/api/v1/assets/{aid}/hazards/update", headers=eng).json()
    assert again["hazards"] == []
