"""Overview: the organisation's assets, their open alarms and a plain coordinate view."""

from __future__ import annotations

from html import escape

from nicegui import ui

from infrasight.api.routes.assets import AssetRead
from infrasight.web import data
from infrasight.web.context import WebContext
from infrasight.web.i18n import N_, Translator
from infrasight.web.layout import open_page

__all__ = ["coordinate_svg", "register"]

KIND_NAMES = {
    "bridge": N_("bridge"),
    "tunnel": N_("tunnel"),
    "rail_line": N_("rail line"),
    "station": N_("station"),
    "other": N_("other"),
}


def coordinate_svg(assets: list[AssetRead], *, size: int = 320, margin: int = 24) -> str:
    """An SVG of the assets' WGS 84 positions scaled to fit (no map tiles, nothing fetched)."""
    placed = [a for a in assets if a.latitude is not None and a.longitude is not None]
    if not placed:
        return ""
    lats = [float(a.latitude) for a in placed if a.latitude is not None]
    lons = [float(a.longitude) for a in placed if a.longitude is not None]
    span = max(max(lats) - min(lats), max(lons) - min(lons), 1e-4)
    inner = size - 2 * margin
    marks = []
    for asset, lat, lon in zip(placed, lats, lons, strict=True):
        x = margin + (lon - min(lons)) / span * inner
        y = size - margin - (lat - min(lats)) / span * inner
        right = x > size / 2  # label on the inner side so it stays in the box
        anchor, dx = ("end", -9) if right else ("start", 9)
        marks.append(
            f'<a href="/assets/{asset.id}"><circle cx="{x:.1f}" cy="{y:.1f}" r="6" '
            f'fill="#b91c1c"/><text x="{x + dx:.1f}" y="{y + 4:.1f}" font-size="12" '
            f'text-anchor="{anchor}">{escape(asset.name)}</text></a>'
        )
    return (
        f'<svg viewBox="0 0 {size} {size}" width="100%" style="max-width:{size}px" '
        f'role="img" xmlns="http://www.w3.org/2000/svg">'
        f'<rect width="{size}" height="{size}" fill="#f1f5f9" stroke="#94a3b8"/>'
        + "".join(marks)
        + "</svg>"
    )


def _asset_card(asset: AssetRead, open_alarms: int, t: Translator) -> None:
    with ui.card().classes("w-full sm:w-80").mark(f"asset-{asset.id}"):
        ui.link(asset.name, f"/assets/{asset.id}").classes("text-lg font-bold")
        ui.label(t(KIND_NAMES.get(asset.kind.value, asset.kind.value)))
        badge = "text-red-700 font-bold" if open_alarms else "text-green-700"
        ui.label(t("Open alarms: {count}", count=t.number(open_alarms, 0))).classes(badge)
        ui.label(t("Condition: no rating yet")).classes("text-slate-600")
        if asset.governing_standard:
            ui.label(t("Standard: {name}", name=asset.governing_standard)).classes("text-xs")
        with ui.row().classes("gap-3"):
            ui.link(t("Channels"), f"/assets/{asset.id}")
            ui.link(t("Captures"), f"/assets/{asset.id}/captures")


def register(ctx: WebContext) -> None:
    """Add ``/``."""

    @ui.page("/")
    def overview_page() -> None:
        with open_page(ctx, N_("Overview")) as scope:
            if scope is None:
                return
            t = scope.t
            listed = data.assets(scope.session, scope.caller)
            counts = data.active_alarms_by_asset(scope.session, scope.caller, listed)
            ui.label(t("Assets")).classes("text-2xl")
            if not listed:
                ui.label(t("No assets yet."))
            with ui.row().classes("w-full gap-3"):
                for asset in listed:
                    _asset_card(asset, counts.get(asset.id, 0), t)
            svg = coordinate_svg(listed)
            if svg:
                ui.label(t("Positions (WGS 84, no map tiles)")).classes("text-lg")
                ui.html(svg, sanitize=False).mark("coordinates")
