"""Overview: the organisation's assets with their condition, open alarms and open hazards, the
overdue work orders, and a plain coordinate view."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape

from nicegui import ui
from sqlalchemy.orm import Session

from infrasight.api.routes.assets import AssetRead
from infrasight.api.routes.condition import get_condition
from infrasight.api.routes.hazards import HazardRead, list_hazards
from infrasight.api.routes.work_orders import list_work_orders
from infrasight.core.errors import InfraSightError
from infrasight.locales import DEFAULT_LOCALE
from infrasight.services.auth import Principal
from infrasight.web import data
from infrasight.web.context import WebContext
from infrasight.web.i18n import N_
from infrasight.web.layout import PageScope, open_page

__all__ = ["coordinate_svg", "map_view", "register"]

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


def map_view(assets: list[AssetRead], tile_url: str, attribution: str) -> ui.leaflet | None:
    """A Leaflet map of the placed assets on the configured tiles (None without coordinates).

    NiceGUI's Leaflet comes with the package; its default OpenStreetMap layer is removed before
    the map reaches the browser, so the only tiles fetched are ``tile_url``'s. Assets are
    circle markers (no marker images to fetch).
    """
    placed = [
        (a, float(a.latitude), float(a.longitude))
        for a in assets
        if a.latitude is not None and a.longitude is not None
    ]
    if not placed:
        return None
    lats = [lat for _, lat, _ in placed]
    lons = [lon for _, _, lon in placed]
    span = max(max(lats) - min(lats), max(lons) - min(lons), 0.01)
    # the zoom at which the span fills about half of a 256-px-per-360-degree world tile
    zoom = max(2, min(16, math.floor(math.log2(180.0 / span))))
    center = ((max(lats) + min(lats)) / 2, (max(lons) + min(lons)) / 2)
    leaflet = ui.leaflet(center=center, zoom=zoom)
    leaflet.clear_layers()
    leaflet.tile_layer(url_template=tile_url, options={"attribution": attribution, "maxZoom": 19})
    for asset, lat, lon in placed:
        leaflet.generic_layer(
            name="circleMarker",
            args=[[lat, lon], {"radius": 7, "color": "#b91c1c", "title": asset.name}],
        )
    return leaflet


CLOSED_HAZARDS = frozenset({"resolved", "closed", "merged"})


def _rating(
    session: Session, caller: Principal, asset: AssetRead, locale: str
) -> tuple[str, float] | None:
    """(label in ``locale``, rating) of the asset's summary under its governing standard, or
    None."""
    if not asset.governing_standard:
        return None
    try:
        rated = get_condition(
            asset.id, session, caller, standard=asset.governing_standard, locale=locale
        )
    except InfraSightError:
        return None
    summary = rated["summary"]
    return str(summary["label"]), float(summary["rating"])


def _condition(scope: PageScope, asset: AssetRead) -> str:
    """The asset's summary rating under its governing standard, or why there is none."""
    t = scope.t
    rated = scope.read(
        "condition",
        asset.id,
        asset.governing_standard,
        t.locale,
        fetch=lambda: _rating(scope.session, scope.caller, asset, t.locale),
    )
    if rated is None:
        return t("Condition: no rating yet")
    return t("Condition: {label} ({rating})", label=rated[0], rating=t.number(rated[1], 1))


def _asset_card(
    scope: PageScope, asset: AssetRead, open_alarms: int, hazards: list[HazardRead]
) -> None:
    t = scope.t
    with ui.card().classes("w-full sm:w-80").mark(f"asset-{asset.id}"):
        ui.link(asset.name, f"/assets/{asset.id}").classes("text-lg font-bold")
        ui.label(t(KIND_NAMES.get(asset.kind.value, asset.kind.value)))
        badge = "text-red-700 font-bold" if open_alarms else "text-green-700"
        ui.label(t("Open alarms: {count}", count=t.number(open_alarms, 0))).classes(badge)
        if hazards:
            ui.link(
                t(
                    "Open hazards: {count}, highest risk {risk}",
                    count=t.number(len(hazards), 0),
                    risk=max(h.risk for h in hazards),
                ),
                f"/hazards?asset={asset.id}",
            ).classes("text-red-700").mark(f"asset-hazards-{asset.id}")
        else:
            ui.label(t("Open hazards: {count}", count=t.number(0, 0))).classes("text-green-700")
        ui.label(_condition(scope, asset)).classes("text-slate-600").mark(
            f"asset-condition-{asset.id}"
        )
        if asset.governing_standard:
            ui.label(t("Standard: {name}", name=asset.governing_standard)).classes("text-xs")
        with ui.row().classes("gap-3"):
            ui.link(t("Channels"), f"/assets/{asset.id}")
            ui.link(t("Captures"), f"/assets/{asset.id}/captures")


def _open_hazards(session: Session, caller: Principal) -> list[HazardRead]:
    """The hazards that are not resolved, closed or merged (``GET /hazards``)."""
    listed = list_hazards(session, caller, asset_id=None, status=None, min_risk=None)
    return [h for h in listed if h.status not in CLOSED_HAZARDS]


def _open_due(session: Session, caller: Principal) -> list[datetime]:
    """When each work order that is still to be done is due (UTC; ``GET /work-orders``)."""
    orders = list_work_orders(
        session, caller, DEFAULT_LOCALE, status=None, asset_id=None, hazard_id=None
    )
    return [
        w.due_at if w.due_at.tzinfo else w.due_at.replace(tzinfo=UTC)
        for w in orders
        if w.status not in ("completed", "verifying", "closed", "cancelled")
    ]


def register(ctx: WebContext) -> None:
    """Add ``/``."""

    @ui.page("/")
    def overview_page() -> None:
        with open_page(ctx, N_("Overview")) as scope:
            if scope is None:
                return
            t = scope.t
            session, caller = scope.session, scope.caller
            listed = scope.read("assets", fetch=lambda: data.assets(session, caller))
            counts = scope.read(
                "alarms by asset",
                fetch=lambda: data.active_alarms_by_asset(session, caller, listed),
            )
            ui.label(t("Assets")).classes("text-2xl")
            if not listed:
                ui.label(t("No assets yet."))
            hazards = scope.read("open hazards", fetch=lambda: _open_hazards(session, caller))
            dues = scope.read("open work orders", fetch=lambda: _open_due(session, caller))
            now = datetime.now(UTC)
            overdue = [due for due in dues if due < now]
            ui.link(
                t("Work orders overdue: {count}", count=t.number(len(overdue), 0)),
                "/work-orders",
            ).classes("text-red-700 font-bold" if overdue else "text-green-700").mark("overdue")
            with ui.row().classes("w-full gap-3"):
                for asset in listed:
                    own = [h for h in hazards if h.asset_id == asset.id]
                    _asset_card(scope, asset, counts.get(asset.id, 0), own)
            settings = ctx.platform.settings
            if settings.map_tile_url and any(
                a.latitude is not None and a.longitude is not None for a in listed
            ):
                ui.label(t("Map")).classes("text-lg")
                leaflet = map_view(listed, settings.map_tile_url, settings.map_tile_attribution)
                if leaflet is not None:
                    leaflet.classes("w-full h-80").mark("map")
            svg = "" if settings.map_tile_url else coordinate_svg(listed)
            if svg:
                ui.label(t("Positions (WGS 84, no map tiles)")).classes("text-lg")
                ui.html(svg, sanitize=False).mark("coordinates")
