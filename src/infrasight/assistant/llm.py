"""A client of any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server, a cloud).

Only ``POST {base_url}/chat/completions`` with ``tools`` is used. Every way the endpoint can fail
(no answer in time, refused connection, an error status, a body that is not a chat completion)
becomes one :class:`ModelUnavailableError` naming what happened; a tool call whose arguments are
not JSON is kept as text for the agent to refuse (:class:`ToolCall.arguments_text`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from infrasight.core.errors import InfraSightError
from infrasight.core.settings import Settings

__all__ = [
    "ChatClient",
    "ChatReply",
    "ModelNotConfiguredError",
    "ModelUnavailableError",
    "OpenAIChatClient",
    "ToolCall",
    "client_from_settings",
    "tool_results_as_user",
]

_log = logging.getLogger(__name__)


class ModelNotConfiguredError(InfraSightError):
    """No language model is configured (``INFRASIGHT_LLM_BASE_URL`` / ``_MODEL``): HTTP 503."""


class ModelUnavailableError(InfraSightError):
    """The model's endpoint timed out, refused, failed or answered something unreadable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    """One tool call the model asked for; ``arguments_text`` is the model's raw JSON text."""

    id: str
    name: str
    arguments_text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatReply:
    """The model's turn: text, tool calls, or both."""

    content: str
    tool_calls: tuple[ToolCall, ...]
    raw_message: dict[str, Any]


class ChatClient(Protocol):
    """What the agent needs of a model."""

    model: str

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> ChatReply:  # pragma: no cover - protocol
        """One chat completion with the tools offered."""
        ...


def _parse_reply(body: object) -> ChatReply:
    """A chat completion body as a :class:`ChatReply`; raise on anything else."""
    if not isinstance(body, dict):
        raise ModelUnavailableError("the model's answer is not a JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ModelUnavailableError("the model's answer has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ModelUnavailableError("the model's answer has no message")
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    calls: list[ToolCall] = []
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise ModelUnavailableError("the model's tool_calls is not a list")
    for index, raw in enumerate(raw_calls):
        function = raw.get("function") if isinstance(raw, dict) else None
        if not isinstance(function, dict):
            calls.append(ToolCall(id=f"call_{index}", name="", arguments_text=str(raw)))
            continue
        arguments = function.get("arguments", "")
        calls.append(
            ToolCall(
                id=str(raw.get("id") or f"call_{index}"),
                name=str(function.get("name") or ""),
                arguments_text=arguments if isinstance(arguments, str) else json.dumps(arguments),
            )
        )
    return ChatReply(content=text, tool_calls=tuple(calls), raw_message=message)


def tool_results_as_user(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with each tool result sent as a user message naming its tool.

    For servers whose chat template drops the ``tool`` role: llama-cpp-python's
    ``chatml-function-calling`` renders system, user and assistant messages only, so without
    this a model served by it never reads a tool result and cannot state its facts.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.get("role") == "tool":
            name = message.get("name") or "tool"
            out.append({"role": "user", "content": f"Result of {name}:\n{message['content']}"})
        else:
            out.append(message)
    return out


class OpenAIChatClient:
    """``POST {base_url}/chat/completions`` with a timeout; one HTTP client per instance."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout_s: float = 60.0,
        max_tokens: int = 1024,
        transport: httpx.BaseTransport | None = None,
        tool_results: str = "tool",
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.tool_results = tool_results
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            transport=transport,
        )
        self._timeout_s = timeout_s

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> ChatReply:
        """One chat completion (temperature 0) with ``tools`` offered.

        Raises
        ------
        ModelUnavailableError
            No answer within the timeout, connection refused, an error status, or an answer
            that is not a chat completion.
        """
        if self.tool_results == "user":
            messages = tool_results_as_user(messages)
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": self.max_tokens,  # a small model may otherwise ramble to its context
            "stream": False,
        }
        if tools:
            payload["tools"] = tools
            payload["tool_choice"] = "auto"
        try:
            response = self._http.post("/chat/completions", json=payload)
        except httpx.TimeoutException as err:
            _log.warning("model %s timed out after %.0f s", self.model, self._timeout_s)
            raise ModelUnavailableError(
                f"the language model did not answer within {self._timeout_s:g} s"
            ) from err
        except httpx.HTTPError as err:
            _log.warning("model %s unreachable: %s", self.model, err)
            raise ModelUnavailableError(f"the language model is unreachable: {err}") from err
        if response.status_code >= 400:
            _log.warning("model %s answered HTTP %s", self.model, response.status_code)
            raise ModelUnavailableError(f"the language model answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as err:
            raise ModelUnavailableError("the language model's answer is not JSON") from err
        return _parse_reply(body)


def client_from_settings(settings: Settings) -> OpenAIChatClient:
    """The configured model's client.

    Raises
    ------
    ModelNotConfiguredError
        ``INFRASIGHT_LLM_BASE_URL`` or ``INFRASIGHT_LLM_MODEL`` is not set.
    """
    if not settings.llm_base_url or not settings.llm_model:
        raise ModelNotConfiguredError(
            "no language model is configured: set INFRASIGHT_LLM_BASE_URL (an OpenAI-compatible "
            "endpoint, e.g. http://127.0.0.1:8080/v1) and INFRASIGHT_LLM_MODEL; everything else "
            "works without one"
        )
    return OpenAIChatClient(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout_s=settings.llm_timeout_s,
        max_tokens=settings.llm_max_tokens,
        tool_results=settings.llm_tool_results,
    )
