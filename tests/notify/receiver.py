"""A real HTTP webhook receiver for tests: records requests, can fail or be stopped."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: Message  # case-insensitive, as HTTP headers are
    body: bytes

    @property
    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.body)
        return doc


@dataclass
class WebhookReceiver:
    """Serves on 127.0.0.1 (an ephemeral port); ``status`` is what it answers."""

    status: int = 200
    received: list[Received] = field(default_factory=list)
    fail_next: int = 0

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    code = 503
                else:
                    code = receiver.status
                    if 200 <= code < 300:
                        receiver.received.append(Received(self.headers, body))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
