"""Compressed once: the web app's versioned scripts, styles and fonts, kept gzipped in memory.

NiceGUI serves its scripts and styles (about 1 MB per first visit) at URLs that name its version,
marked immutable, through Starlette's gzip middleware, which compresses them again for every
browser that does not have them yet. This middleware wraps that one: the first gzipped answer
for such a URL is kept (status, headers, body) and replayed to later browsers asking for gzip,
so a crowd of first visits costs one compression per file. Everything else passes through.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CachedGzip", "cached_gzip"]

#: Paths whose answers never change for one installed version.
IMMUTABLE_PREFIXES = ("/_nicegui/", "/web/fonts/")
#: Keep no more than this many compressed bytes (the set NiceGUI serves is about 0.4 MB).
MAX_BYTES = 32 * 1024 * 1024


@dataclass(slots=True)
class _Store:
    answers: dict[str, tuple[Message, bytes]] = field(default_factory=dict)
    size: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class CachedGzip(GZipMiddleware):
    """``GZipMiddleware`` with the gzipped immutable answers kept."""

    def __init__(self, app: ASGIApp, *, minimum_size: int = 500, compresslevel: int = 6) -> None:
        super().__init__(app, minimum_size=minimum_size, compresslevel=compresslevel)
        self.store = _Store()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if (
            scope["type"] != "http"
            or scope.get("method") != "GET"
            or not path.startswith(IMMUTABLE_PREFIXES)
            or b"gzip" not in dict(scope.get("headers", [])).get(b"accept-encoding", b"")
            or any(name == b"range" for name, _ in scope.get("headers", []))
        ):
            await super().__call__(scope, receive, send)
            return
        key = path + "?" + scope.get("query_string", b"").decode("latin-1")
        kept = self.store.answers.get(key)
        if kept is not None:
            start, body = kept
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        sent: list[Message] = []

        async def keep(message: Message) -> None:
            sent.append(message)
            await send(message)

        await super().__call__(scope, receive, keep)
        self._remember(key, sent)

    def _remember(self, key: str, sent: list[Message]) -> None:
        if not sent or sent[0]["type"] != "http.response.start" or sent[0]["status"] != 200:
            return
        headers = {name.lower(): value for name, value in sent[0].get("headers", [])}
        if headers.get(b"content-encoding") != b"gzip":
            return
        if b"immutable" not in headers.get(b"cache-control", b"") and not key.startswith(
            "/web/fonts/"
        ):
            return
        body = b"".join(m.get("body", b"") for m in sent[1:] if m["type"] == "http.response.body")
        start = dict(sent[0])
        start["headers"] = [
            (name, str(len(body)).encode() if name.lower() == b"content-length" else value)
            for name, value in sent[0].get("headers", [])
        ]
        with self.store.lock:
            if key in self.store.answers or self.store.size + len(body) > MAX_BYTES:
                return
            self.store.answers[key] = (start, body)
            self.store.size += len(body)


def cached_gzip(app: ASGIApp) -> CachedGzip:
    """The factory ``ui.run_with(gzip_middleware_factory=...)`` takes."""
    return CachedGzip(app)
