"""The overview's map: a plain coordinate view by default (nothing fetched), a Leaflet map on
the configured tiles only when ``INFRASIGHT_MAP_TILE_URL`` is set, and never a broken page
without coordinates."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient
from nicegui import ui
from nicegui.elements.leaflet.leaflet_layers import GenericLayer, TileLayer
from nicegui.testing import User
from pydantic import ValidationError

from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.throttle import failure_limiter
from infrasight.web import WebContext, register_pages
from tests.web.conftest import WebSite, log_in

TILES = "http://tiles.site.local/{z}/{x}/{y}.png"


async def test_without_a_tile_url_the_overview_draws_plain_coordinates(
    web: User, web_site: WebSite
) -> None:
    await log_in(web, web_site.email(Role.VIEWER))
    await web.should_see(marker="logout")
    await web.open("/")
    await web.should_see(marker="coordinates")
    await web.should_not_see(marker="map")
    assert not [e for e in web.find(marker="coordinates").elements if isinstance(e, ui.leaflet)]


async def test_with_a_tile_url_the_map_uses_only_those_tiles(
    user: User, platform: Platform, web_site: WebSite
) -> None:
    tiled = platform.settings.model_copy(
        update={"map_tile_url": TILES, "map_tile_attribution": "Site survey"}
    )
    ctx = WebContext(
        platform=dataclasses.replace(platform, settings=tiled),
        limiter=failure_limiter(platform.settings, platform.database),
    )
    register_pages(ctx)
    await log_in(user, web_site.email(Role.VIEWER))
    await user.should_see(marker="logout")
    await user.open("/")
    await user.should_see(marker="map")
    await user.should_not_see(marker="coordinates")
    (leaflet,) = user.find(marker="map").elements
    assert isinstance(leaflet, ui.leaflet)
    tiles = [layer for layer in leaflet.layers if isinstance(layer, TileLayer)]
    assert [(t.url_template, t.options["attribution"]) for t in tiles] == [(TILES, "Site survey")]
    (marker,) = [layer for layer in leaflet.layers if isinstance(layer, GenericLayer)]
    assert marker.name == "circleMarker"
    assert marker.args[0] == [22.3, 114.17]
    assert leaflet.center == (22.3, 114.17)


async def test_no_coordinates_no_map_and_no_broken_page(
    user: User, platform: Platform, web_site: WebSite, client: TestClient
) -> None:
    cleared = client.patch(
        f"/api/v1/assets/{web_site.site.asset_id}",
        json={"latitude": None, "longitude": None},
        headers=web_site.tenant.headers(Role.ENGINEER),
    )
    assert cleared.status_code == 200, cleared.text
    tiled = platform.settings.model_copy(update={"map_tile_url": TILES})
    ctx = WebContext(
        platform=dataclasses.replace(platform, settings=tiled),
        limiter=failure_limiter(platform.settings, platform.database),
    )
    register_pages(ctx)
    await log_in(user, web_site.email(Role.VIEWER))
    await user.should_see(marker="logout")
    await user.open("/")
    await user.should_see("VD viaduct")
    await user.should_not_see(marker="map")
    await user.should_not_see(marker="coordinates")


@pytest.mark.parametrize("url", ["http://tiles.local/tile.png", "{z}/{x}.png"])
def test_a_tile_url_without_its_placeholders_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="INFRASIGHT_MAP_TILE_URL"):
        Settings(map_tile_url=url)
