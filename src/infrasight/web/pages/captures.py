"""Captures: a gallery per asset and a viewer with the crack overlay and defects in mm."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from sqlalchemy.orm import Session

from infrasight.api.routes.assets import get_asset
from infrasight.api.routes.captures import (
    CaptureRead,
    DefectRead,
    capture_analyses,
    capture_defects,
    get_capture,
    list_captures,
)
from infrasight.api.routes.defects import DefectReviewCreate, create_review
from infrasight.core.domain import Action
from infrasight.core.errors import NotFoundError
from infrasight.services.auth import Principal
from infrasight.services.crack_analysis import CRACK_MODEL
from infrasight.services.defect_reviews import latest_reviews
from infrasight.web.context import WebContext
from infrasight.web.i18n import N_, Translator
from infrasight.web.layout import PageScope, act, browser_id, open_page
from infrasight.web.overlay import defect_marks, overlay_svg, scale_bar_mm

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


VERDICT_NAMES = {"confirmed": N_("confirmed"), "rejected": N_("rejected")}
#: Reasons an inspector gives when rejecting a detection (kept as the review's note).
REJECT_REASONS = {
    "formwork joint": N_("formwork joint"),
    "stain": N_("stain"),
    "shadow or edge": N_("shadow or edge"),
}


def _review_text(verdict: str, note: str, t: Translator) -> str:
    name = t(VERDICT_NAMES[verdict]) if verdict in VERDICT_NAMES else verdict
    reason = t(REJECT_REASONS[note]) if note in REJECT_REASONS else note
    return f"{name}: {reason}" if reason else name


def _viewer(capture: CaptureRead, source: str, defects: list[DefectRead], t: Translator) -> None:
    """The image with each defect's box, id and widest width, and a scale bar (SVG on top)."""
    marks = defect_marks(
        [(d.id, d.geometry, d.measurements) for d in defects],
        fmt=lambda value: t.number(value, 2),
    )
    bar = None
    if capture.mm_per_px and capture.width:
        length_mm, length_px = scale_bar_mm(capture.width, capture.mm_per_px)
        bar = (t("{length} mm", length=t.number(length_mm, 1)), length_px)
    image = ui.interactive_image(
        f"/web/captures/{capture.id}/{source}",
        content=overlay_svg(marks, capture.width, capture.height, bar=bar),
    ).classes("w-full max-w-4xl")
    image.props(f'alt="{source}" no-spinner').mark("capture-image")
    with ui.row().classes("gap-4 text-xs items-center flex-wrap").mark("legend"):
        ui.label(t("Legend:"))
        ui.label(t("red tint: crack pixels")).classes("text-red-700")
        ui.label(t("yellow line: centreline")).classes("text-yellow-700")
        ui.label(t("dashed box: defect with id and widest width")).classes("text-cyan-700")
        ui.label(t("circle: widest point")).classes("text-rose-600")
        if bar is None:
            ui.label(t("no scale: widths in pixels"))


def _review_controls(ctx: WebContext, scope: PageScope, defects: list[DefectRead]) -> None:
    """Confirm or reject each detection (inspector and above); kept as a training label."""
    if not defects or not scope.may(Action.FIELD_WORK):
        return
    t = scope.t
    bid = browser_id()
    ui.label(t("Review the detections")).classes("text-lg")
    for defect in defects:
        with ui.row().classes("items-center gap-2 flex-wrap").mark(f"review-{defect.id}"):
            ui.label(f"#{defect.id}").classes("font-bold w-12")

            def review(verdict: str, note: str, defect_id: int = defect.id) -> None:
                def work(session: Session, caller: Principal) -> object:
                    body = DefectReviewCreate(verdict=verdict, note=note)  # type: ignore[arg-type]
                    return create_review(defect_id, body, session, caller)

                if act(ctx, bid, t, work) is not None:
                    ui.notify(t("Review saved."), type="positive")
                    ui.navigate.reload()

            ui.button(t("Confirm"), on_click=lambda _e, r=review: r("confirmed", "")).props(
                "dense color=positive"
            ).mark(f"confirm-{defect.id}")
            for reason, name in REJECT_REASONS.items():
                ui.button(
                    t("Reject: {reason}", reason=t(name)),
                    on_click=lambda _e, r=review, why=reason: r("rejected", why),
                ).props("dense outline color=negative").mark(
                    f"reject-{defect.id}-{reason.replace(' ', '-')}"
                )


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
            defects = capture_defects(capture.id, session, caller, t.locale, model_version=None)
            _viewer(capture, source, defects if analysed else [], t)
            ui.label(t("Defects")).classes("text-lg")
            columns = [
                {"name": "id", "label": t("Id"), "field": "id", "align": "left"},
                {"name": "kind", "label": t("Kind"), "field": "kind", "align": "left"},
                {"name": "confidence", "label": t("Confidence"), "field": "confidence"},
                {"name": "length", "label": t("Length"), "field": "length"},
                {"name": "width", "label": t("Max. width"), "field": "width"},
                {"name": "unit", "label": t("Unit"), "field": "unit"},
                {"name": "review", "label": t("Review"), "field": "review", "align": "left"},
            ]
            reviews = latest_reviews(session, [d.id for d in defects])
            rows = defect_rows(defects, t)
            for row in rows:
                review = reviews.get(int(row["id"]))
                row["review"] = _review_text(review.verdict, review.note, t) if review else "–"
            table = ui.table(columns=columns, rows=rows, row_key="id").classes("w-full")
            table.props("hide-no-data").mark("defects")  # the label below says it
            if not defects:
                ui.label(t("No defects found."))
            with ui.row().classes("gap-3 text-sm"):
                for defect in defects:
                    ui.link(
                        t("Defect #{id}: history", id=defect.id), f"/defects/{defect.id}/history"
                    ).mark(f"history-{defect.id}")
            _review_controls(ctx, scope, defects)
