"""Defect history: one physical defect across inspections (growth of width and length with
their uncertainty, the crops side by side, the review verdicts), from ``GET
/defects/{id}/history``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nicegui import ui

from infrasight.api.routes.captures import DefectRead, capture_defects, get_capture
from infrasight.api.routes.defects import get_history
from infrasight.core.errors import NotFoundError
from infrasight.services.defect_reviews import latest_reviews
from infrasight.web.context import WebContext
from infrasight.web.i18n import N_, Translator
from infrasight.web.layout import PageScope, open_page
from infrasight.web.pages.captures import _review_text

__all__ = ["crop_style", "growth_options", "register"]

#: Side of a crop on the page, CSS pixels.
CROP_PX = 200
#: Margin around the defect's box in a crop, as a fraction of the box's larger side.
CROP_MARGIN = 0.15
#: Coverage factor of the uncertainty band drawn on the growth chart (about 95 %).
BAND_K = 1.96
QUANTITIES = {"width_max": N_("max. width"), "length": N_("length")}
COLOURS = {"width_max": "#dc2626", "length": "#2563eb"}
STATUS_NAMES = {"not_detected": N_("not detected"), "detected": N_("detected")}


def crop_style(bbox: list[float], width: int, height: int, *, side: int = CROP_PX) -> str:
    """CSS that shows the ``bbox`` (x, y, w, h in image px) of a ``width`` × ``height`` image,
    with a margin, scaled into a ``side``-pixel square (the image as a background)."""
    x, y, w, h = (float(v) for v in bbox)
    extent = max(w, h, 1.0) * (1.0 + 2.0 * CROP_MARGIN)
    cx, cy = x + w / 2.0, y + h / 2.0
    left = min(max(cx - extent / 2.0, 0.0), max(width - extent, 0.0))
    top = min(max(cy - extent / 2.0, 0.0), max(height - extent, 0.0))
    scale = side / extent
    return (
        f"width:{side}px;height:{side}px;background-repeat:no-repeat;"
        f"background-size:{width * scale:.1f}px {height * scale:.1f}px;"
        f"background-position:{-left * scale:.1f}px {-top * scale:.1f}px"
    )


def growth_options(
    sightings: list[dict[str, Any]], names: dict[str, str], *, unit: str = "mm"
) -> dict[str, Any]:
    """ECharts options: width (left axis) and length (right axis) over time, each with a
    ±1.96σ band; sightings where the defect was not detected are marked on the time axis."""
    series: list[dict[str, Any]] = []
    for axis, key in enumerate(("width_max", "length")):
        points = [
            (datetime.fromisoformat(s["time"]).timestamp() * 1000.0, s[key])
            for s in sightings
            if s["detected"] and s.get(key) and s[key].get("unit") == unit
        ]
        colour = COLOURS[key]
        series += [
            {
                "name": names[key],
                "type": "line",
                "yAxisIndex": axis,
                "symbolSize": 8,
                "itemStyle": {"color": colour},
                "data": [[ms, q["value"]] for ms, q in points],
            },
            {
                "name": names[key],
                "type": "line",
                "yAxisIndex": axis,
                "stack": f"band-{key}",
                "symbol": "none",
                "silent": True,
                "lineStyle": {"opacity": 0},
                "data": [[ms, q["value"] - BAND_K * q["std"]] for ms, q in points],
            },
            {
                "name": names[key],
                "type": "line",
                "yAxisIndex": axis,
                "stack": f"band-{key}",
                "symbol": "none",
                "silent": True,
                "lineStyle": {"opacity": 0},
                "areaStyle": {"color": colour, "opacity": 0.15},
                "data": [[ms, 2.0 * BAND_K * q["std"]] for ms, q in points],
            },
        ]
    missed = [
        {"xAxis": datetime.fromisoformat(s["time"]).timestamp() * 1000.0, "name": names["missed"]}
        for s in sightings
        if not s["detected"]
    ]
    if missed and series:
        series[0]["markLine"] = {
            "symbol": "none",
            "silent": True,
            "lineStyle": {"type": "dotted", "color": "#64748b"},
            "label": {"formatter": names["missed"]},
            "data": missed,
        }
    return {
        "animation": False,
        "grid": {"left": 56, "right": 56, "top": 40, "bottom": 32},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "data": [names["width_max"], names["length"]]},
        "xAxis": {"type": "time"},
        "yAxis": [
            {"type": "value", "name": f"{names['width_max']} ({unit})", "scale": True},
            {"type": "value", "name": f"{names['length']} ({unit})", "scale": True},
        ],
        "series": series,
    }


def _measure(q: dict[str, Any] | None, t: Translator) -> str:
    if not q:
        return "–"
    return t(
        "{value} ± {std} {unit}",
        value=t.number(q["value"], 2),
        std=t.number(q["std"], 2),
        unit=q.get("unit") or "",
    )


def _growth_text(key: str, fit: dict[str, Any] | None, t: Translator) -> str:
    name = t(QUANTITIES[key])
    if not fit:
        return t("{name}: no growth rate (fewer than two measured sightings)", name=name)
    return t(
        "{name}: {rate} ± {std} mm per year over {n} sightings",
        name=name,
        rate=t.number(fit["rate_per_day"] * 365.25, 3),
        std=t.number(fit["rate_std_per_day"] * 365.25, 3),
        n=fit["n"],
    )


def _crops(scope: PageScope, sightings: list[dict[str, Any]]) -> None:
    """Each sighting's crop of its capture's overlay (or a 'not detected' card), with the
    measurements and the latest review."""
    t, session, caller = scope.t, scope.session, scope.caller
    found: dict[int, DefectRead] = {}
    for s in sightings:
        if s["detected"] and s["defect_id"] is not None:
            for d in capture_defects(s["capture_id"], session, caller, t.locale, None):
                found[d.id] = d
    reviews = latest_reviews(session, list(found))
    with ui.row().classes("gap-3 flex-wrap items-start").mark("crops"):
        for s in sightings:
            capture = get_capture(s["capture_id"], session, caller)
            defect = found.get(s["defect_id"]) if s["defect_id"] is not None else None
            with ui.card().classes("p-2 gap-1").mark(f"sighting-{s['capture_id']}"):
                ui.link(t.datetime(datetime.fromisoformat(s["time"])), f"/captures/{capture.id}")
                bbox = defect.geometry.get("bbox") if defect is not None else None
                if defect is not None and isinstance(bbox, list) and len(bbox) == 4:
                    style = crop_style(bbox, capture.width, capture.height)
                    ui.element("div").style(
                        f"background-image:url(/web/captures/{capture.id}/overlay);{style}"
                    ).classes("rounded border").mark(f"crop-{defect.id}")
                    ui.label(f"#{defect.id}").classes("font-bold text-sm")
                    ui.label(t("width {value}", value=_measure(s.get("width_max"), t))).classes(
                        "text-xs"
                    )
                    ui.label(t("length {value}", value=_measure(s.get("length"), t))).classes(
                        "text-xs"
                    )
                    review = reviews.get(defect.id)
                    ui.label(
                        t(
                            "Review: {verdict}",
                            verdict=_review_text(review.verdict, review.note, t)
                            if review
                            else t("not reviewed"),
                        )
                    ).classes("text-xs").mark(f"verdict-{defect.id}")
                else:
                    ui.label(t("not detected")).classes(
                        "w-[200px] h-[200px] flex items-center justify-center bg-slate-100"
                    )


def register(ctx: WebContext) -> None:
    """Add ``/defects/{defect_id}/history``."""

    @ui.page("/defects/{defect_id}/history")
    def history_page(defect_id: int) -> None:
        with open_page(ctx, N_("Defect history")) as scope:
            if scope is None:
                return
            t = scope.t
            try:
                history = get_history(defect_id, scope.session, scope.caller)
            except NotFoundError:
                ui.label(t("Defect not found.")).mark("not-found")
                return
            sightings: list[dict[str, Any]] = history["sightings"]
            ui.label(t("Defect #{id} ({kind})", id=defect_id, kind=history["kind"])).classes(
                "text-2xl"
            )
            status = history["status"]
            ui.label(
                t(
                    "{status}; first seen {first}, last seen {last}; {count} inspections",
                    status=t(STATUS_NAMES[status]) if status in STATUS_NAMES else status,
                    first=t.datetime(datetime.fromisoformat(history["first_seen_at"])),
                    last=t.datetime(datetime.fromisoformat(history["last_seen_at"])),
                    count=t.number(len(sightings), 0),
                )
            ).mark("summary")
            ui.label(t("Growth")).classes("text-lg")
            for key in QUANTITIES:
                ui.label(_growth_text(key, history["growth"].get(key), t)).classes("text-sm").mark(
                    f"growth-{key}"
                )
            names = {key: t(name) for key, name in QUANTITIES.items()}
            names["missed"] = t("not detected")
            ui.echart(growth_options(sightings, names)).classes("w-full h-72").mark("growth-chart")
            ui.label(t("Band: ±1.96 standard uncertainties (about 95 %).")).classes(
                "text-xs text-slate-600"
            )
            ui.label(t("Sightings")).classes("text-lg")
            _crops(scope, sightings)
