"""Field corruptions of inspection images at graded severities (robustness evaluation).

Each corruption maps an RGB ``uint8`` image to a corrupted ``uint8`` image of the same shape; the
severity runs 1 (mild) .. 3 (severe). They imitate what cameras on hostile sites see: defocus or
motion blur, sensor noise in low light, strong JPEG compression on poor links, under-exposure,
rain streaks across the lens and haze (fog, dust). The levels are declared as data
(``CORRUPTION_LEVELS``), in the spirit of Hendrycks & Dietterich, "Benchmarking neural network
robustness to common corruptions and perturbations", ICLR 2019.

All corruptions are deterministic for a given ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["CORRUPTIONS", "CORRUPTION_LEVELS", "SEVERITIES", "corrupt"]

SEVERITIES: tuple[int, ...] = (1, 2, 3)

#: Parameter of each corruption at severity 1, 2, 3.
#: blur: Gaussian sigma (px); noise: sigma (grey levels of 255); jpeg: quality;
#: low_light: exposure factor (with shot noise); rain: streak density (streaks per megapixel);
#: haze: transmission lost (0 = clear, 1 = opaque).
CORRUPTION_LEVELS: Mapping[str, tuple[float, float, float]] = MappingProxyType(
    {
        "blur": (0.8, 1.5, 2.5),
        "noise": (6.0, 12.0, 20.0),
        "jpeg": (40.0, 20.0, 10.0),
        "low_light": (0.5, 0.3, 0.15),
        "rain": (400.0, 1000.0, 2000.0),
        "haze": (0.25, 0.45, 0.65),
    }
)

Image = NDArray[np.uint8]


def _to_uint8(values: NDArray[np.floating]) -> Image:
    return np.asarray(np.clip(np.rint(values), 0, 255), dtype=np.uint8)


def _blur(img: Image, sigma: float, rng: np.random.Generator) -> Image:
    return np.asarray(cv2.GaussianBlur(img, (0, 0), sigmaX=sigma), dtype=np.uint8)


def _noise(img: Image, sigma: float, rng: np.random.Generator) -> Image:
    out = img.astype(np.float32) + rng.normal(0.0, sigma, img.shape).astype(np.float32)
    return _to_uint8(out)


def _jpeg(img: Image, quality: float, rng: np.random.Generator) -> Image:
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 RGB image
        raise RuntimeError("JPEG encoding failed")
    dec = np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), dtype=np.uint8)
    return np.ascontiguousarray(dec[..., ::-1])


def _low_light(img: Image, exposure: float, rng: np.random.Generator) -> Image:
    # Fewer photons: scale the signal, add shot noise (Poisson-like) and read noise, then the
    # camera's auto gain brings the mean back up, amplifying the noise.
    lin = img.astype(np.float32) * exposure
    shot = rng.normal(0.0, 1.0, img.shape).astype(np.float32) * np.sqrt(np.maximum(lin, 0.0))
    read = rng.normal(0.0, 2.0, img.shape).astype(np.float32)
    out = (lin + shot + read) / exposure * 0.8
    return _to_uint8(out)


def _rain(img: Image, density: float, rng: np.random.Generator) -> Image:
    h, w = img.shape[:2]
    n = round(density * h * w / 1e6)
    layer = np.zeros((h, w), np.float32)
    angle = rng.uniform(-0.3, 0.3)
    for _ in range(n):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        length = float(rng.uniform(8, 25))
        x2 = round(x + length * float(np.sin(angle)))
        y2 = round(y + length * float(np.cos(angle)))
        cv2.line(layer, (x, y), (x2, y2), float(rng.uniform(0.4, 0.9)), 1, cv2.LINE_AA)
    streaks = np.asarray(cv2.GaussianBlur(layer, (0, 0), sigmaX=0.7), np.float32)[..., None]
    out = img.astype(np.float32) * (1.0 - 0.5 * streaks) + 200.0 * 0.5 * streaks
    return _to_uint8(out)


def _haze(img: Image, loss: float, rng: np.random.Generator) -> Image:
    airlight = 210.0
    out = img.astype(np.float32) * (1.0 - loss) + airlight * loss
    return _to_uint8(out)


Corruption = Callable[[Image, float, np.random.Generator], Image]

CORRUPTIONS: Mapping[str, Corruption] = MappingProxyType(
    {
        "blur": _blur,
        "noise": _noise,
        "jpeg": _jpeg,
        "low_light": _low_light,
        "rain": _rain,
        "haze": _haze,
    }
)


def corrupt(image: Image, name: str, severity: int, *, seed: int = 0) -> Image:
    """Apply the corruption ``name`` at ``severity`` (1-3) to an RGB ``uint8`` image.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB image.
    name : one of ``CORRUPTIONS``.
    severity : 1 (mild), 2 (middle) or 3 (severe).
    seed : seed of the random parts (noise, rain streaks).

    Returns
    -------
    (H, W, 3) uint8 corrupted image.
    """
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose one of {sorted(CORRUPTIONS)}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    level = CORRUPTION_LEVELS[name][severity - 1]
    return CORRUPTIONS[name](image, level, np.random.default_rng(seed))
