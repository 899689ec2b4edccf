"""Captures: a gallery per asset and a viewer with the crack overlay and defects in mm."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from infrasight.api.routes.assets import get_asset
from infrasight.api.routes.captures import (
    CaptureRead,
    DefectRead,
    capture_analyses,
    capture_defects,
    get_capture,
    list_captures,
)
from infrasight.core.errors import NotFoundError
from infrasight.services.crack_analysis import CRACK_MODEL
from infrasight.web.context import WebContext
from infrasight.web.i18n import N_, Translator
from infrasight.web.layout import open_page

__all__ = ["defect_rows", "register"]

SHOWN = 200
KIND_NAMES = {"crack": N_("crack")}


def _value(measurements: dict[str, Any], name: str) -> float | None:
    item = measurements.get(name)
    if isinstance(item, dict):
        item = item.get("value")
    return float(item) if isinstance(item, int | float) else None


def defect_rows(defects: list[DefectRead], t: Translator) -> list[dict[str, Any]]:
    """Table rows: id, kind, confidence, length and widest width (mm when the capture had a
    scale, otherwise the unit the measurement was made in)."""
    rows = []
    for defect in defects:
        m = defect.measurements
        unit = str(m.get("unit", "")) or "–"
        rows.append(
            {
                "id": defect.id,
                "kind": t(KIND_NAMES[defect.kind]) if defect.kind in KIND_NAMES else defect.kind,
                "confidence": t.number(defect.confidence, 2),
                "length": t.number(_value(m, "length"), 1),
                "width": t.number(_value(m, "width_max"), 2),
                "unit": unit,
            }
        )
    return rows


def _thumbnail(capture: CaptureRead, t: Translator) -> None:
    with ui.card().classes("w-44 p-2 gap-1").mark(f"capture-{capture.id}"):
        with ui.link(target=f"/captures/{capture.id}"):
            ui.image(f"/web/captures/{capture.id}/image").classes("w-40 h-28").props(
                f'fit=cover alt="{capture.filename}" no-spinner'
            )
        ui.label(capture.filename).classes("text-xs font-bold truncate w-40")
        ui.label(t.datetime(capture.time)).classes("text-xs")


def register(ctx: WebContext) -> None:
    """Add ``/assets/{asset_id}/captures`` and ``/captures/{capture_id}``."""

    @ui.page("/assets/{asset_id}/captures")
    def gallery_page(asset_id: int) -> None:
        with open_page(ctx, N_("Captures")) as scope:
            if scope is None:
                return
            t = scope.t
            try:
                asset = get_asset(asset_id, scope.session, scope.caller)
            except NotFoundError:
                ui.label(t("Asset not found.")).mark("not-found")
                return
            ui.link(asset.name, f"/assets/{asset.id}").classes("text-lg")
            ui.label(t("Captures")).classes("text-2xl")
            page = list_captures(
                scope.session, scope.caller, asset_id=asset.id, limit=SHOWN, offset=0
            )
            if not page.items:
                ui.label(t("No captures."))
            with ui.row().classes("gap-2"):
                for capture in page.items:
                    _thumbnail(capture, t)

    @ui.page("/captures/{capture_id}")
    def viewer_page(capture_id: int) -> None:
        with open_page(ctx, N_("Capture")) as scope:
            if scope is None:
                return
            t, session, caller = scope.t, scope.session, scope.caller
            try:
                capture = get_capture(capture_id, session, caller)
            except NotFoundError:
                ui.label(t("Capture not found.")).mark("not-found")
                return
            ui.link(t("Back to captures"), f"/assets/{capture.asset_id}/captures")
            ui.label(capture.filename or t("Capture {id}", id=capture.id)).classes("text-2xl")
            ui.label(
                t(
                    "{width} × {height} px, taken {when}",
                    width=capture.width,
                    height=capture.height,
                    when=t.datetime(capture.time),
                )
            ).classes("text-sm")
            if capture.mm_per_px:
                ui.label(t("Scale: {scale} mm per pixel", scale=t.number(capture.mm_per_px, 4)))
            analyses = capture_analyses(capture.id, session, caller)
            analysed = any(a.model_name == CRACK_MODEL for a in analyses)
            source = "overlay" if analysed else "image"
            if not analysed:
                ui.label(t("Not analysed yet: showing the image without cracks."))
            ui.image(f"/web/captures/{capture.id}/{source}").classes("w-full max-w-4xl").props(
                f'alt="{source}" no-spinner'
            ).mark("capture-image")
            defects = capture_defects(capture.id, session, caller, model_version=None)
            ui.label(t("Defects")).classes("text-lg")
            columns = [
                {"name": "id", "label": t("Id"), "field": "id", "align": "left"},
                {"name": "kind", "label": t("Kind"), "field": "kind", "align": "left"},
                {"name": "confidence", "label": t("Confidence"), "field": "confidence"},
                {"name": "length", "label": t("Length"), "field": "length"},
                {"name": "width", "label": t("Max. width"), "field": "width"},
                {"name": "unit", "label": t("Unit"), "field": "unit"},
            ]
            ui.table(columns=columns, rows=defect_rows(defects, t), row_key="id").classes(
                "w-full"
            ).mark("defects")
            if not defects:
                ui.label(t("No defects found."))
