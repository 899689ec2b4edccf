"""Every page and action through NiceGUI's simulated user, in every locale."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from infrasight.core.domain import Role
from infrasight.web import WebContext
from infrasight.web.i18n import LOCALES, translator
from tests.web.conftest import WebSite, log_in


async def _as(web: User, site: WebSite, role: Role, locale: str, ctx: WebContext) -> None:
    await log_in(web, site.email(role))
    await web.should_see(marker="logout")
    for state in ctx.browsers.values():  # the language switch, as the select would set it
        state.locale = locale


@pytest.mark.parametrize("locale", list(LOCALES))
async def test_every_page_renders_translated(
    web: User, web_site: WebSite, web_context: WebContext, locale: str
) -> None:
    t = translator(locale)
    await _as(web, web_site, Role.VIEWER, locale, web_context)
    await web.open("/")
    await web.should_see("VD viaduct")
    await web.should_see(t("Open alarms: {count}", count=t.number(1, 0)))
    await web.should_see(marker="coordinates")
    await web.open(f"/assets/{web_site.site.asset_id}")
    await web.should_see(t("Elements"))
    await web.should_see(
        {"en": "Pier 2 (Pier)", "zh-Hant": "Pier 2（橋墩）", "zh-Hans": "Pier 2（桥墩）"}[locale]
    )
    await web.open(f"/assets/{web_site.site.asset_id}?channel=VD-SETTLE")
    await web.should_see(marker="chart-VD-SETTLE")
    await web.should_see(marker="levels")
    await web.open("/alarms")
    await web.should_see("P2-settlement")
    await web.should_see(t("active"))
    await web.open(f"/assets/{web_site.site.asset_id}/captures")
    await web.should_see(marker=f"capture-{web_site.capture_id}")
    await web.open(f"/captures/{web_site.capture_id}")
    await web.should_see(t("Defects"))
    await web.open("/login")
    await web.should_see(t("Password"))
    assert web_context.missing.get(locale, set()) == set(), "untranslated strings"


@pytest.mark.parametrize("locale", list(LOCALES))
async def test_login_rejects_a_wrong_password(
    web: User, web_site: WebSite, web_context: WebContext, locale: str
) -> None:
    t = translator(locale)
    await web.open("/login")
    web.find(marker="language").elements.pop().set_value(locale)  # the switch on the login page
    await web.should_see(t("Password"))
    web.find(marker="email").type(web_site.email(Role.ADMIN))
    web.find(marker="password").type("not the password")
    web.find(marker="submit").click()
    await web.should_see(t("Wrong e-mail or password."))
    await web.open("/")
    await web.should_see(marker="submit")  # still on the login page
    assert web_context.missing.get(locale, set()) == set()


async def test_pages_need_a_login(web: User, web_site: WebSite) -> None:
    await web.open(f"/assets/{web_site.site.asset_id}")
    await web.should_see(marker="submit")
    await web.should_not_see("VD viaduct")


async def test_logout_ends_the_session_token(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    await log_in(web, web_site.email(Role.ADMIN))
    await web.should_see(marker="logout")
    (state,) = web_context.browsers.values()
    token = state.token
    assert token is not None
    web.find(marker="logout").click()
    await web.should_see(marker="submit")
    assert state.token is None
    with web_context.session() as session:
        from infrasight.core.errors import AuthenticationError
        from infrasight.services.auth import resolve_token

        with pytest.raises(AuthenticationError, match="logged out"):
            resolve_token(session, token)


async def test_another_organisations_asset_is_not_found(web: User, web_site: WebSite) -> None:
    await log_in(web, web_site.email(Role.ADMIN))
    await web.should_see(marker="logout")
    await web.open("/")
    await web.should_not_see("Beta secret tunnel")
    await web.open(f"/assets/{web_site.other_asset_id}")
    await web.should_see(marker="not-found")
    await web.open(f"/assets/{web_site.other_asset_id}/captures")
    await web.should_see(marker="not-found")


@pytest.mark.parametrize("locale", list(LOCALES))
async def test_inspector_acknowledges_an_alarm(
    web: User, web_site: WebSite, web_context: WebContext, locale: str
) -> None:
    t = translator(locale)
    await _as(web, web_site, Role.INSPECTOR, locale, web_context)
    await web.open("/alarms")
    web.find(marker=f"ack-{web_site.alarm_id}").click()
    await web.should_see(t("acknowledged"))
    await web.should_not_see(marker=f"ack-{web_site.alarm_id}")
    with web_context.session() as session:
        from infrasight.storage.models import AlarmRecord

        record = session.get(AlarmRecord, web_site.alarm_id)
        assert record is not None
        assert record.status == "acknowledged"
    assert web_context.missing.get(locale, set()) == set()


async def test_viewer_gets_no_acknowledge_button(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    await _as(web, web_site, Role.VIEWER, "en", web_context)
    await web.open("/alarms")
    await web.should_see("P2-settlement")
    await web.should_not_see(marker=f"ack-{web_site.alarm_id}")


async def test_language_switch_changes_the_page(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    await log_in(web, web_site.email(Role.ADMIN))
    await web.should_see(marker="logout")
    web.find(marker="language").elements.pop().set_value("zh-Hant")
    await web.open("/")
    await web.should_see("資產")
    (state,) = web_context.browsers.values()
    assert state.locale == "zh-Hant"


async def test_zoom_requeries_the_range(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    await _as(web, web_site, Role.VIEWER, "en", web_context)
    await web.open(f"/assets/{web_site.site.asset_id}?channel=VD-SETTLE")
    chart = next(iter(web.find(marker="chart-VD-SETTLE").elements))
    assert isinstance(chart, ui.echart)
    whole = chart.options["series"][0]["data"]
    first_ms, last_ms = whole[0][0], whole[-1][0]
    # the axis runs on past the readings to the forecast's horizon: zoom onto the last tenth
    # of the readings, as percentages of the whole axis
    axis_min, axis_max = chart.options["xAxis"]["min"], chart.options["xAxis"]["max"]
    assert axis_max > last_ms
    end_ms = chart.options["xAxis"]["min"] + 14 * 86_400_000  # two weeks of readings
    lo = 100 * (first_ms + 0.9 * (end_ms - first_ms) - axis_min) / (axis_max - axis_min)
    hi = 100 * (end_ms - axis_min) / (axis_max - axis_min)
    web.find(marker="chart-VD-SETTLE").trigger("chart:datazoom", {"start": lo, "end": hi})
    await web.should_see("201 buckets of")
    zoomed = chart.options["series"][0]["data"]
    # the last tenth of two weeks: 1.4 days, re-queried at finer buckets (10-minute readings)
    assert zoomed[0][0] >= first_ms + 0.89 * (last_ms - first_ms)
    assert len(zoomed) == pytest.approx(202, abs=3)
    assert max(p[1] for p in zoomed) == pytest.approx(5.7)
