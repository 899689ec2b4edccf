"""Alarms: the open and recent alarms, with acknowledge for roles that may do field work."""

from __future__ import annotations

from nicegui import ui

from infrasight.api.routes.alarms import AlarmAction, AlarmRead, acknowledge, list_alarms
from infrasight.core.domain import Action
from infrasight.core.errors import InfraSightError
from infrasight.locales.phrases import evidence_translator
from infrasight.signals.lifecycle import AlarmStatus
from infrasight.web.context import WebContext
from infrasight.web.i18n import N_, Translator
from infrasight.web.layout import PageScope, browser_id, open_page

__all__ = ["register"]

STATUS_NAMES = {
    AlarmStatus.ACTIVE.value: N_("active"),
    AlarmStatus.ACKNOWLEDGED.value: N_("acknowledged"),
    AlarmStatus.CLEARED.value: N_("cleared"),
}
#: What an alarm's transition did, by event kind.
EVENT_NAMES = {
    "raised": N_("raised"),
    "re_raised": N_("raised again"),
    "level_changed": N_("level changed"),
    "acknowledged": N_("acknowledged"),
    "cleared": N_("cleared"),
    "escalated": N_("escalated"),
    "no_data": N_("no data"),
    "data_resumed": N_("data resumed"),
}
SHOWN = 200


def _row(ctx: WebContext, alarm: AlarmRead, scope: PageScope) -> None:
    t: Translator = scope.t
    bid = browser_id()
    words = evidence_translator(t.locale)  # level names and notes the system writes
    card = ui.card().classes("w-full").mark(f"alarm-{alarm.id}")
    with card, ui.row().classes("w-full items-center gap-3 flex-wrap"):
        colour = {1: "text-amber-600", 2: "text-red-600"}.get(alarm.severity, "text-red-900")
        ui.label(words.optional(alarm.level_name)).classes(f"font-bold {colour}")
        ui.label(alarm.key).classes("font-mono")
        status = ui.label(t(STATUS_NAMES.get(alarm.status, alarm.status)))
        status.mark(f"alarm-status-{alarm.id}")
        ui.label(t("raised {when}", when=t.datetime(alarm.raised_at))).classes("text-sm")
        ui.space()
        if alarm.status == AlarmStatus.ACTIVE.value and scope.may(Action.FIELD_WORK):
            note = ui.input(t("Note")).props("dense").classes("w-48")

            def ack() -> None:
                with ctx.session() as session:
                    caller = ctx.principal(session, bid)
                    if caller is None:
                        ui.navigate.to("/login")
                        return
                    try:
                        acknowledge(
                            alarm.id,
                            AlarmAction(note=str(note.value or "")),
                            session,
                            caller,
                            t.locale,
                        )
                    except InfraSightError as error:
                        ui.notify(t("Not acknowledged: {reason}", reason=str(error)))
                        return
                status.text = t(STATUS_NAMES[AlarmStatus.ACKNOWLEDGED.value])
                button.delete()
                note.delete()
                ui.notify(t("Alarm acknowledged."))

            button = ui.button(t("Acknowledge"), on_click=ack).props("dense")
            button.mark(f"ack-{alarm.id}")
    with card:
        if alarm.note:
            ui.label(alarm.note).classes("text-sm").mark(f"alarm-note-{alarm.id}")
        last = alarm.last_event
        if last is not None:
            kind = t(EVENT_NAMES[last.kind]) if last.kind in EVENT_NAMES else last.kind
            said = t(
                "{what} {when} by {who}", what=kind, when=t.datetime(last.time), who=last.actor
            )
            text = t("{event}: {note}", event=said, note=last.note) if last.note else said
            ui.label(text).classes("text-xs text-slate-600").mark(f"alarm-event-{alarm.id}")


def register(ctx: WebContext) -> None:
    """Add ``/alarms``."""

    @ui.page("/alarms")
    def alarms_page(status: str | None = None) -> None:
        with open_page(ctx, N_("Alarms")) as scope:
            if scope is None:
                return
            t = scope.t
            ui.label(t("Alarms")).classes("text-2xl")
            chosen = status if status in STATUS_NAMES else None
            with ui.row().classes("gap-3"):
                ui.link(t("all"), "/alarms")
                for value, name in STATUS_NAMES.items():
                    ui.link(t(name), f"/alarms?status={value}")
            page = list_alarms(
                scope.session, scope.caller, status=chosen, locale=t.locale, limit=SHOWN, offset=0
            )
            if not page.items:
                ui.label(t("No alarms."))
            for alarm in page.items:
                _row(ctx, alarm, scope)
            if page.total > SHOWN:
                ui.label(t("Showing {shown} of {total}.", shown=SHOWN, total=page.total))
