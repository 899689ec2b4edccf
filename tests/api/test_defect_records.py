"""An inspector records a defect on a capture with where it lies on the element (a position
word, or the face and the position along the span): validated, stored, shown, and the element's
hazard ranks its cause by that position (a diagonal crack near a support: shear)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.reasoning.causes.positions import position_on_element
from tests.api.test_hazard_effects import _png
from tests.conftest import Tenant


def _capture(client: TestClient, tenant: Tenant) -> tuple[int, int, int]:
    eng = tenant.headers(Role.ENGINEER)
    aid = client.post(
        "/api/v1/assets", json={"name": "Inspected", "kind": "bridge"}, headers=eng
    ).json()["id"]
    eid = client.post(
        f"/api/v1/assets/{aid}/elements",
        json={"name": "Girder 1", "kind": "girder", "material": "reinforced concrete"},
        headers=eng,
    ).json()["id"]
    grey = np.full((48, 64), 120, dtype=np.uint8)
    r = client.post(
        "/api/v1/captures",
        files={"file": ("girder.png", _png(grey))},
        data={"asset_id": str(aid), "element_id": str(eid), "mm_per_px": "0.1"},
        headers=tenant.headers(Role.INSPECTOR),
    )
    assert r.status_code == 201, r.text
    return aid, eid, r.json()["id"]


def test_a_recorded_defect_keeps_its_position_and_drives_the_cause(
    platform: Platform, client: TestClient, tenant: Tenant
) -> None:
    aid, eid, cid = _capture(client, tenant)
    eng, insp = tenant.headers(Role.ENGINEER), tenant.headers(Role.INSPECTOR)
    body = {
        "kind": "crack",
        "orientation": "diagonal",
        "face": "web",
        "span_fraction": 0.08,
        "width_mm": 0.6,
    }
    r = client.post(f"/api/v1/captures/{cid}/defects", json=body, headers=insp)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["position"] == "near_support"
    assert made["geometry"] == {"position": "near_support", "face": "web", "span_fraction": 0.08}
    assert made["measurements"]["orientation"] == "diagonal"
    assert made["measurements"]["width_max"] == {"value": 0.6}
    assert made["element_id"] == eid and made["model_version"] == "inspection"
    listed = client.get(f"/api/v1/captures/{cid}/defects", headers=eng).json()
    assert [(d["id"], d["position"]) for d in listed] == [(made["id"], "near_support")]
    platform.jobs.run_pending()  # the capture's own analysis, then the hazards_due effect
    [hz] = client.get("/api/v1/hazards", params={"asset_id": aid}, headers=eng).json()
    assert (hz["element_id"], hz["mechanism"]) == (eid, "shear")
    top = client.get(f"/api/v1/hazards/{hz['id']}", headers=eng).json()["causes"][0]
    pattern = [e for e in top["evidence_for"] if e["kind"] == "defect"]
    assert pattern and "diagonal crack, near a support, 0.6 mm" in pattern[0]["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"span_fraction": 1.5}, "span_fraction"),
        ({"face": "roof"}, "face"),
        ({"position": "top"}, "position"),
        ({"face": "", "position": "", "span_fraction": 0.5}, "span_fraction"),
        ({"orientation": "sideways"}, "orientation"),
        ({"width_mm": 0}, "width_mm"),
        ({"kind": ""}, "kind"),
        ({"element_id": 999999}, None),
    ],
)
def test_bad_defect_records_are_refused_and_nothing_is_written(
    client: TestClient, tenant: Tenant, change: dict[str, Any], field: str | None
) -> None:
    _, _, cid = _capture(client, tenant)
    insp = tenant.headers(Role.INSPECTOR)
    body = {"kind": "crack", "orientation": "transverse", "face": "soffit", "span_fraction": 0.5}
    r = client.post(f"/api/v1/captures/{cid}/defects", json=body | change, headers=insp)
    assert r.status_code == (404 if field is None else 422), r.text
    if field is not None:
        assert r.json()["field"] == field
    assert client.get(f"/api/v1/captures/{cid}/defects", headers=insp).json() == []


def test_defect_records_need_an_inspector_and_a_capture_of_the_caller(
    client: TestClient, tenant: Tenant
) -> None:
    _, _, cid = _capture(client, tenant)
    body = {"kind": "crack", "position": "pier"}
    viewer = client.post(
        f"/api/v1/captures/{cid}/defects", json=body, headers=tenant.headers(Role.VIEWER)
    )
    assert viewer.status_code == 403
    missing = client.post(
        "/api/v1/captures/999999/defects", json=body, headers=tenant.headers(Role.INSPECTOR)
    )
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("face", "span", "position"),
    [
        ("soffit", 0.5, "midspan_soffit"),
        ("soffit", 0.25, "midspan_soffit"),
        ("soffit", 0.2, ""),  # between the support zone and midspan: no rule
        ("soffit", 0.1, "near_support"),
        ("web", 0.95, "near_support"),
        ("web", 0.5, ""),
        ("soffit", None, ""),
        ("pier", None, "pier"),
        ("deck", 0.4, "surface"),
    ],
)
def test_face_and_span_give_the_position_word(face: str, span: float | None, position: str) -> None:
    assert position_on_element(face, span) == position
