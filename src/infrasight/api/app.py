"""``create_app(settings)``: the one factory that wires the HTTP API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from infrasight import __version__
from infrasight.api.errors import install_error_handlers
from infrasight.api.lean_ingest import LeanIngest
from infrasight.api.middleware import BodyGuard, HeadAsGet, SecurityHeaders
from infrasight.api.openapi import install_docs, install_openapi
from infrasight.api.routes import (
    alarms,
    assets,
    assistant,
    auth,
    captures,
    channels,
    condition,
    defects,
    device_status,
    devices,
    forecasts,
    hazards,
    ingest,
    inspections,
    jobs,
    notifications,
    ratings,
    records,
    reports,
    users,
    work_order_evidence,
    work_orders,
)
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.throttle import failure_limiter

__all__ = ["create_app"]

API_PREFIX = "/api/v1"
_LOGGER = logging.getLogger(__name__)


async def _sweep_alarms(platform: Platform, period_s: float = 60.0) -> None:
    """No-data checks, escalations and the SLA sweep, once a minute, off the event loop; the
    readings store's partitions and retention once an hour."""
    from infrasight.services.readings_maintenance import maintain_readings

    def maintenance() -> None:
        maintain_readings(platform.database)

    from infrasight.storage.exclusive import only_one

    def exclusively(name: str, sweep: Callable[[], object]) -> None:
        with only_one(platform.database, name) as mine:  # one API process of several does it
            if mine:
                sweep()

    sweeps = 0
    while True:
        await asyncio.sleep(period_s)
        jobs: list[tuple[str, Callable[[], object]]] = [
            ("alarm-sweep", platform.alarms.sweep),
            ("sla-sweep", platform.notifier.sweep),
        ]
        if sweeps % 60 == 0:
            jobs.append(("readings-maintenance", maintenance))
        for name, sweep in jobs:
            try:
                await run_in_threadpool(exclusively, name, sweep)
            except Exception:
                _LOGGER.exception("%s failed", name)
        sweeps += 1


class InfraSightAPI(FastAPI):
    """The FastAPI application, with the lean path of device ingest in front of its stack
    (``api/lean_ingest.py``): that request, in its common form, is answered before routing."""

    lean_ingest: LeanIngest | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lean = self.lean_ingest
        if lean is not None and scope["type"] == "http":
            taken = lean.takes(scope)
            if taken is not None:
                await lean(scope, receive, send, taken)
                return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None, *, platform: Platform | None = None, lean_ingest: bool = True
) -> FastAPI:
    """Build the FastAPI application for ``settings`` (or around an existing ``platform``).

    ``lean_ingest=False`` serves device ingest through the FastAPI route only (the tests
    compare the two paths).
    """
    owned = platform is None
    wired = platform or Platform.create(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sweeper = None
        if wired.settings.job_engine == "threads":  # with Celery: workers and one scheduler
            wired.jobs.resume_queued()
            sweeper = asyncio.create_task(_sweep_alarms(wired))
        wired.notifier.start()
        yield
        if sweeper is not None:
            sweeper.cancel()
        wired.notifier.stop()
        if app.lean_ingest is not None:
            app.lean_ingest.close()
        if owned:
            _app.state.stopped_cleanly = wired.close(wired.settings.shutdown_grace_s)

    app = InfraSightAPI(
        title="InfraSight",
        version=__version__,
        description="AI-driven safety monitoring of bridges, tunnels and rail lines.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.platform = wired
    app.state.auth_limiter = failure_limiter(wired.settings, wired.database)
    install_error_handlers(app)
    if lean_ingest:
        app.lean_ingest = LeanIngest(wired, app.state.auth_limiter, app.exception_handlers)
    routers = (
        assets,
        device_status,
        devices,
        channels,
        forecasts,
        ingest,
        captures,
        defects,
        records,
        inspections,
        alarms,
        users,
        auth,
        jobs,
        condition,
        hazards,
        ratings,
        work_orders,
        reports,
        notifications,
        work_order_evidence,
        assistant,
    )
    for module in routers:
        app.include_router(module.router, prefix=API_PREFIX)

    @app.get("/healthz", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness: answers while the process serves requests; needs no token."""
        return {"status": "ok", "version": __version__}

    public = frozenset({"/healthz"})
    install_openapi(app, public_paths=public)
    install_docs(app)
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyGuard, platform=wired)
    app.add_middleware(SecurityHeaders, api_prefix=API_PREFIX)
    if wired.settings.web:
        from infrasight.web import mount_web  # NiceGUI only when the pages are served

        mount_web(app, wired, app.state.auth_limiter)

    return app
