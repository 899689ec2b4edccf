"""Uploads against a real server: refused before the body is read when unauthenticated or
over the size limit, and a streamed body is stopped at the limit."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infrasight.api.app import create_app
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from tests.conftest import make_tenant

LIMIT = 64 * 1024
BOUNDARY = "infrasightboundary"


class BodyCounter:
    """Counts the request body bytes that the server hands to the application."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.received = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
            return message

        await self.app(scope, counting, send)


@dataclass
class LiveServer:
    port: int
    counter: BodyCounter
    token: str


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    small = settings.model_copy(update={"max_body_bytes": LIMIT})
    platform = Platform.create(small, workers=0)
    token = make_tenant(platform, "Upload Org").tokens[Role.ENGINEER]
    counter = BodyCounter(create_app(platform=platform))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(counter, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():  # pragma: no cover - start-up failure
            raise RuntimeError("server did not start")
        threading.Event().wait(0.01)
    yield LiveServer(port=port, counter=counter, token=token)
    server.should_exit = True
    thread.join(10)
    platform.close()


def _head(path: str, port: int, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _multipart_start() -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()


def _read_status(sock: socket.socket) -> tuple[int, bytes]:
    """The status and the whole answer (headers and a Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ", 2)[1]), head + b"\r\n\r\n" + body


@pytest.mark.parametrize("path", ["/api/v1/captures", "/api/v1/records"])
@pytest.mark.parametrize("auth", [None, "Bearer not-a-token"])
def test_unauthenticated_upload_is_refused_before_its_body(
    live: LiveServer, path: str, auth: str | None
) -> None:
    headers = {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(300 * 1024 * 1024 if auth is None else 1000),
    }
    if auth:
        headers["Authorization"] = auth
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(_head(path, live.port, headers) + _multipart_start())
        # The answer comes although almost none of the declared body was sent.
        status, data = _read_status(sock)
    assert status == 401, data
    assert b'"field":null' in data
    assert live.counter.received == 0


@pytest.mark.parametrize("path", ["/api/v1/captures", "/api/v1/records", "/api/v1/assets"])
def test_declared_length_over_the_limit_is_413_before_the_body(live: LiveServer, path: str) -> None:
    headers = {
        "Authorization": f"Bearer {live.token}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(300 * 1024 * 1024),
    }
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(_head(path, live.port, headers) + _multipart_start())
        status, data = _read_status(sock)
    assert status == 413, data
    assert b'"field":"body"' in data
    assert live.counter.received == 0


def test_streamed_body_is_stopped_at_the_limit(live: LiveServer) -> None:
    headers = {
        "Authorization": f"Bearer {live.token}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Transfer-Encoding": "chunked",
    }
    chunk = b"\x00" * 16 * 1024
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    total = 64 * 1024 * 1024
    sent = 0
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        sock.sendall(_head("/api/v1/captures", live.port, headers))
        start = _multipart_start()
        sock.sendall(f"{len(start):x}\r\n".encode() + start + b"\r\n")
        try:
            while sent < total:
                sock.sendall(framed)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        status, data = _read_status(sock)
    assert status == 413, data
    # The application saw the limit plus at most one read, not the 64 MiB stream.
    assert LIMIT < live.counter.received <= LIMIT + 2 * 64 * 1024
    assert sent < total


def test_ingest_body_over_the_limit_is_413(live: LiveServer) -> None:
    headers = {
        "Authorization": f"Bearer {live.token}",
        "Content-Type": "application/json",
        "Content-Length": str(LIMIT + 1),
    }
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(_head("/api/v1/ingest/readings", live.port, headers))
        status, _ = _read_status(sock)
    assert status == 413
    assert live.counter.received == 0
