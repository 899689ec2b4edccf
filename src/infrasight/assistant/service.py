"""Ask the assistant: check the request, run the agent as the caller, store the conversation.

:func:`prepare` does everything that can refuse the request (no model configured, bad input,
another organisation's asset or conversation, a role that may not read) before anything is
streamed, so those answers keep the API's error shape; :func:`run_ask` then yields the tool calls
as they happen and the checked answer, and stores the question, the answer and the audit of
every tool call in one transaction at the end. Tools read in a session of their own that is
never committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.assistant.agent import Agent, Answer, ToolOutcome
from infrasight.assistant.embedding import shipped_embedder
from infrasight.assistant.language import choose_language
from infrasight.assistant.llm import ChatClient, client_from_settings
from infrasight.assistant.tools import ToolContext, ToolRegistry, default_registry
from infrasight.core.domain import Action, Role
from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.platform import Platform
from infrasight.services.auth import Principal
from infrasight.services.document_texts import document_texts
from infrasight.storage.models import (
    Asset,
    AssistantConversation,
    AssistantMessage,
    AssistantToolCall,
    utcnow,
)

__all__ = ["MAX_QUESTION", "PreparedAsk", "conversation_detail", "prepare", "run_ask"]

_log = logging.getLogger(__name__)
MAX_QUESTION = 2000

ClientFactory = Callable[[], ChatClient]


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedAsk:
    """A checked request, ready to run."""

    caller: Principal
    question: str
    language: str
    asset_id: int | None
    conversation_id: int | None
    history: tuple[dict[str, str], ...]
    client: ChatClient


def require_asker(caller: Principal) -> None:
    """Users of every role may ask; crew too. A device token may not.

    The assistant itself reads nothing: its tools call the API's route functions as the caller,
    so crew (no organisation-wide read) get their own work orders, their comments and
    attachments, and a "permission denied" from every other tool, as the API answers them.

    Raises
    ------
    PermissionDeniedError
        A device token.
    """
    if caller.role is Role.CREW:
        return
    caller.require(Action.READ)


def _owned_conversation(
    session: Session, caller: Principal, conversation_id: int
) -> AssistantConversation:
    row = session.get(AssistantConversation, conversation_id)
    if (
        row is None
        or row.organization_id != caller.organization_id
        or row.user_id != caller.user_id
        or row.actor != caller.name
    ):
        raise NotFoundError(f"conversation {conversation_id} not found")
    return row


def prepare(
    platform: Platform,
    caller: Principal,
    *,
    question: str,
    asset_id: int | None = None,
    language: str | None = None,
    conversation_id: int | None = None,
    client_factory: ClientFactory | None = None,
) -> PreparedAsk:
    """Check a question before it runs.

    Raises
    ------
    PermissionDeniedError
        A device token (crew may ask: their tools answer with crew's own API permissions).
    InvalidInputError
        An empty or over-long question, or an unknown language (each names its field).
    NotFoundError
        Another organisation's (or no) asset, or another user's conversation.
    ModelNotConfiguredError
        No model is configured.
    """
    require_asker(caller)
    text = question.strip()
    if not text:
        raise InvalidInputError("a question is required", field="question")
    if len(text) > MAX_QUESTION:
        raise InvalidInputError(f"at most {MAX_QUESTION} characters", field="question")
    lang = choose_language(text, language)
    history: list[dict[str, str]] = []
    with platform.database.session() as session:
        if asset_id is not None:
            asset = session.get(Asset, asset_id)
            if asset is None or asset.organization_id != caller.organization_id:
                raise NotFoundError(f"asset {asset_id} not found")
        if conversation_id is not None:
            _owned_conversation(session, caller, conversation_id)
            rows = session.scalars(
                select(AssistantMessage)
                .where(AssistantMessage.conversation_id == conversation_id)
                .order_by(AssistantMessage.id)
            ).all()
            history = [{"role": m.role, "content": m.content} for m in rows]
    client = (client_factory or (lambda: client_from_settings(platform.settings)))()
    return PreparedAsk(
        caller=caller,
        question=text,
        language=lang,
        asset_id=asset_id,
        conversation_id=conversation_id,
        history=tuple(history),
        client=client,
    )


def _store(platform: Platform, ask: PreparedAsk, answer: Answer) -> int:
    caller = ask.caller
    with platform.database.transaction() as session:
        if ask.conversation_id is None:
            conversation = AssistantConversation(
                organization_id=caller.organization_id,
                user_id=caller.user_id,
                actor=caller.name,
                language=answer.language,
                title=ask.question[:200],
            )
            session.add(conversation)
            session.flush()
        else:
            conversation = _owned_conversation(session, caller, ask.conversation_id)
            conversation.updated_at = utcnow()
        session.add(
            AssistantMessage(
                conversation_id=conversation.id, role="user", content=ask.question, citations=[]
            )
        )
        session.add(
            AssistantMessage(
                conversation_id=conversation.id,
                role="assistant",
                content=answer.text,
                citations=[c.as_dict() for c in answer.citations],
                details={
                    "stopped": answer.stopped,
                    "unsupported": list(answer.unsupported),
                    "grounded_share": answer.grounded_share,
                    "drafts": list(answer.drafts),
                    "write_refused": answer.write_refused,
                    "error": answer.error,
                    "model_text": answer.model_text,
                    "rejected_claims": [c.as_dict() for c in answer.rejected_claims],
                },
            )
        )
        for call in answer.tool_calls:
            session.add(
                AssistantToolCall(
                    organization_id=caller.organization_id,
                    conversation_id=conversation.id,
                    actor=caller.name,
                    tool=call.tool[:100],
                    arguments=call.arguments,
                    outcome=call.outcome,
                    detail=call.detail,
                )
            )
        session.flush()
        return conversation.id


def run_ask(
    platform: Platform, ask: PreparedAsk, *, registry: ToolRegistry | None = None
) -> Iterator[dict[str, Any]]:
    """Run a prepared question; yields ``tool_call`` events, then ``answer`` (stored)."""
    settings = platform.settings
    agent = Agent(
        ask.client,
        registry or default_registry(),
        max_steps=settings.assistant_max_steps,
        tool_rounds=settings.assistant_tool_rounds,
        grounding=settings.assistant_grounding,
        tools_offered=settings.assistant_tools_offered,
        key_facts=settings.assistant_key_facts,
        context_chars=settings.assistant_context_chars,
        result_chars=settings.assistant_result_chars,
    )
    answer: Answer | None = None
    try:
        with platform.database.session() as session:
            ctx = ToolContext(
                session=session,
                caller=ask.caller,
                blobs=platform.blobs,
                texts=partial(document_texts, platform.database, platform.blobs),
                embedder=shipped_embedder() if settings.assistant_embeddings else None,
            )
            for item in agent.run(
                ctx,
                ask.question,
                language=ask.language,
                asset_id=ask.asset_id,
                history=ask.history,
            ):
                if isinstance(item, ToolOutcome):
                    yield {"type": "tool_call", **item.as_dict()}
                else:
                    answer = item
            session.rollback()
    finally:
        close = getattr(ask.client, "close", None)
        if callable(close):
            close()
    assert answer is not None
    conversation_id = _store(platform, ask, answer)
    _log.info(
        "assistant answered %s (%s, %d tool calls, %d unsupported numbers, %d sentences removed)",
        ask.caller.name,
        answer.stopped,
        len(answer.tool_calls),
        len(answer.unsupported),
        len(answer.rejected_claims),
    )
    yield {"type": "answer", "conversation_id": conversation_id, **answer.as_dict()}


def conversation_detail(
    platform: Platform, caller: Principal, conversation_id: int
) -> dict[str, Any]:
    """A conversation of the caller with its messages and tool calls (others: not found)."""
    require_asker(caller)
    with platform.database.session() as session:
        row = _owned_conversation(session, caller, conversation_id)
        messages = session.scalars(
            select(AssistantMessage)
            .where(AssistantMessage.conversation_id == row.id)
            .order_by(AssistantMessage.id)
        ).all()
        calls = session.scalars(
            select(AssistantToolCall)
            .where(AssistantToolCall.conversation_id == row.id)
            .order_by(AssistantToolCall.id)
        ).all()
        return {
            "id": row.id,
            "language": row.language,
            "title": row.title,
            "created_at": row.created_at.isoformat(),
            "messages": [
                {
                    "role": m.role,
                    "content": m.content,
                    "citations": m.citations,
                    "details": m.details,
                    "at": m.created_at.isoformat(),
                }
                for m in messages
            ],
            "tool_calls": [
                {
                    "tool": c.tool,
                    "arguments": c.arguments,
                    "outcome": c.outcome,
                    "detail": c.detail,
                    "at": c.at.isoformat(),
                }
                for c in calls
            ],
        }


def list_conversations(platform: Platform, caller: Principal) -> list[dict[str, Any]]:
    """The caller's conversations, newest first."""
    require_asker(caller)
    with platform.database.session() as session:
        rows = session.scalars(
            select(AssistantConversation)
            .where(
                AssistantConversation.organization_id == caller.organization_id,
                AssistantConversation.user_id == caller.user_id
                if caller.user_id is not None
                else AssistantConversation.user_id.is_(None),
                AssistantConversation.actor == caller.name,
            )
            .order_by(AssistantConversation.updated_at.desc(), AssistantConversation.id.desc())
            .limit(100)
        ).all()
        return [
            {
                "id": r.id,
                "title": r.title,
                "language": r.language,
                "updated_at": r.updated_at.isoformat(),
            }
            for r in rows
        ]
