"""Versioned scripts and fonts are gzipped once and the same bytes replayed; other answers pass
through the plain gzip middleware."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from infrasight.web.static_cache import CachedGzip

SCRIPT = b"console.log('InfraSight');\n" * 400


def _app(calls: list[str]) -> TestClient:
    def script(request: Request) -> Response:
        calls.append(request.url.path)
        immutable = "public, max-age=31536000, immutable"
        return Response(SCRIPT, media_type="text/javascript", headers={"Cache-Control": immutable})

    def page(request: Request) -> Response:
        calls.append(request.url.path)
        return Response(SCRIPT, media_type="text/html")

    routes = [Route("/_nicegui/3.18.0/static/app.js", script), Route("/page", page)]
    return TestClient(CachedGzip(Starlette(routes=routes)))


def test_an_immutable_script_is_compressed_once_and_replayed() -> None:
    calls: list[str] = []
    client = _app(calls)
    answers = [
        client.get("/_nicegui/3.18.0/static/app.js", headers={"Accept-Encoding": "gzip"})
        for _ in range(3)
    ]
    assert calls == ["/_nicegui/3.18.0/static/app.js"]  # the app answered once
    for answer in answers:
        assert answer.status_code == 200
        assert answer.headers["content-encoding"] == "gzip"
        assert answer.content == SCRIPT  # httpx decompressed it
        assert "immutable" in answer.headers["cache-control"]
    assert len(set(a.headers.get("content-length") for a in answers)) == 1


def test_pages_and_browsers_without_gzip_are_not_kept() -> None:
    calls: list[str] = []
    client = _app(calls)
    for _ in range(2):
        assert client.get("/page", headers={"Accept-Encoding": "gzip"}).content == SCRIPT
        plain = client.get("/_nicegui/3.18.0/static/app.js", headers={"Accept-Encoding": "br"})
        assert plain.content == SCRIPT
        assert "content-encoding" not in plain.headers
    assert calls.count("/page") == 2
    assert calls.count("/_nicegui/3.18.0/static/app.js") == 2
