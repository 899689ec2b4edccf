"""GET /assets/{id}/condition and ``infrasight condition``: ratings from stored defects."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from infrasight.api.app import create_app
from infrasight.cli.app import app
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.storage.models import Blob, Capture, CaptureAnalysis, Defect
from tests.conftest import Tenant


def _bridge(client: TestClient, headers: dict[str, str]) -> tuple[int, int, int]:
    asset = client.post("/api/v1/assets", json={"name": "B1", "kind": "bridge"}, headers=headers)
    assert asset.status_code == 201, asset.text
    aid = asset.json()["id"]
    ids = []
    for name, kind, material in (
        ("G1", "girder", "reinforced concrete"),
        ("P2", "pier", "reinforced concrete"),
    ):
        r = client.post(
            f"/api/v1/assets/{aid}/elements",
            json={"name": name, "kind": kind, "material": material},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return aid, ids[0], ids[1]


def _crack(platform: Platform, org: int, asset_id: int, element_id: int, width: float) -> int:
    with platform.database.transaction() as s:
        s.add(Blob(sha256="a" * 64, size_bytes=1, media_type="image/png"))
        s.flush()
        cap = Capture(
            organization_id=org,
            asset_id=asset_id,
            element_id=element_id,
            time=datetime(2026, 1, 1, tzinfo=UTC),
            width=100,
            height=100,
            bit_depth=8,
            bands=1,
            media_type="image/png",
            blob_sha256="a" * 64,
        )
        s.add(cap)
        s.flush()
        ana = CaptureAnalysis(capture_id=cap.id, model_name="m", model_version="1")
        s.add(ana)
        s.flush()
        d = Defect(
            organization_id=org,
            capture_id=cap.id,
            analysis_id=ana.id,
            element_id=element_id,
            kind="crack",
            confidence=0.9,
            model_version="1",
            geometry={"bbox": [10, 20, 30, 4]},
            measurements={"unit": "mm", "width_max": {"value": width, "unit": "mm"}},
        )
        s.add(d)
        s.flush()
        return int(d.id)


def test_condition_from_stored_defects(
    client: TestClient, platform: Platform, tenant: Tenant, other_tenant: Tenant
) -> None:
    aid, g1, _ = _bridge(client, tenant.headers(Role.ENGINEER))
    did = _crack(platform, tenant.organization_id, aid, g1, 0.5)
    h = tenant.headers(Role.VIEWER)
    body = client.get(
        f"/api/v1/assets/{aid}/condition", params={"standard": "aashto-mbei"}, headers=h
    ).json()
    states = {e["subject"].split()[-1]: e["rating"] for e in body["elements"]}
    # RC cracking 1130: 0.3048 <= 0.5 <= 1.27 mm -> CS2; the pier has no defects -> CS1
    assert states == {"G1": 2.0, "P2": 1.0}
    g = next(e for e in body["elements"] if e["subject"].endswith("G1"))
    assert "1130" in g["clause"]
    ref = g["evidence"][0]["ref"]
    assert ref.startswith(f"defect:{did}#capture:") and ref.endswith("#bbox=10,20,30,4")
    assert body["summary"]["label"] == "CS2 Fair"
    nbi = client.get(f"/api/v1/assets/{aid}/condition", params={"standard": "nbi"}, headers=h)
    assert nbi.status_code == 200
    # G1 (superstructure, kind girder): one unit all in CS2 -> 6; P2 all CS1 -> 8; lowest 6 Fair
    assert {c["subject"]: c["rating"] for c in nbi.json()["groups"]} == {
        "component:superstructure": 6.0,
        "component:substructure": 8.0,
    }
    assert nbi.json()["summary"]["label"] == "Fair"
    bad = client.get(f"/api/v1/assets/{aid}/condition", params={"standard": "eurocode"}, headers=h)
    assert bad.status_code == 422 and "known: aashto-mbei" in bad.json()["detail"]
    jtg = client.get(f"/api/v1/assets/{aid}/condition", params={"standard": "jtg-h21"}, headers=h)
    assert jtg.status_code == 422 and "'indicator'" in jtg.json()["detail"]
    other = client.get(
        f"/api/v1/assets/{aid}/condition",
        params={"standard": "nbi"},
        headers=other_tenant.headers(),
    )
    assert other.status_code == 404


def test_condition_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mp = monkeypatch
    data = tmp_path / "data"
    mp.setenv("INFRASIGHT_DATA_DIR", str(data))
    mp.delenv("INFRASIGHT_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    made = runner.invoke(app, ["admin", "create", "--org", "Ops", "--email", "a@ops.example"])
    token = made.output.strip().splitlines()[-1].strip()
    with TestClient(create_app(Settings(data_dir=data, worker_threads=0))) as client:
        _bridge(client, {"Authorization": f"Bearer {token}"})
    ok = runner.invoke(app, ["condition", "B1", "--standard", "nbi", "--json"])
    assert ok.exit_code == 0, ok.output
    body = json.loads(ok.output)
    assert body["summary"]["label"] == "Good" and body["summary"]["rating"] == 8.0
    bad = runner.invoke(app, ["condition", "B1", "--standard", "vibes"])
    assert bad.exit_code == 2 and "unknown standard 'vibes'" in bad.output
    listed = runner.invoke(app, ["hazards", "list"])
    assert listed.exit_code == 0 and "mechanism" in listed.output
    missing = runner.invoke(app, ["hazards", "show", "999"])
    assert missing.exit_code == 1 and "hazard 999 not found" in missing.output
    updated = runner.invoke(app, ["hazards", "update", str(body["asset_id"])])
    assert updated.exit_code == 0 and "none" in updated.output
