"""Inspectors confirm or reject detections; the verdicts export as an images/masks data set."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from infrasight.cli.app import app as cli
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.synthetic import render_crack_scene
from tests.api.test_capture_cracks import png
from tests.conftest import Site, Tenant


@pytest.fixture
def two_cracks(platform: Platform, client: TestClient, tenant: Tenant, site: Site) -> list[int]:
    scene = render_crack_scene(
        branch_probability=0.0,
        width=640,
        height=480,
        seed=5,
        n_cracks=2,
        width_range_px=(3.0, 6.0),
        mm_per_px=0.1,
    )
    created = client.post(
        "/api/v1/captures",
        files={"file": ("wall.png", png(scene.image))},
        data={"asset_id": str(site.asset_id), "element_id": str(site.element_id)},
        headers=tenant.headers(Role.INSPECTOR),
    )
    assert created.status_code == 201
    assert platform.jobs.run_pending() == 1
    defects = client.get(
        f"/api/v1/captures/{created.json()['id']}/defects", headers=tenant.headers(Role.VIEWER)
    ).json()
    assert len(defects) >= 2, "the generated scene should give two cracks"
    return [d["id"] for d in defects]


def test_review_is_kept_audited_and_the_newest_counts(
    client: TestClient, tenant: Tenant, two_cracks: list[int]
) -> None:
    first = two_cracks[0]
    h = tenant.headers(Role.INSPECTOR)
    r1 = client.post(f"/api/v1/defects/{first}/review", json={"verdict": "confirmed"}, headers=h)
    assert r1.status_code == 201 and r1.json()["verdict"] == "confirmed"
    r2 = client.post(
        f"/api/v1/defects/{first}/review",
        json={"verdict": "rejected", "note": "formwork joint"},
        headers=h,
    )
    assert r2.status_code == 201
    listed = client.get(
        f"/api/v1/defects/{first}/reviews", headers=tenant.headers(Role.VIEWER)
    ).json()
    assert [r["verdict"] for r in listed] == ["confirmed", "rejected"]
    assert listed[1]["note"] == "formwork joint" and listed[1]["reviewer"]


@pytest.mark.parametrize(
    ("body", "role", "status", "field"),
    [
        ({"verdict": "maybe"}, Role.INSPECTOR, 422, "verdict"),
        ({}, Role.INSPECTOR, 422, "verdict"),
        ({"verdict": "confirmed", "note": "x" * 2001}, Role.INSPECTOR, 422, "note"),
        ({"verdict": "confirmed"}, Role.VIEWER, 403, None),
    ],
)
def test_bad_reviews_are_refused_and_nothing_is_written(
    client: TestClient,
    tenant: Tenant,
    two_cracks: list[int],
    body: dict[str, object],
    role: Role,
    status: int,
    field: str | None,
) -> None:
    defect = two_cracks[0]
    answer = client.post(
        f"/api/v1/defects/{defect}/review", json=body, headers=tenant.headers(role)
    )
    assert answer.status_code == status
    if field is not None:
        assert field in json.dumps(answer.json())
    listed = client.get(f"/api/v1/defects/{defect}/reviews", headers=tenant.headers(Role.VIEWER))
    assert listed.json() == []


def test_another_organisations_defect_is_not_found(
    client: TestClient, other_tenant: Tenant, two_cracks: list[int]
) -> None:
    h = other_tenant.headers(Role.ADMIN)
    url = f"/api/v1/defects/{two_cracks[0]}"
    assert client.post(url + "/review", json={"verdict": "confirmed"}, headers=h).status_code == 404
    assert client.get(url + "/reviews", headers=h).status_code == 404


def test_export_reviews_writes_crack_background_and_ignore(
    client: TestClient,
    tenant: Tenant,
    settings: Settings,
    two_cracks: list[int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if settings.database_url and settings.database_url.startswith("postgres"):
        pytest.skip("the CLI opens the platform from the environment (SQLite data dir here)")
    confirmed, rejected = two_cracks[0], two_cracks[1]
    h = tenant.headers(Role.INSPECTOR)
    client.post(f"/api/v1/defects/{confirmed}/review", json={"verdict": "confirmed"}, headers=h)
    client.post(f"/api/v1/defects/{rejected}/review", json={"verdict": "rejected"}, headers=h)
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("INFRASIGHT_DATABASE_URL", raising=False)
    out = tmp_path / "reviews"
    result = CliRunner().invoke(cli, ["cracks", "export-reviews", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["images"] == 1 and summary["confirmed"] == 1 and summary["rejected"] == 1
    masks = list((out / "masks").glob("*.png"))
    images = list((out / "images").glob("*.png"))
    assert len(masks) == 1 and [p.name for p in images] == [masks[0].name]
    mask = cv2.imread(str(masks[0]), cv2.IMREAD_GRAYSCALE)
    assert mask.shape == (480, 640)
    assert set(np.unique(mask)) <= {0, 128, 255}
    assert (mask == 255).sum() > 100  # the confirmed crack
    provenance = json.loads((out / "reviews.json").read_text())
    assert {p["verdict"] for p in provenance} >= {"confirmed", "rejected"}


def test_export_without_reviews_is_a_clear_error(
    settings: Settings,
    platform: Platform,
    tenant: Tenant,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if settings.database_url and settings.database_url.startswith("postgres"):
        pytest.skip("the CLI opens the platform from the environment (SQLite data dir here)")
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("INFRASIGHT_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["cracks", "export-reviews", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "no reviewed defects" in result.output
    assert not (tmp_path / "x").exists()
