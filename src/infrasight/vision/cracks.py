"""Crack segmentation on ONNX Runtime: any image size, tiled with overlap and blended.

>>> seg = CrackSegmenter().segment(image)          # doctest: +SKIP
>>> seg.mask.sum(), len(seg.instances), seg.model_version  # doctest: +SKIP

Images up to ``tile`` px on both sides run in one pass (padded to a multiple of 16). Larger ones
are cut into equal overlapping tiles (>= ``overlap`` px) whose probabilities are blended with
linear ramps that sum to 1; tiles are processed one row band at a time, so besides the outputs
(probability float32 + mask bool, 5 bytes per pixel) memory stays near ``4 * tile * width``
bytes plus the model's working memory for one tile per run in flight.

With two or more threads, two tiles run at once, each on its own ONNX Runtime session with half
the threads, while the caller's thread blends the finished ones: on 2 cores two one-thread runs
use the cores better than one two-thread run (the threads of one run wait for each other at
every layer), and the blending no longer stops the model.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from infrasight.vision.errors import ModelLoadError, VisionInputError
from infrasight.vision.imageio import MAX_PIXELS, check_image, to_rgb8, value_scale
from infrasight.vision.instances import CrackInstance, extract_instances
from infrasight.vision.model_files import ModelInfo, load_model_info, read_model_bytes
from infrasight.vision.tiling import axis_tiles, ramp_weights

__all__ = [
    "CrackSegmentation",
    "CrackSegmenter",
    "default_segmenter",
    "overlay",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class CrackSegmentation:
    """Result of :meth:`CrackSegmenter.segment` for one image.

    Attributes
    ----------
    probability : (H, W) float32, or float16 for a large image
        Per-pixel crack probability in [0, 1] (float16 above the segmenter's
        ``large_image_pixels``, to bound memory).
    mask : (H, W) bool
        ``probability >= threshold`` without components smaller than the segmenter's
        ``min_instance_pixels``.
    instances : tuple of CrackInstance
        Connected crack regions of ``mask``, largest first.
    threshold : float
        Decision threshold used.
    model_version : str
        Version of the model that produced the result.
    """

    probability: NDArray[np.float32] = field(repr=False)
    mask: NDArray[np.bool_] = field(repr=False)
    instances: tuple[CrackInstance, ...]
    threshold: float
    model_version: str

    def __post_init__(self) -> None:
        if self.probability.ndim != 2 or self.probability.dtype not in (np.float32, np.float16):
            raise ValueError("probability must be a 2-D float32 (or float16) array")
        if self.mask.shape != self.probability.shape or self.mask.dtype != np.bool_:
            raise ValueError("mask must be a bool array of the probability's shape")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if not self.model_version:
            raise ValueError("model_version must not be empty")

    @property
    def crack_fraction(self) -> float:
        """Fraction of the image's pixels marked as crack."""
        return float(np.count_nonzero(self.mask)) / self.mask.size

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: image size, model version, threshold and instances."""
        h, w = self.mask.shape
        return {
            "width": w,
            "height": h,
            "model_version": self.model_version,
            "threshold": self.threshold,
            "crack_pixels": int(np.count_nonzero(self.mask)),
            "instances": [
                {
                    "pixel_count": c.pixel_count,
                    "bbox": list(c.bbox),
                    "mean_confidence": round(c.mean_confidence, 4),
                    "length_px": round(c.length_px, 2),
                    "skeleton_length_px": round(c.skeleton_length_px, 2),
                    "polyline": c.polyline.round(1).tolist(),
                }
                for c in self.instances
            ],
        }


class CrackSegmenter:
    """Crack segmentation with the packaged (or a given) ONNX model; loads it on first use.

    Parameters
    ----------
    model_path : path to an ONNX file with a ``.json`` sibling; default the packaged model.
    threshold : decision threshold; default the one calibrated on validation data (model JSON).
    tile : largest tile side in px (a multiple of 16).
    overlap : minimum overlap between tiles in px.
    min_instance_pixels : connected regions smaller than this are dropped from the mask.
    threads : ONNX Runtime intra-op threads (default: all cores). With two or more, the tiles of
        a large image run two at a time, each on its own session with half the threads.
    large_image_pixels : above this many pixels an image is segmented with bounded memory:
        tiles of at most ``large_tile`` px (the model's working memory grows with the tile's
        area: about 300 MB at 768 px against 550 MB at 1024), a float16 probability map, and
        ONNX Runtime's arena handed back after the last tile, before the crack instances are
        traced. A 100-megapixel capture then peaks under 1.5 GB and a 20-megapixel one under
        900 MB (the ordinary path needs 1.3 GB at 20 MP), at the same speed: 768-px tiles
        cover a 24-MP frame with as little overlap as 1024-px ones.
    large_tile : largest tile side in px for large images run one tile at a time (a multiple
        of 16).
    large_parallel_tile : largest tile side in px for large images run two tiles at a time (a
        multiple of 16); default: the model's ``tiling.large_parallel_tile``, else 544. Two
        tiles in flight should need about the working memory of one 768-px tile of model
        1.1.1, so that a large image keeps its memory bound and still uses both cores: 544 px
        for CrackNet-Lite (1.1.x: 325 MB against 290 MB), 768 px for CrackNet-Half (the
        distilled student, not shipped, which has no full-resolution layers; 24-MP peaks 607 MB
        against 894 MB for 1.1.1 at 768). Smaller tiles overlap more (at 544 px, 10 % more
        pixels computed on a 24-megapixel frame than at 768).
    parallel_max_pixels : above this many pixels the tiles run one at a time (on the session
        with all the threads). The default (150 MP, the largest image accepted) runs every
        multi-tile image two tiles at a time when there are two or more threads.

    Thread-safe: one instance may serve several threads.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        threshold: float | None = None,
        tile: int = 1024,
        overlap: int = 64,
        min_instance_pixels: int = 16,
        threads: int | None = None,
        large_image_pixels: int = 16_000_000,
        large_tile: int = 768,
        large_parallel_tile: int | None = None,
        parallel_max_pixels: int = MAX_PIXELS,
    ) -> None:
        sides = {"large_tile": large_tile, "large_parallel_tile": large_parallel_tile}
        for name, side in sides.items():
            if side is not None and (side < 64 or side % 16):
                raise ValueError(f"{name} must be a multiple of 16 and >= 64, got {side}")
        if large_image_pixels < 1:
            raise ValueError("large_image_pixels must be >= 1")
        if parallel_max_pixels < 1:
            raise ValueError("parallel_max_pixels must be >= 1")
        if tile < 64 or tile % 16:
            raise ValueError(f"tile must be a multiple of 16 and >= 64, got {tile}")
        if not 0 <= overlap < tile // 2:
            raise ValueError(f"overlap must be in [0, tile/2), got {overlap}")
        if threshold is not None and not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        if min_instance_pixels < 1:
            raise ValueError("min_instance_pixels must be >= 1")
        if threads is not None and threads < 1:
            raise ValueError("threads must be >= 1")
        self.model_path = model_path
        self.tile = tile
        self.overlap = overlap
        self.min_instance_pixels = min_instance_pixels
        self.threads = threads
        self.large_image_pixels = large_image_pixels
        self.large_tile = large_tile
        self.large_parallel_tile = large_parallel_tile
        self.parallel_max_pixels = parallel_max_pixels
        self._threshold = threshold
        self._info: ModelInfo | None = None
        self._session: Any = None
        self._tile_sessions: list[Any] = []
        self._lock = threading.Lock()

    @property
    def info(self) -> ModelInfo:
        """The model's metadata (loads the JSON on first access)."""
        if self._info is None:
            self._info = load_model_info(self.model_path)
        return self._info

    @property
    def threshold(self) -> float:
        """Decision threshold in use."""
        return self._threshold if self._threshold is not None else self.info.threshold

    @property
    def model_version(self) -> str:
        """Version string of the model."""
        return self.info.version

    @property
    def tile_workers(self) -> int:
        """Tiles run at once for a multi-tile image: 2 with two or more threads, else 1."""
        return min(_TILE_WORKERS, self._thread_count())

    def _thread_count(self) -> int:
        return self.threads if self.threads is not None else os.cpu_count() or 1

    def session(self) -> Any:
        """The ONNX Runtime session for one-tile images (created on first call)."""
        with self._lock:
            if self._session is None:
                self._session = self._new_session(self.threads)
            return self._session

    def tiles_in_flight(self, pixels: int) -> int:
        """Tile runs at once for a multi-tile image of ``pixels`` pixels."""
        return self.tile_workers if pixels <= self.parallel_max_pixels else 1

    def tile_side(self, pixels: int) -> int:
        """Largest tile side in px that :meth:`segment` uses for an image of ``pixels`` pixels."""
        if pixels <= self.large_image_pixels:
            return self.tile
        if self.tiles_in_flight(pixels) == 1:
            return min(self.tile, self.large_tile)
        return min(self.tile, self.parallel_tile)

    @property
    def parallel_tile(self) -> int:
        """Largest tile side in px for large images run two tiles at a time (see the class)."""
        if self.large_parallel_tile is not None:
            return self.large_parallel_tile
        return self.info.large_parallel_tile or _DEFAULT_LARGE_PARALLEL_TILE

    def _sessions_for_tiles(self, pixels: int) -> list[Any]:
        """One session per tile run in flight, the threads split between them."""
        workers = self.tiles_in_flight(pixels)
        if workers == 1:
            return [self.session()]
        with self._lock:
            if not self._tile_sessions:
                each = self._thread_count() // workers
                self._tile_sessions = [self._new_session(each) for _ in range(workers)]
            return list(self._tile_sessions)

    def _new_session(self, threads: int | None) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # Without the pre-planned memory pattern the peak of a run is 100-200 MB lower
        # at the same speed (measured on 384x544 to 864x912 px inputs).
        opts.enable_mem_pattern = False
        if threads is not None:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        try:
            return ort.InferenceSession(
                read_model_bytes(self.model_path), opts, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own error types
            raise ModelLoadError(f"cannot load crack model: {err}") from err

    def _infer(
        self,
        tile: NDArray[np.generic],
        full_scale: float,
        *,
        shrink: bool = False,
        session: Any = None,
    ) -> NDArray[np.float32]:
        """Probability of one tile (any size >= 16 px): pad to the model multiple, run, crop.

        Runs on ``session`` (default :meth:`session`).

        ``shrink`` hands ONNX Runtime's unused arena memory back after the run (a large tile
        grows the arena by hundreds of MB, which it would otherwise keep for the process).
        """
        info = self.info
        rgb = to_rgb8(tile, full_scale=full_scale)
        h, w = rgb.shape[:2]
        m = info.multiple_of
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            rgb = np.asarray(
                cv2.copyMakeBorder(rgb, 0, ph, 0, pw, cv2.BORDER_REFLECT_101), dtype=np.uint8
            )
        x = cv2.dnn.blobFromImageWithParams(rgb, _blob_params(info.mean, info.std))
        sess = self.session() if session is None else session
        options = None
        if shrink:
            import onnxruntime as ort

            options = ort.RunOptions()
            options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        (prob,) = sess.run(None, {sess.get_inputs()[0].name: x}, options)
        return np.ascontiguousarray(prob[0, 0, :h, :w], dtype=np.float32)

    def release_memory(self) -> None:
        """Drop the ONNX Runtime session and the working memory it holds (reloaded on use)."""
        with self._lock:
            self._session = None
            self._tile_sessions = []

    def probability(self, image: NDArray[np.generic]) -> NDArray[np.float32]:
        """Crack probability ``(H, W)`` float32 for an image (see :func:`check_image` for inputs).

        Raises
        ------
        VisionInputError
            Unsupported shape, dtype, size or values.
        """
        check_image(image)
        return self._probability(image, tile=self.tile, dtype=np.float32)  # type: ignore[return-value]

    def _probability(
        self,
        image: NDArray[np.generic],
        *,
        tile: int,
        dtype: type[np.floating[Any]],
        shrink: bool = False,
    ) -> NDArray[np.floating[Any]]:
        """Blended probability of an image cut into tiles of at most ``tile`` px.

        The blending ramps of two neighbouring tiles sum to 1 across their overlap (see
        :func:`ramp_weights`), so the weighted sum needs no normalisation. ``shrink`` hands
        ONNX Runtime's arena back after the last tile of each session.

        Up to ``parallel_max_pixels``, tiles run on :attr:`tile_workers` sessions at once (tile
        ``k`` on session ``k % workers``) and are blended in order as they finish, at most
        ``workers`` ahead of the blending, so the results equal those of one tile at a time.
        """
        full = value_scale(image)
        height, width = image.shape[:2]
        m = self.info.multiple_of
        ys = axis_tiles(height, max_tile=tile, overlap=self.overlap, multiple=m)
        xs = axis_tiles(width, max_tile=tile, overlap=self.overlap, multiple=m)
        if len(ys) == 1 and len(xs) == 1:
            return self._infer(image, full, shrink=shrink).astype(dtype, copy=False)
        out = np.empty((height, width), dtype)
        band = ys[0][1]
        acc = np.zeros((band, width), np.float32)
        weights: dict[tuple[tuple[int, int, int], tuple[int, int, int]], NDArray[np.float32]] = {}
        top = 0
        grid = [(j, i) for j in range(len(ys)) for i in range(len(xs))]
        sessions = self._sessions_for_tiles(height * width)
        workers = len(sessions)

        def run(k: int) -> NDArray[np.float32]:
            j, i = grid[k]
            (y0, th), (x0, tw) = ys[j], xs[i]
            last = k + workers >= len(grid)  # the last tile of its session
            window = image[y0 : y0 + th, x0 : x0 + tw]
            return self._infer(window, full, shrink=shrink and last, session=sessions[k % workers])

        with ThreadPoolExecutor(workers, thread_name_prefix="crack-tile") as pool:
            pending: deque[Future[NDArray[np.float32]]] = deque(
                pool.submit(run, k) for k in range(min(workers, len(grid)))
            )
            for k, (j, i) in enumerate(grid):
                p = pending.popleft().result()
                if k + workers < len(grid):  # keep every session busy while this one blends
                    pending.append(pool.submit(run, k + workers))
                (y0, th), (x0, tw) = ys[j], xs[i]
                if y0 > top:  # rows above y0 are final: write them out and shift the band
                    n = y0 - top
                    out[top:y0] = acc[:n]
                    acc[:-n] = acc[n:].copy()
                    acc[-n:] = 0.0
                    top = y0
                key = (_overlaps(ys, j), _overlaps(xs, i))
                if key not in weights:  # tiles are equal: a few kinds (edge, corner, inside)
                    weights[key] = np.outer(_ramp(*key[0]), _ramp(*key[1]))
                cv2.accumulateProduct(p, weights[key], acc[:th, x0 : x0 + tw])
        out[top:] = acc[: height - top]
        return out

    def segment(self, image: NDArray[np.generic]) -> CrackSegmentation:
        """Probability map, binary mask and crack instances of one image.

        Parameters
        ----------
        image : (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA array; uint8, uint16 or
            float in [0, 1]; both sides >= 16 px.
        """
        check_image(image)
        pixels = image.shape[0] * image.shape[1]
        if pixels > self.large_image_pixels:
            tile = self.tile_side(pixels)
            prob = self._probability(image, tile=tile, dtype=np.float16, shrink=True)
        else:
            prob = self._probability(image, tile=self.tile, dtype=np.float32)
        mask = prob >= prob.dtype.type(self.threshold)
        instances = extract_instances(mask, prob, min_pixels=self.min_instance_pixels)
        if self.min_instance_pixels > 1:
            mask = _keep(mask, instances)
        return CrackSegmentation(
            probability=prob,
            mask=mask,
            instances=instances,
            threshold=self.threshold,
            model_version=self.model_version,
        )


_TILE_WORKERS = 2  # tile runs in flight; each adds one tile's working memory (~300 MB at 768 px)
# Two tiles in flight of a model whose card states no tile size: CrackNet-Lite's (see the class).
_DEFAULT_LARGE_PARALLEL_TILE = 544


def _overlaps(tiles: list[tuple[int, int]], i: int) -> tuple[int, int, int]:
    """``(size, before, after)`` of tile ``i``: its size and its overlaps with its neighbours."""
    start, size = tiles[i]
    before = tiles[i - 1][0] + tiles[i - 1][1] - start if i > 0 else 0
    after = start + size - tiles[i + 1][0] if i + 1 < len(tiles) else 0
    return size, max(0, before), max(0, after)


def _ramp(size: int, before: int, after: int) -> NDArray[np.float32]:
    return ramp_weights(size, before=before, after=after)


@lru_cache(maxsize=4)
def _blob_params(mean: tuple[float, ...], std: tuple[float, ...]) -> Any:
    """OpenCV's one-pass ``(x - mean) / std``, HWC uint8 to NCHW float32, for the model input."""
    return cv2.dnn.Image2BlobParams(
        scalefactor=tuple(1.0 / float(s) for s in std),
        mean=tuple(float(m) for m in mean),
        swapRB=False,
        ddepth=cv2.CV_32F,
    )


def _keep(mask: NDArray[np.bool_], instances: tuple[CrackInstance, ...]) -> NDArray[np.bool_]:
    out = np.zeros_like(mask)
    for c in instances:
        x, y, w, h = c.bbox
        out[y : y + h, x : x + w] |= c.mask
    return out


@lru_cache(maxsize=1)
def default_segmenter() -> CrackSegmenter:
    """A shared :class:`CrackSegmenter` with the packaged model and default settings."""
    return CrackSegmenter()


def overlay(
    image: NDArray[np.generic],
    segmentation: CrackSegmentation,
    *,
    color: tuple[int, int, int] = (255, 40, 40),
    alpha: float = 0.6,
    draw_polylines: bool = True,
) -> NDArray[np.uint8]:
    """RGB uint8 copy of ``image`` with the crack mask tinted and instance polylines drawn.

    Parameters
    ----------
    image : the image that was segmented (any supported dtype/channels)
    segmentation : its result
    color : RGB tint of crack pixels
    alpha : opacity of the tint in [0, 1]
    draw_polylines : draw each instance's skeleton polyline in yellow
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if image.shape[:2] != segmentation.mask.shape:
        raise VisionInputError(
            f"image {image.shape[:2]} and segmentation {segmentation.mask.shape} differ in size"
        )
    rgb = np.array(to_rgb8(image), copy=True)  # to_rgb8 may return the input itself
    m = segmentation.mask
    tint = np.asarray(color, np.float32)
    rgb[m] = (rgb[m].astype(np.float32) * (1.0 - alpha) + tint * alpha + 0.5).astype(np.uint8)
    if draw_polylines:
        thick = max(1, round(max(m.shape) / 1500))
        for c in segmentation.instances:
            if len(c.polyline) >= 2:
                pts = c.polyline.round().astype(np.int32).reshape(-1, 1, 2)
                cv2.polylines(rgb, [pts], False, (255, 230, 0), thick, cv2.LINE_AA)
    return rgb
