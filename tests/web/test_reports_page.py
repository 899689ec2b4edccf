"""The reports page: generate (an inspector), list and download, in every locale."""

from __future__ import annotations

import pytest
from nicegui.testing import User
from sqlalchemy import select

from infrasight.core.domain import Role
from infrasight.reports.i18n import report_translator
from infrasight.storage.models import Report
from infrasight.web import WebContext
from infrasight.web.i18n import LOCALES
from tests.web.conftest import WebSite, log_in


async def _as(web: User, site: WebSite, role: Role, locale: str, ctx: WebContext) -> None:
    await log_in(web, site.email(role))
    await web.should_see(marker="logout")
    for state in ctx.browsers.values():
        state.locale = locale


@pytest.mark.parametrize("locale", list(LOCALES))
async def test_inspector_generates_and_downloads_a_report(
    web: User, web_site: WebSite, web_context: WebContext, locale: str
) -> None:
    rt = report_translator(locale)
    await _as(web, web_site, Role.INSPECTOR, locale, web_context)
    await web.open(f"/assets/{web_site.site.asset_id}/reports")
    await web.should_see(rt("Reports of {asset}", asset="VD viaduct"))
    await web.should_see(rt("No reports yet."))
    web.find(marker="report-start").elements.pop().set_value("2024-05-01")
    web.find(marker="report-generate").click()
    await web.should_see(rt("Report {id} is being generated.", id=1))
    with web_context.session() as session:
        report = session.scalars(select(Report)).one()
        assert report.language == locale
        assert report.period_start.isoformat() == "2024-05-01T00:00:00+00:00"
    await web.should_see(marker=f"report-{report.id}")
    await web.should_not_see(marker=f"download-{report.id}")
    assert web_context.platform.jobs.run_pending() == 1
    web.find(rt("Refresh")).click()
    await web.should_see(marker=f"download-{report.id}")
    await web.should_see(rt("ready"))
    assert web_context.missing.get(locale, set()) == set()
    assert rt.missing == set()


async def test_viewer_lists_but_cannot_generate(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    await _as(web, web_site, Role.VIEWER, "en", web_context)
    await web.open(f"/assets/{web_site.site.asset_id}")
    web.find(marker="asset-reports").click()  # the asset page links its reports
    await web.should_see("No reports yet.")
    await web.should_not_see(marker="report-generate")
    await web.open(f"/assets/{web_site.other_asset_id}/reports")
    await web.should_see("Asset not found.")
