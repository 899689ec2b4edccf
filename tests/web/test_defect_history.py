"""The defect history page: one crack across three inspections (growth chart of width and length
with their uncertainty, the crops side by side, the review verdicts), linked from the capture
viewer and from the hazard's evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from nicegui import ui
from nicegui.testing import User

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.storage.models import HazardEvidenceLink
from infrasight.synthetic import render_crack_series
from infrasight.web import WebContext
from infrasight.web.i18n import LOCALES, translator
from infrasight.web.pages.defects import crop_style
from tests.api.test_defect_tracking import upload
from tests.web.conftest import WebSite, log_in

T1 = datetime(2026, 3, 1, tzinfo=UTC)


def _series_captures(platform: Platform, client: TestClient, site: WebSite) -> list[int]:
    series = render_crack_series(seed=5, n_visits=3, sealed_from_visit=None)
    ids = []
    for v in series.visits:
        ids.append(
            upload(client, site.tenant, site.site, v.image, v.mm_per_px, T1 + timedelta(days=v.day))
        )
        platform.jobs.run_pending()
    return ids


async def _open(web: User, site: WebSite, ctx: WebContext, role: Role, locale: str) -> None:
    await log_in(web, site.email(role))
    await web.should_see(marker="logout")
    for state in ctx.browsers.values():
        state.locale = locale


@pytest.mark.parametrize("locale", list(LOCALES))
async def test_history_page_shows_growth_crops_and_verdicts(
    web: User,
    web_site: WebSite,
    web_context: WebContext,
    platform: Platform,
    client: TestClient,
    locale: str,
) -> None:
    captures = _series_captures(platform, client, web_site)
    h = web_site.tenant.headers(Role.INSPECTOR)
    first = client.get(f"/api/v1/captures/{captures[0]}/defects", headers=h).json()[0]
    history = client.get(f"/api/v1/defects/{first['id']}/history", headers=h).json()
    sighted = [s["defect_id"] for s in history["sightings"]]
    assert len(sighted) == 3 and all(sighted)
    review = client.post(
        f"/api/v1/defects/{sighted[1]}/review", json={"verdict": "confirmed"}, headers=h
    )
    assert review.status_code == 201, review.text
    t = translator(locale)
    await _open(web, web_site, web_context, Role.VIEWER, locale)
    # linked from the capture viewer
    await web.open(f"/captures/{captures[0]}")
    await web.should_see(marker=f"history-{first['id']}")
    await web.open(f"/defects/{first['id']}/history")
    await web.should_see(t("Defect #{id} ({kind})", id=first["id"], kind="crack"))
    await web.should_see(marker="summary")
    # one crop per inspection, each the defect's own box of that capture's overlay
    for capture_id, defect_id in zip(captures, sighted, strict=True):
        await web.should_see(marker=f"sighting-{capture_id}")
        (crop,) = web.find(marker=f"crop-{defect_id}").elements
        assert f"/web/captures/{capture_id}/overlay" in crop._style["background-image"]
    (confirmed,) = web.find(marker=f"verdict-{sighted[1]}").elements
    assert isinstance(confirmed, ui.label) and t("confirmed") in confirmed.text
    (unreviewed,) = web.find(marker=f"verdict-{sighted[0]}").elements
    assert isinstance(unreviewed, ui.label) and t("not reviewed") in unreviewed.text
    # the chart: the measured values of the API's history, a ±1.96σ band around each
    (chart,) = web.find(marker="growth-chart").elements
    assert isinstance(chart, ui.echart)
    width_line, width_low, width_band = chart.options["series"][:3]
    widths = [s["width_max"] for s in history["sightings"]]
    assert [p[1] for p in width_line["data"]] == pytest.approx([w["value"] for w in widths])
    for low, band, w in zip(width_low["data"], width_band["data"], widths, strict=True):
        assert low[1] == pytest.approx(w["value"] - 1.96 * w["std"])
        assert band[1] == pytest.approx(2 * 1.96 * w["std"])
    assert width_line["yAxisIndex"] == 0 and chart.options["series"][3]["yAxisIndex"] == 1
    # the growth rate per year as the API fits it per day
    rate = history["growth"]["width_max"]["rate_per_day"] * 365.25
    (growth,) = web.find(marker="growth-width_max").elements
    assert isinstance(growth, ui.label) and t.number(rate, 3) in growth.text
    assert web_context.missing.get(locale, set()) == set(), "untranslated strings"


async def test_history_is_linked_from_the_hazard_evidence(
    web: User, web_site: WebSite, web_context: WebContext, platform: Platform
) -> None:
    with platform.database.transaction() as session:
        session.add(
            HazardEvidenceLink(
                hazard_id=web_site.hazard_id,
                kind="defect",
                ref=f"defect:77#capture:{web_site.capture_id}#bbox=1,2,3,4",
                test="crack",
                detail="Crack 0.4 mm",
            )
        )
    await _open(web, web_site, web_context, Role.VIEWER, "en")
    await web.open(f"/hazards/{web_site.hazard_id}")
    await web.should_see(marker="defect-history-77")


async def test_another_organisations_defect_is_not_found(
    web: User, web_site: WebSite, web_context: WebContext, client: TestClient
) -> None:
    defects = client.get(
        f"/api/v1/captures/{web_site.capture_id}/defects",
        headers=web_site.tenant.headers(Role.VIEWER),
    ).json()
    assert defects
    await log_in(web, web_site.email(Role.VIEWER, web_site.other))
    await web.should_see(marker="logout")
    await web.open(f"/defects/{defects[0]['id']}/history")
    await web.should_see(marker="not-found")
    await web.should_not_see(marker="growth-chart")


async def test_a_single_sighting_has_no_growth_rate(
    web: User, web_site: WebSite, web_context: WebContext, client: TestClient
) -> None:
    (defect, *_) = client.get(
        f"/api/v1/captures/{web_site.capture_id}/defects",
        headers=web_site.tenant.headers(Role.VIEWER),
    ).json()
    await _open(web, web_site, web_context, Role.VIEWER, "en")
    await web.open(f"/defects/{defect['id']}/history")
    await web.should_see("no growth rate (fewer than two measured sightings)")
    await web.should_see(marker=f"crop-{defect['id']}")


@pytest.mark.parametrize(
    ("bbox", "expected"),
    [
        # a 100 x 50 box in a 640 x 480 image: 130 px square around its centre (60, 45) -> 200 px
        (
            [10, 20, 100, 50],
            "background-size:984.6px 738.5px;background-position:-0.0px -0.0px",
        ),
        # near the far corner: the square is kept inside the image
        (
            [600, 450, 40, 30],
            "background-size:2461.5px 1846.2px;background-position:-2261.5px -1646.2px",
        ),
    ],
)
def test_crop_style_scales_the_box_into_the_square(bbox: list[float], expected: str) -> None:
    style = crop_style(bbox, 640, 480)
    assert style.startswith("width:200px;height:200px;")
    assert style.endswith(expected)
