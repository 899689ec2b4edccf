"""The local HTTP endpoint for other processes on the terminal (loopback only by default).

``POST /readings`` takes ``{"readings": [{"channel", "time", "value", "unit"?, "priority"?}]}``
and answers 202 only after the readings are committed to the queue (fsync'd): what was
acknowledged survives a power cut. ``GET /status`` gives the agent's health as JSON.
"""

from __future__ import annotations

import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from infrasight.core.errors import InvalidInputError
from infrasight.edge.agent import EdgeAgent
from infrasight.edge.items import parse_items
from infrasight.edge.queue import QueueFullError

__all__ = ["LocalEndpoint"]

_LOGGER = logging.getLogger(__name__)
MAX_BODY_BYTES = 16 * 1024 * 1024


class LocalEndpoint:
    """Serves the endpoint in a background thread; ``port`` is the bound port."""

    def __init__(self, agent: EdgeAgent, host: str, port: int) -> None:
        handler = type("_Handler", (_Handler,), {"agent": agent})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="edge-http", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    agent: EdgeAgent
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        _LOGGER.debug("local endpoint: " + format, *args)

    def _answer(self, status: HTTPStatus, document: object) -> None:
        body = orjson.dumps(document)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path != "/status":
            self._answer(HTTPStatus.NOT_FOUND, {"detail": f"no route {self.path}"})
            return
        self._answer(HTTPStatus.OK, self.agent.health())

    def do_POST(self) -> None:
        if self.path != "/readings":
            self._answer(HTTPStatus.NOT_FOUND, {"detail": f"no route {self.path}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {"detail": f"body over {MAX_BODY_BYTES} bytes", "field": None},
            )
            return
        raw = self.rfile.read(length)
        try:
            try:
                document = orjson.loads(raw)
            except orjson.JSONDecodeError as err:
                raise InvalidInputError(f"body is not valid JSON ({err})") from err
            readings = parse_items(document)
        except InvalidInputError as err:
            self._answer(HTTPStatus.BAD_REQUEST, {"detail": err.detail, "field": err.field})
            return
        try:
            added = self.agent.accept(readings)
        except QueueFullError as err:
            self._answer(HTTPStatus.INSUFFICIENT_STORAGE, {"detail": str(err), "field": None})
            return
        self._answer(HTTPStatus.ACCEPTED, {"queued": added, "duplicates": len(readings) - added})
