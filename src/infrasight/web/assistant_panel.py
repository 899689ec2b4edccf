"""The assistant's chat panel, included by one line on the asset and hazard pages.

A question box; the tools the assistant calls are listed as they run, then the checked answer
(the grounding check needs the whole text, so the model's tokens are not shown before it: the
panel streams the steps, as ``POST /assistant/ask`` does), its citations (tool, value, and the
document and page of a passage, linked) and any drafts to confirm. Without a configured model the
panel says so and offers no box. The question runs as the logged-in user, through the same
service as the API (:mod:`infrasight.assistant.service`), in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from nicegui import run, ui

from infrasight.assistant.service import MAX_QUESTION, prepare, run_ask
from infrasight.core.errors import InfraSightError
from infrasight.web.context import WebContext
from infrasight.web.i18n import N_, Translator
from infrasight.web.layout import PageScope, browser_id

__all__ = ["STOPPED", "assistant_panel", "citation_line"]

_log = logging.getLogger(__name__)
MAX_VALUE = 80  # characters of a cited value shown

#: Why an answer ended, other than answered.
STOPPED = {
    "rejected": N_("The answer was withheld: it gave numbers that no tool returned."),
    "out_of_steps": N_("The assistant ran out of steps before it could answer."),
    "model_failed": N_("The language model failed: {error}"),
}
OUTCOMES = {
    "ok": N_("done"),
    "not_found": N_("not found"),
    "denied": N_("not allowed"),
    "error": N_("error"),
    "malformed": N_("malformed call"),
}


def _configured(ctx: WebContext) -> bool:
    settings = ctx.platform.settings
    return bool(settings.llm_base_url and settings.llm_model)


def citation_line(citation: dict[str, Any], t: Translator) -> tuple[str, str]:
    """What a citation reads as, and where it links to ("" for no link)."""
    passage = citation.get("passage") or {}
    if passage:
        where = str(passage.get("document") or passage.get("source", ""))
        if passage.get("page"):
            where = t("{document}, page {page}", document=where, page=passage["page"])
        return f"{citation['text']}: {where}", str(passage.get("link", ""))
    if citation.get("tool") == "question":
        return t("{text}: from the question", text=citation["text"]), ""
    arguments = json.dumps(citation.get("arguments", {}), ensure_ascii=False, sort_keys=True)
    value = str(citation.get("value"))
    if len(value) > MAX_VALUE:  # a long text the number was found in: its start is enough
        value = value[: MAX_VALUE - 1] + "…"
    line = t(
        "{text}: {tool} {arguments}, {path} = {value}",
        text=citation["text"],
        tool=citation["tool"],
        arguments=arguments,
        path=citation.get("path", ""),
        value=value,
    )
    return line, ""


def _show_answer(answer: dict[str, Any], t: Translator) -> None:
    stopped = str(answer.get("stopped", ""))
    if stopped in STOPPED:
        ui.label(t(STOPPED[stopped], error=answer.get("error", ""))).classes("text-red-8").mark(
            "assistant-stopped"
        )
    if answer.get("answer"):
        ui.label(str(answer["answer"])).classes("whitespace-pre-wrap").mark("assistant-answer")
    for claim in answer.get("rejected_claims", []):  # removed by the answer check
        ui.label(
            t(
                "Removed, no tool returned {numbers}: {sentence}",
                numbers=", ".join(map(str, claim["numbers"])),
                sentence=claim["sentence"],
            )
        ).classes("text-amber-9 text-sm").mark("assistant-removed")
    if answer.get("unsupported") and not answer.get("rejected_claims"):  # marked in the text
        ui.label(
            t("Not verified: {numbers}", numbers=", ".join(map(str, answer["unsupported"])))
        ).classes("text-amber-9 text-sm").mark("assistant-unverified")
    citations = list(answer.get("citations", []))
    if citations:
        ui.label(t("Citations")).classes("font-bold text-sm")
        for citation in citations:
            line, link = citation_line(citation, t)
            if link:
                ui.link(line, link, new_tab=True).classes("text-sm").mark("assistant-citation")
            else:
                ui.label(line).classes("text-sm text-slate-700").mark("assistant-citation")
    passages = list(answer.get("passages", []))
    if passages:
        ui.label(t("Documents consulted")).classes("font-bold text-sm")
        for passage in passages:
            name = str(passage.get("document") or passage.get("source", ""))
            if passage.get("page"):
                name = t("{document}, page {page}", document=name, page=passage["page"])
            if passage.get("link"):
                ui.link(name, str(passage["link"]), new_tab=True).classes("text-sm").mark(
                    "assistant-passage"
                )
            else:
                ui.label(name).classes("text-sm").mark("assistant-passage")
    for draft in answer.get("drafts", []):
        body = dict(draft.get("body", {}))
        hazard = body.get("hazard_id")
        text = t(
            "Draft work order for hazard {hazard}: {action} (nothing was created; confirm it on "
            "the hazard page)",
            hazard=hazard,
            action=draft.get("action_name") or body.get("action", ""),
        )
        ui.link(text, f"/hazards/{hazard}").classes("text-sm").mark("assistant-draft")


def assistant_panel(
    ctx: WebContext, scope: PageScope, *, asset_id: int | None, placeholder: str = ""
) -> None:
    """A card where the logged-in user asks about ``asset_id`` (or the organisation)."""
    t = scope.t
    with ui.card().classes("w-full").mark("assistant-panel"):
        ui.label(t("Ask the assistant")).classes("text-lg")
        if not _configured(ctx):
            ui.label(
                t(
                    "No language model is configured, so the assistant is off. An administrator "
                    "sets INFRASIGHT_LLM_BASE_URL and INFRASIGHT_LLM_MODEL; everything else works "
                    "without it."
                )
            ).classes("text-slate-700").mark("assistant-off")
            return
        bid = browser_id()
        box = (
            ui.textarea(placeholder=placeholder or t("e.g. Why is this alarming?"))
            .props(f"outlined autogrow maxlength={MAX_QUESTION}")
            .classes("w-full")
            .mark("assistant-question")
        )
        button = ui.button(t("Ask")).mark("assistant-ask")
        steps = ui.column().classes("gap-0")
        output = ui.column().classes("w-full gap-1")

        async def ask() -> None:
            question = str(box.value or "").strip()
            steps.clear()
            output.clear()
            if not question:
                with output:
                    ui.label(t("Write a question first.")).classes("text-red-8").mark(
                        "assistant-error"
                    )
                return
            with ctx.session() as session:
                caller = ctx.principal(session, bid)
            if caller is None:
                ui.navigate.to("/login")
                return
            try:
                prepared = prepare(ctx.platform, caller, question=question, asset_id=asset_id)
            except InfraSightError as error:
                with output:
                    ui.label(str(error)).classes("text-red-8").mark("assistant-error")
                return
            button.disable()
            with output:
                waiting = ui.spinner().mark("assistant-waiting")
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

            def pump() -> None:
                try:
                    for event in run_ask(ctx.platform, prepared):
                        loop.call_soon_threadsafe(queue.put_nowait, event)
                finally:
                    loop.call_soon_threadsafe(queue.put_nowait, None)

            work = asyncio.ensure_future(run.io_bound(pump))
            try:
                while (event := await queue.get()) is not None:
                    if event["type"] == "tool_call":
                        with steps:
                            ui.label(
                                t(
                                    "Looked up {tool}: {outcome}",
                                    tool=event["tool"],
                                    outcome=t(OUTCOMES.get(event["outcome"], "error")),
                                )
                            ).classes("text-xs text-slate-600").mark("assistant-step")
                    elif event["type"] == "answer":
                        with output:
                            _show_answer(event, t)
                await work
            except Exception:
                _log.exception("assistant panel failed")
                with output:
                    ui.label(t("The assistant failed; nothing was written.")).classes(
                        "text-red-8"
                    ).mark("assistant-error")
            finally:
                waiting.delete()
                button.enable()

        button.on_click(ask)
