"""Classical dark-crack segmentation (morphological black-hat + hysteresis threshold).

A fallback for ``infrasight measure crack`` when no mask (from the crack model or an
annotator) is given. It finds thin dark lines on a brighter surface; it does not know stains,
joints or shadows from cracks, so a learned model's mask is preferred when available.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from skimage.filters import apply_hysteresis_threshold as _hysteresis

from infrasight.measure._image import as_grey_float

__all__ = ["segment_dark_cracks"]


def segment_dark_cracks(
    image: NDArray[np.generic],
    *,
    max_width_px: int = 25,
    min_length_px: int = 40,
    sensitivity: float = 4.0,
) -> NDArray[np.bool_]:
    """Mask of thin dark linear structures.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` grey or ``(H, W, 3)`` RGB image.
    max_width_px : int
        Widest crack to find, px (size of the closing element).
    min_length_px : int
        Drop components whose bounding box is shorter than this, px (pores, grains).
    sensitivity : float
        High hysteresis threshold in robust standard deviations of the black-hat response.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` bool mask.
    """
    grey = as_grey_float(image)
    size = 2 * (max_width_px // 2) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    smooth = cv2.GaussianBlur(grey, (0, 0), 0.8)
    blackhat = cv2.morphologyEx(smooth, cv2.MORPH_BLACKHAT, kernel)
    # normalise by the local surface brightness so shadows do not dominate
    local = cv2.GaussianBlur(grey, (0, 0), 3.0 * max_width_px) + 1.0
    resp = blackhat / local
    med = float(np.median(resp))
    mad = float(np.median(np.abs(resp - med))) * 1.4826 + 1e-6
    high = med + sensitivity * mad
    low = med + 0.5 * sensitivity * mad
    hysteresis: Any = _hysteresis
    mask = np.asarray(hysteresis(resp, low, high), np.bool_)
    # the response is also high beside a crack's dark core: keep pixels darker than their ring
    darker = grey < cv2.GaussianBlur(grey, (0, 0), 2.0 + max_width_px / 4.0) - 2.0 * mad * local
    mask &= darker | (resp > high)
    # cracks are long and thin: keep components whose extent reaches min_length_px
    _n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    keep = extent >= min_length_px
    keep[0] = False
    return np.asarray(keep[labels], np.bool_)
