"""Asset: element tree, channel charts (downsampled, zoom re-queries), alarm thresholds, the
asset's hazards, open alarms and condition history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from nicegui import events, ui
from nicegui.client import ClientConnectionTimeout
from sqlalchemy.orm import Session

from infrasight.api.routes.assets import ElementRead, get_asset
from infrasight.api.routes.channels import ChannelRead, ReadingSeries, channel_readings
from infrasight.api.routes.condition import get_condition
from infrasight.api.routes.forecasts import ChannelForecast, forecast
from infrasight.api.routes.hazards import list_hazards
from infrasight.api.routes.ratings import list_ratings
from infrasight.core.display_names import element_kind_name, quantity_name
from infrasight.core.errors import InfraSightError, NotFoundError
from infrasight.locales.phrases import evidence_translator
from infrasight.services.auth import Principal
from infrasight.web import data
from infrasight.web.assistant_panel import assistant_panel
from infrasight.web.charts import (
    MAX_POINTS,
    chart_options,
    forecast_horizon_days,
    forecast_series,
    series_data,
    zoom_window,
)
from infrasight.web.context import WebContext
from infrasight.web.forecast_cache import ForecastKey
from infrasight.web.i18n import N_, Translator
from infrasight.web.layout import PageScope, browser_id, open_page
from infrasight.web.pages.hazards import MECHANISM_NAMES, asset_rating_text, no_rating_text
from infrasight.web.pages.hazards import STATUS_NAMES as HAZARD_STATUS
from infrasight.web.pages.hazards import name_of as _name

__all__ = ["PendingForecast", "element_tree", "forecast_window", "register"]

#: How long a page waits for its browser's connection before fitting a forecast, seconds.
FORECAST_CONNECT_S = 10.0

#: The forecast endpoint's trend models, as the caption names them.
TREND_NAMES = {
    "constant": N_("constant"),
    "linear": N_("linear"),
    "quadratic": N_("quadratic"),
    "exponential": N_("exponential"),
    "saturating": N_("saturating"),
    "onset": N_("onset"),
    "seasonal": N_("seasonal"),
}


def element_tree(elements: list[ElementRead], t: Translator) -> list[dict[str, Any]]:
    """Nodes for ``ui.tree``: each element under its parent (roots first, by id), labelled with
    its name and its kind's name in ``t``'s language (``core/element_kinds.toml``)."""
    nodes: dict[int, dict[str, Any]] = {
        e.id: {
            "id": str(e.id),
            "label": t("{name} ({kind})", name=e.name, kind=t.optional(element_kind_name(e.kind))),
            "children": [],
        }
        for e in elements
    }
    roots: list[dict[str, Any]] = []
    for element in sorted(elements, key=lambda e: e.id):
        node = nodes[element.id]
        parent = nodes.get(element.parent_id) if element.parent_id is not None else None
        (parent["children"] if parent is not None else roots).append(node)
    return roots


def _zoom_percent(args: Any) -> tuple[float, float] | None:
    """The start/end percentages of an ECharts ``datazoom`` event (slider or inside zoom)."""
    if not isinstance(args, dict):
        return None
    item = args["batch"][0] if isinstance(args.get("batch"), list) and args["batch"] else args
    if "start" in item and "end" in item:
        return float(item["start"]), float(item["end"])
    return None


def forecast_window(series: ReadingSeries) -> tuple[float, float] | None:
    """(history days, horizon days) of the forecast drawn with ``series``; None when there is
    too little to fit (fewer than two buckets)."""
    if series.start is None or series.end is None or len(series.points) < 2:
        return None
    history = min(90.0, max(1e-3, (series.end - series.start).total_seconds() / 86_400.0))
    return history, forecast_horizon_days(series)


def _forecast(
    session: Session, caller: Principal, channel_id: int, window: tuple[float, float]
) -> ChannelForecast | None:
    """``GET /channels/{id}/forecast`` over the charted history, or None when it has no answer
    (too few readings, a trend that overflows): the chart then stays without a band."""
    try:
        return forecast(
            channel_id,
            session,
            caller,
            kind="auto",
            history_days=window[0],
            horizon_days=window[1],
            period_days=None,
            limit=None,
            points=60,
            level=0.95,
        )
    except InfraSightError:
        return None


def _chart_names(t: Translator) -> dict[str, str]:
    return {
        "mean": t("mean"),
        "min": t("min"),
        "max": t("max"),
        "forecast": t("forecast"),
        "band": t("95 % band"),
    }


def _draw_forecast(
    chart: ui.echart, notes: ui.column, key: str, projected: ChannelForecast, t: Translator
) -> None:
    """Add the forecast's line and band to ``chart`` (the x axis grows to its horizon)."""
    options = chart.options
    options["series"][3:] = forecast_series(projected, _chart_names(t))
    last = projected.points[-1]
    options["xAxis"]["max"] = max(options["xAxis"]["max"] or 0.0, last.time.timestamp() * 1e3)
    chart.update()
    with notes:
        ui.label(
            t(
                "Forecast ({model}) to {end}: {mean} {unit}, 95 % band {lower} to {upper}",
                model=_name(TREND_NAMES, projected.selected_kind, t),
                end=t.datetime(last.time),
                mean=t.number(last.median),
                unit=projected.unit,
                lower="-" if last.lower is None else t.number(last.lower),
                upper="-" if last.upper is None else t.number(last.upper),
            )
        ).classes("text-xs text-violet-700").props("data-forecast").mark(f"forecast-caption-{key}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingForecast:
    """What the page needs to add the forecast once it is fitted (after the HTML is sent)."""

    chart: ui.echart
    notes: ui.column
    channel: ChannelRead
    series: ReadingSeries
    caller: Principal
    t: Translator

    async def draw(self, ctx: WebContext) -> None:
        """Fit (or take the shared fit) and draw it; a browser that never connects (a plain
        HTTP fetch) starts no fit."""
        window = forecast_window(self.series)
        projected: ChannelForecast | None = None
        if window is not None and self.series.end is not None:
            try:
                projected = await self._fit(ctx, (self.channel.id, self.series.end, *window))
            except ClientConnectionTimeout:
                return  # nobody to show it to
        if projected is None or not projected.points:
            with self.notes:
                ui.label(self.t("No forecast: too few readings for a trend.")).classes(
                    "text-xs text-slate-600"
                ).props("data-forecast").mark(f"forecast-none-{self.channel.key}")
            return
        _draw_forecast(self.chart, self.notes, self.channel.key, projected, self.t)

    async def _fit(self, ctx: WebContext, key: ForecastKey) -> ChannelForecast | None:
        stored, projected = ctx.forecasts.peek(key)
        if not stored:
            await ui.context.client.connected(timeout=FORECAST_CONNECT_S)

            def compute() -> ChannelForecast | None:
                with ctx.session() as session:
                    return _forecast(session, self.caller, self.channel.id, key[2:])

            projected = await ctx.forecasts.get(key, compute)
        return projected


#: The re-queried series, in the order of the chart's first three series.
SERIES = ("mean", "min", "max")
#: Least time between two zoom re-queries of one chart, s. NiceGUI sends the first zoom event at
#: once and holds later ones until the window ends: a zoom that follows another within the
#: window waits for it (0.3 s made a quick second zoom take about 0.3 s).
ZOOM_THROTTLE_S = 0.1


def _chart(
    ctx: WebContext,
    channel: ChannelRead,
    series: ReadingSeries,
    levels: list[Any],
    scope: PageScope,
) -> PendingForecast:
    t = scope.t
    options = chart_options(series, levels, names=_chart_names(t), locale=t.locale)
    chart = ui.echart(options).classes("w-full h-72")
    chart.mark(f"chart-{channel.key}")
    caption = ui.label(_caption(series, t)).classes("text-xs text-slate-600")
    caption.mark(f"chart-caption-{channel.key}")
    notes = ui.column().classes("gap-0")
    data_end = series.end
    bid = browser_id()

    def requery(event: events.GenericEventArguments) -> None:
        window = _zoom_percent(event.args)
        axis = chart.options["xAxis"]
        if window is None or axis["min"] is None or axis["max"] is None or data_end is None:
            return
        full = (
            datetime.fromtimestamp(axis["min"] / 1e3, UTC),
            datetime.fromtimestamp(axis["max"] / 1e3, UTC),
        )
        first, last = zoom_window(full[0], full[1], *window)
        # the readings stop at the last one; the rest of the axis is the forecast's
        last = min(last, data_end)
        if last <= first:
            first = max(full[0], last - timedelta(seconds=1))
        with ctx.session() as session:
            caller = ctx.principal(session, bid)
            if caller is None:
                ui.navigate.to("/login")
                return
            zoomed = channel_readings(
                channel.id, session, caller, start=first, end=last, max_points=MAX_POINTS
            )
        points = series_data(zoomed)
        # the server's copy of the options follows (a later full update sends it), without an
        # update now: only the three re-queried series travel, merged by ECharts by index (not
        # the forecast, levels and axes, and no re-render of the element)
        with chart.props.suspend_updates():
            for index, key in enumerate(SERIES):
                chart.options["series"][index]["data"] = points[key]
        chart.run_chart_method("setOption", {"series": [{"data": points[k]} for k in SERIES]})
        caption.text = _caption(zoomed, t)

    chart.on("chart:datazoom", requery, throttle=ZOOM_THROTTLE_S)
    return PendingForecast(
        chart=chart, notes=notes, channel=channel, series=series, caller=scope.caller, t=t
    )


def _caption(series: ReadingSeries, t: Translator) -> str:
    if not series.points:
        return t("No readings.")
    return t(
        "{count} buckets of {seconds} s, {start} to {end}",
        count=t.number(len(series.points), 0),
        seconds=t.number(series.bucket_seconds, 0),
        start=t.datetime(series.start),
        end=t.datetime(series.end),
    )


def register(ctx: WebContext) -> None:
    """Add ``/assets/{asset_id}``."""

    @ui.page("/assets/{asset_id}")
    async def asset_page(asset_id: int, channel: str | None = None) -> None:
        pending: PendingForecast | None = None
        with open_page(ctx, N_("Asset")) as scope:
            if scope is None:
                return
            t, session, caller = scope.t, scope.session, scope.caller
            try:
                asset = scope.read(
                    "asset", asset_id, fetch=lambda: get_asset(asset_id, session, caller)
                )
            except NotFoundError:
                ui.label(t("Asset not found.")).mark("not-found")
                return
            ui.label(asset.name).classes("text-2xl").mark("asset-name")
            ui.label(asset.description).classes("text-slate-700")
            with ui.row().classes("gap-4"):
                ui.link(t("Captures"), f"/assets/{asset.id}/captures")
                ui.link(t("Reports"), f"/assets/{asset.id}/reports").mark("asset-reports")
            channels = scope.read(
                "channels", asset.id, fetch=lambda: data.asset_channels(session, caller, asset.id)
            )
            elements = scope.read(
                "elements", asset.id, fetch=lambda: data.elements(session, caller, asset.id)
            )
            with ui.row().classes("w-full gap-4 flex-wrap md:flex-nowrap"):
                with ui.card().classes("w-full md:w-72 shrink-0"):
                    ui.label(t("Elements")).classes("text-lg")
                    ui.tree(element_tree(elements, t), label_key="label").expand().mark("elements")
                with ui.column().classes("w-full grow gap-2"):
                    ui.label(t("Channels")).classes("text-lg")
                    if not channels:
                        ui.label(t("No channels."))
                    else:
                        pending = _channel_view(ctx, scope, channels, channel, asset.id)
            _sections(scope, asset.id, {c.key for c in channels}, elements)
            _condition(scope, asset.id, asset.governing_standard)
            assistant_panel(ctx, scope, asset_id=asset.id)
        if pending is not None:
            await pending.draw(ctx)


def _channel_view(
    ctx: WebContext,
    scope: PageScope,
    channels: list[ChannelRead],
    channel: str | None,
    asset_id: int,
) -> PendingForecast:
    """The chosen channel's chart with its alarm levels and a select of the asset's channels;
    the forecast is added when fitted."""
    t, session, caller = scope.t, scope.session, scope.caller
    chosen = next((c for c in channels if c.key == channel), channels[0])
    ui.select(
        {
            c.key: t(
                "{key} ({quantity}, {unit})",
                key=c.key,
                quantity=t.optional(quantity_name(c.quantity)),
                unit=c.unit,
            )
            for c in channels
        },
        value=chosen.key,
        label=t("Channel"),
        on_change=lambda e: ui.navigate.to(f"/assets/{asset_id}?channel={e.value}"),
    ).classes("w-full sm:w-96").mark("channel")
    series = scope.read(
        "readings",
        chosen.id,
        fetch=lambda: channel_readings(
            chosen.id, session, caller, start=None, end=None, max_points=MAX_POINTS
        ),
    )
    levels = scope.read(
        "levels", chosen.key, fetch=lambda: data.rule_levels(session, caller, chosen.key)
    )
    pending = _chart(ctx, chosen, series, levels, scope)
    if levels:
        ui.label(
            t(
                "Alarm levels: {levels}",
                levels=", ".join(
                    f"{lv['name']} {t.number(lv['value'])} {chosen.unit}" for lv in levels
                ),
            )
        ).classes("text-sm").mark("levels")
    return pending


def _condition(scope: PageScope, asset_id: int, standard: str | None) -> None:
    """The asset's condition under its governing standard: the rating, its clause and the
    evidence that set it, in the reader's language."""
    t, session, caller = scope.t, scope.session, scope.caller
    with ui.card().classes("w-full").mark("asset-condition"):
        ui.label(t("Condition rating")).classes("text-lg")
        if not standard:
            ui.label(t("The asset has no governing standard: no rating."))
            return
        try:
            rated = scope.read(
                "condition rating",
                asset_id,
                standard,
                t.locale,
                fetch=lambda: get_condition(
                    asset_id, session, caller, standard=standard, locale=t.locale
                ),
            )
        except InfraSightError as error:
            ui.label(no_rating_text(error, standard, t))
            return
        summary = rated["summary"]
        ui.label(asset_rating_text(summary, standard, t)).classes("text-sm").mark(
            "condition-summary"
        )
        for rating in (summary, *rated["groups"]):
            if rating is not summary:
                ui.label(str(rating["label"])).classes("text-sm font-bold")
            for item in rating["evidence"]:
                ui.label(str(item["detail"])).classes("text-sm pl-4").mark("condition-evidence")


def _sections(
    scope: PageScope, asset_id: int, channel_keys: set[str], elements: list[ElementRead]
) -> None:
    """The asset's hazards, its open alarms and its recorded condition ratings."""
    t, session, caller = scope.t, scope.session, scope.caller
    with ui.row().classes("w-full gap-4 flex-wrap md:flex-nowrap items-start"):
        with ui.card().classes("w-full md:w-1/3").mark("asset-hazards"):
            ui.label(t("Hazards")).classes("text-lg")
            hazards = scope.read(
                "hazards",
                asset_id,
                fetch=lambda: list_hazards(
                    session, caller, asset_id=asset_id, status=None, min_risk=None
                ),
            )
            if not hazards:
                ui.label(t("No hazards."))
            for h in hazards:
                ui.link(
                    t(
                        "#{id} {mechanism}: risk {risk}, {state}",
                        id=h.id,
                        mechanism=_name(MECHANISM_NAMES, h.mechanism, t),
                        risk=h.risk,
                        state=_name(HAZARD_STATUS, h.status, t),
                    ),
                    f"/hazards/{h.id}",
                ).classes("text-sm")
        with ui.card().classes("w-full md:w-1/3").mark("asset-alarms"):
            ui.label(t("Open alarms")).classes("text-lg")
            alarms = scope.read(
                "open alarms",
                asset_id,
                fetch=lambda: data.open_alarms_on(session, caller, channel_keys),
            )
            if not alarms:
                ui.label(t("No alarms."))
            levels = evidence_translator(t.locale)  # the level names (amber, red...)
            for alarm in alarms:
                ui.link(
                    f"{levels.optional(alarm.level_name)} · {alarm.key} · "
                    f"{t.datetime(alarm.raised_at)}",
                    f"/alarms?status={alarm.status}",
                ).classes("text-sm")
        with ui.card().classes("w-full md:w-1/3").mark("asset-ratings"):
            ui.label(t("Condition history")).classes("text-lg")
            ratings = scope.read(
                "ratings", asset_id, fetch=lambda: list_ratings(asset_id, session, caller)
            )
            if not ratings:
                ui.label(t("No ratings recorded."))
            names = {e.id: e.name for e in elements}
            for r in ratings[-20:]:
                ui.label(
                    f"{t.datetime(r.inspected_at)} · {names.get(r.element_id, r.element_id)} · "
                    f"{r.standard} {r.rating}"
                ).classes("text-sm")
