"""Labels drawn over a capture in the browser: each defect's box, id and widest width, a marker at
the widest point, and a scale bar when the capture has a scale (SVG in image pixels)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

__all__ = ["DefectMark", "defect_marks", "overlay_svg", "scale_bar_mm"]

_STEPS_MM = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class DefectMark:
    """What is drawn for one defect (pixel coordinates of the upright image).

    Attributes
    ----------
    defect_id : int
        The defect's id.
    bbox : tuple of int
        ``(x, y, width, height)`` in px.
    widest : tuple of float or None
        The widest point ``(x, y)`` in px, when measured.
    label : str
        ``"#12 0.45 mm"``: id and widest width in the measurement's unit.
    """

    defect_id: int
    bbox: tuple[int, int, int, int]
    widest: tuple[float, float] | None
    label: str


def _number(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("value")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def defect_marks(
    defects: Sequence[tuple[int, dict[str, Any], dict[str, Any]]], fmt: Any = None
) -> list[DefectMark]:
    """Marks for ``(id, geometry, measurements)`` of each defect.

    ``fmt(value)`` formats the width (locale digits); plain two decimals by default.
    """
    marks = []
    for defect_id, geometry, measured in defects:
        box = geometry.get("bbox")
        if not (isinstance(box, list | tuple) and len(box) == 4):
            continue
        width = _number(measured.get("width_max"))
        unit = str(measured.get("unit", "") or "")
        where = measured.get("width_max_location_px")
        widest = (
            (float(where[0]), float(where[1]))
            if isinstance(where, list | tuple) and len(where) == 2
            else None
        )
        text = f"#{defect_id}"
        if width is not None:
            shown = fmt(width) if fmt is not None else f"{width:.2f}"
            text += f" {shown} {unit}".rstrip()
        marks.append(
            DefectMark(
                defect_id=defect_id,
                bbox=(int(box[0]), int(box[1]), int(box[2]), int(box[3])),
                widest=widest,
                label=text,
            )
        )
    return marks


def scale_bar_mm(image_width_px: int, mm_per_px: float) -> tuple[float, float]:
    """A round bar length near a fifth of the image width: ``(length in mm, length in px)``.

    Raises
    ------
    ValueError
        A non-positive width or scale.
    """
    if image_width_px <= 0 or not mm_per_px > 0:
        raise ValueError(f"need a positive width and scale, got {image_width_px}, {mm_per_px}")
    target = image_width_px * mm_per_px / 5.0
    length = max((s for s in _STEPS_MM if s <= target), default=_STEPS_MM[0])
    return length, length / mm_per_px


def overlay_svg(
    marks: Sequence[DefectMark],
    width: int,
    height: int,
    *,
    bar: tuple[str, float] | None = None,
) -> str:
    """SVG content (in image pixels) for ``ui.interactive_image``: boxes, labels, widest points
    and, when ``bar`` = ``(label, length in px)`` is given, a scale bar at the bottom left."""
    size = max(12.0, width / 45.0)
    stroke = max(1.5, width / 600.0)
    parts = []
    for mark in marks:
        x, y, w, h = mark.bbox
        ty = y - size * 0.35 if y > size * 1.5 else y + h + size
        parts.append(
            f'<g class="defect" data-defect="{mark.defect_id}">'
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="none" stroke="#22d3ee" '
            f'stroke-width="{stroke:.1f}" stroke-dasharray="{3 * stroke:.1f}"/>'
            f'<text x="{x}" y="{ty:.1f}" font-size="{size:.1f}" font-family="sans-serif" '
            f'font-weight="bold" fill="#ffffff" stroke="#0f172a" stroke-width="{size / 6:.1f}" '
            f'paint-order="stroke">{escape(mark.label)}</text>'
        )
        if mark.widest is not None:
            cx, cy = mark.widest
            parts.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{size * 0.45:.1f}" fill="none" '
                f'stroke="#f43f5e" stroke-width="{stroke * 1.5:.1f}"/>'
            )
        parts.append("</g>")
    if bar is not None:
        text, length = bar
        x0, y0 = size, height - size
        parts.append(
            f'<g class="scale-bar"><rect x="{x0 - size / 3:.1f}" y="{y0 - size * 1.6:.1f}" '
            f'width="{length + size * 0.66:.1f}" height="{size * 2.1:.1f}" fill="#0f172a" '
            f'fill-opacity="0.6"/>'
            f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x0 + length:.1f}" y2="{y0:.1f}" '
            f'stroke="#ffffff" stroke-width="{stroke * 2:.1f}"/>'
            f'<text x="{x0:.1f}" y="{y0 - size * 0.4:.1f}" font-size="{size:.1f}" '
            f'font-family="sans-serif" fill="#ffffff">{escape(text)}</text></g>'
        )
    return "".join(parts)
