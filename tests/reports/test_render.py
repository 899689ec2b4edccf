"""The PDF renderer: contents read back with pypdf in every language, fonts, reproducibility."""

from __future__ import annotations

import io
import math
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from babel.messages.pofile import read_po
from PIL import Image
from pypdf import PdfReader

from infrasight.core.errors import InvalidInputError
from infrasight.core.phrases import phrase
from infrasight.reports.assemble import (
    ChartContent,
    ConditionRow,
    DefectRow,
    HazardContent,
    ReportContent,
    WorkOrderRow,
)
from infrasight.reports.i18n import LANGUAGES, report_translator
from infrasight.reports.render import _chart, font_paths, missing_glyphs, render_report

START = datetime(2026, 9, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


def jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    Image.fromarray((rng.random((120, 160, 3)) * 255).astype(np.uint8)).save(out, "JPEG")
    return out.getvalue()


MOVED = phrase(
    "{channel} moved {delta:+.4g} {unit} ({z:+.1f} sigmas)",
    channel="SET-P2",
    delta=9.58712,
    unit="mm",
    z=113.64,
)
#: The evidence lines of the hazard, as each language reads them.
EVIDENCE = {
    "en": "SET-P2 moved +9.587 mm (+113.6 sigmas)",
    "zh-Hant": "SET-P2 位移 +9.587 mm（+113.6 倍標準差）",
    "zh-Hans": "SET-P2 位移 +9.587 mm（+113.6 倍标准差）",
}
SIGNED = phrase(
    "verified ({method!t}) and signed off by {name}", method="readings", name="eng@alpha.example"
)


def content(n_defects: int = 3) -> ReportContent:
    rng = np.random.default_rng(7)
    times = np.linspace(START.timestamp(), END.timestamp(), 120, endpoint=False)
    values = 1.0 + 0.02 * np.arange(120) + rng.normal(0, 0.02, 120)
    grid = np.linspace(times[-1], times[-1] + 30 * 86400, 10)
    return ReportContent(
        asset_id=1,
        asset_name="九龍高架橋 Kowloon Viaduct",
        asset_kind="bridge",
        governing_standard="EN 1992-2",
        organization="Alpha Rail",
        period_start=START,
        period_end=END,
        condition=(
            ConditionRow(
                standard="aashto-mbei", rating=3, label="CS3 Poor", clause="MBEI 4.2", elements=4
            ),
            ConditionRow(  # a label the engine wrote as a phrase, with its number
                standard="jtg-h21",
                rating=66.6905546,
                label="Dr 66.69, class 3",
                clause="JTG/T H21-2011",
                elements=7,
                label_message=phrase(
                    "Dr {score:.2f}, class {cls}", score=66.6905546, cls=3
                ).as_dict(),
            ),
        ),
        defects=tuple(
            DefectRow(
                id=40 + i,
                kind="crack",
                element="Pier 2",
                capture_id=9,
                time=START + timedelta(days=10),
                unit="mm",
                length=123.456 + i,
                length_std=1.2,
                width_max=0.347,
                width_max_std=0.021,
                confidence=0.93,
                verdict="confirmed" if i == 0 else None,
                crop_jpeg=jpeg(i),
                crop_mm_per_px=0.5,
                crop_width_px=160,
            )
            for i in range(n_defects)
        ),
        charts=(
            ChartContent(
                key="VD-P2-SETTLE",
                quantity="settlement",
                unit="mm",
                times_s=tuple(times.tolist()),
                mean=tuple(values.tolist()),
                minimum=tuple((values - 0.05).tolist()),
                maximum=tuple((values + 0.05).tolist()),
                levels=(("amber", 1, 2.0), ("red", 2, 4.0), ("far", 3, 900.0)),
                forecast_times_s=tuple(grid.tolist()),
                forecast_median=tuple(np.linspace(values[-1], values[-1] + 0.5, 10).tolist()),
                forecast_lower=tuple(np.linspace(values[-1], values[-1] + 0.2, 10).tolist()),
                forecast_upper=tuple(np.linspace(values[-1], values[-1] + 0.8, 10).tolist()),
                forecast_kind="linear",
                last_value=3.381,
                alarms=2,
            ),
        ),
        hazards=(
            HazardContent(
                id=5,
                mechanism="Settlement / support movement",
                element="Pier 2",
                status="open",
                risk=16,
                likelihood=4,
                consequence=4,
                band="high",
                confidence=0.81,
                causes=(("Settlement / support movement", 0.81, 3, 0), ("Sensor fault", 0.1, 1, 2)),
                recommendations=((1, "Sensor recalibration", 30, "FHWA-NHI-10-016"),),
                evidence=(
                    (MOVED.english(), MOVED.as_dict()),
                    ("Settlement grew 4.5 mm in two weeks", None),  # stored before phrases
                ),
            ),
        ),
        work_orders=(
            WorkOrderRow(
                id=7,
                title="Level survey of pier 2",
                status="closed",
                due_at=END - timedelta(days=5),
                assignee="crew@alpha.example",
                hazard_id=5,
                verification="verified",
                verified_at=END - timedelta(days=2),
                note=SIGNED.english(),
                note_message=SIGNED.as_dict(),
            ),
        ),
        active_alarms=2,
    )


#: The work order's newest note: the system's sign-off, in each language.
NOTE = {
    "en": "Latest note on W7: verified (readings) and signed off by eng@alpha.example",
    "zh-Hant": "W7 最新備註：已核實（讀數），由 eng@alpha.example 簽署驗收",
    "zh-Hans": "W7 最新备注：已核实（读数），由 eng@alpha.example 签署验收",
}


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


HEADINGS = {
    "en": ("Inspection report", "Condition rating per standard", "Key channels", "Pier 2"),
    "zh-Hant": (
        "巡查報告",
        "各標準的狀況評級",
        "主要監測通道",
        "危害、成因及建議",
        "沉降／支座位移",
        "CS3 欠佳",  # texts of the data catalogues: a condition state, an action
        "傳感器重新校準",
    ),
    "zh-Hans": (
        "巡检报告",
        "各标准的技术状况评定",
        "主要监测通道",
        "隐患、成因及建议",
        "沉降／支座位移",
        "CS3 较差",
        "传感器重新校准",
    ),
}


#: The JTG/T H21 row's label, as each language writes it.
RATING = {
    "en": "Dr 66.69, class 3",
    "zh-Hant": "全橋評分 Dr 66.69，第 3 類",
    "zh-Hans": "全桥评分 Dr 66.69，3 类",
}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_report_reads_back_in_every_language(language: str) -> None:
    rendered = render_report(content(), language)
    text = text_of(rendered.pdf)
    for heading in HEADINGS[language]:
        assert heading in text, heading
    # measurements as formatted in the table (2 decimals, mm) and the asset's own CJK name
    assert "123.46 ± 1.20 mm" in text.replace("\n", " ")
    assert "0.35 ± 0.02 mm" in text.replace("\n", " ")
    assert "九龍高架橋" in text and "D40" in text and "W7" in text and "H5" in text
    assert "VD-P2-SETTLE" in text and "3.381" in text
    assert EVIDENCE[language] in text.replace("\n", " "), text
    assert RATING[language] in text.replace("\n", " "), text
    assert NOTE[language] in text.replace("\n", " "), text
    assert "Settlement grew 4.5 mm in two weeks" in text.replace("\n", " ")
    assert rendered.missing_glyphs == ""
    assert rendered.pages == len(PdfReader(io.BytesIO(rendered.pdf)).pages) >= 2
    assert rendered.pdf.count(b"/FontFile3") + rendered.pdf.count(b"/FontFile2") >= 1


def test_same_content_gives_the_same_bytes() -> None:
    first = render_report(content(), "zh-Hant")
    second = render_report(content(), "zh-Hant")
    assert first.pdf == second.pdf
    later = render_report(content(), "zh-Hant", generated_at=END + timedelta(days=1))
    assert later.pdf != first.pdf


def test_an_empty_report_says_so() -> None:
    empty = ReportContent(
        **{
            **{f: getattr(content(), f) for f in ReportContent.__dataclass_fields__},
            "condition": (),
            "defects": (),
            "charts": (),
            "hazards": (),
            "work_orders": (),
        }
    )
    text = text_of(render_report(empty, "en").pdf)
    assert "No defects were found in captures of this period." in text
    assert "No open hazards." in text and "No work orders." in text


def test_unknown_language_is_refused() -> None:
    with pytest.raises(InvalidInputError) as err:
        render_report(content(), "fr")
    assert err.value.field == "language"


@pytest.mark.parametrize("language", ["zh-Hant", "zh-Hans"])
def test_every_message_is_translated_and_every_glyph_is_covered(language: str) -> None:
    from importlib import resources

    pot = resources.files("infrasight") / "locales" / "reports.pot"
    with pot.open("rb") as handle:
        ids = [str(m.id) for m in read_po(handle) if m.id]
    t = report_translator(language)
    untranslated = [i for i in ids if i not in t.messages]
    assert untranslated == []
    for message in ids:  # placeholders survive translation
        assert sorted(_fields(message)) == sorted(_fields(t.messages[message])), message
    bundled = [p for p in font_paths() if p.name == "fonts"]
    assert missing_glyphs({"all": list(t.messages.values())}, bundled) == ""


def _fields(text: str) -> list[str]:
    import string

    return [name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name]


def test_missing_glyphs_are_named() -> None:
    bundled = [p for p in font_paths() if p.name == "fonts"]
    assert missing_glyphs({"x": "橋 \U0001f600"}, bundled) == "\U0001f600"


def runaway_content() -> ReportContent:
    """The fuzzed demo's report: a forecast whose mean ran off to -7.8e11, plus an infinity."""
    base = content(n_defects=0)
    chart = base.charts[0]
    n = len(chart.forecast_times_s)
    runaway = replace(
        chart,
        forecast_median=(*chart.forecast_median[:-2], -1.76e11, -7.83e11),
        forecast_upper=(*chart.forecast_upper[:-1], math.inf),
    )
    assert len(runaway.forecast_median) == n
    return replace(base, charts=(runaway,))


def test_chart_points_stay_at_the_plot_whatever_the_values() -> None:
    t = report_translator("en")
    c = runaway_content().charts[0]
    drawn = _chart(t, c, START, END)
    ys = [p[1] for p in drawn["mean"] + drawn["forecast_median"]]
    ys += [y for p in drawn["band"] + drawn["forecast_band"] for y in p[1:]]
    assert all(math.isfinite(y) and -0.05 <= y <= 1.05 for y in ys)
    assert min(ys) == -0.05  # the runaway median is drawn at the edge, clipped
    assert "∞" in drawn["caption"]  # the infinite upper bound is said, not a babel error
    assert t.number(1e300) == "1E300" and t.number(-7.83e11, 0) == "-783,000,000,000"


def test_a_runaway_forecast_renders_instead_of_hanging() -> None:
    """Typst laid out a polyline with coordinates near 1e11 for ever (the server's shutdown
    then waited for that job for ever): the render runs in a child so a regression fails."""
    code = (
        "from tests.reports.test_render import runaway_content\n"
        "from infrasight.reports.render import render_report\n"
        "print(render_report(runaway_content(), 'zh-Hant').pages)\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) >= 1
