"""`infrasight cracks detect|eval` through the public CLI on generated images."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from infrasight.cli.app import app
from tests.vision.synth import cracked, surface

runner = CliRunner()


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), rgb[:, :, ::-1])


@pytest.fixture()
def image_dir(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    d.mkdir()
    for k in range(2):
        img, _, _ = cracked(160, 200, seed=k)
        _write_rgb(d / f"crack{k}.png", img)
    (d / "notes.txt").write_text("ignored: not an image suffix")
    return d


def test_detect_writes_mask_overlay_and_json(image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    extra = tmp_path / "plain.jpg"
    _write_rgb(extra, surface(100, 120, seed=9))
    res = runner.invoke(app, ["cracks", "detect", str(image_dir), str(extra), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "3 of 3 images" in res.output
    for stem, has_crack in (("crack0", True), ("crack1", True), ("plain", False)):
        mask = cv2.imread(str(out / f"{stem}.mask.png"), cv2.IMREAD_UNCHANGED)
        src = cv2.imread(str(image_dir / f"{stem}.png")) if has_crack else cv2.imread(str(extra))
        assert mask.shape == src.shape[:2]
        assert set(np.unique(mask)) <= {0, 255}
        assert cv2.imread(str(out / f"{stem}.overlay.jpg")).shape == src.shape
        doc = json.loads((out / f"{stem}.json").read_text())
        assert doc["model_version"] == "1.1.1"
        assert (len(doc["instances"]) >= 1) == has_crack
        assert doc["crack_pixels"] == int((mask == 255).sum())


def test_detect_reports_bad_files_and_exits_2(image_dir: Path, tmp_path: Path) -> None:
    (image_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = tmp_path / "out"
    res = runner.invoke(app, ["cracks", "detect", str(image_dir), "--out", str(out)])
    assert res.exit_code == 2
    assert "broken.jpg" in res.output and "2 of 3 images" in res.output
    assert (out / "crack0.mask.png").is_file()  # good files are still processed


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["cracks", "detect", "/no/such/input", "--out", "OUT"], "no such file"),
        (["cracks", "detect", "EMPTY", "--out", "OUT"], "no image files"),
    ],
)
def test_detect_input_errors(tmp_path: Path, args: list[str], match: str) -> None:
    (tmp_path / "empty").mkdir()
    args = [
        a.replace("OUT", str(tmp_path / "o")).replace("EMPTY", str(tmp_path / "empty"))
        for a in args
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and match in res.output


def _eval_set(tmp_path: Path, fmt: str) -> tuple[Path, Path]:
    imgs, masks = tmp_path / f"i_{fmt}", tmp_path / f"m_{fmt}"
    imgs.mkdir()
    masks.mkdir()
    for k in range(3):
        img, truth, _ = cracked(128, 160, seed=20 + k, width_px=3)
        _write_rgb(imgs / f"s{k}.png", img)
        if fmt == "255":
            cv2.imwrite(str(masks / f"s{k}.png"), truth.astype(np.uint8) * 255)
        elif fmt == "01":
            cv2.imwrite(str(masks / f"s{k}.png"), truth.astype(np.uint8))
        elif fmt == "1bit":
            Image.fromarray(truth).convert("1").save(masks / f"s{k}.png")
        else:
            cv2.imwrite(str(masks / f"s{k}.bmp"), np.dstack([truth.astype(np.uint8) * 255] * 3))
    return imgs, masks


def test_eval_figures_are_the_same_for_every_mask_format(tmp_path: Path) -> None:
    results = []
    for fmt in ("255", "01", "1bit", "rgb"):
        imgs, masks = _eval_set(tmp_path, fmt)
        res = runner.invoke(
            app, ["cracks", "eval", "--images", str(imgs), "--masks", str(masks), "--json"]
        )
        assert res.exit_code == 0, res.output
        results.append(json.loads(res.stdout.strip().splitlines()[-1]))
    first = results[0]
    assert all(r == first for r in results)
    assert first["images"] == 3 and first["tolerance_px"] == 2.0
    # Generated 3-px cracks: the model recalls them and, with a 2-px tolerance, places them right.
    assert first["recall"] > 0.9 and first["ods_f1"] > 0.9
    for k in ("precision", "recall", "f1", "iou", "ods_f1", "ois_f1"):
        assert 0.0 <= first[k] <= 1.0
    assert first["iou"] <= first["f1"]


def test_eval_table_output_and_tolerance(tmp_path: Path) -> None:
    imgs, masks = _eval_set(tmp_path, "255")
    res = runner.invoke(
        app, ["cracks", "eval", "--images", str(imgs), "--masks", str(masks), "--tolerance", "0"]
    )
    assert res.exit_code == 0, res.output
    assert "ods_f1" in res.output and "tolerance_px" in res.output


def test_eval_errors_exit_2(tmp_path: Path) -> None:
    imgs, masks = _eval_set(tmp_path, "255")
    other = tmp_path / "other"
    other.mkdir()
    res = runner.invoke(app, ["cracks", "eval", "--images", str(imgs), "--masks", str(other)])
    assert res.exit_code == 2 and "no image" in res.output
    res = runner.invoke(
        app, ["cracks", "eval", "--images", str(tmp_path / "nope"), "--masks", str(masks)]
    )
    assert res.exit_code == 2 and "not a directory" in res.output
    cv2.imwrite(str(masks / "s0.png"), np.zeros((50, 50), np.uint8))
    res = runner.invoke(app, ["cracks", "eval", "--images", str(imgs), "--masks", str(masks)])
    assert res.exit_code == 2 and "mask is 50x50 px but the image is 160x128 px" in res.output


def test_eval_against_known_answers(image_dir: Path, tmp_path: Path) -> None:
    """Masks equal to the model's own output score exactly 1; empty masks score exactly 0."""
    out = tmp_path / "det"
    assert (
        runner.invoke(app, ["cracks", "detect", str(image_dir), "--out", str(out)]).exit_code == 0
    )
    own, empty = tmp_path / "own", tmp_path / "empty"
    own.mkdir()
    empty.mkdir()
    for f in out.glob("*.mask.png"):
        stem = f.name.removesuffix(".mask.png")
        (own / f"{stem}.png").write_bytes(f.read_bytes())
        cv2.imwrite(str(empty / f"{stem}.png"), np.zeros((160, 200), np.uint8))
    res = runner.invoke(
        app, ["cracks", "eval", "--images", str(image_dir), "--masks", str(own), "--json"]
    )
    fig = json.loads(res.stdout.strip().splitlines()[-1])
    assert (fig["precision"], fig["recall"], fig["f1"], fig["iou"]) == (1.0, 1.0, 1.0, 1.0)
    res = runner.invoke(
        app, ["cracks", "eval", "--images", str(image_dir), "--masks", str(empty), "--json"]
    )
    fig = json.loads(res.stdout.strip().splitlines()[-1])
    assert (fig["precision"], fig["recall"], fig["f1"], fig["iou"]) == (0.0, 0.0, 0.0, 0.0)
    assert fig["ods_f1"] == 0.0 and fig["ois_f1"] == 0.0


@pytest.mark.parametrize(
    ("locale", "said"),
    [("en", ["ods_f1", "tolerance_px", "precision"]), ("zh-Hans", ["容差（像素）", "精确率"])],
)
def test_eval_table_names_the_figures_in_the_chosen_language(
    tmp_path: Path, locale: str, said: list[str]
) -> None:
    imgs, masks = _eval_set(tmp_path, "255")
    res = runner.invoke(
        app, ["--lang", locale, "cracks", "eval", "--images", str(imgs), "--masks", str(masks)]
    )
    assert res.exit_code == 0, res.output
    assert all(s in res.output for s in said), res.output
    if locale != "en":
        assert not any(k in res.output for k in ("precision", "recall", "ods_f1", "model_version"))
