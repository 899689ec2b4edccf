"""Typed wrapper of scikit-image thinning."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from skimage.morphology import skeletonize

__all__ = ["thin"]


def thin(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """1-px wide skeleton of a boolean mask (scikit-image ``skeletonize``, 8-connected)."""
    out = skeletonize(np.asarray(mask, dtype=np.bool_))  # type: ignore[no-untyped-call]
    return np.asarray(out, dtype=np.bool_)
