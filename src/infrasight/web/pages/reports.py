"""Reports: an asset's PDF reports, generate one (a background job) and download it.

The page's own texts come from the ``reports`` catalogue (``infrasight.reports.i18n``), in the
page's locale. It calls the API's route functions with the logged-in user as the caller; the PDF
is served from ``/web/reports/{id}/pdf``, authenticated by the browser's web session.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import Request, Response
from nicegui import app as nicegui_app
from nicegui import ui

from infrasight.api.routes.assets import get_asset
from infrasight.api.routes.reports import (
    ReportCreate,
    ReportRead,
    create_report,
    download_report,
    list_reports,
)
from infrasight.core.domain import Action
from infrasight.core.errors import InfraSightError, NotFoundError
from infrasight.reports.i18n import LANGUAGES, N_, report_translator
from infrasight.web.context import WebContext
from infrasight.web.i18n import LOCALE_NAMES
from infrasight.web.layout import PageScope, browser_id, open_page

__all__ = ["register"]

STATUS = {
    "queued": N_("queued"),
    "running": N_("rendering"),
    "succeeded": N_("ready"),
    "failed": N_("failed"),
}


def _rows(scope: PageScope, reports: list[ReportRead]) -> None:
    rt = report_translator(scope.t.locale)
    if not reports:
        ui.label(rt("No reports yet."))
        return
    for r in reports:
        with (
            ui.card().classes("w-full").mark(f"report-{r.id}"),
            ui.row().classes("w-full items-center gap-3 flex-wrap"),
        ):
            ui.label(f"#{r.id}").classes("font-mono")
            ui.label(
                rt("{start} to {end}", start=rt.date(r.period_start), end=rt.date(r.period_end))
            )
            ui.label(LOCALE_NAMES.get(r.language, r.language))
            ui.label(rt(STATUS.get(r.status, r.status))).mark(f"report-status-{r.id}")
            if r.pages:
                ui.label(
                    rt("{pages} pages, {size} kB", pages=r.pages, size=(r.size_bytes or 0) // 1024)
                )
            ui.space()
            if r.sha256:
                ui.link(rt("Download PDF"), f"/web/reports/{r.id}/pdf").mark(f"download-{r.id}")


def register(ctx: WebContext) -> None:
    """Add ``/assets/{asset_id}/reports`` and the PDF route for the pages."""

    @nicegui_app.get("/web/reports/{report_id}/pdf", include_in_schema=False)
    def web_report_pdf(request: Request, report_id: int) -> Response:
        browser = request.session.get("id") if "session" in request.scope else None
        with ctx.session() as session:
            caller = ctx.principal(session, str(browser)) if browser else None
            if caller is None:
                return Response(status_code=401)
            try:
                return download_report(report_id, session, caller, ctx.platform)
            except NotFoundError:
                return Response(status_code=404)
            except InfraSightError:
                return Response(status_code=409)

    @ui.page("/assets/{asset_id}/reports")
    def reports_page(asset_id: int) -> None:
        with open_page(ctx, N_("Reports")) as scope:
            if scope is None:
                return
            rt = report_translator(scope.t.locale)
            try:
                asset = get_asset(asset_id, scope.session, scope.caller)
            except NotFoundError:
                ui.label(rt("Asset not found."))
                return
            ui.label(rt("Reports of {asset}", asset=asset.name)).classes("text-2xl")
            bid = browser_id()
            if scope.may(Action.FIELD_WORK):
                today = datetime.now(UTC).date()
                with ui.row().classes("items-end gap-3 flex-wrap"):
                    start = ui.input(rt("From"), value=str(today - timedelta(days=90)))
                    start.props("type=date dense").mark("report-start")
                    end = ui.input(rt("To"), value=str(today + timedelta(days=1)))
                    end.props("type=date dense").mark("report-end")
                    language = ui.select(
                        {code: LOCALE_NAMES.get(code, code) for code in LANGUAGES},
                        value=scope.t.locale if scope.t.locale in LANGUAGES else "en",
                        label=rt("Language"),
                    ).mark("report-language")

                    def generate() -> None:
                        with ctx.session() as session:
                            caller = ctx.principal(session, bid)
                            if caller is None:
                                ui.navigate.to("/login")
                                return
                            try:
                                body = ReportCreate.model_validate(
                                    {
                                        "start": f"{start.value}T00:00:00Z",
                                        "end": f"{end.value}T00:00:00Z",
                                        "language": language.value,
                                    }
                                )
                                created = create_report(
                                    asset_id, body, session, caller, ctx.platform
                                )
                            except (InfraSightError, ValueError) as error:
                                ui.notify(rt("Not generated: {reason}", reason=str(error)))
                                return
                        ui.notify(rt("Report {id} is being generated.", id=created.id))
                        listing.refresh()

                    ui.button(rt("Generate report"), on_click=generate).mark("report-generate")

            @ui.refreshable
            def listing() -> None:
                with ctx.session() as session:
                    caller = ctx.principal(session, bid)
                    if caller is None:
                        return
                    page = list_reports(session, caller, asset_id=asset_id, limit=50, offset=0)
                    _rows(PageScope(session=session, caller=caller, t=scope.t), page.items)

            listing()
            ui.button(rt("Refresh"), on_click=listing.refresh).props("flat dense")
