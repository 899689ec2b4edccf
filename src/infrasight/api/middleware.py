"""ASGI middleware at the HTTP edge: bounded request bodies and security headers.

:class:`BodyGuard` refuses a request *before its body is read* when the declared
``Content-Length`` exceeds the limit (413) or when a multipart upload carries no valid bearer
token (401), and stops a streamed body (no ``Content-Length``) as soon as it passes the limit
(413). :class:`SecurityHeaders` adds the headers a security review asks for to every answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infrasight.api.errors import error_response
from infrasight.core.errors import AuthenticationError
from infrasight.platform import Platform
from infrasight.services.auth import resolve_token

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "BodyGuard",
    "HeadAsGet",
    "SecurityHeaders",
    "secure_headers",
]

_LOGGER = logging.getLogger(__name__)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# A refused body is not read: the connection is closed after the answer so that the server
# does not go on receiving (and discarding) the rest of it.
_CLOSE = {"Connection": "close"}

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # The web pages (Vue, as NiceGUI serves it) compile templates and style in place.
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

_SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def secure_headers(
    headers: Iterable[tuple[bytes, bytes]], *, is_api: bool
) -> list[tuple[bytes, bytes]]:
    """An answer's headers with the security headers added (those it sets itself are kept), no
    ``server`` header, and ``Cache-Control: no-store`` on API answers that set no caching."""
    secured = [(k, v) for k, v in headers if k.lower() != b"server"]
    present = {k.lower() for k, _ in secured}
    secured += [(k, v) for k, v in _SECURITY_HEADERS if k not in present]
    if is_api and b"cache-control" not in present:
        secured.append((b"cache-control", b"no-store"))
    return secured


class SecurityHeaders:
    """Add nosniff, frame denial, a same-origin CSP and a referrer policy to every answer,
    and ``Cache-Control: no-store`` to answers under ``api_prefix`` that set no caching."""

    def __init__(self, app: ASGIApp, *, api_prefix: str) -> None:
        self.app = app
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = str(scope.get("path", "")).startswith(self.api_prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = secure_headers(message.get("headers", []), is_api=is_api)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class BodyGuard:
    """Bound request bodies and authenticate uploads before reading them.

    Parameters
    ----------
    app
        The wrapped ASGI application.
    platform
        Gives the body limit (``settings.max_body_bytes``, bytes) and the database that
        resolves bearer tokens.
    authenticate
        Resolves a bearer token (raises :class:`AuthenticationError`); defaults to the
        platform's token lookup.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        platform: Platform,
        authenticate: Callable[[str], object] | None = None,
    ) -> None:
        self.app = app
        self.platform = platform
        self.authenticate = authenticate or self._resolve

    def _resolve(self, token: str) -> object:
        with self.platform.database.session() as session:
            return resolve_token(session, token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        content_type = (_header(scope, b"content-type") or "").lower()
        if content_type.startswith("multipart/"):
            refusal = await self._check_token(scope)
            if refusal is not None:
                await error_response(401, refusal, headers=_CLOSE)(scope, receive, send)
                return
        limit = self.platform.settings.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await error_response(
                413,
                f"body of {int(declared)} bytes exceeds the limit of {limit}",
                "body",
                _CLOSE,
            )(scope, receive, send)
            return
        await self._bounded(scope, receive, send, limit)

    async def _check_token(self, scope: Scope) -> str | None:
        header = _header(scope, b"authorization")
        if not header:
            return "missing Authorization header (expected 'Bearer <token>')"
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "malformed Authorization header (expected 'Bearer <token>')"
        try:
            await run_in_threadpool(self.authenticate, token.strip())
        except AuthenticationError as err:
            return str(err)
        return None

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        tripped = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, tripped
            if tripped:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    tripped = True
                    _LOGGER.info("request body passed the limit of %d bytes; stopped", limit)
                    return {"type": "http.disconnect"}
            return message

        async def refuse() -> None:
            nonlocal started
            started = True
            refusal = error_response(
                413, f"body exceeds the limit of {limit} bytes", "body", _CLOSE
            )
            await refusal(scope, counting_receive, send)

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if tripped:
                if not started:
                    await refuse()
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not tripped:
                raise
            if not started:
                await refuse()


class HeadAsGet:
    """Answer ``HEAD`` wherever ``GET`` is answered: the same status and headers, no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)
