"""Sub-pixel subset matching: integer NCC search, then inverse-compositional Gauss-Newton (IC-GN)
on the zero-normalised SSD criterion with cubic B-spline interpolation (Pan et al., 2013).

The ZNSSD criterion is insensitive to brightness and contrast changes between frames; the
B-spline interpolant is far less biased at sub-pixel shifts than bilinear/bicubic (and than
phase correlation, OpenCV issue 9158). Two shape functions: ``translation`` (rigid subset, fast
separable interpolation) and ``affine`` (first-order: the subset may stretch, shear and rotate).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb, factorial
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import correlate1d, map_coordinates, spline_filter

__all__ = [
    "DEFAULT_SPLINE_ORDER",
    "MatchResult",
    "ReferenceSubset",
    "ShapeFunction",
    "match_subset",
]

ShapeFunction = Literal["translation", "affine"]

_MARGIN = 10  # coefficient window margin around a subset (B-spline prefilter edge effects decay)
#: derivative and value of the B-spline interpolant at the knots, per spline order
_KNOT_FILTERS = {
    3: (np.array([-0.5, 0.0, 0.5]), np.array([1.0, 4.0, 1.0]) / 6.0),
    5: (
        np.array([-1.0, -10.0, 0.0, 10.0, 1.0]) / 24.0,
        np.array([1.0, 26.0, 66.0, 26.0, 1.0]) / 120.0,
    ),
}
DEFAULT_SPLINE_ORDER = 5
_MIN_STD = 2.0  # grey levels: a flatter subset has no texture to track
_MAX_SATURATED = 0.2


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchResult:
    """Result of matching one subset in one frame.

    Attributes
    ----------
    dx, dy : float
        Displacement of the subset centre, px (``nan`` when no estimate).
    score : float
        Zero-normalised cross-correlation at the solution (1 = perfect, <= 0 = none).
    iterations : int
        IC-GN iterations used.
    reliable : bool
        Converged, inside the frame, textured, and ``score >= min_score``.
    reason : str
        Empty when reliable, else why not.
    """

    dx: float
    dy: float
    score: float
    iterations: int
    reliable: bool
    reason: str = ""


class ReferenceSubset:
    """Precomputed reference data of one subset (template, gradients, Hessian).

    Parameters
    ----------
    reference : numpy.ndarray
        ``(H, W)`` float reference frame.
    x, y, w, h : int
        Subset top-left corner and size in the reference, px.
    shape : str
        ``"translation"`` or ``"affine"``.
    white_level : float
        Grey level of a saturated pixel (255 for 8-bit, 65535 for 16-bit frames).
    order : int
        B-spline interpolation order, 3 (cubic) or 5 (quintic, less bias on fine speckle).
    """

    def __init__(
        self,
        reference: NDArray[np.float64],
        x: int,
        y: int,
        w: int,
        h: int,
        shape: ShapeFunction,
        *,
        white_level: float = 255.0,
        order: int = DEFAULT_SPLINE_ORDER,
    ) -> None:
        self.x, self.y, self.w, self.h, self.shape = x, y, w, h, shape
        self.level = white_level / 255.0  # thresholds are given for 8-bit grey levels
        H, W = reference.shape
        m = _MARGIN
        x0, y0 = max(x - m, 0), max(y - m, 0)
        x1, y1 = min(x + w + m, W), min(y + h + m, H)
        win = reference[y0:y1, x0:x1]
        if order not in _KNOT_FILTERS:
            raise ValueError(f"spline order must be 3 or 5, got {order}")
        self.order = order
        d1, b0 = _KNOT_FILTERS[order]
        coeff = spline_filter(win, order=order, mode="mirror")
        gx = correlate1d(correlate1d(coeff, d1, axis=1, mode="mirror"), b0, axis=0, mode="mirror")
        gy = correlate1d(correlate1d(coeff, d1, axis=0, mode="mirror"), b0, axis=1, mode="mirror")
        sl = (slice(y - y0, y - y0 + h), slice(x - x0, x - x0 + w))
        self.template = np.asarray(reference[y : y + h, x : x + w], np.float64)
        self.template_f32 = self.template.astype(np.float32)
        t = self.template.ravel()
        self.t_zm = t - t.mean()
        self.t_norm = float(np.sqrt((self.t_zm**2).sum()))
        self.std = float(t.std())
        top = white_level - 0.5 * self.level
        sat = float(np.mean((t >= top) | (t <= 0.5 * self.level)))
        self.saturated = sat
        fx = gx[sl].ravel()
        fy = gy[sl].ravel()
        self.cx = (w - 1) / 2.0
        self.cy = (h - 1) / 2.0
        if shape == "translation":
            jac = np.column_stack([fx, fy])
        else:
            xi, eta = np.meshgrid(np.arange(w) - self.cx, np.arange(h) - self.cy)
            xi, eta = xi.ravel(), eta.ravel()
            jac = np.column_stack([fx, fx * xi, fx * eta, fy, fy * xi, fy * eta])
            self.xi, self.eta = xi, eta
        self.jac = jac
        hess = jac.T @ jac
        self.sssig = float((fx**2).sum() + (fy**2).sum()) / (w * h)
        try:
            self.hess_inv = np.linalg.inv(hess)
        except np.linalg.LinAlgError:
            self.hess_inv = np.zeros_like(hess)

    @property
    def textured(self) -> bool:
        """Enough contrast and gradient to be tracked."""
        return (
            self.std >= _MIN_STD * self.level
            and self.sssig > 0.5 * self.level**2
            and self.saturated <= _MAX_SATURATED
        )


_BSPLINE_TERMS = {
    n: (
        np.arange(n + 2, dtype=np.float64),
        np.array([(-1) ** k * comb(n + 1, k) for k in range(n + 2)], np.float64) / factorial(n),
    )
    for n in (3, 5)
}


def _bspline(x: NDArray[np.float64], order: int) -> NDArray[np.float64]:
    """Centred B-spline of ``order`` (3 or 5) at ``x`` (truncated-power formula)."""
    ks, coef = _BSPLINE_TERMS[order]
    half = (order + 1) / 2.0
    powers = np.clip(x[:, None] + half - ks[None, :], 0.0, None) ** order
    return np.asarray(powers @ coef, np.float64)


def _bspline_weights(f: float, order: int) -> NDArray[np.float64]:
    """Weights of coefficients ``k - a .. k + a + 1`` (``a = order // 2``) for the value at
    ``k + f`` (0 <= f < 1)."""
    a = order // 2
    taps = np.arange(-a, a + 2, dtype=np.float64)
    return _bspline(f - taps, order)


def _interp_translation(
    coeff: NDArray[np.float64], ox: float, oy: float, w: int, h: int, order: int
) -> NDArray[np.float64] | None:
    """Values at ``(ox + j, oy + i)`` for a ``h x w`` grid from B-spline coefficients."""
    ix, iy = int(np.floor(ox)), int(np.floor(oy))
    fx, fy = ox - ix, oy - iy
    a = order // 2
    if (
        ix - a < 0
        or iy - a < 0
        or ix + w + a + 1 > coeff.shape[1]
        or iy + h + a + 1 > coeff.shape[0]
    ):
        return None
    block = np.ascontiguousarray(coeff[iy - a : iy + h + a + 1, ix - a : ix + w + a + 1])
    # separable correlation with the B-spline weights (anchor at the kernel's first tap)
    out = cv2.sepFilter2D(
        block,
        cv2.CV_64F,
        _bspline_weights(fx, order),
        _bspline_weights(fy, order),
        anchor=(0, 0),
        borderType=cv2.BORDER_CONSTANT,
    )
    return np.asarray(out[:h, :w], np.float64)


def _integer_search(
    frame: NDArray[np.float32], ref: ReferenceSubset, guess: tuple[float, float], radius: int
) -> tuple[float, float, float] | None:
    """NCC search around ``guess``; returns sub-pixel ``(dx, dy, ncc)`` from a parabola fit."""
    H, W = frame.shape
    gx, gy = round(guess[0]), round(guess[1])
    x0 = max(ref.x + gx - radius, 0)
    y0 = max(ref.y + gy - radius, 0)
    x1 = min(ref.x + gx + radius + ref.w, W)
    y1 = min(ref.y + gy + radius + ref.h, H)
    if x1 - x0 < ref.w or y1 - y0 < ref.h:
        return None
    window = frame[y0:y1, x0:x1]
    res = cv2.matchTemplate(window, ref.template_f32, cv2.TM_CCOEFF_NORMED)
    _, best, _, loc = cv2.minMaxLoc(res)
    bx, by = loc
    sub = [0.0, 0.0]
    for axis, (b, n) in enumerate(((bx, res.shape[1]), (by, res.shape[0]))):
        if 0 < b < n - 1:
            if axis == 0:
                a, c = res[by, bx - 1], res[by, bx + 1]
            else:
                a, c = res[by - 1, bx], res[by + 1, bx]
            den = a - 2 * best + c
            if den < 0:
                sub[axis] = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    return x0 + bx + sub[0] - ref.x, y0 + by + sub[1] - ref.y, float(best)


def _affine_matrix(p: NDArray[np.float64]) -> NDArray[np.float64]:
    u, ux, uy, v, vx, vy = p
    return np.array([[1 + ux, uy, u], [vx, 1 + vy, v], [0.0, 0.0, 1.0]])


def match_subset(
    frame: NDArray[np.float32],
    ref: ReferenceSubset,
    *,
    guess: tuple[float, float] = (0.0, 0.0),
    search_radius: int = 16,
    min_score: float = 0.8,
    max_iterations: int = 30,
    tolerance_px: float = 1e-4,
    integer_only: bool = False,
    prior: bool = False,
) -> MatchResult:
    """Find the reference subset in ``frame`` near ``guess`` to sub-pixel accuracy.

    Parameters
    ----------
    frame : numpy.ndarray
        ``(H, W)`` float32 deformed frame.
    ref : ReferenceSubset
        The precomputed reference subset.
    guess : tuple of float
        Expected displacement ``(dx, dy)``, px (the previous frame's result in a sequence).
    search_radius : int
        Integer search half-range around the guess, px.
    min_score : float
        ZNCC below which the match is flagged unreliable.
    max_iterations : int
        IC-GN iteration limit.
    tolerance_px : float
        Convergence threshold on the update of the subset centre, px.
    integer_only : bool
        Stop after the integer search (the baseline of the benchmark).
    prior : bool
        ``guess`` is a sub-pixel result of the previous frame: refine from it directly and run
        the integer search only when that fails.

    Returns
    -------
    MatchResult
    """
    nan = float("nan")
    if not ref.textured:
        why = "saturated region" if ref.saturated > _MAX_SATURATED else "blank region (no texture)"
        return MatchResult(dx=nan, dy=nan, score=0.0, iterations=0, reliable=False, reason=why)
    if prior and not integer_only:
        # a sequence: start from the previous frame's result and skip the search if it holds
        first = _refine(
            frame,
            ref,
            guess[0],
            guess[1],
            min_score=min_score,
            max_iterations=max_iterations,
            tolerance_px=tolerance_px,
        )
        if first.reliable:
            return first
    found = _integer_search(frame, ref, guess, search_radius)
    if found is None:
        return MatchResult(
            dx=nan, dy=nan, score=0.0, iterations=0, reliable=False, reason="region left the frame"
        )
    dx0, dy0, ncc0 = found
    if ncc0 < min_score and search_radius < 64:
        # a jump larger than the search range: look once more, four times wider
        wider = _integer_search(frame, ref, guess, 4 * search_radius)
        if wider is not None and wider[2] > ncc0:
            dx0, dy0, ncc0 = wider
    if integer_only:
        return MatchResult(
            dx=float(round(dx0)),
            dy=float(round(dy0)),
            score=ncc0,
            iterations=0,
            reliable=ncc0 >= min_score,
            reason="" if ncc0 >= min_score else "low correlation",
        )
    return _refine(
        frame,
        ref,
        dx0,
        dy0,
        min_score=min_score,
        max_iterations=max_iterations,
        tolerance_px=tolerance_px,
    )


def _inside(
    ref: ReferenceSubset,
    dx: float,
    dy: float,
    width: int,
    height: int,
    affine: NDArray[np.float64] | None = None,
) -> bool:
    """Whether the displaced subset lies inside the frame."""
    if affine is None:
        return bool(
            ref.x + dx >= 0
            and ref.y + dy >= 0
            and ref.x + dx + ref.w - 1 <= width - 1
            and ref.y + dy + ref.h - 1 <= height - 1
        )
    A = _affine_matrix(affine)
    corners = np.array(
        [
            [-ref.cx, -ref.cy, 1.0],
            [ref.cx, -ref.cy, 1.0],
            [ref.cx, ref.cy, 1.0],
            [-ref.cx, ref.cy, 1.0],
        ]
    )
    moved = corners @ A.T
    xs = ref.x + ref.cx + moved[:, 0]
    ys = ref.y + ref.cy + moved[:, 1]
    return bool(
        xs.min() >= 0 and ys.min() >= 0 and xs.max() <= width - 1 and ys.max() <= height - 1
    )


def _refine(
    frame: NDArray[np.float32],
    ref: ReferenceSubset,
    dx0: float,
    dy0: float,
    *,
    min_score: float,
    max_iterations: int,
    tolerance_px: float,
) -> MatchResult:
    """IC-GN from the start displacement ``(dx0, dy0)``."""
    nan = float("nan")
    H, W = frame.shape
    left_frame = MatchResult(
        dx=nan, dy=nan, score=0.0, iterations=0, reliable=False, reason="region left the frame"
    )
    if not _inside(ref, dx0, dy0, W, H):
        return left_frame
    m = _MARGIN + 2
    ox0 = int(np.floor(ref.x + dx0)) - m
    oy0 = int(np.floor(ref.y + dy0)) - m
    ox1 = ox0 + ref.w + 2 * m + 1
    oy1 = oy0 + ref.h + 2 * m + 1
    win = frame[max(oy0, 0) : min(oy1, H), max(ox0, 0) : min(ox1, W)].astype(np.float64)
    pads = ((max(-oy0, 0), max(oy1 - H, 0)), (max(-ox0, 0), max(ox1 - W, 0)))
    if any(v for pair in pads for v in pair):
        # a subset at the frame edge: mirror the frame so the spline window keeps its margin
        win = np.pad(win, pads, mode="reflect")
    wx0, wy0 = ox0, oy0
    coeff = spline_filter(win, order=ref.order, mode="mirror")
    if ref.shape == "translation":
        p = np.array([dx0, dy0])
    else:
        p = np.array([dx0, 0.0, 0.0, dy0, 0.0, 0.0])
    converged = False
    it = 0
    g: NDArray[np.float64] | None = None
    while it < max_iterations:
        it += 1
        if ref.shape == "translation":
            g = _interp_translation(
                coeff, ref.x + p[0] - wx0, ref.y + p[1] - wy0, ref.w, ref.h, ref.order
            )
            if g is None:
                break
            gv = g.ravel()
        else:
            A = _affine_matrix(p)
            xs = ref.x + ref.cx + A[0, 0] * ref.xi + A[0, 1] * ref.eta + A[0, 2] - wx0
            ys = ref.y + ref.cy + A[1, 0] * ref.xi + A[1, 1] * ref.eta + A[1, 2] - wy0
            if (
                xs.min() < 3
                or ys.min() < 3
                or xs.max() > coeff.shape[1] - 4
                or ys.max() > coeff.shape[0] - 4
            ):
                g = None
                break
            gv = map_coordinates(coeff, [ys, xs], order=ref.order, prefilter=False, mode="mirror")
            g = gv
        g_zm = gv - gv.mean()
        g_norm = float(np.sqrt((g_zm**2).sum()))
        if g_norm < 1e-9:
            g = None
            break
        err = ref.t_zm - (ref.t_norm / g_norm) * g_zm
        dp = -(ref.hess_inv @ (ref.jac.T @ err))
        if ref.shape == "translation":
            p = p - dp
            step = float(np.hypot(dp[0], dp[1]))
        else:
            A = _affine_matrix(p) @ np.linalg.inv(_affine_matrix(dp))
            p = np.array([A[0, 2], A[0, 0] - 1, A[0, 1], A[1, 2], A[1, 0], A[1, 1] - 1])
            step = float(
                np.hypot(dp[0], dp[3])
                + np.hypot(dp[1], dp[4]) * ref.cx
                + np.hypot(dp[2], dp[5]) * ref.cy
            )
        if step < tolerance_px:
            converged = True
            break
    if g is None:
        return MatchResult(
            dx=nan, dy=nan, score=0.0, iterations=it, reliable=False, reason="region left the frame"
        )
    # score at the final parameters
    if ref.shape == "translation":
        gf = _interp_translation(
            coeff, ref.x + p[0] - wx0, ref.y + p[1] - wy0, ref.w, ref.h, ref.order
        )
        if gf is None:
            return MatchResult(
                dx=nan,
                dy=nan,
                score=0.0,
                iterations=it,
                reliable=False,
                reason="region left the frame",
            )
        gv = gf.ravel()
    g_zm = gv - gv.mean()
    score = float((ref.t_zm * g_zm).sum() / (ref.t_norm * float(np.sqrt((g_zm**2).sum())) + 1e-12))
    dx = float(p[0])
    dy = float(p[1] if ref.shape == "translation" else p[3])
    if not _inside(ref, dx, dy, W, H, p if ref.shape == "affine" else None):
        return left_frame
    reason = ""
    if not converged:
        reason = "did not converge"
    elif score < min_score:
        reason = "low correlation"
    return MatchResult(
        dx=dx, dy=dy, score=score, iterations=it, reliable=reason == "", reason=reason
    )
