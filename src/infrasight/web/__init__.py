"""The operator's web app: NiceGUI pages mounted on the API's FastAPI application.

Every script, style and font is served from the installed NiceGUI package (nothing from a CDN).
Pages read through the API's route functions with the logged-in user as the caller, so they show
exactly what the API would.
"""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from nicegui import app as nicegui_app
from nicegui import ui
from starlette.routing import Match, Mount

from infrasight.api.routes.captures import capture_image, capture_overlay
from infrasight.core.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from infrasight.platform import Platform
from infrasight.services.throttle import FailureLimiter
from infrasight.web.context import WebContext
from infrasight.web.fonts import register_fonts
from infrasight.web.pages import (
    alarms,
    asset,
    captures,
    defects,
    hazards,
    login,
    overview,
    reports,
    rules,
    work_orders,
)
from infrasight.web.static_cache import cached_gzip

__all__ = ["WebContext", "mount_web", "register_pages"]

_LOGGER = logging.getLogger(__name__)
_PAGES = (login, overview, asset, alarms, captures, defects, hazards, work_orders, rules, reports)
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_mounted: list[FastAPI] = []  # NiceGUI keeps global state: one web app per process


def _image_routes(ctx: WebContext) -> None:
    """Capture images for ``<img>`` tags, authenticated by the browser's web session."""

    def serve(request: Request, capture_id: int, overlay: bool) -> Response:
        browser = request.session.get("id") if "session" in request.scope else None
        with ctx.session() as session:
            caller = ctx.principal(session, str(browser)) if browser else None
            if caller is None:
                return Response(status_code=401)
            try:
                if overlay:
                    return capture_overlay(capture_id, ctx.platform, session, caller, None)
                return capture_image(capture_id, ctx.platform, session, caller)
            except (NotFoundError, PermissionDeniedError, AuthenticationError) as error:
                code = 404 if isinstance(error, NotFoundError) else 403
                return Response(status_code=code)

    @nicegui_app.get("/web/captures/{capture_id}/image", include_in_schema=False)
    def web_capture_image(request: Request, capture_id: int) -> Response:
        return serve(request, capture_id, overlay=False)

    @nicegui_app.get("/web/captures/{capture_id}/overlay", include_in_schema=False)
    def web_capture_overlay(request: Request, capture_id: int) -> Response:
        return serve(request, capture_id, overlay=True)


def register_pages(ctx: WebContext) -> None:
    """Add every page and the image routes to NiceGUI for ``ctx``."""
    for module in _PAGES:
        module.register(ctx)
    _image_routes(ctx)
    register_fonts()


def mount_web(app: FastAPI, platform: Platform, limiter: FailureLimiter) -> bool:
    """Mount the web pages on ``app`` at ``/``; False when another app of this process has them.

    NiceGUI's state is global, so only the first application created in a process gets the
    pages (``infrasight serve`` creates one).
    """
    if _mounted:
        _LOGGER.warning("web pages already mounted on another app in this process; not mounting")
        return False
    ctx = WebContext(
        platform=platform,
        limiter=limiter,
        api_paths=frozenset(str(getattr(route, "path", "")) for route in app.router.routes),
    )

    @app.api_route(
        "/api/{path:path}",
        methods=list(_METHODS),
        include_in_schema=False,
    )
    def unknown_api_path(request: Request, path: str) -> Response:
        """An unknown API path stays a JSON 404 (the pages' catch-all would answer HTML), a
        known path with another method a 405."""
        api_routes = [
            route
            for route in app.router.routes
            if not isinstance(route, Mount) and getattr(route, "name", "") != "unknown_api_path"
        ]
        allowed = [
            method
            for method in _METHODS
            if any(
                route.matches({**request.scope, "method": method})[0] is Match.FULL
                for route in api_routes
            )
        ]
        if allowed:
            return JSONResponse(
                {"detail": "Method Not Allowed"},
                status_code=405,
                headers={"Allow": ", ".join(allowed)},
            )
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    register_pages(ctx)
    secret = platform.settings.web_secret or secrets.token_urlsafe(32)
    ui.run_with(
        app,
        title="InfraSight",
        storage_secret=secret,
        session_middleware_kwargs={
            "https_only": platform.settings.session_cookie_secure,
            "same_site": "lax",
            "max_age": int(platform.settings.session_hours * 3600),
        },
        show_welcome_message=False,
        gzip_middleware_factory=cached_gzip,
        reconnect_timeout=10.0,
    )
    app.state.web = ctx
    _mounted.append(app)
    return True
