"""One image, three tools (CLI, API capture analysis, library): the same cracks and figures.

The image is the demo's third capture (a rendered concrete wall, 0.1 mm/px) with a thin crack that
crosses the main crack.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from infrasight.cli.app import app
from infrasight.core.domain import Role
from infrasight.measure import Scale, quantify_crack
from infrasight.platform import Platform
from infrasight.synthetic import render_crack_scene
from infrasight.vision.cracks import default_segmenter
from tests.conftest import Site, Tenant

MM_PER_PX = 0.1


@pytest.fixture(scope="module")
def wall() -> np.ndarray:
    scene = render_crack_scene(width=1024, height=768, seed=13, mm_per_px=MM_PER_PX)
    return np.asarray(scene.image)


def _cli(wall: np.ndarray, tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "wall.png"
    cv2.imwrite(str(path), cv2.cvtColor(wall, cv2.COLOR_RGB2BGR))
    res = CliRunner().invoke(
        app, ["measure", "crack", str(path), "--mm-per-px", str(MM_PER_PX), "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["mask_source"] == "model"
    return list(out["cracks"])


def _api(
    wall: np.ndarray, platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> list[dict[str, object]]:
    buf = io.BytesIO()
    Image.fromarray(wall).save(buf, format="PNG")
    response = client.post(
        "/api/v1/captures",
        files={"file": ("wall.png", buf.getvalue())},
        data={
            "asset_id": str(site.asset_id),
            "element_id": str(site.element_id),
            "mm_per_px": str(MM_PER_PX),
        },
        headers=tenant.headers(Role.INSPECTOR),
    )
    assert response.status_code == 201, response.text
    assert platform.jobs.run_pending() >= 1
    capture_id = response.json()["id"]
    defects = client.get(
        f"/api/v1/captures/{capture_id}/defects", headers=tenant.headers(Role.VIEWER)
    ).json()
    return [{"bbox": d["geometry"]["bbox"], **d["measurements"]} for d in defects]


def _library(wall: np.ndarray) -> list[dict[str, object]]:
    out = []
    for instance in default_segmenter().segment(wall).instances:
        x, y, w, h = instance.bbox
        mask = np.zeros(wall.shape[:2], bool)
        mask[y : y + h, x : x + w] = instance.mask
        q = quantify_crack(mask, wall, scale=Scale.from_mm_per_px(MM_PER_PX))
        out.append({"bbox": list(instance.bbox), **q.to_dict()})
    return out


def _by_bbox(records: list[dict[str, object]]) -> dict[tuple[int, ...], dict[str, object]]:
    return {tuple(r["bbox"]): r for r in records}  # type: ignore[arg-type]


def test_cli_api_and_library_give_one_answer(
    wall: np.ndarray,
    platform: Platform,
    client: TestClient,
    tenant: Tenant,
    site: Site,
    tmp_path: Path,
) -> None:
    cli = _by_bbox(_cli(wall, tmp_path))
    api = _by_bbox(_api(wall, platform, client, tenant, site))
    lib = _by_bbox(_library(wall))
    assert len(cli) == len(api) == len(lib) >= 2
    assert cli.keys() == api.keys() == lib.keys()
    for key, c in cli.items():
        for other in (api[key], lib[key]):
            assert other["unit"] == c["unit"] == "mm"
            assert other["length"]["value"] == pytest.approx(c["length"]["value"], rel=0.01)
            for stat in ("width_max", "width_mean"):
                a, b = c[stat], other[stat]
                assert abs(a["value"] - b["value"]) <= 2.0 * np.hypot(a["std"], b["std"]) + 1e-9
    # the CLI and the API share one code path: their figures are identical
    for key, c in cli.items():
        assert {k: v for k, v in api[key].items() if k != "bbox"} == {
            k: v
            for k, v in c.items()
            if k not in ("bbox", "pixel_count", "confidence", "model_version")
        }
    # the main crack with the thin crossing crack: a network whose longest branches run straight
    main = max(cli.values(), key=lambda r: r["length"]["value"])
    assert main["n_junctions"] >= 1
    assert main["length"]["value"] > 60.0
