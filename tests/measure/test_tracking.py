"""Sub-pixel displacement tracking on speckle images with exactly known shifts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from infrasight.measure import (
    FrameSizeMismatchError,
    MeasurementInputError,
    RegionOutOfFrameError,
    Scale,
)
from infrasight.measure.frames import iter_frames, read_image
from infrasight.measure.tracking import Region, grid_regions, track_displacement
from infrasight.synthetic import speckle_field, speckle_image

SPEC = speckle_field(240, 320, seed=7, speckle_px=3.0)
REF = speckle_image(SPEC)
ROIS = [Region(x=40, y=40, w=64, h=64), Region(x=180, y=120, w=64, h=64)]


@pytest.mark.parametrize("shape", ["translation", "affine"])
@pytest.mark.parametrize("shift", [(0.1, 0.1), (0.37, -0.73), (5.5, 2.25)])
def test_recovers_known_sub_pixel_shift(shape: str, shift: tuple[float, float]) -> None:
    frame = speckle_image(SPEC, shift=shift, contrast=0.8, brightness=-20, noise_sigma=1.0, seed=1)
    r = track_displacement(REF, [frame], rois=ROIS, shape=shape)  # type: ignore[arg-type]
    assert np.all(r.reliable)
    assert np.allclose(r.dx, shift[0], atol=0.01)
    assert np.allclose(r.dy, shift[1], atol=0.01)
    assert np.all(r.score > 0.95)


def test_integer_baseline_is_integer() -> None:
    frame = speckle_image(SPEC, shift=(0.4, 1.6))
    r = track_displacement(REF, [frame], rois=ROIS, integer_only=True)
    assert np.allclose(r.dx, 0.0) and np.allclose(r.dy, 2.0)


def test_sequence_drifting_beyond_the_search_range_is_followed() -> None:
    shifts = [(4.0 * k + 0.3, -3.0 * k) for k in range(1, 8)]
    frames = [speckle_image(SPEC, shift=s) for s in shifts]
    roi = [Region(x=120, y=100, w=48, h=48)]
    r = track_displacement(REF, frames, rois=roi, search_radius=6)
    assert np.allclose(r.dx[:, 0], [s[0] for s in shifts], atol=0.01)
    assert np.allclose(r.dy[:, 0], [s[1] for s in shifts], atol=0.01)


def test_dense_grid_and_mm_conversion() -> None:
    frame = speckle_image(SPEC, shift=(0.25, -0.5))
    r = track_displacement(REF, [frame], grid=40, subset=31, scale=Scale.from_mm_per_px(0.1))
    assert r.points_px.shape[0] == len(grid_regions(320, 240, step=40, subset=31))
    assert np.allclose(r.dx, 0.25, atol=0.01) and np.allclose(r.dy, -0.5, atol=0.01)
    mm = r.displacement_mm()
    assert mm is not None and np.allclose(mm[0], 0.025, atol=0.001)
    out = r.to_json_dict()
    p = out["results"][0]["points"][0]
    assert set(p) >= {"x", "y", "dx", "dy", "score", "dx_mm", "dy_mm"}


def test_blank_saturated_and_leaving_regions_are_flagged() -> None:
    ref = REF.copy()
    ref[10:60, 200:250] = 128  # blank patch
    ref[150:200, 20:70] = 255  # saturated patch
    frame = speckle_image(SPEC, shift=(3.0, 0.0))
    frame[10:60, 200:250] = 128
    frame[150:200, 20:70] = 255
    rois = [
        Region(x=205, y=15, w=40, h=40),
        Region(x=25, y=155, w=40, h=40),
        Region(x=280, y=100, w=40, h=40),  # moves 3 px right: past the frame edge
        Region(x=100, y=100, w=40, h=40),
    ]
    r = track_displacement(ref, [frame], rois=rois)
    assert list(r.reliable[0]) == [False, False, False, True]
    assert r.reasons[0][0].startswith("blank") and r.reasons[0][1].startswith("saturated")
    assert "left the frame" in r.reasons[0][2]
    pts = r.to_json_dict()["results"][0]["points"]
    assert pts[0]["dx"] is None and pts[0]["score"] == 0.0
    assert pts[3]["dx"] == pytest.approx(3.0, abs=0.01)


def test_unrelated_frame_gets_low_score() -> None:
    other = speckle_image(speckle_field(240, 320, seed=99))
    r = track_displacement(REF, [other], rois=ROIS)
    assert not r.reliable.any()
    assert np.all(r.score < 0.8)


def test_camera_shake_is_removed() -> None:
    shake = (1.7, -0.9)
    move = (0.3, 0.2)
    frame = speckle_image(SPEC, shift=shake)
    moved = speckle_image(SPEC, shift=(shake[0] + move[0], shake[1] + move[1]))
    frame[80:180, 100:220] = moved[80:180, 100:220]  # a structure that moved on its own
    fixed = [
        Region(x=10, y=10, w=48, h=48),
        Region(x=250, y=10, w=48, h=48),
        Region(x=10, y=185, w=48, h=48),
    ]
    r = track_displacement(
        REF, [frame], rois=[Region(x=130, y=100, w=48, h=48)], reference_regions=fixed
    )
    assert r.shake_px is not None and np.allclose(r.shake_px[0], shake, atol=0.01)
    assert r.dx[0, 0] == pytest.approx(move[0], abs=0.01)
    assert r.dy[0, 0] == pytest.approx(move[1], abs=0.01)


def test_bad_inputs() -> None:
    frame = speckle_image(SPEC)
    with pytest.raises(MeasurementInputError, match="exactly one"):
        track_displacement(REF, [frame])
    with pytest.raises(MeasurementInputError, match="exactly one"):
        track_displacement(REF, [frame], rois=ROIS, grid=10)
    with pytest.raises(RegionOutOfFrameError, match="does not fit"):
        track_displacement(REF, [frame], rois=[Region(x=300, y=10, w=64, h=64)])
    with pytest.raises(FrameSizeMismatchError, match="frame 0 is 300x240"):
        track_displacement(REF, [frame[:, :300]], rois=ROIS)
    with pytest.raises(MeasurementInputError, match="no frames"):
        track_displacement(REF, [], rois=ROIS)
    with pytest.raises(MeasurementInputError, match="X,Y,W,H"):
        Region.parse("1,2,3")
    with pytest.raises(MeasurementInputError, match="too small"):
        Region(x=0, y=0, w=2, h=2)


def test_frames_from_files_and_video(tmp_path: Path) -> None:
    import cv2

    paths = []
    for k in range(3):
        p = tmp_path / f"f{k}.png"
        cv2.imwrite(str(p), speckle_image(SPEC, shift=(float(k), 0.0)))
        paths.append(p)
    video = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (320, 240), False)
    for k in range(4):
        writer.write(speckle_image(SPEC, shift=(float(k), 0.0)))
    writer.release()
    frames = list(iter_frames([*paths, video]))
    assert [f[0].endswith(("#0", "#1", "#2", "#3", ".png")) for f in frames] == [True] * 7
    r = track_displacement(read_image(paths[0]), [f for _, f in frames], rois=ROIS[:1])
    assert np.allclose(r.dx[:3, 0], [0, 1, 2], atol=0.02)
    assert np.allclose(r.dx[3:, 0], [0, 1, 2, 3], atol=0.1)  # lossy video
    with pytest.raises(MeasurementInputError, match="not found"):
        list(iter_frames([tmp_path / "missing.png"]))
    with pytest.raises(MeasurementInputError, match="not found"):
        list(iter_frames([tmp_path / "missing.mp4"]))


SAMPLE5 = (
    Path(os.environ.get("INFRASIGHT_DATASETS", Path(__file__).parents[3] / "shared" / "datasets"))
    / "vision"
    / "dic-challenge-1-sample5"
)


@pytest.mark.skipif(not SAMPLE5.is_dir(), reason="DIC Challenge sample 5 not available")
def test_dic_challenge_sample5_bias_and_noise() -> None:
    ref = read_image(SAMPLE5 / "Sample5 Reference.tif")
    frames = [read_image(SAMPLE5 / "Sample5-001 X0.10 Y0.10 N2 C100 R20.tif")]
    r = track_displacement(ref, frames, grid=20, subset=31)
    ok = r.reliable[0]
    assert ok.mean() > 0.95
    assert abs(np.mean(r.dx[0, ok]) - 0.1) <= 0.005
    assert abs(np.mean(r.dy[0, ok]) - 0.1) <= 0.005
    assert np.std(r.dx[0, ok]) <= 0.01 and np.std(r.dy[0, ok]) <= 0.01


def test_sixteen_bit_frames_keep_their_depth(tmp_path: Path) -> None:
    import cv2

    ref16 = REF.astype(np.uint16) * 257
    frame16 = speckle_image(SPEC, shift=(0.3, 0.6)).astype(np.uint16) * 257
    path = tmp_path / "f16.png"
    cv2.imwrite(str(path), frame16)
    loaded = read_image(path)
    assert loaded.dtype == np.uint16
    r = track_displacement(ref16, [loaded], rois=ROIS)
    assert np.all(r.reliable) and np.allclose(r.dx, 0.3, atol=0.01)
    sat = ref16.copy()
    sat[40:104, 40:104] = 65535
    r2 = track_displacement(sat, [loaded], rois=ROIS)
    assert list(r2.reliable[0]) == [False, True]
    assert r2.reasons[0][0].startswith("saturated")


def test_jump_beyond_the_search_range_is_found_by_the_wider_retry() -> None:
    frame = speckle_image(SPEC, shift=(21.4, -3.2))
    r = track_displacement(REF, [frame], rois=[Region(x=100, y=80, w=64, h=64)], search_radius=8)
    assert r.reliable[0, 0]
    assert r.dx[0, 0] == pytest.approx(21.4, abs=0.01)
    assert r.dy[0, 0] == pytest.approx(-3.2, abs=0.01)
