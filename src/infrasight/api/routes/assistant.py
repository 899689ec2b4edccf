"""The assistant: questions answered from the engines' results through read-only tools.

``POST /assistant/ask`` streams newline-delimited JSON (``application/x-ndjson``): one
``tool_call`` event per tool the model called, then one ``answer`` event with the checked text,
its citations (tool, arguments, value) and any drafts. Everything that can refuse a request
(no model configured: 503; bad input: 422; another organisation's asset or another user's
conversation: 404; a role that may not read: 403) is decided before the first byte, so those
answers have the API's one error shape. Once the stream has started, a failure can only be an
event: ``{"type": "error", "detail", "field": null}``. ``"stream": false`` answers one JSON
object (the ``answer`` event with ``tool_calls``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import Field

from infrasight.api.deps import CallerDep, PlatformDep
from infrasight.api.errors import ErrorBody
from infrasight.api.routes.common import DbId, RequestModel
from infrasight.assistant.llm import ModelNotConfiguredError
from infrasight.assistant.service import (
    MAX_QUESTION,
    conversation_detail,
    list_conversations,
    prepare,
    run_ask,
)

router = APIRouter(tags=["assistant"])
_log = logging.getLogger(__name__)


class AskIn(RequestModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION)
    asset_id: DbId | None = Field(default=None, description="The asset the user is looking at")
    language: Literal["en", "zh-Hant", "zh-Hans"] | None = Field(
        default=None, description="Answer language; default: the question's own"
    )
    conversation_id: DbId | None = Field(default=None, description="Continue a conversation")
    stream: bool = Field(default=True, description="false: one JSON object instead of NDJSON")


def _lines(events: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    try:
        for event in events:
            yield (json.dumps(event, ensure_ascii=False, default=str) + "\n").encode()
    except Exception as err:  # after the 200 went out, an error is an event of the stream
        _log.exception("assistant stream failed")
        detail = str(err) if isinstance(err, ValueError) else "the assistant failed"
        yield (json.dumps({"type": "error", "detail": detail, "field": None}) + "\n").encode()


@router.post(
    "/assistant/ask",
    response_model=None,
    responses={
        200: {
            "description": "NDJSON events (tool_call..., answer), or one JSON object",
            "content": {"application/x-ndjson": {}},
        },
        404: {"model": ErrorBody, "description": "The asset or the conversation is not found"},
        503: {"model": ErrorBody, "description": "No language model is configured"},
    },
)
def ask(body: AskIn, platform: PlatformDep, caller: CallerDep) -> StreamingResponse | JSONResponse:
    """Ask about the organisation's structures; every number in the answer is cited from a tool
    result (or marked unverified). Read-only: proposals come back as drafts to confirm."""
    try:
        prepared = prepare(
            platform,
            caller,
            question=body.question,
            asset_id=body.asset_id,
            language=body.language,
            conversation_id=body.conversation_id,
        )
    except ModelNotConfiguredError as err:
        raise HTTPException(status_code=503, detail=str(err)) from err
    events = run_ask(platform, prepared)
    if not body.stream:
        answer: dict[str, Any] = {}
        for event in events:
            if event["type"] == "answer":
                answer = event
        return JSONResponse(answer)
    return StreamingResponse(_lines(events), media_type="application/x-ndjson")


@router.get("/assistant/conversations")
def get_conversations(platform: PlatformDep, caller: CallerDep) -> list[dict[str, Any]]:
    """The caller's own conversations, newest first."""
    return list_conversations(platform, caller)


@router.get("/assistant/conversations/{conversation_id}")
def get_conversation(
    conversation_id: DbId, platform: PlatformDep, caller: CallerDep
) -> dict[str, Any]:
    """One of the caller's conversations: messages with citations, and the tools called."""
    return conversation_detail(platform, caller, conversation_id)


__all__ = ["router"]
