"""Work orders: a board with a column per state and a detail page (assign, lifecycle moves the
role allows, comments, the event trail). A crew member sees only the work orders assigned to
them, as the API does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nicegui import ui
from sqlalchemy.orm import Session

from infrasight.api.routes.work_orders import (
    CommentIn,
    TransitionIn,
    WorkOrderPatch,
    WorkOrderRead,
    get_one,
    list_work_orders,
    patch_work_order,
    post_comment,
    post_transition,
)
from infrasight.core.domain import Action
from infrasight.core.errors import NotFoundError
from infrasight.reasoning.work_orders import (
    SUPERVISORY,
    WorkOrderStatus,
    action_to,
    allowed_targets,
)
from infrasight.services.auth import Principal
from infrasight.services.work_orders import colleagues
from infrasight.web.context import WebContext
from infrasight.web.i18n import N_, Translator
from infrasight.web.layout import ROLE_NAMES, PageScope, act, browser_id, open_page

__all__ = ["STATUS_NAMES", "board_columns", "movable_targets", "register"]

S = WorkOrderStatus
STATUS_NAMES = {
    S.DRAFT.value: N_("draft"),
    S.OPEN.value: N_("open"),
    S.ASSIGNED.value: N_("assigned"),
    S.IN_PROGRESS.value: N_("in progress"),
    S.ON_HOLD.value: N_("on hold"),
    S.COMPLETED.value: N_("completed"),
    S.VERIFYING.value: N_("verifying"),
    S.CLOSED.value: N_("closed"),
    S.CANCELLED.value: N_("cancelled"),
    S.REOPENED.value: N_("reopened"),
}
EVENT_NAMES = {
    "created": N_("created"),
    "transition": N_("moved"),
    "updated": N_("updated"),
    "verification": N_("verification"),
    "attachment": N_("attachment added"),
}
#: A verification's outcome.
OUTCOME_NAMES = {"passed": N_("passed"), "failed": N_("failed"), "pending": N_("pending")}


def _status(value: str, t: Translator) -> str:
    return t(STATUS_NAMES[value]) if value in STATUS_NAMES else value


def board_columns(orders: list[WorkOrderRead]) -> dict[str, list[WorkOrderRead]]:
    """The work orders by state, every state present (board order), soonest due first."""
    columns: dict[str, list[WorkOrderRead]] = {s.value: [] for s in WorkOrderStatus}
    for wo in sorted(orders, key=lambda w: (w.due_at, w.id)):
        columns[wo.status].append(wo)
    return columns


def movable_targets(scope: PageScope, status: str) -> list[str]:
    """The states the lifecycle allows from ``status`` that the caller's role may move to
    (dispatch and sign-off need an engineer; field progress an inspector or the crew)."""
    current = WorkOrderStatus(status)
    targets = []
    for target in allowed_targets(current):
        supervisory = action_to(current, target) in SUPERVISORY
        allowed = (
            scope.may(Action.CONFIGURE)
            if supervisory
            else (scope.may(Action.FIELD_WORK) or scope.crew)
        )
        if allowed:
            targets.append(target.value)
    return targets


def _overdue(wo: WorkOrderRead) -> bool:
    due = wo.due_at if wo.due_at.tzinfo else wo.due_at.replace(tzinfo=UTC)
    finished = ("closed", "cancelled", "completed", "verifying")
    return wo.status not in finished and due < datetime.now(UTC)


def _card(wo: WorkOrderRead, people: dict[int, tuple[str, str]], t: Translator) -> ui.card:
    card = ui.card().classes("w-full p-2 gap-1").mark(f"wo-{wo.id}")
    with card:
        ui.link(f"#{wo.id} {wo.title}", f"/work-orders/{wo.id}").classes("font-bold text-sm")
        due = t("due {when}", when=t.datetime(wo.due_at))
        ui.label(due).classes("text-xs " + ("text-red-700 font-bold" if _overdue(wo) else ""))
        who = people.get(wo.assignee_id, ("–", ""))[0] if wo.assignee_id else t("unassigned")
        ui.label(who).classes("text-xs text-slate-600")
    return card


def _move(ctx: WebContext, bid: str, t: Translator, work_order_id: int, to: str, note: str) -> bool:
    def work(session: Session, caller: Principal) -> dict[str, Any]:
        body = TransitionIn(to=WorkOrderStatus(to), note=note)
        return post_transition(work_order_id, body, session, caller, t.locale)

    return act(ctx, bid, t, work) is not None


def _assign(ctx: WebContext, scope: PageScope, wo: dict[str, Any]) -> None:
    t = scope.t
    if not scope.may(Action.CONFIGURE) or wo["status"] in ("closed", "cancelled"):
        return
    people = colleagues(scope.session, scope.caller)
    bid = browser_id()
    options = {
        uid: f"{name} ({t(ROLE_NAMES[role]) if role in ROLE_NAMES else role})"
        for uid, (name, role) in people.items()
    }
    with ui.row().classes("items-end gap-2"):
        who = ui.select(options, value=wo["assignee_id"], label=t("Assignee")).classes("w-64")
        who.mark("assignee")

        def assign() -> None:
            if who.value is None:
                ui.notify(t("Choose an assignee."), type="warning")
                return

            def work(session: Session, caller: Principal) -> dict[str, Any]:
                body = WorkOrderPatch(assignee_id=int(who.value))
                out = patch_work_order(int(wo["id"]), body, session, caller, t.locale)
                if S.ASSIGNED.value in out["allowed_transitions"]:
                    move = TransitionIn(to=S.ASSIGNED, note="")
                    out = post_transition(int(wo["id"]), move, session, caller, t.locale)
                return out

            if act(ctx, bid, t, work) is not None:
                ui.navigate.reload()

        ui.button(t("Assign"), on_click=assign).props("dense").mark("assign")


def _comments(ctx: WebContext, scope: PageScope, wo: dict[str, Any]) -> None:
    t = scope.t
    ui.label(t("Comments")).classes("text-lg")
    for comment in wo["comments"]:
        with ui.card().classes("w-full p-2 gap-0").mark(f"comment-{comment['id']}"):
            ui.label(
                f"{comment['author']} · {t.datetime(datetime.fromisoformat(comment['at']))}"
            ).classes("text-xs text-slate-600")
            ui.label(comment["body"])
    if not wo["comments"]:
        ui.label(t("No comments."))
    if not (scope.may(Action.FIELD_WORK) or scope.crew):
        return
    bid = browser_id()
    text = ui.textarea(t("Comment")).classes("w-full").mark("comment-text")

    def send() -> None:
        def work(session: Session, caller: Principal) -> dict[str, Any]:
            return post_comment(
                int(wo["id"]), CommentIn(body=str(text.value or "")), session, caller
            )

        if act(ctx, bid, t, work) is not None:
            ui.navigate.reload()

    ui.button(t("Add comment"), on_click=send).props("dense").mark("comment-send")


def _events(wo: dict[str, Any], t: Translator) -> None:
    ui.label(t("History")).classes("text-lg")
    columns = [
        {"name": "at", "label": t("When"), "field": "at", "align": "left"},
        {"name": "actor", "label": t("Who"), "field": "actor", "align": "left"},
        {"name": "what", "label": t("Change"), "field": "what", "align": "left"},
        {"name": "note", "label": t("Note"), "field": "note", "align": "left"},
    ]
    rows = []
    for i, e in enumerate(wo["events"]):
        kind = t(EVENT_NAMES[e["kind"]]) if e["kind"] in EVENT_NAMES else e["kind"]
        move = ""
        if e.get("to"):
            move = (_status(e["from"], t) + " → " if e.get("from") else "") + _status(e["to"], t)
        outcome = str((e.get("details") or {}).get("outcome", ""))
        if e["kind"] == "verification" and outcome in OUTCOME_NAMES:
            move = t(OUTCOME_NAMES[outcome])
        rows.append(
            {
                "i": i,
                "at": t.datetime(datetime.fromisoformat(e["at"])),
                "actor": e["actor"],
                "what": f"{kind} {move}".strip(),
                "note": e.get("note") or "",
            }
        )
    ui.table(columns=columns, rows=rows, row_key="i").classes("w-full").props(
        f'dense wrap-cells no-data-label="{t("Nothing to show.")}"'
    ).mark("events")


#: States shown as columns even when empty (the others appear when something is in them).
ALWAYS_SHOWN = frozenset({"open", "assigned", "in_progress", "on_hold", "completed", "verifying"})


def _board(
    ctx: WebContext,
    scope: PageScope,
    shown: dict[str, list[WorkOrderRead]],
    people: dict[int, tuple[str, str]],
) -> None:
    """Columns by state; a card dragged onto a column moves the work order when the lifecycle
    and the role allow it (the allowed columns light up while dragging)."""
    t = scope.t
    bid = browser_id()
    columns: dict[str, ui.column] = {}
    dragged: dict[str, WorkOrderRead] = {}
    lit = "ring-2 ring-green-600"

    def start(wo: WorkOrderRead) -> None:
        dragged["wo"] = wo
        for target in movable_targets(scope, wo.status):
            if target in columns:
                columns[target].classes(add=lit)

    def end() -> None:
        for column in columns.values():
            column.classes(remove=lit)

    def drop(status: str) -> None:
        end()
        wo = dragged.pop("wo", None)
        if wo is None or wo.status == status:
            return
        allowed = movable_targets(scope, wo.status)
        if status not in allowed:
            names = ", ".join(_status(s, t) for s in allowed) or "–"
            ui.notify(
                t(
                    "From {state} you may move to: {allowed}",
                    state=_status(wo.status, t),
                    allowed=names,
                ),
                type="warning",
            )
            return
        if _move(ctx, bid, t, wo.id, status, ""):
            ui.navigate.reload()

    with ui.row().classes("w-full gap-2 flex-nowrap overflow-x-auto items-start"):
        for status, items in shown.items():
            if not items and status not in ALWAYS_SHOWN:
                continue
            column = ui.column().classes("w-56 shrink-0 bg-slate-100 rounded p-2 gap-2 min-h-32")
            columns[status] = column
            column.on("dragover.prevent", lambda: None)
            column.on("drop", lambda _e, s=status: drop(s))
            with column.mark(f"column-{status}"):
                ui.label(f"{_status(status, t)} ({len(items)})").classes("font-bold")
                for wo in items:
                    card = _card(wo, people, t)
                    if movable_targets(scope, wo.status):
                        card.props("draggable").classes("cursor-grab")
                        card.on("dragstart", lambda _e, w=wo: start(w))
                        card.on("dragend", end)


def register(ctx: WebContext) -> None:
    """Add ``/work-orders`` and ``/work-orders/{work_order_id}``."""

    @ui.page("/work-orders")
    def board_page() -> None:
        with open_page(ctx, N_("Work orders"), need=None) as scope:
            if scope is None:
                return
            t = scope.t
            ui.label(t("Work orders")).classes("text-2xl")
            orders = list_work_orders(
                scope.session, scope.caller, t.locale, status=None, asset_id=None, hazard_id=None
            )
            if not orders:
                ui.label(t("No work orders."))
            people = colleagues(scope.session, scope.caller)
            _board(ctx, scope, board_columns(orders), people)

    @ui.page("/work-orders/{work_order_id}")
    def work_order_page(work_order_id: int) -> None:
        with open_page(ctx, N_("Work order"), need=None) as scope:
            if scope is None:
                return
            t = scope.t
            try:
                wo = get_one(work_order_id, scope.session, scope.caller, t.locale)
            except NotFoundError:
                ui.label(t("Work order not found.")).mark("not-found")
                return
            ui.link(t("All work orders"), "/work-orders")
            ui.label(f"#{wo['id']} {wo['title']}").classes("text-2xl").mark("wo-title")
            people = colleagues(scope.session, scope.caller)
            assignee = people.get(wo["assignee_id"], ("–", ""))[0] if wo["assignee_id"] else None
            with ui.row().classes("gap-4 flex-wrap items-center"):
                ui.label(t("State: {state}", state=_status(wo["status"], t))).classes(
                    "font-bold"
                ).mark("wo-status")
                ui.label(t("due {when}", when=t.datetime(datetime.fromisoformat(wo["due_at"]))))
                ui.label(
                    t("Assignee: {name}", name=assignee) if assignee else t("unassigned")
                ).mark("wo-assignee")
                if wo["hazard_id"] is not None and scope.may(Action.READ):
                    ui.link(t("Hazard {id}", id=wo["hazard_id"]), f"/hazards/{wo['hazard_id']}")
            if wo["choice_reason"]:
                ui.label(t("Why this action: {reason}", reason=wo["choice_reason"]))
            _assign(ctx, scope, wo)
            targets = movable_targets(scope, wo["status"])
            if targets:
                bid = browser_id()
                with ui.row().classes("items-end gap-2 flex-wrap"):
                    note = ui.input(t("Note")).props("dense").classes("w-64").mark("move-note")
                    for target in targets:

                        def move(to: str = target) -> None:
                            if _move(ctx, bid, t, work_order_id, to, str(note.value or "")):
                                ui.navigate.reload()

                        ui.button(
                            t("Move to {state}", state=_status(target, t)), on_click=move
                        ).props("dense outline").mark(f"to-{target}")
            _comments(ctx, scope, wo)
            _events(wo, t)
