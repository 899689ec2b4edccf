"""Alarm rules: the list and an editor (create, change, delete) that validates as the API does,
by calling the API's own route functions and showing their messages."""

from __future__ import annotations

import json
from typing import Any

from nicegui import ui
from sqlalchemy.orm import Session

from infrasight.api.routes.alarms import (
    RuleCreate,
    RuleRead,
    RuleUpdate,
    create_rule,
    delete_rule,
    get_rule,
    update_rule,
)
from infrasight.core.domain import Action
from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.services.auth import Principal
from infrasight.web import data
from infrasight.web.context import WebContext
from infrasight.web.i18n import N_
from infrasight.web.layout import PageScope, act, browser_id, open_page

__all__ = ["TEMPLATE", "parse_definition", "register"]

#: What a new rule starts from (a value threshold with two levels).
TEMPLATE: dict[str, Any] = {
    "id": "new-rule",
    "channels": ["CHANNEL-KEY"],
    "levels": [
        {"name": "amber", "severity": 1, "limits": [{"quantity": "value", "upper": 3.0}]},
        {"name": "red", "severity": 2, "limits": [{"quantity": "value", "upper": 5.0}]},
    ],
    "persistence_count": 2,
}


def parse_definition(text: str) -> dict[str, Any]:
    """The rule definition typed in the editor (a JSON object).

    Raises
    ------
    InvalidInputError
        Not JSON, or not an object (field ``definition``).
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            f"not JSON: {error.msg} at line {error.lineno} column {error.colno}",
            field="definition",
        ) from None
    if not isinstance(value, dict):
        raise InvalidInputError("must be a JSON object", field="definition")
    return value


def _list(scope: PageScope) -> None:
    t = scope.t
    rules = data.rules(scope.session, scope.caller, t.locale)
    if scope.may(Action.CONFIGURE):
        ui.link(t("New rule"), "/rules/new").mark("new-rule")
    if not rules:
        ui.label(t("No rules."))
    for rule in rules:
        with ui.card().classes("w-full").mark(f"rule-{rule.id}"):
            with ui.row().classes("items-center gap-3"):
                ui.link(rule.key, f"/rules/{rule.id}").classes("font-bold font-mono")
                ui.label(t("enabled") if rule.enabled else t("disabled")).classes(
                    "text-green-700" if rule.enabled else "text-slate-500"
                )
            ui.label(rule.summary).classes("text-sm")


def _editor(ctx: WebContext, scope: PageScope, rule: RuleRead | None) -> None:
    t = scope.t
    bid = browser_id()
    editable = scope.may(Action.CONFIGURE)
    text = (
        ui.textarea(
            t("Definition (JSON)"),
            value=json.dumps(rule.definition if rule else TEMPLATE, indent=2, ensure_ascii=False),
        )
        .classes("w-full font-mono")
        .props("rows=18" + ("" if editable else " readonly"))
    )
    text.mark("definition")
    with ui.row().classes("items-center gap-3"):
        enabled = ui.switch(t("Enabled"), value=rule.enabled if rule else True).mark("enabled")
        escalate = (
            ui.number(
                t("Escalate after (s)"),
                value=rule.escalate_after_s if rule else None,
                min=0,
            )
            .classes("w-48")
            .mark("escalate")
        )
    if not editable:
        enabled.disable()
        escalate.disable()
        return
    problem = ui.label("").classes("text-red-700").mark("problem")

    def fields() -> dict[str, Any]:
        out: dict[str, Any] = {
            "definition": parse_definition(str(text.value or "")),
            "enabled": bool(enabled.value),
        }
        if escalate.value not in (None, ""):
            out["escalate_after_s"] = float(escalate.value)
        return out

    def save() -> None:
        problem.text = ""

        def work(session: Session, caller: Principal) -> RuleRead:
            body = fields()
            if rule is None:
                return create_rule(RuleCreate(**body), session, caller)
            return update_rule(rule.id, RuleUpdate(**body), session, caller)

        def show(reason: str) -> None:
            problem.text = reason

        saved = act(ctx, bid, t, work, on_error=show)
        if saved is not None:
            ui.notify(t("Rule {key} saved.", key=saved.key), type="positive")
            ui.navigate.to(f"/rules/{saved.id}")

    with ui.row().classes("gap-2"):
        ui.button(t("Save"), on_click=save).mark("save")
        if rule is not None and scope.may(Action.DELETE):

            def remove() -> None:
                def work(session: Session, caller: Principal) -> bool:
                    delete_rule(rule.id, session, caller)
                    return True

                if act(ctx, bid, t, work):
                    ui.notify(t("Rule {key} deleted.", key=rule.key))
                    ui.navigate.to("/rules")

            ui.button(t("Delete"), on_click=remove).props("color=negative outline").mark("delete")


def register(ctx: WebContext) -> None:
    """Add ``/rules``, ``/rules/new`` and ``/rules/{rule_id}``."""

    @ui.page("/rules")
    def rules_page() -> None:
        with open_page(ctx, N_("Rules")) as scope:
            if scope is None:
                return
            ui.label(scope.t("Alarm rules")).classes("text-2xl")
            _list(scope)

    @ui.page("/rules/new")
    def new_rule_page() -> None:
        with open_page(ctx, N_("New rule"), need=Action.CONFIGURE) as scope:
            if scope is None:
                return
            t = scope.t
            ui.link(t("All rules"), "/rules")
            ui.label(t("New rule")).classes("text-2xl")
            _editor(ctx, scope, None)

    @ui.page("/rules/{rule_id}")
    def rule_page(rule_id: int) -> None:
        with open_page(ctx, N_("Rule")) as scope:
            if scope is None:
                return
            t = scope.t
            try:
                rule = get_rule(rule_id, scope.session, scope.caller, scope.t.locale)
            except NotFoundError:
                ui.label(t("Rule not found.")).mark("not-found")
                return
            ui.link(t("All rules"), "/rules")
            ui.label(rule.key).classes("text-2xl font-mono").mark("rule-key")
            _editor(ctx, scope, rule)
