"""The language switch stores the logged-in user's locale; a user's stored locale is the
language of their pages wherever they log in."""

from __future__ import annotations

from fastapi.testclient import TestClient
from nicegui.testing import User
from sqlalchemy import select

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.storage.models import User as UserRow
from infrasight.web import WebContext
from infrasight.web.i18n import translator
from tests.web.conftest import WebSite, log_in


def _stored(platform: Platform, email: str) -> str | None:
    with platform.database.session() as session:
        return session.scalar(select(UserRow.locale).where(UserRow.email == email))


async def test_the_switch_stores_the_users_locale(
    web: User, web_site: WebSite, web_context: WebContext, platform: Platform
) -> None:
    email = web_site.email(Role.INSPECTOR)
    await log_in(web, email)
    await web.should_see(marker="logout")
    assert _stored(platform, email) is None
    web.find(marker="language").elements.pop().set_value("zh-Hans")
    await web.open("/")
    await web.should_see(translator("zh-Hans")("Assets"))
    assert _stored(platform, email) == "zh-Hans"
    assert _stored(platform, web_site.email(Role.VIEWER)) is None


async def test_a_stored_locale_wins_at_login(
    web: User, web_site: WebSite, web_context: WebContext, client: TestClient
) -> None:
    stored = client.patch(
        "/api/v1/users/me",
        json={"locale": "zh-Hant"},
        headers=web_site.tenant.headers(Role.VIEWER),
    )
    assert stored.status_code == 200, stored.text
    await web.open("/login")  # this browser is in English
    await web.should_see("Password")
    await log_in(web, web_site.email(Role.VIEWER))
    await web.should_see(marker="logout")
    await web.open("/")
    t = translator("zh-Hant")
    await web.should_see(t("Assets"))
    await web.should_see(t("Open alarms: {count}", count=t.number(1, 0)))
    (state,) = web_context.browsers.values()
    assert state.locale == "zh-Hant"


async def test_without_a_stored_locale_the_browsers_choice_stays(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    await web.open("/login")
    web.find(marker="language").elements.pop().set_value("zh-Hans")
    await log_in(web, web_site.email(Role.VIEWER))
    await web.should_see(marker="logout")
    await web.open("/")
    await web.should_see(translator("zh-Hans")("Assets"))
