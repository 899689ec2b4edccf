"""Helpers shared by the ``measure`` and ``calibrate`` commands: errors, output, scale options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import cv2
import numpy as np
import typer
from numpy.typing import NDArray
from rich.console import Console

from infrasight.measure import MeasurementInputError, Scale, calibrate_scale

__all__ = ["EXIT_BAD_INPUT", "bad_input", "emit_json", "load_colour", "load_mask", "resolve_scale"]

EXIT_BAD_INPUT = 2
err_console = Console(stderr=True)


def bad_input(message: str) -> NoReturn:
    """Print ``message`` to stderr and exit with code 2."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def emit_json(data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to stdout."""
    typer.echo(json.dumps(data, indent=2, allow_nan=False))


def load_colour(path: Path) -> NDArray[np.uint8]:
    """Read an image as RGB uint8 (grey files become 3 equal channels)."""
    if not path.is_file():
        bad_input(f"image file not found: {path}")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        bad_input(f"not a readable image: {path}")
    return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), np.uint8)


def load_mask(path: Path) -> NDArray[np.bool_]:
    """Read a mask image (non-zero = crack)."""
    if not path.is_file():
        bad_input(f"mask file not found: {path}")
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        bad_input(f"not a readable mask image: {path}")
    return np.asarray(img > 127, np.bool_)


def resolve_scale(
    image: NDArray[np.generic],
    *,
    mm_per_px: float | None,
    marker_mm: float | None,
    dictionary: str,
) -> tuple[Scale | None, dict[str, Any] | None]:
    """A scale from ``--mm-per-px`` or ``--marker-mm`` (never both), plus its JSON record."""
    if mm_per_px is not None and marker_mm is not None:
        bad_input("give either --mm-per-px or --marker-mm, not both")
    if mm_per_px is not None:
        try:
            s = Scale.from_mm_per_px(mm_per_px)
        except MeasurementInputError as err:
            bad_input(str(err))
        return s, s.to_dict()
    if marker_mm is not None:
        try:
            cal = calibrate_scale(image, marker_mm=marker_mm, dictionary=dictionary)
        except MeasurementInputError as err:
            bad_input(str(err))
        return cal.scale, cal.to_dict()
    return None, None
