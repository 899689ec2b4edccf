"""The asset page's condition section: the rating under the governing standard, its clause and
the evidence that set it, in the reader's language with the known numbers."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from nicegui.testing import User

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.web import WebContext
from tests.api.test_condition import _bridge, _crack
from tests.web.conftest import WebSite, log_in

_WORD = re.compile(r"[A-Za-z]{3,}")
#: What the section says of a girder with a 0.5 mm crack (CS2, defect 1130) beside a sound pier.
EXPECTED = {
    "en": [
        "Asset under aashto-mbei: CS2 Fair (2), AASHTO Manual for Bridge Element Inspection, "
        "2nd ed. (2019): element states are reported per element; summary = worst element",
        "element:{g1} G1 in CS2 Fair",
    ],
    "zh-Hant": [
        "資產（aashto-mbei）：CS2 尚可（2），AASHTO《橋樑構件檢查手冊》第 2 版（2019）："
        "狀況等級按構件報告；總結 = 最差構件",
        "構件 {g1} G1：CS2 尚可",
    ],
    "zh-Hans": [
        "资产（aashto-mbei）：CS2 一般（2），AASHTO《桥梁构件检查手册》第 2 版（2019）："
        "状况等级按构件报告；汇总 = 最差构件",
        "构件 {g1} G1：CS2 一般",
    ],
}


async def _open(web: User, site: WebSite, ctx: WebContext, locale: str, asset_id: int) -> list[str]:
    await log_in(web, site.email(Role.INSPECTOR))
    await web.should_see(marker="logout")
    for state in ctx.browsers.values():
        state.locale = locale
    await web.open(f"/assets/{asset_id}")
    await web.should_see(marker="asset-condition")
    return [str(e.text) for e in web.find(marker="condition-summary").elements] + [
        str(e.text) for e in web.find(marker="condition-evidence").elements
    ]


@pytest.mark.parametrize("locale", list(EXPECTED))
async def test_the_condition_section_reads_in_the_users_language(
    web: User,
    web_site: WebSite,
    web_context: WebContext,
    client: TestClient,
    platform: Platform,
    locale: str,
) -> None:
    h = web_site.tenant.headers(Role.ENGINEER)
    aid, g1, _pier = _bridge(client, h)
    _crack(platform, web_site.tenant.organization_id, aid, g1, 0.5)
    got = client.patch(
        f"/api/v1/assets/{aid}", json={"governing_standard": "aashto-mbei"}, headers=h
    )
    assert got.status_code == 200, got.text
    shown = await _open(web, web_site, web_context, locale, aid)
    assert shown == [line.format(g1=g1) for line in EXPECTED[locale]]
    if locale != "en":
        kept = {"AASHTO", "mbei", "aashto"}
        assert [w for line in shown for w in _WORD.findall(line) if w not in kept] == []
