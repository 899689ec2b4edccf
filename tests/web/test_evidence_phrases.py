"""The hazard page shows the engine's evidence in the reader's language, with its numbers
formatted per locale, and offers no manual move to "merged"."""

from __future__ import annotations

import re

import pytest
from nicegui import ui
from nicegui.testing import User

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.web import WebContext
from infrasight.web.pages.hazards import manual_targets
from tests.helpers import LEGACY_DETAIL, engine_hazard
from tests.web.conftest import WebSite, log_in

_WORD = re.compile(r"[A-Za-z]{3,}")
#: The scenario's known figures, as each locale writes them.
EXPECTED = {
    "en": [
        "SET-P2 moved +9.621 mm (+108.2 sigmas)",
        "CRK-2 changed +30.0 sigmas at about the same time",
        "vertical crack, pier, 0.86 mm",
    ],
    "zh-Hant": [
        "SET-P2 位移 +9.621 mm（+108.2 倍標準差）",
        "CRK-2 約於同一時間變化 +30.0 倍標準差",
        "橋墩的豎向裂縫，0.86 mm",
    ],
    "zh-Hans": [
        "SET-P2 位移 +9.621 mm（+108.2 倍标准差）",
        "CRK-2 约在同一时间变化 +30.0 倍标准差",
        "桥墩的竖向裂缝，0.86 mm",
    ],
}


PREDICTION = {
    "en": "Next expected event: condition state 2 -> 3 (aashto_mbe), in 3.25 years "
    "(probability within 30 / 90 / 365 days: 0.02 / 0.07 / 0.35)",
    "zh-Hant": "下一預計事件：狀況等級 2 → 3（aashto_mbe），3.25 年後"
    "（30 / 90 / 365 日內的概率：0.02 / 0.07 / 0.35）",
    "zh-Hans": "下一预计事件：状况等级 2 → 3（aashto_mbe），3.25 年后"
    "（30 / 90 / 365 天内的概率：0.02 / 0.07 / 0.35）",
}


async def _open(web: User, site: WebSite, ctx: WebContext, locale: str, hazard_id: int) -> None:
    await log_in(web, site.email(Role.INSPECTOR))
    await web.should_see(marker="logout")
    for state in ctx.browsers.values():
        state.locale = locale
    await web.open(f"/hazards/{hazard_id}")
    await web.should_see(marker="hazard-title")


@pytest.mark.parametrize("locale", list(EXPECTED))
async def test_the_hazard_page_reads_the_evidence_in_the_users_language(
    web: User, web_site: WebSite, web_context: WebContext, platform: Platform, locale: str
) -> None:
    s = web_site.site
    hazard_id, cited = engine_hazard(
        platform, web_site.tenant.organization_id, s.asset_id, s.element_id
    )
    await _open(web, web_site, web_context, locale, hazard_id)
    table = web.find(marker="evidence").elements.pop()
    assert isinstance(table, ui.table)
    *phrased, legacy = [str(r["detail"]) for r in table.rows]
    assert len(phrased) == len(cited)
    assert legacy == LEGACY_DETAIL  # a row written before phrases were stored: as stored
    for line in EXPECTED[locale]:
        assert line in phrased, (line, phrased)
    cause = web.find(marker="cause-1-for").elements.pop()
    assert isinstance(cause, ui.table)
    assert {str(r["detail"]) for r in cause.rows} >= set(EXPECTED[locale])
    if locale != "en":  # no English sentence: only channel keys and units are Latin
        for line in phrased:
            assert [w for w in _WORD.findall(line) if w not in {"SET", "CRK", "mm"}] == [], line
    lines = {
        key: web.find(marker=f"prediction-{key}").elements.pop()
        for key in ("risk_basis", "next", "progression")
    }
    texts = {key: str(getattr(label, "text", "")) for key, label in lines.items()}
    assert PREDICTION[locale] in texts["next"], texts
    assert "0.35" in texts["progression"] and "4 + 5" in texts["risk_basis"]
    assert web_context.missing.get(locale, set()) == set()


async def test_no_manual_move_to_merged(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    assert manual_targets({"allowed_transitions": ["acknowledged", "merged"]}) == ["acknowledged"]
    await _open(web, web_site, web_context, "en", web_site.hazard_id)
    await web.should_see(marker="to-acknowledged")  # an open hazard: the API allows both
    await web.should_not_see(marker="to-merged")
