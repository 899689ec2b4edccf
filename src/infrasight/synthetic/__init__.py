"""Synthetic captures with ground truth: cracked concrete, markers, ChArUco views, speckle.

Tests, benchmarks and the demo use these renderers; every output carries the exact geometry it
was drawn from.
"""

from __future__ import annotations

from infrasight.synthetic.crack_scene import CrackTruth, RenderedCrackScene, render_crack_scene
from infrasight.synthetic.crack_series import (
    CrackSeries,
    SeriesCrack,
    SeriesVisit,
    render_crack_series,
)
from infrasight.synthetic.markers import (
    CharucoViews,
    MarkerScene,
    paste_marker,
    render_charuco_views,
    render_marker_scene,
)
from infrasight.synthetic.speckle import speckle_field, speckle_image
from infrasight.synthetic.texture import concrete_texture, illumination_field

__all__ = [
    "CharucoViews",
    "CrackSeries",
    "CrackTruth",
    "MarkerScene",
    "RenderedCrackScene",
    "SeriesCrack",
    "SeriesVisit",
    "concrete_texture",
    "illumination_field",
    "paste_marker",
    "render_charuco_views",
    "render_crack_scene",
    "render_crack_series",
    "render_marker_scene",
    "speckle_field",
    "speckle_image",
]
