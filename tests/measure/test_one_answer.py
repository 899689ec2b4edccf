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
from infrasight.measure import Scale, quantify_cracks
from infrasight.platform import Platform
from infrasight.services.crack_analysis import LINK_GAP_PX
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
    """The library alone: the model's mask measured by ``quantify_cracks`` on the whole image."""
    mask = default_segmenter().segment(wall).mask
    found = quantify_cracks(
        mask, wall, scale=Scale.from_mm_per_px(MM_PER_PX), link_gap_px=LINK_GAP_PX
    )
    return [q.to_dict() for q in found]


def _by_length(records: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(records, key=lambda r: -r["length"]["value"])  # type: ignore[index]


def test_cli_api_and_library_give_one_answer(
    wall: np.ndarray,
    platform: Platform,
    client: TestClient,
    tenant: Tenant,
    site: Site,
    tmp_path: Path,
) -> None:
    cli = _by_length(_cli(wall, tmp_path))
    api = _by_length(_api(wall, platform, client, tenant, site))
    lib = _by_length(_library(wall))
    # the main crack with the crack crossing it (one network) and the short crack beside them
    assert len(cli) == len(api) == len(lib) == 2
    assert [c["bbox"] for c in cli] == [a["bbox"] for a in api]
    for k, c in enumerate(cli):
        for other in (api[k], lib[k]):
            assert other["unit"] == c["unit"] == "mm"
            assert other["length"]["value"] == pytest.approx(c["length"]["value"], rel=0.01)
            for stat in ("width_max", "width_mean"):
                a, b = c[stat], other[stat]
                assert abs(a["value"] - b["value"]) <= 2.0 * np.hypot(a["std"], b["std"]) + 1e-9
    # the CLI and the API share one code path: their figures are identical
    for c, a in zip(cli, api, strict=True):
        assert a == {
            k: v for k, v in c.items() if k not in ("pixel_count", "confidence", "model_version")
        }
    # the network is two straight branches (78.2 and 47.2 mm rendered), not pieces of each other
    main = cli[0]
    assert main["n_junctions"] >= 1 and main["n_branches"] == 2
    assert main["length"]["value"] == pytest.approx(scene_truth_mm(), rel=0.02)


def scene_truth_mm() -> float:
    """Rendered length of the main crack plus the crack crossing it, mm."""
    scene = render_crack_scene(width=1024, height=768, seed=13, mm_per_px=MM_PER_PX)
    lengths = sorted(
        float(np.hypot(*np.diff(c.centreline, axis=0).T).sum()) * MM_PER_PX for c in scene.cracks
    )
    return lengths[-1] + lengths[-2]


def test_pieces_closer_than_the_link_gap_are_one_crack() -> None:
    from infrasight.services.crack_analysis import group_instances
    from infrasight.vision.instances import extract_instances

    mask = np.zeros((100, 200), bool)
    mask[50:53, 10:90] = True
    mask[50:53, 93:150] = True  # 3 px gap: the same crack
    mask[50:53, 160:190] = True  # 10 px gap: another crack
    probability = np.where(mask, 0.9, 0.1).astype(np.float32)
    pieces = extract_instances(mask, probability)
    assert len(pieces) == 3
    grouped = group_instances(pieces, mask.shape)
    assert len(grouped) == 2
    joined = grouped[0]
    assert joined.bbox == (10, 50, 140, 3)
    assert joined.pixel_count == 3 * (80 + 57)
    assert joined.mean_confidence == pytest.approx(0.9, abs=1e-6)
    assert grouped[1].bbox == (160, 50, 30, 3)
    assert group_instances(pieces, mask.shape, gap_px=0.0) == list(pieces)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grouping_equals_labelling_the_dilated_frame(seed: int) -> None:
    """Pairwise windows give the groups that labelling the whole dilated frame gives."""
    import cv2

    from infrasight.services.crack_analysis import LINK_GAP_PX, group_instances
    from infrasight.vision.instances import extract_instances

    rng = np.random.default_rng(seed)
    mask = np.zeros((300, 400), np.uint8)
    for _ in range(40):  # short strokes, some near each other, some at the frame's edge
        x, y = rng.integers(0, 400), rng.integers(0, 300)
        dx, dy = rng.integers(-30, 31, 2)
        cv2.line(mask, (int(x), int(y)), (int(x + dx), int(y + dy)), 1, int(rng.integers(1, 4)))
    pieces = extract_instances(mask.astype(bool), np.where(mask, 0.9, 0.1).astype(np.float32))
    size = 2 * int(np.ceil(LINK_GAP_PX / 2)) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    canvas = np.zeros(mask.shape, np.uint8)
    for piece in pieces:
        x, y, w, h = piece.bbox
        canvas[y : y + h, x : x + w] |= piece.mask.astype(np.uint8)
    count, labels = cv2.connectedComponents(cv2.dilate(canvas, kernel), connectivity=8)
    grouped = group_instances(pieces, mask.shape)
    assert len(pieces) > len(grouped) > 3
    assert len(grouped) == count - 1
    for group in grouped:
        x, y, w, h = group.bbox
        assert len(np.unique(labels[y : y + h, x : x + w][group.mask])) == 1
    assert sum(g.pixel_count for g in grouped) == sum(p.pixel_count for p in pieces)
