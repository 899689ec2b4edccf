"""Hazards: a filterable list (risk, state, element, mechanism) and a detail page with the
evidence, the ranked causes with their citations, the element's condition rating, the
recommendations (create a work order), the lifecycle buttons the role allows and the audit trail.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape
from typing import Any

from nicegui import ui
from sqlalchemy.orm import Session

from infrasight.api.routes.alarms import get_alarm
from infrasight.api.routes.assets import AssetRead, get_asset
from infrasight.api.routes.condition import get_condition
from infrasight.api.routes.hazards import (
    HazardRead,
    HazardTransitionIn,
    get_hazard,
    list_hazards,
    post_transition,
)
from infrasight.api.routes.work_orders import WorkOrderCreate, get_recommendations, post_work_order
from infrasight.core.domain import Action
from infrasight.core.errors import InfraSightError, InvalidInputError, NotFoundError
from infrasight.locales import DEFAULT_LOCALE
from infrasight.locales.phrases import evidence_translator, render_phrase
from infrasight.reasoning.errors import UnknownStandardError
from infrasight.reasoning.hazards import HazardStatus, RiskMatrix, load_risk_matrix
from infrasight.services.auth import Principal
from infrasight.web import data
from infrasight.web.assistant_panel import assistant_panel
from infrasight.web.charts import TIME_LABELS
from infrasight.web.context import WebContext
from infrasight.web.i18n import N_, Translator
from infrasight.web.layout import PageScope, act, browser_id, error_text, open_page

__all__ = [
    "MECHANISM_NAMES",
    "STATUS_NAMES",
    "evidence_timeline",
    "hazard_rows",
    "manual_targets",
    "name_of",
    "prediction_lines",
    "register",
    "risk_matrix_html",
]

STATUS_NAMES = {
    HazardStatus.OPEN.value: N_("open"),
    HazardStatus.ACKNOWLEDGED.value: N_("acknowledged"),
    HazardStatus.MITIGATING.value: N_("mitigating"),
    HazardStatus.RESOLVED.value: N_("resolved"),
    HazardStatus.CLOSED.value: N_("closed"),
    HazardStatus.MERGED.value: N_("merged"),
}
#: The mechanism library's ids (``reasoning/mechanisms/*.toml``) and their names.
MECHANISM_NAMES = {
    "applied_load": N_("Applied load (no damage)"),
    "asr": N_("Alkali-silica reaction"),
    "corrosion": N_("Corrosion of reinforcement"),
    "fatigue": N_("Fatigue cracking"),
    "flexural_overload": N_("Flexural overload"),
    "freeze_thaw": N_("Freeze-thaw damage"),
    "impact": N_("Impact (vehicle, vessel, debris)"),
    "sensor_fault": N_("Sensor fault"),
    "settlement": N_("Settlement / support movement"),
    "shear": N_("Shear distress"),
    "shrinkage": N_("Drying shrinkage"),
    "stiffness_loss": N_("Stiffness loss (structural, mechanism not resolved)"),
    "thermal": N_("Thermal response (no damage)"),
    "water_ingress": N_("Water ingress / leakage"),
}
BAND_NAMES = {
    "low": N_("low"),
    "medium": N_("medium"),
    "high": N_("high"),
    "very high": N_("very high"),
}
BAND_COLOURS = {"low": "green-7", "medium": "amber-8", "high": "red-7"}
_CELL_COLOURS = {"low": "#bbf7d0", "medium": "#fde68a", "high": "#fca5a5"}


def _band(matrix: RiskMatrix, score: int) -> str:
    return next((label for label, top in matrix.bands if score <= top), matrix.bands[-1][0])


def risk_matrix_html(matrix: RiskMatrix, likelihood: int, consequence: int, t: Translator) -> str:
    """The 5 x 5 matrix (likelihood up, consequence across) coloured by band, with the hazard's
    cell outlined and marked."""
    rows = []
    for lk in range(5, 0, -1):
        cells = [f'<th style="padding:0 6px;font-weight:normal">{lk}</th>']
        for cq in range(1, 6):
            score = lk * cq
            here = (lk, cq) == (likelihood, consequence)
            colour = _CELL_COLOURS.get(_band(matrix, score), "#f87171")
            border = "3px solid #0f172a" if here else "1px solid #fff"
            text = f"<b>● {score}</b>" if here else str(score)
            mark = ' data-here="true"' if here else ""
            cells.append(
                f'<td{mark} style="background:{colour};border:{border};width:34px;height:28px;'
                f'text-align:center;font-size:12px">{text}</td>'
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = escape(t("likelihood (up) × consequence (across)"))
    axis = "".join(f'<th style="font-weight:normal">{cq}</th>' for cq in range(1, 6))
    return (
        '<table style="border-collapse:collapse">'
        + "".join(rows)
        + f"<tr><th></th>{axis}</tr></table>"
        + f'<div style="font-size:11px">{caption}</div>'
    )


EVIDENCE_NAMES = {
    "reading_window": N_("readings"),
    "anomaly_window": N_("anomaly"),
    "verification": N_("verification"),
    "alarm": N_("alarm"),
    "defect": N_("defect"),
    "modal_shift": N_("modal shift"),
    "forecast": N_("forecast"),
    "rating": N_("rating"),
    "element": N_("element"),
}


_WINDOW = re.compile(r"\[([^/\]]+)/([^\]]+)\]")
_ALARM = re.compile(r"^alarm:(\d+)")


def prediction_lines(prediction: dict[str, Any], t: Translator) -> list[tuple[str, str]]:
    """(key, line) of what a person reads of a hazard's prediction: the risk's basis, the next
    expected event with its time and probabilities, the chance of progression within a year
    (the forecasts and the condition outlook are shown as evidence and condition)."""
    lines = []
    if prediction.get("risk_basis"):
        basis = str(prediction["risk_basis"])
        lines.append(("risk_basis", t("Basis of the risk: {basis}", basis=basis)))
    upcoming = prediction.get("next")
    if isinstance(upcoming, dict) and upcoming.get("event"):
        years = upcoming.get("years")
        when = (
            t("in {years} years", years=t.number(float(years), 2))
            if isinstance(years, int | float)
            else t("not expected within a year")
        )
        within = upcoming.get("probability_within")
        within = within if isinstance(within, dict) else {}
        p30, p90, p365 = (float(within.get(f"{d}d", 0.0)) for d in (30, 90, 365))
        line = t(
            "Next expected event: {event}, {when} "
            "(probability within 30 / 90 / 365 days: {p30} / {p90} / {p365})",
            event=upcoming["event"],
            when=when,
            p30=t.number(p30, 2),
            p90=t.number(p90, 2),
            p365=t.number(p365, 2),
        )
        lines.append(("next", line))
    progress = prediction.get("progression_probability_1y")
    if isinstance(progress, int | float):
        lines.append(
            (
                "progression",
                t("Probability of progression within a year: {p}", p=t.number(progress, 2)),
            )
        )
    return lines


def _time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def evidence_timeline(
    evidence: list[dict[str, Any]], alarm_times: dict[int, datetime]
) -> list[dict[str, Any]]:
    """The evidence that has a time, for one time axis: ``kind``, ``start``, ``end`` (equal for an
    instant), ``detail``. Windows come from the reference (``channel:K[start/end]``), alarms from
    their raise time; items without either are left out (they stay in the evidence table)."""
    items = []
    for e in evidence:
        ref = str(e.get("ref", ""))
        window = _WINDOW.search(ref)
        alarm = _ALARM.match(ref)
        start = end = None
        if window is not None:
            start, end = _time(window.group(1)), _time(window.group(2))
        elif alarm is not None and int(alarm.group(1)) in alarm_times:
            start = end = alarm_times[int(alarm.group(1))]
        if start is None or end is None:
            continue
        items.append(
            {
                "kind": str(e.get("kind", "")),
                "start": start,
                "end": end,
                "detail": str(e.get("detail", "") or e.get("test", "")),
            }
        )
    return sorted(items, key=lambda item: item["start"])


def _timeline_chart(
    session: Session, caller: Principal, evidence: list[dict[str, Any]], t: Translator
) -> None:
    alarm_times: dict[int, datetime] = {}
    for e in evidence:
        found = _ALARM.match(str(e.get("ref", "")))
        if found is not None:
            alarm_id = int(found.group(1))
            try:
                alarm_times[alarm_id] = get_alarm(alarm_id, session, caller, t.locale).raised_at
            except InfraSightError:
                continue
    items = evidence_timeline(evidence, alarm_times)
    if not items:
        return
    kinds = list(dict.fromkeys(name_of(EVIDENCE_NAMES, i["kind"], t) for i in items))
    series = []
    for item in items:
        kind = name_of(EVIDENCE_NAMES, item["kind"], t)
        points = [[item["start"].isoformat(), kind], [item["end"].isoformat(), kind]]
        instant = item["start"] == item["end"]
        series.append(
            {
                "type": "scatter" if instant else "line",
                "name": item["detail"],
                "data": points[:1] if instant else points,
                "symbolSize": 12 if instant else 6,
                "lineStyle": {"width": 8},
            }
        )
    options = {
        "animation": False,
        "grid": {"left": 90, "right": 20, "top": 10, "bottom": 30},
        "tooltip": {"trigger": "item"},
        "xAxis": {
            "type": "time",
            "axisLabel": {"formatter": TIME_LABELS.get(t.locale, TIME_LABELS["en"])},
        },
        "yAxis": {"type": "category", "data": kinds},
        "series": series,
    }
    ui.echart(options).classes("w-full").style(f"height:{70 + 36 * len(kinds)}px").mark("timeline")


def name_of(table: dict[str, str], key: str, t: Translator) -> str:
    """``key``'s translated name from ``table``, or ``key`` itself when the table lacks it."""
    return t(table[key]) if key in table else t.optional(key)


def hazard_rows(
    hazards: list[HazardRead], element_names: dict[int, str], t: Translator
) -> list[dict[str, Any]]:
    """Table rows of hazards: id, risk (score and band), state, element, mechanism."""
    return [
        {
            "id": h.id,
            "risk": h.risk,
            "band": name_of(BAND_NAMES, h.risk_band, t),
            "status": name_of(STATUS_NAMES, h.status, t),
            "element": element_names.get(h.element_id, "–") if h.element_id is not None else "–",
            "mechanism": name_of(MECHANISM_NAMES, h.mechanism, t),
            "confidence": t.number(h.confidence, 2),
        }
        for h in hazards
    ]


def _element_names(session: Session, caller: Principal, assets: list[AssetRead]) -> dict[int, str]:
    return {
        e.id: f"{asset.name} · {e.name}"
        for asset in assets
        for e in data.elements(session, caller, asset.id)
    }


def _filters(
    t: Translator, assets: list[AssetRead], status: str | None, asset: int | None, risk: int | None
) -> None:
    values = {"status": status, "asset": asset, "min_risk": risk}

    def go(key: str, value: object) -> None:
        values[key] = value  # type: ignore[assignment]
        query = "&".join(f"{k}={v}" for k, v in values.items() if v not in (None, ""))
        ui.navigate.to(f"/hazards?{query}" if query else "/hazards")

    with ui.row().classes("gap-3 items-end flex-wrap"):
        ui.select(
            {"": t("all"), **{k: t(v) for k, v in STATUS_NAMES.items()}},
            value=status or "",
            label=t("State"),
            on_change=lambda e: go("status", e.value),
        ).classes("w-40").mark("filter-status")
        ui.select(
            {0: t("all"), **{a.id: a.name for a in assets}},
            value=asset or 0,
            label=t("Asset"),
            on_change=lambda e: go("asset", e.value or None),
        ).classes("w-56").mark("filter-asset")
        ui.select(
            {0: t("any"), **{n: f"≥ {n}" for n in (5, 10, 15, 20)}},
            value=risk or 0,
            label=t("Risk"),
            on_change=lambda e: go("min_risk", e.value or None),
        ).classes("w-32").mark("filter-risk")


def _evidence_table(items: list[dict[str, Any]], t: Translator, marker: str) -> None:
    columns = [
        # short names: never wrapped (a CJK heading would break after every character)
        {
            "name": "kind",
            "label": t("Kind"),
            "field": "kind",
            "align": "left",
            "classes": "whitespace-nowrap",
            "headerClasses": "whitespace-nowrap",
        },
        {"name": "test", "label": t("Test"), "field": "test", "align": "left"},
        {"name": "detail", "label": t("Detail"), "field": "detail", "align": "left"},
        {"name": "value", "label": t("Value"), "field": "value"},
        {"name": "ref", "label": t("Source"), "field": "ref", "align": "left"},
    ]
    rows = [
        {
            "i": i,
            "kind": name_of(EVIDENCE_NAMES, str(e.get("kind", "")), t),
            "test": e.get("test", ""),
            "detail": e.get("detail", "") or e.get("test", ""),
            "value": (
                f"{t.number(e['value'], 3)} {e.get('unit') or ''}".strip()
                if isinstance(e.get("value"), int | float)
                else "–"
            ),
            "ref": e.get("ref", ""),
        }
        for i, e in enumerate(items)
    ]
    ui.table(columns=columns, rows=rows, row_key="i").classes("w-full").props(
        f'dense wrap-cells no-data-label="{t("Nothing to show.")}"'
    ).mark(marker)


_DEFECT = re.compile(r"^defect:(\d+)")


def _defect_links(evidence: list[dict[str, Any]], t: Translator) -> None:
    """A link to the history page of each defect the evidence cites."""
    ids = sorted({int(m.group(1)) for e in evidence if (m := _DEFECT.match(str(e.get("ref", ""))))})
    if ids:
        with ui.row().classes("gap-3 text-sm"):
            for defect_id in ids:
                ui.link(
                    t("Defect #{id}: history", id=defect_id), f"/defects/{defect_id}/history"
                ).mark(f"defect-history-{defect_id}")


def _causes(causes: list[dict[str, Any]], t: Translator) -> None:
    ui.label(t("Ranked causes")).classes("text-lg")
    if not causes:
        ui.label(t("No causes recorded."))
    for rank, cause in enumerate(causes, start=1):
        mechanism = str(cause.get("mechanism", ""))
        with ui.card().classes("w-full").mark(f"cause-{rank}"):
            with ui.row().classes("items-center gap-3"):
                ui.label(f"{rank}.").classes("font-bold")
                ui.label(name_of(MECHANISM_NAMES, mechanism, t)).classes("font-bold")
                ui.label(
                    t("confidence {value}", value=t.number(float(cause.get("confidence", 0)), 2))
                )
            if cause.get("citation"):
                ui.label(t("Source: {citation}", citation=str(cause["citation"]))).classes(
                    "text-xs text-slate-600"
                ).mark(f"citation-{rank}")
            supporting = list(cause.get("evidence_for", []))
            against = list(cause.get("evidence_against", []))
            if supporting:
                ui.label(t("Evidence for")).classes("text-sm font-bold text-green-800")
                _evidence_table(supporting, t, f"cause-{rank}-for")
            if against:
                ui.label(t("Evidence against")).classes("text-sm font-bold text-red-800")
                _evidence_table(against, t, f"cause-{rank}-against")


def asset_rating_text(summary: dict[str, Any], standard: str, t: Translator) -> str:
    """The asset's rating under ``standard`` in one line: label, rating and clause."""
    return t(
        "Asset under {standard}: {label} ({rating}), {clause}",
        standard=standard,
        label=summary["label"],
        rating=t.number(float(summary["rating"]), 1),
        clause=summary["clause"],
    )


def no_rating_text(error: InfraSightError, standard: str, t: Translator) -> str:
    """Why an asset has no rating, in the reader's language (an unknown standard named so)."""
    if isinstance(error, UnknownStandardError):
        return t(
            "{standard} is not a standard InfraSight rates by; it rates by: {known}",
            standard=standard,
            known=", ".join(error.known),
        )
    said = error.phrase if isinstance(error, InvalidInputError) else None
    reason = str(error) if said is None else render_phrase(said, evidence_translator(t.locale))
    return t("No rating under {standard}: {reason}", standard=standard, reason=reason)


def _condition(session: Session, caller: Principal, hazard: dict[str, Any], t: Translator) -> None:
    ui.label(t("Condition rating")).classes("text-lg")
    asset = get_asset(int(hazard["asset_id"]), session, caller)
    standard = asset.governing_standard
    if not standard:
        ui.label(t("The asset has no governing standard: no rating.")).mark("condition")
        return
    try:
        rated = get_condition(asset.id, session, caller, standard=standard, locale=t.locale)
    except InfraSightError as error:
        ui.label(no_rating_text(error, standard, t))
        return
    element_subjects = {f"element:{hazard.get('element_id')}"}
    names = {e.id: e.name for e in data.elements(session, caller, asset.id)}
    if hazard.get("element_id") in names:
        element_subjects.add(f"element:{names[int(hazard['element_id'])]}")
    element = next((r for r in rated["elements"] if r["subject"] in element_subjects), None)
    summary = rated["summary"]
    with ui.column().classes("gap-0").mark("condition"):
        if element is not None:
            ui.label(
                t(
                    "Element: {label} ({rating}), {clause}",
                    label=element["label"],
                    rating=t.number(float(element["rating"]), 1),
                    clause=element["clause"],
                )
            )
        ui.label(asset_rating_text(summary, standard, t))


def _recommendations(ctx: WebContext, scope: PageScope, hazard_id: int) -> None:
    t = scope.t
    ui.label(t("Recommendations")).classes("text-lg")
    try:
        recs = get_recommendations(
            hazard_id, scope.session, scope.caller, DEFAULT_LOCALE, None, None
        )
    except InfraSightError as error:
        ui.label(t("No recommendations: {reason}", reason=str(error)))
        return
    items = list(recs["recommendations"])
    if not items:
        ui.label(t("No remediation action applies."))
        return
    bid = browser_id()
    for item in items:
        with ui.card().classes("w-full").mark(f"recommendation-{item['action']}"):
            with ui.row().classes("items-center gap-3 w-full flex-wrap"):
                ui.label(f"{item['rank']}.").classes("font-bold")
                ui.label(t.optional(str(item["name"]))).classes("font-bold")
                ui.label(t("within {days} days", days=t.number(int(item["urgency_days"]), 0)))
                ui.space()
                if scope.may(Action.CONFIGURE):
                    top = int(item["rank"]) == 1
                    reason = None if top else ui.input(t("Reason for this choice")).props("dense")

                    def create(action: str = str(item["action"]), reason: Any = reason) -> None:
                        body = {"hazard_id": hazard_id, "action": action}
                        if reason is not None:
                            body["reason"] = str(reason.value or "")

                        def work(session: Session, caller: Principal) -> dict[str, Any]:
                            return post_work_order(
                                WorkOrderCreate(**body), session, caller, t.locale
                            )

                        made = act(ctx, bid, t, work)
                        if made is not None:
                            ui.navigate.to(f"/work-orders/{made['id']}")

                    ui.button(t("Create work order"), on_click=create).props("dense").mark(
                        f"create-{item['action']}"
                    )
            ui.label(t.optional(str(item.get("effect", "")))).classes("text-sm")
            ui.label(t("Source: {citation}", citation=str(item.get("source", "")))).classes(
                "text-xs text-slate-600"
            )


#: States the page offers no button for: the engine merges a hazard into a named survivor;
#: a move to "merged" without one would leave a hazard merged into nothing.
NOT_BY_HAND = frozenset({HazardStatus.MERGED.value})


def manual_targets(hazard: dict[str, Any]) -> list[str]:
    """The states a person may move ``hazard`` to from the page (the API's allowed
    transitions less :data:`NOT_BY_HAND`)."""
    return [s for s in hazard["allowed_transitions"] if s not in NOT_BY_HAND]


def _transitions(ctx: WebContext, scope: PageScope, hazard: dict[str, Any]) -> None:
    t = scope.t
    allowed = manual_targets(hazard)
    if not allowed or not scope.may(Action.FIELD_WORK):
        return
    bid = browser_id()
    with ui.row().classes("items-end gap-2 flex-wrap"):
        note = ui.input(t("Note")).props("dense").classes("w-64").mark("transition-note")
        for target in allowed:

            def move(to: str = target) -> None:
                def work(session: Session, caller: Principal) -> dict[str, Any]:
                    body = HazardTransitionIn(to=HazardStatus(to), note=str(note.value or ""))
                    return post_transition(int(hazard["id"]), body, session, caller, t.locale)

                if act(ctx, bid, t, work) is not None:
                    ui.navigate.reload()

            ui.button(
                t("Move to {state}", state=name_of(STATUS_NAMES, target, t)), on_click=move
            ).props("dense outline").mark(f"to-{target}")


def _trail(hazard: dict[str, Any], t: Translator) -> None:
    ui.label(t("Audit trail")).classes("text-lg")
    columns = [
        {"name": "at", "label": t("When"), "field": "at", "align": "left"},
        {"name": "actor", "label": t("Who"), "field": "actor", "align": "left"},
        {"name": "move", "label": t("Change"), "field": "move", "align": "left"},
        {"name": "note", "label": t("Note"), "field": "note", "align": "left"},
    ]
    rows = [
        {
            "i": i,
            "at": t.datetime(datetime.fromisoformat(str(tr["at"]))),
            "actor": tr["actor"],
            "move": (f"{name_of(STATUS_NAMES, str(tr['from']), t)} → " if tr["from"] else "")
            + name_of(STATUS_NAMES, str(tr["to"]), t),
            "note": tr["note"],
        }
        for i, tr in enumerate(hazard["transitions"])
    ]
    ui.table(columns=columns, rows=rows, row_key="i").classes("w-full").props(
        f'dense no-data-label="{t("Nothing to show.")}"'
    ).mark("trail")


def register(ctx: WebContext) -> None:
    """Add ``/hazards`` and ``/hazards/{hazard_id}``."""

    @ui.page("/hazards")
    def hazards_page(
        status: str | None = None, asset: int | None = None, min_risk: int | None = None
    ) -> None:
        with open_page(ctx, N_("Hazards")) as scope:
            if scope is None:
                return
            t, session, caller = scope.t, scope.session, scope.caller
            ui.label(t("Hazards")).classes("text-2xl")
            assets = data.assets(session, caller)
            chosen = HazardStatus(status) if status in STATUS_NAMES else None
            risk = min_risk if min_risk is not None and 1 <= min_risk <= 25 else None
            _filters(t, assets, status if chosen else None, asset, risk)
            try:
                hazards = list_hazards(
                    session, caller, asset_id=asset, status=chosen, min_risk=risk
                )
            except InfraSightError as error:
                ui.label(error_text(error, t.locale))
                return
            if not hazards:
                ui.label(t("No hazards."))
                return
            columns: list[dict[str, Any]] = [
                {"name": "id", "label": t("Id"), "field": "id", "align": "left"},
                {"name": "risk", "label": t("Risk"), "field": "risk", "sortable": True},
                {"name": "band", "label": t("Band"), "field": "band", "align": "left"},
                {"name": "status", "label": t("State"), "field": "status", "align": "left"},
                {"name": "element", "label": t("Element"), "field": "element", "align": "left"},
                {"name": "mechanism", "label": t("Mechanism"), "field": "mechanism"},
                {"name": "confidence", "label": t("Confidence"), "field": "confidence"},
            ]
            table = ui.table(
                columns=columns,
                rows=hazard_rows(hazards, _element_names(session, caller, assets), t),
                row_key="id",
            ).classes("w-full")
            table.props(f'no-data-label="{t("Nothing to show.")}"')
            table.add_slot(
                "body-cell-id",
                '<q-td :props="props"><a :href="\'/hazards/\' + props.value" '
                'class="text-blue-700 underline">#{{ props.value }}</a></q-td>',
            )
            table.mark("hazards")

    @ui.page("/hazards/{hazard_id}")
    def hazard_page(hazard_id: int) -> None:
        with open_page(ctx, N_("Hazard")) as scope:
            if scope is None:
                return
            t, session, caller = scope.t, scope.session, scope.caller
            try:
                hazard = get_hazard(hazard_id, session, caller, t.locale)
            except NotFoundError:
                ui.label(t("Hazard not found.")).mark("not-found")
                return
            ui.link(t("All hazards"), "/hazards")
            mechanism = name_of(MECHANISM_NAMES, str(hazard["mechanism"]), t)
            ui.label(t("Hazard {id}: {mechanism}", id=hazard_id, mechanism=mechanism)).classes(
                "text-2xl"
            ).mark("hazard-title")
            band = str(hazard["risk_band"])
            with ui.row().classes("items-center gap-3 flex-wrap"):
                ui.badge(
                    t(
                        "risk {score} ({band})",
                        score=hazard["risk"],
                        band=name_of(BAND_NAMES, band, t),
                    ),
                    color=BAND_COLOURS.get(band, "red-9"),
                ).classes("text-base").mark("risk")
                ui.label(
                    t(
                        "likelihood {likelihood} × consequence {consequence}",
                        likelihood=hazard["likelihood"],
                        consequence=hazard["consequence"],
                    )
                )
                ui.label(
                    t("State: {state}", state=name_of(STATUS_NAMES, str(hazard["status"]), t))
                ).classes("font-bold").mark("hazard-status")
            asset = get_asset(int(hazard["asset_id"]), session, caller)
            ui.link(asset.name, f"/assets/{asset.id}")
            _transitions(ctx, scope, hazard)
            matrix = load_risk_matrix()
            with ui.row().classes("items-start gap-6 flex-wrap"):
                with ui.column().classes("gap-1"):
                    ui.label(t("Risk matrix")).classes("text-lg")
                    ui.html(
                        risk_matrix_html(
                            matrix, int(hazard["likelihood"]), int(hazard["consequence"]), t
                        ),
                        sanitize=False,
                    ).mark("risk-matrix")
                    ui.label(t("Source: {citation}", citation=matrix.citation)).classes(
                        "text-xs text-slate-600 max-w-xs"
                    )
                with ui.column().classes("gap-1"):
                    ui.label(t("Prediction")).classes("text-lg")
                    prediction = dict(hazard.get("prediction") or {})
                    lines = prediction_lines(prediction, t)
                    if not lines:
                        ui.label(t("No prediction yet."))
                    for key, line in lines:
                        ui.label(line).classes("text-sm max-w-xl").mark(f"prediction-{key}")
            ui.label(t("Evidence")).classes("text-lg")
            _timeline_chart(session, caller, list(hazard["evidence"]), t)
            _evidence_table(list(hazard["evidence"]), t, "evidence")
            _defect_links(list(hazard["evidence"]), t)
            _causes(list(hazard["causes"] or []), t)
            _condition(session, caller, hazard, t)
            _recommendations(ctx, scope, hazard_id)
            _trail(hazard, t)
            assistant_panel(ctx, scope, asset_id=int(hazard["asset_id"]))
