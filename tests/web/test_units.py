"""Focused checks of the pages' pure helpers: zoom arithmetic, chart options, tree, positions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infrasight.api.routes.assets import AssetRead, ElementRead
from infrasight.api.routes.channels import ReadingPoint, ReadingSeries
from infrasight.core.domain import AssetKind
from infrasight.web.charts import chart_options, series_data, zoom_window
from infrasight.web.i18n import translator
from infrasight.web.pages.asset import _zoom_percent, element_tree
from infrasight.web.pages.overview import coordinate_svg

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_zoom_window_maps_percentages_to_times() -> None:
    first, last = zoom_window(T0, T0 + timedelta(days=10), 90.0, 100.0)
    assert first == T0 + timedelta(days=9)
    assert last == T0 + timedelta(days=10)
    first, last = zoom_window(T0, T0 + timedelta(days=10), 120.0, -5.0)  # clipped and sorted
    assert (first, last) == (T0, T0 + timedelta(days=10))
    first, last = zoom_window(T0, T0 + timedelta(days=10), 50.0, 50.0)  # never empty
    assert last - first == timedelta(seconds=1)


def test_zoom_event_percentages_from_slider_and_inside_zoom() -> None:
    assert _zoom_percent({"start": 10, "end": 20}) == (10.0, 20.0)
    assert _zoom_percent({"batch": [{"start": 5.5, "end": 7}]}) == (5.5, 7.0)
    assert _zoom_percent({"startValue": 1}) is None
    assert _zoom_percent(None) is None


def test_chart_draws_thresholds_and_fixes_the_axis() -> None:
    series = ReadingSeries(
        channel_id=1,
        unit="mm",
        start=T0,
        end=T0 + timedelta(hours=1),
        bucket_seconds=600.0,
        points=[
            ReadingPoint(time=T0, min=1.0, mean=1.5, max=2.0, count=1),
            ReadingPoint(time=T0 + timedelta(minutes=10), min=2.0, mean=2.5, max=3.0, count=1),
        ],
    )
    levels = [{"name": "red", "severity": 2, "value": 5.0, "rule": "r"}]
    options = chart_options(series, levels, names={"mean": "m", "min": "lo", "max": "hi"})
    assert options["xAxis"]["min"] == T0.timestamp() * 1000
    assert options["xAxis"]["max"] == (T0 + timedelta(hours=1)).timestamp() * 1000
    mean = options["series"][0]
    assert mean["name"] == "m"
    assert mean["data"][1] == ((T0 + timedelta(minutes=10)).timestamp() * 1000, 2.5)
    (line,) = mean["markLine"]["data"]
    assert line["yAxis"] == 5.0
    assert line["lineStyle"]["color"] == "#dc2626"
    zh = chart_options(series, [], names={"mean": "", "min": "", "max": ""}, locale="zh-Hant")
    assert zh["xAxis"]["axisLabel"]["formatter"]["day"] == "{M}月{d}日"


def _element(id_: int, parent: int | None, name: str) -> ElementRead:
    return ElementRead(
        id=id_,
        asset_id=1,
        parent_id=parent,
        name=name,
        kind="span",
        material="",
        exposure_class="",
        axis_deg=0.0,
        criticality=3,
        created_at=T0,
    )


def test_element_tree_nests_children_under_parents() -> None:
    elements = [_element(3, 1, "Girder"), _element(1, None, "Span"), _element(2, None, "Pier")]
    tree = element_tree(elements, translator("en"))
    assert [n["label"] for n in tree] == ["Span (Span)", "Pier (Span)"]
    assert [c["label"] for c in tree[0]["children"]] == ["Girder (Span)"]


@pytest.mark.parametrize(
    ("locale", "kind", "label"),
    [
        ("en", "lining_ring", "Ring 101 (Lining ring)"),
        ("zh-Hant", "lining_ring", "Ring 101（襯砌環）"),
        ("zh-Hans", "lining_ring", "Ring 101（衬砌环）"),
        ("zh-Hans", "girder", "Ring 101（主梁）"),
        ("zh-Hans", "bespoke_kind", "Ring 101（bespoke_kind）"),  # no name: the code
    ],
)
def test_element_kinds_show_by_name_in_each_language(locale: str, kind: str, label: str) -> None:
    element = _element(1, None, "Ring 101").model_copy(update={"kind": kind})
    assert element_tree([element], translator(locale))[0]["label"] == label


def _asset(id_: int, lat: float | None, lon: float | None) -> AssetRead:
    return AssetRead(
        id=id_,
        name=f"A<{id_}>",
        kind=AssetKind.BRIDGE,
        description="",
        latitude=lat,
        longitude=lon,
        governing_standard="",
        design_data={},
        criticality=3,
        created_at=T0,
        updated_at=T0,
    )


def test_coordinate_view_places_assets_and_escapes_names() -> None:
    svg = coordinate_svg([_asset(1, 22.0, 114.0), _asset(2, 22.1, 114.1), _asset(3, None, None)])
    assert svg.count("<circle") == 2
    assert 'cx="24.0" cy="296.0"' in svg  # south-west corner
    assert 'cx="296.0" cy="24.0"' in svg  # north-east corner, label to its left
    assert "A&lt;1&gt;" in svg and "<1>" not in svg
    assert coordinate_svg([_asset(3, None, None)]) == ""


@pytest.mark.parametrize("digits", [0, 2])
def test_number_formatting_has_no_trailing_separator(digits: int) -> None:
    from infrasight.web.i18n import translator

    assert translator("en").number(3.0, digits) == "3"


def test_evidence_timeline_reads_windows_and_alarm_times() -> None:
    from infrasight.web.pages.hazards import evidence_timeline

    raised = datetime(2026, 2, 3, 4, 5, tzinfo=UTC)
    items = evidence_timeline(
        [
            {"kind": "alarm", "ref": "alarm:9", "detail": "red"},
            {"kind": "alarm", "ref": "alarm:10", "detail": "unknown alarm"},  # not looked up
            {"kind": "modal_shift", "ref": "channel:F1[2026-01-10T00:00Z/2026-02-01T12:00Z]"},
            {"kind": "defect", "ref": "defect:5#region=1,2,3,4", "detail": "no time"},
            {"kind": "reading_window", "ref": "channel:X[not a time/2026-01-01T00:00Z]"},
        ],
        {9: raised},
    )
    assert [(i["kind"], i["start"], i["end"]) for i in items] == [
        (
            "modal_shift",
            datetime(2026, 1, 10, tzinfo=UTC),
            datetime(2026, 2, 1, 12, tzinfo=UTC),
        ),
        ("alarm", raised, raised),
    ]


def test_risk_matrix_marks_one_cell_coloured_by_band() -> None:
    from infrasight.reasoning.hazards import load_risk_matrix
    from infrasight.web.i18n import translator
    from infrasight.web.pages.hazards import risk_matrix_html

    html = risk_matrix_html(load_risk_matrix(), 2, 5, translator("en"))
    assert html.count("data-here") == 1
    here = html.split("data-here")[1]
    assert here.split("</td>")[0].endswith("<b>● 10</b>")
    assert "#fca5a5" in here.split("</td>")[0]  # 10 is in the high band (10-16)
    assert html.count("<td") == 25


def test_series_data_is_compact_and_keeps_six_significant_digits() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    series = ReadingSeries(
        channel_id=1,
        unit="mm",
        start=t0,
        end=t0 + timedelta(minutes=10),
        bucket_seconds=600.0,
        points=[
            ReadingPoint(time=t0, min=1.0 / 3.0, mean=123.456789, max=98765.4321, count=2),
            ReadingPoint(
                time=t0 + timedelta(minutes=10, microseconds=400),
                min=-2e-7,
                mean=0,
                max=5.7,
                count=1,
            ),
        ],
    )
    data = series_data(series)
    ms = int(t0.timestamp() * 1000)
    assert data["mean"] == [(ms, 123.457), (ms + 600_000, 0.0)]
    assert data["min"] == [(ms, 0.333333), (ms + 600_000, -2e-7)]
    assert data["max"] == [(ms, 98765.4), (ms + 600_000, 5.7)]
    assert all(isinstance(t, int) for t, _v in data["mean"])  # whole milliseconds in the JSON
