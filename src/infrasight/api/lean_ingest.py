"""A lean path for the request devices send most: ``POST /api/v1/ingest/readings``.

A thousand devices posting a reading a second make this one request most of the server's
work, and most of its CPU went to the HTTP stack around it (FastAPI's routing, dependency
solving, eight ASGI layers, telemetry checks) and to two thread-pool hops. :class:`LeanIngest`
answers the common form of that request before the application stack: a bearer token, a JSON
or CSV body with a ``Content-Length`` of at most :data:`SMALL_BODY` bytes. Its work is the
route's own (``routes/ingest.py``: the same token check and failure limiter, role check,
content-type check, parsing, validation, group commit and effect row), done in one thread hop
with one database session for the token and the channels, and its answers are the route's:
the same status codes, bodies (the error shape through the application's own exception
handlers) and headers (security headers, no-store). Anything else (a session cookie, a larger
or chunked body, another content type) declines before reading anything and goes through the
route, so the token is still checked before a large body is read.

A small body is read before the token is checked: uvicorn buffers up to 64 KiB of a request's
body (its flow-control high-water mark) whether or not the application reads it, so reading it
first lets an unauthenticated client make the server receive nothing more.

The OpenAPI operation is the route's; tests compare the two paths' answers request by request
(``tests/api/test_lean_ingest.py``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send

from infrasight.api.deps import parse_bearer
from infrasight.api.middleware import secure_headers
from infrasight.api.routes.ingest import CONTENT_TYPES, authenticate_and_store, media_type
from infrasight.platform import Platform
from infrasight.services.throttle import FailureLimiter

__all__ = ["INGEST_PATH", "SMALL_BODY", "LeanIngest"]

_LOGGER = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/ingest/readings"
SMALL_BODY = 65_536
"""The largest declared body (bytes) the lean path takes: uvicorn's read-ahead."""

THREADS = 64
"""Threads of the lean path's pool: requests waiting together for a group commit (the
group's size) are bounded by it."""

ExceptionHandlers = dict[Any, Callable[..., Any]]


class LeanIngest:
    """Answer ``POST /api/v1/ingest/readings`` without the application stack, when it can.

    Parameters
    ----------
    platform
        The platform the route would use (settings, database, bus).
    limiter
        The application's limiter of failed authentications.
    handlers
        The application's exception handlers (``app.exception_handlers``): errors are answered
        by the same translations as the route's.
    """

    def __init__(
        self, platform: Platform, limiter: FailureLimiter, handlers: ExceptionHandlers
    ) -> None:
        self.platform = platform
        self.limiter = limiter
        self.handlers = handlers
        self._pool: ThreadPoolExecutor | None = None

    def takes(self, scope: Scope) -> tuple[str, str] | None:
        """The token and content type when the lean path answers ``scope``; None to decline."""
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != INGEST_PATH
            or scope.get("root_path")
        ):
            return None
        authorization = content_type = length = None
        for name, value in scope["headers"]:  # the first of a repeated header, as Starlette
            if name == b"authorization":
                authorization = value if authorization is None else authorization
            elif name == b"content-type":
                content_type = value if content_type is None else content_type
            elif name == b"content-length":
                length = value if length is None else length
            elif name == b"transfer-encoding":
                return None
        if authorization is None or content_type is None or length is None:
            return None  # a cookie session, no body length: the route (token before body)
        kind = media_type(content_type.decode("latin-1"))
        if kind not in CONTENT_TYPES or not length.isdigit():
            return None
        limit = min(SMALL_BODY, self.platform.settings.max_body_bytes)
        if int(length) > limit:
            return None
        return authorization.decode("latin-1"), kind

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, taken: tuple[str, str]
    ) -> None:
        """Answer a request :meth:`takes` accepted."""
        header, content_type = taken
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body was complete: nobody to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        client = scope.get("client")
        address = client[0] if client else "unknown"
        work = partial(self._handle, header, address, content_type, b"".join(chunks))
        try:
            body = await asyncio.get_running_loop().run_in_executor(self._executor(), work)
        except Exception as error:  # answered as the application answers it
            await self._answer_error(scope, receive, send, error)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": secure_headers(
                    [
                        (b"content-length", str(len(body)).encode()),
                        (b"content-type", b"application/json"),
                    ],
                    is_api=True,
                ),
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _handle(self, header: str, address: str, content_type: str, body: bytes) -> bytes:
        token = parse_bearer(header)
        answer = authenticate_and_store(
            self.platform, self.limiter, token, address, content_type, body
        )
        return answer.model_dump_json().encode()

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="ingest")
        return self._pool

    async def _answer_error(
        self, scope: Scope, receive: Receive, send: Send, error: Exception
    ) -> None:
        handler = None
        for kind in type(error).__mro__:
            if kind in self.handlers:
                handler = self.handlers[kind]
                break
        if handler is None:
            _LOGGER.error("ingest failed", exc_info=error)
            response: Response = PlainTextResponse("Internal Server Error", status_code=500)
        else:
            request = Request(scope, receive)
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, error)
            else:
                response = await run_in_threadpool(handler, request, error)

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": secure_headers(message["headers"], is_api=True)}
            await send(message)

        await response(scope, receive, secured)

    def close(self) -> None:
        """Stop the pool's threads (after the requests they run)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
