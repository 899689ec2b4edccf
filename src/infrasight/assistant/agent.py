"""The agent loop: the model plans and explains, the tools supply every fact.

One question runs at most ``max_steps`` model calls and ``tool_rounds`` rounds of tool calls:
after each round the model sees the results and may call tools again (with the same
permission checks and citations), until the bound, when it is offered no tools and must
answer. Each tool call the model asks for is
parsed (arguments that are not JSON, an unknown tool or invalid arguments are answered to the
model as an error and recorded as ``malformed``), run as the asking user (another
organisation's object is ``not_found``, a role that may not read it ``denied``) and recorded.
The final text goes through the answer check (:mod:`infrasight.assistant.grounding`): by default
a sentence holding a number that no tool result holds is removed from the answer and recorded
(``rejected_claims``); if nothing of the model's prose is left, the answer is the engines' cited
key figures alone. The answer is yielded only once checked, so a removed sentence is never
streamed. (``grounding = "mark"`` marks such numbers instead; ``"reject"`` withholds the whole
answer.) Tools run in a session that is never
committed; a tool that changed anything is rolled back and logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from infrasight.assistant.context import (
    ContextHeaders,
    constrain_specs,
    format_context,
    gather_context,
    id_choices,
)
from infrasight.assistant.grounding import (
    Citation,
    RejectedClaim,
    ToolEvidence,
    check_grounding,
    consulted_passages,
    mark_unsupported,
    remove_unsupported,
)
from infrasight.assistant.key_facts import key_facts, key_facts_line
from infrasight.assistant.language import texts, wants_write
from infrasight.assistant.llm import ChatClient, ModelUnavailableError
from infrasight.assistant.tools import ToolContext, ToolRegistry
from infrasight.core.errors import (
    InfraSightError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

__all__ = ["Agent", "Answer", "ToolOutcome"]

_log = logging.getLogger(__name__)

MAX_RESULT_CHARS = 8000
HISTORY_MESSAGES = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolOutcome:
    """One tool call: what was asked, how it ended, what it returned."""

    tool: str
    arguments: dict[str, Any]
    outcome: str  # ok, not_found, denied, error, malformed
    result: Any
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the stream's ``tool_call`` event)."""
        return {
            "tool": self.tool,
            "arguments": self.arguments,
            "outcome": self.outcome,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """The checked answer to one question."""

    text: str
    language: str
    stopped: str  # answered, rejected, out_of_steps, model_failed
    citations: tuple[Citation, ...]
    unsupported: tuple[str, ...]
    grounded_share: float
    drafts: tuple[dict[str, Any], ...]
    tool_calls: tuple[ToolOutcome, ...]
    steps: int
    write_refused: bool
    model_text: str = ""
    error: str = ""
    evidence: tuple[ToolEvidence, ...] = field(default=())
    #: The key figures of the tool results written under the model's text (key_facts on).
    key_facts: tuple[str, ...] = ()
    #: The sentences removed by the answer check, each with its unsupported numbers.
    rejected_claims: tuple[RejectedClaim, ...] = ()
    #: Numbers (and dates) in the text the answer check read, before any removal.
    numbers_checked: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the API's answer)."""
        return {
            "answer": self.text,
            "language": self.language,
            "stopped": self.stopped,
            "citations": [c.as_dict() for c in self.citations],
            "passages": consulted_passages(self.evidence),
            "unsupported": list(self.unsupported),
            "grounded_share": self.grounded_share,
            "drafts": list(self.drafts),
            "tool_calls": [t.as_dict() for t in self.tool_calls],
            "steps": self.steps,
            "write_refused": self.write_refused,
            "error": self.error,
            "key_facts": list(self.key_facts),
            "rejected_claims": [c.as_dict() for c in self.rejected_claims],
            "numbers_checked": self.numbers_checked,
        }


def _arguments(text: str) -> dict[str, Any]:
    value = json.loads(text) if text.strip() else {}
    if not isinstance(value, dict):
        raise ValueError("arguments must be a JSON object")
    return value


class Agent:
    """Runs questions against a model with a tool registry."""

    def __init__(
        self,
        client: ChatClient,
        registry: ToolRegistry,
        *,
        max_steps: int = 6,
        tool_rounds: int = 3,
        grounding: str = "remove",
        tools_offered: int = 0,
        key_facts: bool = False,
        context_chars: int = 0,
        result_chars: int = MAX_RESULT_CHARS,
    ) -> None:
        self.client = client
        self.registry = registry
        self.max_steps = max_steps
        self.tool_rounds = tool_rounds
        self.grounding = grounding
        self.tools_offered = tools_offered
        self.key_facts = key_facts
        self.context_chars = context_chars
        self.result_chars = result_chars

    def _run_tool(self, ctx: ToolContext, name: str, arguments_text: str) -> ToolOutcome:
        tool = self.registry.get(name)
        if tool is None:
            detail = f"no tool named {name!r}; tools: {', '.join(self.registry.names)}"
            return ToolOutcome(tool=name, arguments={}, outcome="malformed", result=None,
                               detail=detail)  # fmt: skip
        try:
            arguments = _arguments(arguments_text)
        except ValueError as err:
            return ToolOutcome(
                tool=name,
                arguments={"_raw": arguments_text[:500]},
                outcome="malformed",
                result=None,
                detail=f"arguments are not a JSON object: {err}",
            )
        try:
            parsed = tool.parse(arguments)
        except InvalidInputError as err:
            return ToolOutcome(tool=name, arguments=arguments, outcome="malformed", result=None,
                               detail=str(err))  # fmt: skip
        try:
            result = tool.run(ctx, parsed)
            outcome, detail = "ok", ""
        except NotFoundError as err:
            result, outcome, detail = None, "not_found", str(err)
        except PermissionDeniedError as err:
            result, outcome, detail = None, "denied", str(err)
        except InfraSightError as err:
            result, outcome, detail = None, "error", str(err)
        except Exception:
            _log.exception("assistant tool %s failed", name)
            result, outcome, detail = None, "error", "the tool failed"
        session = ctx.session
        if session.new or session.dirty or session.deleted:
            _log.error("assistant tool %s changed the session; rolled back", name)
        session.rollback()  # tools only read: nothing of theirs is ever committed
        if outcome in ("not_found", "denied"):
            _log.info("assistant tool %s for %s: %s", name, ctx.caller.name, outcome)
        return ToolOutcome(
            tool=name, arguments=arguments, outcome=outcome, result=result, detail=detail
        )

    def run(
        self,
        ctx: ToolContext,
        question: str,
        *,
        language: str,
        asset_id: int | None = None,
        history: Sequence[dict[str, str]] = (),
    ) -> Iterator[ToolOutcome | Answer]:
        """Answer ``question``: yields each :class:`ToolOutcome` as it happens, then the
        :class:`Answer`."""
        words = texts(language)
        write_refused = wants_write(question)
        if write_refused:
            _log.warning("assistant: %s asked to write or to drop the rules", ctx.caller.name)
        system = [words.system]
        if asset_id is not None:
            system.append(words.context_asset.format(asset_id=asset_id))
        # the ids a model cannot guess, read as the caller (context_chars > 0)
        blocks, known = gather_context(
            self.registry, ctx, asset_id=asset_id, max_chars=self.context_chars
        )
        headers = ContextHeaders(
            assets=words.context_assets,
            elements=words.context_elements,
            channels=words.context_channels,
            more=words.context_more,
            hazards=words.context_hazards,
        )
        listing = format_context(blocks, headers, max_chars=self.context_chars)
        if listing:
            system.append(listing)
        # one system message: some chat templates (llama.cpp's chatml-function-calling) write
        # the tool schemas after every system message
        messages: list[dict[str, Any]] = [{"role": "system", "content": "\n\n".join(system)}]
        messages += [dict(m) for m in history[-HISTORY_MESSAGES:]]
        messages.append({"role": "user", "content": question})
        # all tools, or (tools_offered > 0, for small models) the few the question points to
        # (by embedding similarity when a model is installed, else by words); a tool not
        # offered still runs when called
        specs = self.registry.specs(
            self.registry.route(question, self.tools_offered, embedder=ctx.embedder)
        )
        # the id arguments limited to the caller's ids (a grammar-constrained server writes no
        # other); only from a whole list (list_assets lists at most 100)
        specs = constrain_specs(specs, id_choices(blocks, complete=len(blocks) < 100))
        calls: list[ToolOutcome] = []
        asked: set[tuple[str, str]] = set()
        step = 0
        rounds = 0
        final: str | None = None
        error = ""
        answer_now = False
        while step < self.max_steps:
            step += 1
            # no tools on the last step, after the last tool round, nor once the model repeats
            # a call it has the result of: it must answer from what it has (a small model
            # otherwise calls tools on and on until it runs out of steps)
            last = step == self.max_steps or rounds >= self.tool_rounds
            offered = [] if answer_now or last else specs
            try:
                reply = self.client.complete(messages, offered)
            except ModelUnavailableError as err:
                error = str(err)
                break
            if not reply.tool_calls:
                final = reply.content
                break
            if not offered:  # tool calls where none were offered are not run
                break
            fresh = [c for c in reply.tool_calls if (c.name, c.arguments_text.strip()) not in asked]
            if not fresh:
                _log.info("assistant: the model repeated its tool calls; asked to answer")
                answer_now = True
                continue
            reply = replace(reply, tool_calls=tuple(fresh))
            rounds += 1
            asked.update((c.name, c.arguments_text.strip()) for c in fresh)
            messages.append(
                {
                    "role": "assistant",
                    # "" rather than null: llama-cpp-python's server refuses a null content
                    # (HTTP 500) where OpenAI's API accepts either beside tool calls
                    "content": reply.content or "",
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments_text},
                        }
                        for c in reply.tool_calls
                    ],
                }
            )
            for call in reply.tool_calls:
                outcome = self._run_tool(ctx, call.name, call.arguments_text)
                calls.append(outcome)
                yield outcome
                payload = (
                    outcome.result
                    if outcome.outcome == "ok"
                    else {"error": outcome.outcome, "detail": outcome.detail}
                )
                content = json.dumps(payload, ensure_ascii=False, default=str)
                line = (
                    key_facts_line(call.name, outcome.result, words.language)
                    if self.key_facts and outcome.outcome == "ok"
                    else None
                )
                if line:  # a small model reads the figures first, in the answer's language
                    content = f"{line}\n{content}"
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "name": call.name,
                        "content": content[: self.result_chars],
                    }
                )
        yield self._finish(
            question,
            words.language,
            final,
            error,
            calls,
            step,
            write_refused=write_refused,
            known=tuple(known),
        )

    def _finish(
        self,
        question: str,
        language: str,
        final: str | None,
        error: str,
        calls: list[ToolOutcome],
        steps: int,
        *,
        write_refused: bool,
        known: tuple[ToolEvidence, ...] = (),
    ) -> Answer:
        words = texts(language)
        evidence = tuple(
            ToolEvidence(tool=c.tool, arguments=c.arguments, result=c.result)
            for c in calls
            if c.outcome == "ok"
        )
        drafts = tuple(
            c.result["draft"]
            for c in calls
            if c.tool == "draft_work_order"
            and c.outcome == "ok"
            and isinstance(c.result, dict)
            and c.result.get("draft")
        )
        note = f"\n\n{words.read_only}" if write_refused else ""
        common: dict[str, Any] = {
            "language": language,
            "drafts": drafts,
            "tool_calls": tuple(calls),
            "steps": steps,
            "write_refused": write_refused,
            "evidence": evidence,
        }
        facts = (
            tuple(key_facts([(e.tool, e.result) for e in evidence], language))
            if self.key_facts
            else ()
        )
        if final is None:
            stopped = "model_failed" if error else "out_of_steps"
            text = (
                words.model_failed.format(detail=error)
                if error
                else words.out_of_steps.format(steps=self.max_steps)
            )
            # the figures the tools did return still reach the user, checked and cited
            listed = "\n".join(f"— {line}" for line in facts)
            checked = check_grounding(listed, evidence) if facts else None
            return Answer(
                text=text + (f"\n\n{listed}" if facts else "") + note,
                stopped=stopped,
                citations=checked.citations if checked else (),
                unsupported=tuple(m.text for m in checked.unsupported) if checked else (),
                grounded_share=checked.grounded_share if checked else 1.0,
                error=error,
                key_facts=facts,
                numbers_checked=len(checked.mentions) if checked else 0,
                **common,
            )
        said = final
        listed = "\n".join(f"— {line}" for line in facts)
        if facts:  # the engines' figures under the model's text, checked and cited like it
            final = final.rstrip() + "\n\n" + listed
        # the context's listings ground numbers too (the model read them), but give no key facts
        verdict = check_grounding(final, evidence, question=question, fallback=known)
        unsupported = tuple(m.text for m in verdict.unsupported)
        n_checked = len(verdict.mentions)
        if unsupported:
            _log.warning("assistant answer had unsupported numbers: %s", ", ".join(unsupported))
        # what every checked answer carries, whatever the grounding mode does with the text
        checked_answer: dict[str, Any] = {
            "unsupported": unsupported,
            "model_text": said,
            "key_facts": facts,
            "numbers_checked": n_checked,
            **common,
        }
        if unsupported and self.grounding == "reject":
            return Answer(
                text=words.rejected.format(numbers=", ".join(unsupported)) + note,
                stopped="rejected",
                citations=verdict.citations,
                grounded_share=verdict.grounded_share,
                **checked_answer,
            )
        if self.grounding == "mark" or not unsupported:
            return Answer(
                text=mark_unsupported(final, verdict.unsupported, words.unverified) + note,
                stopped="answered",
                citations=verdict.citations,
                grounded_share=verdict.grounded_share,
                **checked_answer,
            )
        # remove: every sentence with a number no tool result holds goes, and is recorded; the
        # key figures (the engines', each line a sentence) stay when the whole prose goes
        kept, claims = remove_unsupported(final, verdict.unsupported)
        for claim in claims:
            _log.warning(
                "assistant removed a sentence with unsupported numbers %s: %r",
                ", ".join(claim.numbers),
                claim.sentence,
            )
        stopped = "answered"
        if not kept:
            kept, stopped = words.withheld, "rejected"
        delivered = check_grounding(kept, evidence, question=question, fallback=known)
        return Answer(
            text=kept + note,
            stopped=stopped,
            citations=delivered.citations,
            grounded_share=delivered.grounded_share,
            rejected_claims=claims,
            **checked_answer,
        )
