"""The labels drawn over a capture: scale-bar lengths, defect marks and the SVG they make."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from infrasight.web.overlay import DefectMark, defect_marks, overlay_svg, scale_bar_mm


@pytest.mark.parametrize(
    ("width_px", "mm_per_px", "expected_mm"),
    [
        (640, 0.1, 10.0),  # a fifth of 64 mm is 12.8 mm: the round length below is 10 mm
        (4000, 0.25, 200.0),  # 1000 mm wide: 200 mm
        (1000, 0.01, 2.0),  # 10 mm wide: 2 mm
        (100, 0.001, 0.5),  # 0.1 mm wide: the shortest bar
    ],
)
def test_scale_bar_is_a_round_length_near_a_fifth_of_the_width(
    width_px: int, mm_per_px: float, expected_mm: float
) -> None:
    length_mm, length_px = scale_bar_mm(width_px, mm_per_px)
    assert length_mm == expected_mm
    assert length_px == pytest.approx(expected_mm / mm_per_px)


@pytest.mark.parametrize(("width", "scale"), [(0, 0.1), (640, 0.0), (640, -1.0)])
def test_scale_bar_refuses_a_missing_scale(width: int, scale: float) -> None:
    with pytest.raises(ValueError, match="positive width and scale"):
        scale_bar_mm(width, scale)


def test_marks_carry_id_widest_width_and_point() -> None:
    defects = [
        (
            7,
            {"bbox": [10, 20, 30, 40]},
            {"unit": "mm", "width_max": {"value": 0.456}, "width_max_location_px": [15, 33]},
        ),
        (8, {"bbox": [1, 2, 3, 4]}, {"error": "too small"}),  # measured nothing
        (9, {}, {"unit": "mm"}),  # no box: not drawn
    ]
    marks = defect_marks(defects)
    assert marks == [
        DefectMark(defect_id=7, bbox=(10, 20, 30, 40), widest=(15.0, 33.0), label="#7 0.46 mm"),
        DefectMark(defect_id=8, bbox=(1, 2, 3, 4), widest=None, label="#8"),
    ]
    assert defect_marks(defects[:1], fmt=lambda v: f"{v:.3f}")[0].label == "#7 0.456 mm"


def test_svg_is_well_formed_with_labels_circle_and_bar() -> None:
    marks = [DefectMark(defect_id=3, bbox=(100, 5, 20, 60), widest=(110, 30), label="#3 <1> mm")]
    svg = overlay_svg(marks, 640, 480, bar=("10 mm", 100.0))
    root = ET.fromstring(f'<svg xmlns="http://www.w3.org/2000/svg">{svg}</svg>')
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert texts == ["#3 <1> mm", "10 mm"]  # escaped in the markup, intact when parsed
    (circle,) = root.iter(f"{ns}circle")
    assert (circle.get("cx"), circle.get("cy")) == ("110.0", "30.0")
    (line,) = root.iter(f"{ns}line")
    size = 640 / 45
    assert float(line.get("x2", "0")) - float(line.get("x1", "0")) == pytest.approx(100.0)
    assert float(line.get("y1", "0")) == pytest.approx(480 - size, abs=0.05)
    # a box near the top edge gets its label below it, inside the image
    (label,) = [t for t in root.iter(f"{ns}text") if t.text == "#3 <1> mm"]
    assert float(label.get("y", "0")) > 5 + 60
    assert overlay_svg([], 640, 480) == ""
