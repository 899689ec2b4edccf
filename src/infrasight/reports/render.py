"""Lay a :class:`ReportContent` out as a PDF in one language (Typst, fonts embedded as subsets).

Every text is translated and every number and date formatted here, with the ``reports``
catalogue; ``template.typ`` only lays out what it is given (``report.json``) and draws charts
from points scaled to 0-1. Typst embeds only the glyphs used, so a report carries a subset of
its fonts. Fonts come from the package (``fonts/``, subsets of Noto Sans CJK, SIL OFL 1.1) and,
where Debian's ``fonts-noto-cjk`` is installed, from it first; system fonts are otherwise
ignored, so the same data gives the same bytes on a machine (the creation date is fixed to the
report's period end unless given).
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from infrasight.core.errors import InvalidInputError
from infrasight.locales.phrases import evidence_translator, localised_detail, localised_text
from infrasight.reports.assemble import ChartContent, DefectRow, HazardContent, ReportContent
from infrasight.reports.i18n import LANGUAGES, N_, Translator, report_translator

__all__ = ["DEBIAN_NOTO_CJK", "RenderedReport", "font_paths", "render_report"]

DEBIAN_NOTO_CJK = Path("/usr/share/fonts/opentype/noto")
_FAMILIES = {
    "en": ("Noto Sans CJK SC", "InfraSight CJK SC"),
    "zh-Hans": ("Noto Sans CJK SC", "InfraSight CJK SC", "InfraSight CJK HK"),
    "zh-Hant": ("Noto Sans CJK HK", "InfraSight CJK HK", "InfraSight CJK SC"),
}
_LEVEL_COLOURS = ("#2e7d32", "#f9a825", "#ef6c00", "#c62828", "#6a1b9a")
_PAGE_RE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")

# names of stored states and kinds, translated from the catalogue
_WORDS = (
    N_("bridge"),
    N_("tunnel"),
    N_("rail_line"),
    N_("station"),
    N_("other"),
    N_("crack"),
    N_("spalling"),
    N_("exposed_rebar"),
    N_("corrosion"),
    N_("efflorescence"),
    N_("leakage"),
    N_("confirmed"),
    N_("rejected"),
    N_("open"),
    N_("acknowledged"),
    N_("mitigating"),
    N_("draft"),
    N_("assigned"),
    N_("in_progress"),
    N_("on_hold"),
    N_("completed"),
    N_("verifying"),
    N_("closed"),
    N_("cancelled"),
    N_("reopened"),
    N_("verified"),
    N_("pending"),
    N_("low"),
    N_("medium"),
    N_("high"),
    N_("critical"),
    # channel quantities
    N_("strain"),
    N_("crack_width"),
    N_("tilt"),
    N_("settlement"),
    N_("temperature"),
    N_("humidity"),
    N_("convergence"),
    N_("water_ingress"),
    N_("displacement"),
    N_("acceleration"),
    N_("frequency"),
    # trend kinds
    N_("constant"),
    N_("linear"),
    N_("quadratic"),
    N_("exponential"),
    N_("saturating"),
    N_("onset"),
    N_("seasonal"),
    N_("level"),
    # mechanisms (reasoning/mechanisms/*.toml)
    N_("Alkali-silica reaction"),
    N_("Corrosion of reinforcement"),
    N_("Fatigue cracking"),
    N_("Flexural overload"),
    N_("Freeze-thaw damage"),
    N_("Impact (vehicle, vessel, debris)"),
    N_("Sensor fault"),
    N_("Settlement / support movement"),
    N_("Shear distress"),
    N_("Drying shrinkage"),
    N_("Stiffness loss (structural, mechanism not resolved)"),
    N_("Thermal response (no damage)"),
    N_("Water ingress / leakage"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedReport:
    """A rendered report: the PDF, its page count and the characters no font could show."""

    pdf: bytes
    pages: int
    missing_glyphs: str


def font_paths() -> list[Path]:
    """Font folders the renderer uses: Debian's Noto CJK when installed, then the bundled ones."""
    bundled = Path(str(resources.files("infrasight") / "reports" / "fonts"))
    return [p for p in (DEBIAN_NOTO_CJK, bundled) if p.is_dir()]


@cache
def _coverage(paths: tuple[Path, ...]) -> frozenset[int]:
    """Every code point some font in ``paths`` maps (what a report can show)."""
    from fontTools.ttLib import TTCollection, TTFont

    covered: set[int] = set()
    for folder in paths:
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in (".otf", ".ttf"):
                fonts = [TTFont(path, lazy=True)]
            elif path.suffix.lower() in (".ttc", ".otc") and "Sans" in path.name:
                fonts = list(TTCollection(path, lazy=True).fonts)
            else:
                continue
            for font in fonts:
                cmap = font.getBestCmap()
                if cmap:
                    covered.update(cmap)
    return frozenset(covered)


def _texts(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in ("path", "color", "kind"):
                yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def missing_glyphs(document: dict[str, Any], paths: Sequence[Path]) -> str:
    """The characters of ``document``'s texts that no font in ``paths`` has, sorted."""
    covered = _coverage(tuple(paths))
    chars = {c for text in _texts(document) for c in text if not c.isspace()}
    return "".join(sorted(c for c in chars if ord(c) not in covered))


# -- formatting helpers -------------------------------------------------------------------------


def _measure(t: Translator, value: float | None, std: float | None, unit: str) -> str:
    if value is None:
        return "–"
    digits = 2 if unit == "mm" else 1
    text = t.fixed(value, digits)
    if std is not None:
        text += f" ± {t.fixed(std, digits)}"
    return text


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    value = first
    while value <= hi + 1e-9 * step:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _chart(t: Translator, c: ChartContent, start: datetime, end: datetime) -> dict[str, Any]:
    x0 = start.timestamp()
    x1 = max(end.timestamp(), c.forecast_times_s[-1] if c.forecast_times_s else 0.0)
    values = [
        v
        for v in (*c.minimum, *c.maximum, *c.forecast_lower, *c.forecast_upper)
        if math.isfinite(v)
    ] or [0.0]
    lo, hi = min(values), max(values)
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    shown = [lvl for lvl in c.levels if lo - span <= lvl[2] <= hi + span]
    for _name, _sev, value in shown:
        lo, hi = min(lo, value), max(hi, value)
    pad = (hi - lo) * 0.06 if hi > lo else max(abs(hi) * 0.1, 1.0)
    lo, hi = lo - pad, hi + pad

    def sx(x: float) -> float:
        return round((x - x0) / (x1 - x0), 5) if x1 > x0 else 0.0

    def sy(y: float) -> float:
        # kept just outside the plot (which clips): Typst lays out a path of coordinates in the
        # 1e11 range for ever (a 30-day forecast of 2 days of readings had one)
        if not math.isfinite(y):
            return 1.05 if y > 0 else -0.05
        return round(min(max((y - lo) / (hi - lo), -0.05), 1.05), 5)

    unit = c.unit
    days = (x1 - x0) / 86400.0
    step_days = max(1, math.ceil(days / 6))
    xticks: list[list[Any]] = []
    day = math.ceil(x0 / 86400.0) * 86400.0
    while day < x1:
        if sx(day) <= 0.93:
            xticks.append([sx(day), t.short_date(datetime.fromtimestamp(day, UTC))])
        day += step_days * 86400.0
    forecast_note = ""
    if c.forecast_times_s:
        forecast_note = t(
            "Forecast ({kind} trend, 95 % band) to {date}: {low} – {high} {unit}.",
            kind=t.optional(c.forecast_kind),
            date=t.date(datetime.fromtimestamp(c.forecast_times_s[-1], UTC)),
            low=t.number(c.forecast_lower[-1], 3),
            high=t.number(c.forecast_upper[-1], 3),
            unit=unit,
        )
    hidden = [lvl for lvl in c.levels if lvl not in shown]
    levels_note = (
        t(
            "Alarm levels off the scale: {levels}.",
            levels=", ".join(f"{name} {t.number(v, 3)} {unit}" for name, _s, v in hidden),
        )
        if hidden
        else ""
    )
    caption = " ".join(
        part
        for part in (
            t(
                "Mean of each interval, band from minimum to maximum; last reading {value} {unit}.",
                value=t.number(c.last_value, 3),
                unit=unit,
            ),
            t("Alarms raised: {count}.", count=c.alarms),
            forecast_note,
            levels_note,
        )
        if part
    )
    return {
        "title": c.key,
        "subtitle": f"{t.optional(c.quantity)} ({unit})",
        "mean": [[sx(x), sy(y)] for x, y in zip(c.times_s, c.mean, strict=True)],
        "band": [
            [sx(x), sy(a), sy(b)] for x, a, b in zip(c.times_s, c.minimum, c.maximum, strict=True)
        ],
        "forecast_median": [
            [sx(x), sy(y)] for x, y in zip(c.forecast_times_s, c.forecast_median, strict=True)
        ],
        "forecast_band": [
            [sx(x), sy(a), sy(b)]
            for x, a, b in zip(c.forecast_times_s, c.forecast_lower, c.forecast_upper, strict=True)
        ],
        "levels": [
            {
                "y": sy(value),
                "label": f"{name} {t.number(value, 3)} {unit}",
                "color": _LEVEL_COLOURS[min(max(sev - 1, 0), len(_LEVEL_COLOURS) - 1)],
            }
            for name, sev, value in shown
        ],
        "yticks": [[sy(v), t.number(v, 3)] for v in _nice_ticks(lo, hi)],
        "xticks": xticks,
        "caption": caption,
    }


def _defect_table(t: Translator, rows: Sequence[DefectRow]) -> list[list[str]]:
    return [
        [
            f"D{d.id}",
            t.optional(d.kind),
            d.element,
            f"{d.capture_id}",
            t.datetime(d.time),
            _measure(t, d.length, d.length_std, d.unit) + f" {d.unit}",
            _measure(t, d.width_max, d.width_max_std, d.unit) + f" {d.unit}",
            t.fixed(d.confidence * 100, 0) + " %",
            t.optional(d.verdict) if d.verdict else t("not reviewed"),
        ]
        for d in rows
    ]


def _scale_bar(mm_per_px: float | None, width_px: int) -> tuple[float, float]:
    """A round bar length (mm) about a quarter of the picture, and its fraction of the width."""
    if mm_per_px is None or width_px <= 0:
        return 0.0, 0.0
    target = width_px * mm_per_px / 4
    bar = next(
        (m * 10**e for e in range(-2, 5) for m in (1, 2, 5) if m * 10**e >= target),
        target,
    )
    if bar > width_px * mm_per_px:
        bar = target
    return bar, bar / (width_px * mm_per_px)


def _hazard(t: Translator, h: HazardContent) -> dict[str, Any]:
    return {
        "title": t(
            "H{id}: {mechanism} on {element}",
            id=h.id,
            mechanism=t.optional(h.mechanism),
            element=h.element,
        ),
        "facts": [
            [t("Status"), t.optional(h.status)],
            [
                t("Risk"),
                t(
                    "{risk} of 25 ({band}): likelihood {likelihood} × consequence {consequence}",
                    risk=h.risk,
                    band=t.optional(h.band),
                    likelihood=h.likelihood,
                    consequence=h.consequence,
                ),
            ],
            [t("Confidence"), t.fixed(h.confidence * 100, 0) + " %"],
        ],
        "cause_columns": [
            t("Ranked cause"),
            t("Confidence"),
            t("Evidence for"),
            t("Evidence against"),
        ],
        "causes": [
            [t.optional(name), t.fixed(conf * 100, 0) + " %", str(n_for), str(n_against)]
            for name, conf, n_for, n_against in h.causes
        ],
        "evidence_heading": t("Main evidence for the leading cause"),
        "evidence": [
            localised_detail(message, detail, evidence_translator(t.locale))
            for detail, message in h.evidence
        ],
        "recommendations_heading": t("Recommended actions"),
        "recommendation_columns": [t("Rank"), t("Action"), t("Within (days)"), t("Source")],
        "recommendations": [
            [str(rank), t.optional(name), str(days), source]
            for rank, name, days, source in h.recommendations
        ],
    }


def _document(
    t: Translator, content: ReportContent, generated_at: datetime, images: dict[int, str]
) -> dict[str, Any]:
    _folder, _babel, lang, region = LANGUAGES[t.locale]
    measured = [d.width_max for d in content.defects if d.unit == "mm" and d.width_max is not None]
    worst = max(content.hazards, key=lambda h: h.risk, default=None)
    open_orders = [w for w in content.work_orders if w.status not in ("closed", "cancelled")]
    overdue = [w for w in open_orders if w.due_at < content.period_end]
    period = t(
        "{start} to {end}", start=t.date(content.period_start), end=t.date(content.period_end)
    )
    defects_with_images = [d for d in content.defects if d.id in images]
    image_items = []
    for d in defects_with_images:
        bar_mm, fraction = _scale_bar(d.crop_mm_per_px, d.crop_width_px)
        image_items.append(
            {
                "path": images[d.id],
                "label": f"D{d.id}",
                "bar_fraction": round(fraction, 4),
                "bar_label": f"{t.number(bar_mm, 2)} mm" if bar_mm else "",
                "caption": t(
                    "D{id} ({element}): length {length} {unit}, widest {width} {unit}",
                    id=d.id,
                    element=d.element,
                    length=_measure(t, d.length, None, d.unit),
                    width=_measure(t, d.width_max, None, d.unit),
                    unit=d.unit,
                ),
            }
        )
    return {
        "lang": lang,
        "region": region,
        "fonts": list(_FAMILIES[t.locale]),
        "title": t("Inspection report"),
        "header": f"{content.asset_name} · {content.organization}",
        "period": period,
        "footer": t(
            "InfraSight inspection report, generated {time} UTC", time=t.datetime(generated_at)
        ),
        "page_of": t("Page {page} of {pages}"),
        "meta": [
            [t("Asset"), content.asset_name],
            [t("Kind"), t.optional(content.asset_kind)],
            [t("Organisation"), content.organization],
            [t("Governing standard"), content.governing_standard or "–"],
            [t("Period"), period],
        ],
        "summary": [
            [t("Defects found"), t.number(len(content.defects), 0)],
            [
                t("Widest crack"),
                f"{t.fixed(max(measured), 2)} mm" if measured else "–",
            ],
            [t("Open hazards"), t.number(len(content.hazards), 0)],
            [
                t("Highest risk"),
                "–" if worst is None else f"{worst.risk} ({t.optional(worst.band)})",
            ],
            [t("Active alarms"), t.number(content.active_alarms, 0)],
            [t("Open work orders"), t.number(len(open_orders), 0)],
            [t("Overdue work orders"), t.number(len(overdue), 0)],
        ],
        "sections": [
            {
                "kind": "table",
                "heading": t("Condition rating per standard"),
                "intro": t(
                    "Each standard rates the asset by its worst element, citing the clause."
                ),
                "columns": [
                    t("Standard"),
                    t("Rating"),
                    t("Class"),
                    t("Clause"),
                    t("Elements rated"),
                ],
                "rows": [
                    [
                        c.standard,
                        t.number(c.rating, 1),
                        localised_text(c.label_message, c.label, evidence_translator(t.locale)),
                        localised_text(c.clause_message, c.clause, evidence_translator(t.locale)),
                        str(c.elements),
                    ]
                    for c in content.condition
                ],
                "empty": t("No standard could rate this asset's elements."),
            },
            {
                "kind": "defects",
                "heading": t("Defects"),
                "intro": t(
                    "Length and widest width with their standard uncertainty; in mm where the "
                    "capture had a scale. Pictures show the detected crack (tinted) and its "
                    "centreline."
                ),
                "columns": [
                    t("Defect"),
                    t("Kind"),
                    t("Element"),
                    t("Capture"),
                    t("Captured"),
                    t("Length"),
                    t("Widest width"),
                    t("Confidence"),
                    t("Review"),
                ],
                "rows": _defect_table(t, content.defects),
                "images": image_items,
                "empty": t("No defects were found in captures of this period."),
            },
            {
                "kind": "charts",
                "heading": t("Key channels"),
                "charts": [
                    _chart(t, c, content.period_start, content.period_end) for c in content.charts
                ],
                "empty": t("No readings in this period."),
            },
            {
                "kind": "hazards",
                "heading": t("Hazards, causes and recommendations"),
                "hazards": [_hazard(t, h) for h in content.hazards],
                "empty": t("No open hazards."),
            },
            {
                "kind": "table",
                "heading": t("Work orders and verification"),
                "columns": [
                    t("Work order"),
                    t("Title"),
                    t("Status"),
                    t("Due"),
                    t("Assignee"),
                    t("Hazard"),
                    t("Verification"),
                ],
                "widths": [0, 1, 0, 0, 0, 0, 0],  # the title wraps; e-mail addresses cannot
                "rows": [
                    [
                        f"W{w.id}",
                        localised_detail(w.title_message, w.title, evidence_translator(t.locale)),
                        t.optional(w.status),
                        t.date(w.due_at),
                        w.assignee,
                        "–" if w.hazard_id is None else f"H{w.hazard_id}",
                        t.optional(w.verification)
                        + ("" if w.verified_at is None else f" ({t.date(w.verified_at)})"),
                    ]
                    for w in content.work_orders
                ],
                # each work order's newest note (the system's in the reader's language)
                "notes": [
                    t(
                        "Latest note on {order}: {note}",
                        order=f"W{w.id}",
                        note=localised_detail(
                            w.note_message, w.note, evidence_translator(t.locale)
                        ),
                    )
                    for w in content.work_orders
                    if w.note
                ],
                "empty": t("No work orders."),
            },
        ],
    }


def render_report(
    content: ReportContent,
    language: str,
    *,
    generated_at: datetime | None = None,
    fonts: Sequence[Path] | None = None,
) -> RenderedReport:
    """Render ``content`` in ``language`` (``en``, ``zh-Hant`` or ``zh-Hans``) as a PDF.

    ``generated_at`` (default: the end of the period) is printed and is the PDF's creation date,
    so the same content gives the same bytes.

    Raises
    ------
    InvalidInputError
        An unknown language (field ``language``).
    """
    import typst

    if language not in LANGUAGES:
        raise InvalidInputError(
            f"unknown language {language!r}; one of {', '.join(LANGUAGES)}", field="language"
        )
    t = report_translator(language)
    when = generated_at or content.period_end
    paths = list(fonts) if fonts is not None else font_paths()
    with tempfile.TemporaryDirectory(prefix="infrasight-report-") as folder:
        root = Path(folder)
        images: dict[int, str] = {}
        for d in content.defects:
            if d.crop_jpeg is not None:
                name = f"d{d.id}.jpg"
                (root / name).write_bytes(d.crop_jpeg)
                images[d.id] = name
        document = _document(t, content, when, images)
        (root / "report.json").write_text(json.dumps(document, ensure_ascii=False), "utf-8")
        template = resources.files("infrasight") / "reports" / "template.typ"
        (root / "main.typ").write_bytes(template.read_bytes())
        pdf = typst.compile(
            str(root / "main.typ"),
            root=str(root),
            font_paths=[str(p) for p in paths],
            ignore_system_fonts=True,
            timestamp=int(when.timestamp()),
            package_path=str(root),
            package_cache_path=str(root),
        )
    assert isinstance(pdf, bytes)
    return RenderedReport(
        pdf=pdf,
        pages=len(_PAGE_RE.findall(pdf)),
        missing_glyphs=missing_glyphs(document, paths),
    )
