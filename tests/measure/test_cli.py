"""The `infrasight measure` and `infrasight calibrate` commands, end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from infrasight.cli.app import app
from infrasight.measure import BoardSpec
from infrasight.synthetic import (
    render_charuco_views,
    render_crack_scene,
    render_marker_scene,
    speckle_field,
    speckle_image,
)

runner = CliRunner()


@pytest.fixture(scope="module")
def crack_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    d = tmp_path_factory.mktemp("crack")
    s = render_crack_scene(
        width=640,
        height=480,
        seed=3,
        n_cracks=1,
        branch_probability=0,
        marker_mm=20.0,
        mm_per_px=0.25,
    )
    img, mask = d / "crack.png", d / "mask.png"
    cv2.imwrite(str(img), cv2.cvtColor(s.image, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(mask), s.mask.astype(np.uint8) * 255)
    return img, mask, s.true_length_mm


def test_measure_crack_json_with_marker(crack_files: tuple[Path, Path, float]) -> None:
    img, mask, true_mm = crack_files
    res = runner.invoke(
        app, ["measure", "crack", str(img), "--mask", str(mask), "--marker-mm", "20", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["scale"]["mm_per_px"] == pytest.approx(0.25, rel=0.003)
    (crack,) = out["cracks"]
    assert crack["unit"] == "mm"
    assert crack["length"]["value"] == pytest.approx(true_mm, rel=0.015)
    assert crack["width_max"]["std"] > 0


def test_measure_crack_table_and_classical_mask(crack_files: tuple[Path, Path, float]) -> None:
    img, _, _ = crack_files
    res = runner.invoke(
        app, ["measure", "crack", str(img), "--mm-per-px", "0.25", "--segmentation", "classical"]
    )
    assert res.exit_code == 0, res.output
    assert "unit mm" in res.output
    args = ["measure", "crack", str(img), "--mm-per-px", "0.25", "--json"]
    res = runner.invoke(app, [*args, "--segmentation", "classical"])
    assert json.loads(res.output)["mask_source"] == "classical"


def test_measure_crack_uses_the_model_by_default(crack_files: tuple[Path, Path, float]) -> None:
    img, _, true_mm = crack_files
    res = runner.invoke(
        app, ["measure", "crack", str(img), "--mm-per-px", "0.25", "--json", "--profile"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["mask_source"] == "model"
    main = out["cracks"][0]
    assert main["length"]["value"] == pytest.approx(true_mm, rel=0.03)
    assert 0 < main["confidence"] <= 1 and main["model_version"]
    # the width profile is in image coordinates (the crop offset added back)
    x0, y0, w, h = main["bbox"]
    xs = [p["x"] for p in main["profile"]]
    ys = [p["y"] for p in main["profile"]]
    assert x0 - 1 <= min(xs) and max(xs) <= x0 + w + 1
    assert y0 - 1 <= min(ys) and max(ys) <= y0 + h + 1
    res = runner.invoke(app, ["measure", "crack", str(img), "--segmentation", "magic"])
    assert res.exit_code == 2 and "--segmentation must be model or classical" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mm-per-px", "0.2", "--marker-mm", "20"], "not both"),
        (["--mm-per-px", "-1"], "mm_per_px"),
        (["--marker-mm", "20", "--dictionary", "DICT_6X6_50"], "no DICT_6X6_50 marker"),
    ],
)
def test_measure_crack_bad_input(
    crack_files: tuple[Path, Path, float], args: list[str], message: str
) -> None:
    img, mask, _ = crack_files
    res = runner.invoke(app, ["measure", "crack", str(img), "--mask", str(mask), *args])
    assert res.exit_code == 2
    assert message in res.output


def test_measure_crack_missing_file(tmp_path: Path) -> None:
    res = runner.invoke(app, ["measure", "crack", str(tmp_path / "nope.png")])
    assert res.exit_code == 2 and "not found" in res.output


@pytest.fixture(scope="module")
def speckle_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("speckle")
    spec = speckle_field(200, 240, seed=1)
    paths = []
    for k, s in enumerate([(0.0, 0.0), (0.4, -0.2), (1.3, 0.6)]):
        p = d / f"f{k}.png"
        cv2.imwrite(str(p), speckle_image(spec, shift=s))
        paths.append(p)
    return paths


def test_measure_displacement_json_shape(speckle_files: list[Path]) -> None:
    ref, *frames = speckle_files
    res = runner.invoke(
        app,
        [
            "measure",
            "displacement",
            str(ref),
            *map(str, frames),
            "--roi",
            "40,40,64,64",
            "--roi",
            "120,80,64,64",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert [r["image"] for r in out["results"]] == [str(f) for f in frames]
    p = out["results"][1]["points"][0]
    assert p["x"] == pytest.approx(71.5) and p["y"] == pytest.approx(71.5)
    assert p["dx"] == pytest.approx(1.3, abs=0.01) and p["dy"] == pytest.approx(0.6, abs=0.01)
    assert 0.95 < p["score"] <= 1.0


def test_measure_displacement_grid_in_mm(speckle_files: list[Path]) -> None:
    ref, *frames = speckle_files
    res = runner.invoke(
        app,
        [
            "measure",
            "displacement",
            str(ref),
            str(frames[0]),
            "--grid",
            "50",
            "--subset",
            "31",
            "--mm-per-px",
            "0.5",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    pts = json.loads(res.output)["results"][0]["points"]
    assert len(pts) >= 9
    assert all(p["dx_mm"] == pytest.approx(0.2, abs=0.006) for p in pts)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "either --roi"),
        (["--roi", "1,2,30,40", "--grid", "10"], "either --roi"),
        (["--grid", "10"], "--subset"),
        (["--roi", "1,2,3"], "X,Y,W,H"),
        (["--roi", "400,10,64,64"], "does not fit"),
        (["--roi", "10,10,64,64", "--shape", "spline"], "--shape"),
    ],
)
def test_measure_displacement_bad_input(
    speckle_files: list[Path], extra: list[str], message: str
) -> None:
    ref, *frames = speckle_files
    res = runner.invoke(app, ["measure", "displacement", str(ref), str(frames[0]), *extra])
    assert res.exit_code == 2
    assert message in res.output


def test_measure_displacement_frame_size_mismatch(
    speckle_files: list[Path], tmp_path: Path
) -> None:
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((100, 100), np.uint8))
    res = runner.invoke(
        app, ["measure", "displacement", str(speckle_files[0]), str(small), "--roi", "10,10,40,40"]
    )
    assert res.exit_code == 2 and "frame 0 is 100x100" in res.output


def test_calibrate_scale_json_and_rectified(tmp_path: Path) -> None:
    scene = render_marker_scene(tilt_deg=40.0, seed=3)
    img = tmp_path / "m.png"
    cv2.imwrite(str(img), scene.image)
    rect = tmp_path / "rect.png"
    res = runner.invoke(
        app,
        ["calibrate", "scale", str(img), "--marker-mm", "100", "--rectified", str(rect), "--json"],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["tilt_deg"] == pytest.approx(40.0, abs=3.0)
    assert rect.is_file()
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((100, 100), 200, np.uint8))
    res = runner.invoke(app, ["calibrate", "scale", str(blank), "--marker-mm", "100"])
    assert res.exit_code == 2 and "no DICT_4X4_50 marker" in res.output


def test_calibrate_camera(tmp_path: Path) -> None:
    board = BoardSpec(squares_x=7, squares_y=5, square_mm=30.0, marker_mm=22.0)
    views = render_charuco_views(board.to_opencv(), n_views=5, seed=4)
    paths = []
    for k, v in enumerate(views.images):
        p = tmp_path / f"v{k}.png"
        cv2.imwrite(str(p), v)
        paths.append(str(p))
    out_file = tmp_path / "cam.json"
    res = runner.invoke(
        app,
        [
            "calibrate",
            "camera",
            *paths,
            "--board",
            "7x5:30:22",
            "--output",
            str(out_file),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    cal = json.loads(out_file.read_text())
    assert cal["camera_matrix"][0][0] == pytest.approx(900.0, rel=0.015)
    res = runner.invoke(app, ["calibrate", "camera", *paths[:2], "--board", "7x5:30:22"])
    assert res.exit_code == 2 and "need 4" in res.output
    res = runner.invoke(app, ["calibrate", "camera", *paths, "--board", "7x5"])
    assert res.exit_code == 2 and "board must look like" in res.output


def test_displacement_json_has_exactly_the_issue_keys_and_details_on_request(
    speckle_files: list[Path],
) -> None:
    ref, *frames = speckle_files
    base = ["measure", "displacement", str(ref), str(frames[0]), "--roi", "40,40,64,64", "--json"]
    plain = json.loads(runner.invoke(app, base).output)
    assert set(plain["results"][0]["points"][0]) == {"x", "y", "dx", "dy", "score"}
    detailed = json.loads(runner.invoke(app, [*base, "--details"]).output)
    point = detailed["results"][0]["points"][0]
    assert point["reliable"] is True and point["reason"] == ""


def test_stream_needs_max_frames(speckle_files: list[Path]) -> None:
    res = runner.invoke(
        app,
        [
            "measure",
            "displacement",
            str(speckle_files[0]),
            "rtsp://camera.invalid/stream",
            "--roi",
            "10,10,40,40",
        ],
    )
    assert res.exit_code == 2 and "--max-frames" in res.output


def test_calibrate_scale_from_board_and_argument_errors(tmp_path: Path) -> None:
    board = BoardSpec(squares_x=7, squares_y=5, square_mm=30.0, marker_mm=22.0)
    view = render_charuco_views(board.to_opencv(), n_views=1, seed=2, k1=0.0).images[0]
    img = tmp_path / "board.png"
    cv2.imwrite(str(img), view)
    res = runner.invoke(app, ["calibrate", "scale", str(img), "--board", "7x5:30:22", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["n_corners"] >= 20
    res = runner.invoke(app, ["calibrate", "scale", str(img)])
    assert res.exit_code == 2 and "either --marker-mm" in res.output
    res = runner.invoke(
        app, ["calibrate", "scale", str(img), "--board", "7x5:30:22", "--marker-mm", "20"]
    )
    assert res.exit_code == 2


def test_measure_crack_on_a_clean_surface_finds_nothing(tmp_path: Path) -> None:
    from infrasight.synthetic import concrete_texture

    surface = concrete_texture(240, 320, np.random.default_rng(0))
    img = tmp_path / "clean.png"
    cv2.imwrite(str(img), np.clip(surface, 0, 255).astype(np.uint8))
    res = runner.invoke(app, ["measure", "crack", str(img), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["cracks"] == []


def test_measure_crack_empty_given_mask_is_bad_input(
    crack_files: tuple[Path, Path, float], tmp_path: Path
) -> None:
    img, _, _ = crack_files
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), np.zeros((480, 640), np.uint8))
    res = runner.invoke(app, ["measure", "crack", str(img), "--mask", str(empty)])
    assert res.exit_code == 2 and "mask is empty" in res.output


def test_camera_calibration_file_is_applied(
    crack_files: tuple[Path, Path, float], tmp_path: Path
) -> None:
    from infrasight.measure import CameraCalibration

    img, mask, _ = crack_files
    K = np.array([[700.0, 0, 319.5], [0, 700.0, 239.5], [0, 0, 1]])
    cam = CameraCalibration(
        camera_matrix=K,
        dist_coeffs=np.zeros(5),
        image_size=(640, 480),
        rms_px=0.1,
        n_views=5,
        intrinsics_std=np.zeros(4),
    )
    cam_file = tmp_path / "cam.json"
    cam_file.write_text(cam.to_json())
    args = ["measure", "crack", str(img), "--mask", str(mask), "--mm-per-px", "0.25", "--json"]
    plain = json.loads(runner.invoke(app, args).output)
    res = runner.invoke(app, [*args, "--camera", str(cam_file)])
    assert res.exit_code == 0, res.output
    with_cam = json.loads(res.output)
    assert with_cam["cracks"][0]["length"]["value"] == pytest.approx(
        plain["cracks"][0]["length"]["value"], rel=1e-3
    )
    wrong = CameraCalibration.from_dict({**cam.to_dict(), "image_size": [800, 600]})
    cam_file.write_text(wrong.to_json())
    res = runner.invoke(app, [*args, "--camera", str(cam_file)])
    assert res.exit_code == 2 and "calibration is for 800x600" in res.output
    res = runner.invoke(app, [*args, "--camera", str(tmp_path / "none.json")])
    assert res.exit_code == 2 and "not found" in res.output


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        (
            "en",
            ["1 crack(s), unit mm", "max width", "reliable", "1 point(s) x 1 frame(s)", "dx px"],
        ),
        ("zh-Hant", ["1 條裂縫，單位 mm", "最大寬度", "可靠", "1 個點 x 1 個影格", "dx（像素）"]),
        ("zh-Hans", ["1 条裂缝，单位 mm", "最大宽度", "可靠", "1 个点 x 1 帧", "dx（像素）"]),
    ],
)
def test_measure_tables_speak_the_chosen_language(
    locale: str,
    said: list[str],
    crack_files: tuple[Path, Path, float],
    speckle_files: list[Path],
) -> None:
    """Column names, titles and codes (pattern, yes/no) in the CLI's language; English as
    before; two English words in a row fail in Chinese."""
    img, mask, _ = crack_files
    ref, frame, _ = speckle_files
    crack = runner.invoke(
        app,
        [
            "--lang",
            locale,
            "measure",
            "crack",
            str(img),
            "--mask",
            str(mask),
            "--mm-per-px",
            "0.25",
        ],
    )
    track = runner.invoke(
        app,
        ["--lang", locale, "measure", "displacement", str(ref), str(frame), "--roi", "40,40,64,64"],
    )
    assert crack.exit_code == 0 and track.exit_code == 0, crack.output + track.output
    shown = crack.output + track.output
    assert all(s in shown for s in said), shown
    if locale != "en":
        words = re.findall(r"[A-Za-z]{3,}(?: [a-z]{3,})+", re.sub(r"\S*[./\d]\S*", " ", shown))
        assert words == [], words
        assert not re.search(r"\b(yes|no|transverse|longitudinal|diagonal|branching|map)\b", shown)
