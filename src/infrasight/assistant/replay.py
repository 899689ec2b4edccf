"""An OpenAI-compatible chat endpoint that answers from a script: recorded transcripts replayed
in order, or a function of the request. For protocol tests and the benchmark's recorded model;
it serves on 127.0.0.1 only (standard library ``http.server``, one thread per request).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "RawReply",
    "ReplayServer",
    "replay",
    "text_reply",
    "tool_reply",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RawReply:
    """An answer given as is: a status, a body (not necessarily JSON) and a delay."""

    status: int = 200
    body: bytes = b""
    delay_s: float = 0.0


Responder = Callable[[dict[str, Any]], "dict[str, Any] | RawReply"]


def text_reply(text: str) -> dict[str, Any]:
    """A chat completion whose message is ``text``."""
    return {
        "id": "chatcmpl-replay",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": text},
            }
        ],
    }


def tool_reply(*calls: tuple[str, dict[str, Any] | str]) -> dict[str, Any]:
    """A chat completion asking for tool calls ``(name, arguments)``; string arguments are sent
    as they are (to replay malformed ones)."""
    return {
        "id": "chatcmpl-replay",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": f"call_{i}",
                            "type": "function",
                            "function": {
                                "name": name,
                                "arguments": args if isinstance(args, str) else json.dumps(args),
                            },
                        }
                        for i, (name, args) in enumerate(calls)
                    ],
                },
            }
        ],
    }


def replay(responses: Sequence[dict[str, Any] | RawReply]) -> Responder:
    """A responder giving ``responses`` in order (then a plain "done" text)."""
    queue: Iterator[dict[str, Any] | RawReply] = iter(list(responses))
    lock = threading.Lock()

    def respond(_request: dict[str, Any]) -> dict[str, Any] | RawReply:
        with lock:
            return next(queue, text_reply("done"))

    return respond


class ReplayServer:
    """``POST /v1/chat/completions`` on 127.0.0.1 answered by ``responder``; every request
    body is kept in :attr:`requests`."""

    def __init__(self, responder: Responder, *, port: int = 0) -> None:
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    request = {}
                server.requests.append(request)
                answer = server.responder(request)
                if isinstance(answer, RawReply):
                    time.sleep(answer.delay_s)
                    status, body = answer.status, answer.body
                else:
                    status, body = 200, json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL to configure (``INFRASIGHT_LLM_BASE_URL``)."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
