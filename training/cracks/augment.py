"""Field-condition augmentation for crack crops (numpy + OpenCV, seeded by the caller's RNG).

Geometry: random scale (log-uniform), rotation (any angle, plus 90-degree turns), flips, crops
biased towards crack pixels. Photometry: brightness/contrast/gamma, low light with sensor noise,
colour casts, greyscale, Gaussian and motion blur, cast shadows, wet surfaces (darker, more
saturated, specular highlights), glare, rain streaks, haze with a depth gradient and JPEG
artefacts. (These are drawn independently of ``infrasight.vision.corruptions``, the suite the
evaluation scores robustness with, so the evaluation does not reward learning one generator.)

Labels use 0 background, 1 crack, 255 ignore. Under resampling a crack pixel keeps its label where
at least 40 % of it is covered; partially covered pixels (15-40 %) are ignored.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from training.cracks.data import IGNORE


def _affine(
    image: NDArray[np.uint8], label: NDArray[np.uint8], rng: np.random.Generator, crop: int
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    h, w = label.shape
    scale = math.exp(rng.uniform(math.log(0.6), math.log(1.6)))  # output px per source px
    angle = 0.0
    if rng.random() < 0.35:
        angle = rng.uniform(-30.0, 30.0)
    angle += 90.0 * int(rng.integers(0, 4))
    # Centre: near a crack pixel 70 % of the time.
    pos = np.flatnonzero(label.ravel() == 1)
    if pos.size and rng.random() < 0.7:
        k = int(pos[rng.integers(0, pos.size)])
        cy, cx = divmod(k, w)
        cx += rng.uniform(-0.3, 0.3) * crop / scale
        cy += rng.uniform(-0.3, 0.3) * crop / scale
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, scale)
    m[0, 2] += crop / 2 - cx
    m[1, 2] += crop / 2 - cy
    if rng.random() < 0.5:  # horizontal flip of the output
        m[0] = -m[0]
        m[0, 2] += crop - 1
    border = cv2.BORDER_REFLECT_101
    img = cv2.warpAffine(image, m, (crop, crop), flags=cv2.INTER_LINEAR, borderMode=border)
    posf = cv2.warpAffine(
        (label == 1).astype(np.float32), m, (crop, crop), flags=cv2.INTER_LINEAR, borderMode=border
    )
    ign = cv2.warpAffine(
        (label == IGNORE).astype(np.float32),
        m,
        (crop, crop),
        flags=cv2.INTER_LINEAR,
        borderMode=border,
    )
    lab = np.zeros((crop, crop), np.uint8)
    lab[(posf > 0.15) | (ign > 0.5)] = IGNORE
    lab[posf >= 0.4] = 1
    return img, lab


def _shadow(img: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    h, w = img.shape[:2]
    n = int(rng.integers(3, 7))
    pts = np.stack([rng.uniform(-0.2, 1.2, n) * w, rng.uniform(-0.2, 1.2, n) * h], 1)
    hull = cv2.convexHull(pts.astype(np.int32))
    mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0)
    k = int(rng.integers(1, 12)) * 2 + 1
    mask = cv2.GaussianBlur(mask, (k, k), 0)
    dark = rng.uniform(0.35, 0.75)
    return img * (1.0 - (1.0 - dark) * mask[:, :, None])


def _wet(img: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    out = img * rng.uniform(0.55, 0.8)
    mean = out.mean(axis=2, keepdims=True)
    out = mean + (out - mean) * rng.uniform(1.1, 1.5)
    h, w = img.shape[:2]
    spec = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(0, 4))):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(4, max(5, w // 6))), int(rng.integers(2, max(3, h // 12))))
        cv2.ellipse(spec, c, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    if spec.any():
        spec = cv2.GaussianBlur(spec, (0, 0), rng.uniform(2.0, 6.0))
        out = out + spec[:, :, None] * rng.uniform(40, 120)
    return out


def _motion_blur(img: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    n = int(rng.integers(3, 8))
    k = np.zeros((n, n), np.float32)
    k[n // 2, :] = 1.0 / n
    rot = cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), rng.uniform(0, 180), 1.0)
    k = cv2.warpAffine(k, rot, (n, n))
    k /= max(float(k.sum()), 1e-6)
    return cv2.filter2D(img, -1, k)


def _rain(img: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    """Bright, slightly blurred streaks at one random slant and varying length and width."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w), np.float32)
    slant = rng.uniform(-0.5, 0.5)
    for _ in range(int(rng.uniform(50, 1500) * h * w / 1e6)):
        x, y = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        n = float(rng.uniform(5, 40))
        end = (round(x + n * math.sin(slant)), round(y + n * math.cos(slant)))
        cv2.line(
            layer,
            (round(x), round(y)),
            end,
            float(rng.uniform(0.2, 1.0)),
            int(rng.integers(1, 3)),
            cv2.LINE_AA,
        )
    layer = cv2.GaussianBlur(layer, (0, 0), rng.uniform(0.5, 1.5))[:, :, None]
    return img * (1.0 - 0.4 * layer) + rng.uniform(160, 240) * 0.4 * layer


def _haze(img: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    """Airlight blended in with a transmission that varies across the view (depth gradient)."""
    h, w = img.shape[:2]
    a = rng.uniform(-1, 1, size=2)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (a[0] * xx / max(w - 1, 1) + a[1] * yy / max(h - 1, 1)).astype(np.float32)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    loss = rng.uniform(0.1, 0.6) * (0.6 + 0.4 * ramp)[:, :, None]
    return img * (1.0 - loss) + rng.uniform(170, 235) * loss


def _glare(img: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    """A soft over-exposed blob (sun on wet concrete, a robot's lamp)."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    r = rng.uniform(0.1, 0.5) * max(h, w)
    blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[:, :, None]
    return img + blob * rng.uniform(60, 200)


def photometric(image: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    """Apply a random chain of field-condition photometric changes (RGB uint8 in and out)."""
    img = image.astype(np.float32)
    if rng.random() < 0.15:
        g = img @ np.array([0.299, 0.587, 0.114], np.float32)
        img = np.repeat(g[:, :, None], 3, axis=2)
    if rng.random() < 0.8:  # contrast / brightness / per-channel cast
        mean = img.mean()
        img = (img - mean) * rng.uniform(0.6, 1.4) + mean + rng.uniform(-30, 30)
        img = img * rng.uniform(0.9, 1.1, size=3).astype(np.float32)
    if rng.random() < 0.25:
        img = _shadow(img, rng)
    if rng.random() < 0.1:
        img = _wet(img, rng)
    if rng.random() < 0.08:
        img = _glare(img, rng)
    if rng.random() < 0.08:
        img = _haze(img, rng)
    if rng.random() < 0.15:  # low light: dark, then sensor noise is large relative to signal
        img = img * rng.uniform(0.15, 0.45)
        img = img + rng.normal(0, rng.uniform(2, 6), img.shape).astype(np.float32)
    img = np.clip(img, 0, 255)
    if rng.random() < 0.5:  # gamma
        img = 255.0 * (img / 255.0) ** rng.uniform(0.7, 1.5)
    r = rng.random()
    if r < 0.15:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.3))
    elif r < 0.22:
        img = _motion_blur(img, rng)
    if rng.random() < 0.08:
        img = _rain(img, rng)
    if rng.random() < 0.3:
        img = img + rng.normal(0, rng.uniform(2, 10), img.shape).astype(np.float32)
    out = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(out)


def augment(
    image: NDArray[np.uint8], label: NDArray[np.uint8], rng: np.random.Generator, *, crop: int
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Random ``crop`` x ``crop`` training view of one sample (image RGB uint8, label 0/1/255)."""
    img, lab = _affine(image, label, rng, crop)
    return photometric(img, rng), lab
