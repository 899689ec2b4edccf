"""CrackSegmenter with the packaged model on generated images: accuracy, inputs, tiling, errors."""

from __future__ import annotations

import itertools
import json
import threading
import time
import tracemalloc
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.ndimage import distance_transform_edt

from infrasight.vision import (
    CrackSegmentation,
    CrackSegmenter,
    ModelLoadError,
    VisionInputError,
    default_segmenter,
    overlay,
)
from infrasight.vision.imageio import MAX_PIXELS, to_rgb8
from infrasight.vision.tiling import axis_tiles, ramp_weights
from tests.vision.synth import cracked, surface


@pytest.fixture(scope="module")
def seg() -> CrackSegmenter:
    return default_segmenter()


def test_packaged_model_metadata(seg: CrackSegmenter) -> None:
    assert seg.model_version == "1.1.1"
    assert 0.05 <= seg.threshold <= 0.95  # calibrated, recorded in the model JSON
    assert seg.info.multiple_of == 16


@pytest.mark.parametrize("width_px", [1, 3, 5])
def test_finds_a_generated_crack(seg: CrackSegmenter, width_px: int) -> None:
    img, truth, pts = cracked(256, 320, seed=width_px, width_px=width_px)
    r = seg.segment(img)
    assert r.probability.shape == r.mask.shape == truth.shape
    assert r.probability.dtype == np.float32 and r.mask.dtype == np.bool_
    recall = (r.mask & truth).sum() / truth.sum()
    assert recall > 0.95
    near = distance_transform_edt(~truth) <= 3
    assert (r.mask & near).sum() / r.mask.sum() > 0.95  # no detections away from the crack
    assert len(r.instances) == 1
    c = r.instances[0]
    assert c.mean_confidence > seg.threshold
    ends = sorted([c.polyline[0], c.polyline[-1]], key=lambda p: p[0])
    assert np.hypot(*(ends[0] - pts[0])) < 6 and np.hypot(*(ends[1] - pts[-1])) < 6
    assert c.length_px == pytest.approx(np.hypot(*np.diff(pts, axis=0).T).sum(), rel=0.1)


def test_plain_surface_has_no_cracks(seg: CrackSegmenter) -> None:
    r = seg.segment(surface(300, 400, seed=3))
    assert r.crack_fraction < 0.001 and r.instances == ()


def test_grey_rgba_16bit_and_float_inputs_agree(seg: CrackSegmenter) -> None:
    img, _, _ = cracked(128, 160, seed=7)
    ref = seg.segment(img)
    grey = img[:, :, 0]
    rgba = np.dstack([img, np.full(grey.shape, 90, np.uint8)])
    variants = {
        "grey": grey,
        "grey1": grey[:, :, None],
        "rgba": rgba,
        "u16": img.astype(np.uint16) * 257,
        "float": img.astype(np.float64) / 255.0,
    }
    for name, v in variants.items():
        r = seg.segment(v)
        np.testing.assert_array_equal(r.mask, ref.mask, err_msg=name)
        np.testing.assert_allclose(r.probability, ref.probability, atol=1e-5, err_msg=name)


def test_axis_tiles_cover_and_overlap() -> None:
    assert axis_tiles(500, max_tile=1024, overlap=64, multiple=16) == [(0, 500)]
    tiles = axis_tiles(6000, max_tile=1024, overlap=64, multiple=16)
    assert all(size == tiles[0][1] and size % 16 == 0 and size <= 1024 for _, size in tiles)
    assert tiles[0][0] == 0 and tiles[-1][0] + tiles[-1][1] == 6000
    gaps = [b[0] - (a[0] + a[1]) for a, b in itertools.pairwise(tiles)]
    assert max(gaps) <= -64  # every neighbour pair overlaps by >= 64 px
    w = ramp_weights(10, before=4, after=2)
    np.testing.assert_allclose(w, [0.125, 0.375, 0.625, 0.875, 1, 1, 1, 1, 0.75, 0.25])


@pytest.mark.parametrize("length", [1025, 1100, 2047, 4000, 6000, 9999, 10000])
@pytest.mark.parametrize("max_tile", [256, 512, 768, 1024])
def test_blending_weights_sum_to_one_along_an_axis(length: int, max_tile: int) -> None:
    """The segmenter adds weighted tiles without normalising: the ramps must sum to exactly 1."""
    tiles = axis_tiles(length, max_tile=max_tile, overlap=64, multiple=16)
    total = np.zeros(length, np.float64)
    for i, (start, size) in enumerate(tiles):
        before = tiles[i - 1][0] + tiles[i - 1][1] - start if i else 0
        after = start + size - tiles[i + 1][0] if i + 1 < len(tiles) else 0
        total[start : start + size] += ramp_weights(size, before=before, after=after)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


class _EchoSegmenter(CrackSegmenter):
    """The 'model' returns each tile's red channel / 255: blending must reproduce the image."""

    def _infer(
        self,
        tile: NDArray[np.generic],
        full_scale: float,
        *,
        shrink: bool = False,
        session: Any = None,
    ) -> NDArray[np.float32]:
        return to_rgb8(tile, full_scale=full_scale)[:, :, 0].astype(np.float32) / 255.0


class _CountingEcho(_EchoSegmenter):
    """The echo model, slowed down, counting how many tiles are in the model at once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.active = self.most = self.largest = 0
        self.sessions: set[int] = set()
        self._count = threading.Lock()

    def _infer(
        self,
        tile: NDArray[np.generic],
        full_scale: float,
        *,
        shrink: bool = False,
        session: Any = None,
    ) -> NDArray[np.float32]:
        with self._count:
            self.active += 1
            self.most = max(self.most, self.active)
            self.sessions.add(id(session))
            self.largest = max(self.largest, *tile.shape[:2])
        time.sleep(0.02)
        with self._count:
            self.active -= 1
        return super()._infer(tile, full_scale, shrink=shrink, session=session)


@pytest.mark.parametrize(
    ("threads", "parallel_max_pixels", "in_flight"),
    [(2, 1_000_000, 2), (4, 1_000_000, 2), (1, 1_000_000, 1), (2, 500_000, 1)],
)
def test_tiles_run_two_at_a_time_and_blend_exactly(
    threads: int, parallel_max_pixels: int, in_flight: int
) -> None:
    img = np.random.default_rng(2).integers(0, 256, (700, 1300), dtype=np.uint8)
    echo = _CountingEcho(
        tile=256, overlap=48, threads=threads, parallel_max_pixels=parallel_max_pixels
    )
    prob = echo.probability(img)
    np.testing.assert_allclose(prob, img.astype(np.float32) / 255.0, atol=1e-5)
    assert echo.most == in_flight
    assert len(echo.sessions) == in_flight  # one session per run in flight


@pytest.mark.parametrize(
    ("threads", "parallel_max_pixels", "side", "in_flight"),
    [(2, MAX_PIXELS, 128, 2), (1, MAX_PIXELS, 256, 1), (2, 200_000, 256, 1)],
)
def test_large_images_run_two_smaller_tiles_at_a_time(
    threads: int, parallel_max_pixels: int, side: int, in_flight: int
) -> None:
    """Above ``large_image_pixels`` two tiles in flight are ``large_parallel_tile`` px, so
    together they need about the working memory of one ``large_tile`` tile."""
    img = np.random.default_rng(3).integers(0, 256, (400, 600), dtype=np.uint8)
    echo = _CountingEcho(
        threads=threads,
        overlap=32,
        large_image_pixels=100_000,
        large_tile=256,
        large_parallel_tile=128,
        parallel_max_pixels=parallel_max_pixels,
    )
    assert echo.tile_side(img.size) == side and echo.tiles_in_flight(img.size) == in_flight
    assert echo.tile_side(90_000) == echo.tile == 1024  # the ordinary path keeps its tiles
    r = echo.segment(img)
    assert r.probability.dtype == np.float16
    np.testing.assert_allclose(r.probability.astype(np.float32), img / 255.0, atol=1e-3)
    largest = max(axis_tiles(n, max_tile=side, overlap=32, multiple=16)[0][1] for n in (400, 600))
    assert echo.largest == largest and echo.most == in_flight


def test_the_model_card_sets_the_parallel_tile_unless_the_caller_does(tmp_path: Path) -> None:
    """A model whose card states ``tiling.large_parallel_tile`` (CrackNet-Half: 768 px) runs
    large images in tiles of that size; cards without it keep 544 px; a bad value is refused."""
    packaged = files("infrasight.vision") / "models"
    model = tmp_path / "m.onnx"
    model.write_bytes((packaged / "crack-segmentation.onnx").read_bytes())
    meta = json.loads((packaged / "crack-segmentation.json").read_text())
    big = 24_000_000
    for tiling, explicit, side in [(None, None, 544), (768, None, 768), (768, 640, 640)]:
        meta.pop("tiling", None)
        if tiling is not None:
            meta["tiling"] = {"large_parallel_tile": tiling}
        model.with_suffix(".json").write_text(json.dumps(meta))
        seg = CrackSegmenter(model, threads=2, large_parallel_tile=explicit)
        assert seg.tile_side(big) == side
        assert CrackSegmenter(model, threads=1).tile_side(big) == 768  # one at a time
    meta["tiling"] = {"large_parallel_tile": 100}
    model.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="large_parallel_tile must be a multiple of 16"):
        CrackSegmenter(model, threads=2).tile_side(big)


def test_parallel_tiles_equal_one_at_a_time(seg: CrackSegmenter) -> None:
    """Two one-thread sessions give the probabilities of one two-thread session (rounding)."""
    img, _truth, _ = cracked(400, 600, seed=11)
    one = CrackSegmenter(tile=256, threads=2, parallel_max_pixels=1).segment(img)
    two = CrackSegmenter(tile=256, threads=2).segment(img)
    np.testing.assert_allclose(two.probability, one.probability, atol=1e-5)
    assert np.array_equal(two.mask, one.mask) and one.mask.any()


@pytest.mark.parametrize("shape", [(700, 1300), (100, 5000), (2000, 90)])
def test_blending_is_exact_for_a_position_independent_model(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    echo = _EchoSegmenter(tile=256, overlap=48)
    prob = echo.probability(img)
    np.testing.assert_allclose(prob, img.astype(np.float32) / 255.0, atol=1e-5)


def test_tiled_result_matches_single_pass(seg: CrackSegmenter) -> None:
    img, _truth, _ = cracked(400, 600, seed=11)
    whole = seg.segment(img)
    tiled = CrackSegmenter(tile=256, overlap=64).segment(img)
    assert np.abs(whole.probability - tiled.probability).mean() < 0.01
    assert (whole.mask ^ tiled.mask).sum() <= 0.05 * whole.mask.sum()


def test_24_megapixel_frame_with_bounded_memory(seg: CrackSegmenter) -> None:
    img, _, _ = cracked(4000, 6000, seed=2, width_px=4)
    grey = np.ascontiguousarray(img[:, :, 0])
    tracemalloc.start()
    try:
        r = seg.segment(grey)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.mask.shape == (4000, 6000) and r.mask.any()
    # outputs: 4 B + 1 B per pixel = 120 MB; working memory must stay far below full-frame copies
    # (an RGB float32 copy alone would be 288 MB)
    assert peak < 260e6


def test_large_image_mode_agrees_with_the_normal_path(seg: CrackSegmenter) -> None:
    """Above ``large_image_pixels``: smaller tiles and a float16 map, the same cracks."""
    img, truth, _ = cracked(400, 600, seed=11)
    whole = seg.segment(img)
    large = CrackSegmenter(large_image_pixels=100_000, large_tile=256).segment(img)
    assert whole.probability.dtype == np.float32 and large.probability.dtype == np.float16
    assert np.abs(whole.probability - large.probability.astype(np.float32)).mean() < 0.01
    assert (whole.mask ^ large.mask).sum() <= 0.05 * whole.mask.sum()
    assert (large.mask & truth).sum() >= 0.8 * truth.sum()
    assert len(large.instances) == len(whole.instances)
    for a, b in zip(whole.instances, large.instances, strict=True):
        assert b.mean_confidence == pytest.approx(a.mean_confidence, abs=0.02)
        assert b.skeleton_length_px == pytest.approx(a.skeleton_length_px, rel=0.05)


def test_extreme_aspect_ratio_and_minimum_size(seg: CrackSegmenter) -> None:
    strip = surface(16, 3000, seed=4)
    r = seg.segment(strip)
    assert r.mask.shape == (16, 3000)
    r = seg.segment(surface(16, 16, seed=4))
    assert r.mask.shape == (16, 16)
    with pytest.raises(VisionInputError, match="too small"):
        seg.segment(np.zeros((15, 400), np.uint8))


def test_overlay_tints_only_crack_pixels(seg: CrackSegmenter) -> None:
    img, _, _ = cracked(128, 160, seed=5)
    r = seg.segment(img)
    before = img.copy()
    ov = overlay(img, r, draw_polylines=False)
    np.testing.assert_array_equal(img, before)  # the input is not modified
    assert ov.shape == (128, 160, 3) and ov.dtype == np.uint8
    np.testing.assert_array_equal(ov[~r.mask], img[~r.mask])
    assert (ov[r.mask][:, 0] > img[r.mask][:, 0]).all()  # red tint
    with pytest.raises(VisionInputError, match="differ in size"):
        overlay(img[:100], r)
    with pytest.raises(ValueError, match="alpha"):
        overlay(img, r, alpha=2.0)


def test_result_json_summary(seg: CrackSegmenter) -> None:
    img, _, _ = cracked(128, 160, seed=6)
    d = seg.segment(img).to_dict()
    assert (d["width"], d["height"]) == (160, 128)
    assert d["model_version"] == "1.1.1" and d["crack_pixels"] > 0
    inst = d["instances"][0]
    assert set(inst) == {
        "pixel_count",
        "bbox",
        "mean_confidence",
        "length_px",
        "skeleton_length_px",
        "polyline",
    }


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tile": 100}, "tile"),
        ({"overlap": 600}, "overlap"),
        ({"threshold": 1.0}, "threshold"),
        ({"min_instance_pixels": 0}, "min_instance_pixels"),
        ({"threads": 0}, "threads"),
        ({"large_tile": 100}, "large_tile"),
        ({"large_parallel_tile": 48}, "large_parallel_tile"),
        ({"large_image_pixels": 0}, "large_image_pixels"),
        ({"parallel_max_pixels": 0}, "parallel_max_pixels"),
    ],
)
def test_bad_settings_are_rejected(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CrackSegmenter(**kwargs)  # type: ignore[arg-type]


def test_segmentation_validation() -> None:
    p = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="mask"):
        CrackSegmentation(
            probability=p,
            mask=np.zeros((4, 5), bool),
            instances=(),
            threshold=0.5,
            model_version="x",
        )
    with pytest.raises(ValueError, match="threshold"):
        CrackSegmentation(
            probability=p,
            mask=np.zeros((4, 4), bool),
            instances=(),
            threshold=0.0,
            model_version="x",
        )
