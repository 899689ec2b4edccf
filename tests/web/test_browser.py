"""The real thing: ``infrasight serve`` driven by Debian's Chromium through Playwright.

Logs in, opens the overview, an asset's chart, a capture with its labelled overlay, a hazard
(moves it, creates a work order), the work-order board and the rule editor, then switches to
Traditional Chinese; fails when a page
requests any address other than the server's own, or any request fails. Saves a screenshot of
each page to ``docs/screenshots/`` (the README shows them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from tests.web.conftest import PASSWORD, WebSite

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _cjk_font() -> bool:
    """Whether fontconfig knows a Traditional Chinese font (else Chinese pages show boxes)."""
    if shutil.which("fc-list") is None:
        return False
    found = subprocess.run(["fc-list", ":lang=zh-tw"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(settings: Settings, web_site: WebSite, tmp_path: Path) -> Iterator[str]:
    """``infrasight serve`` on the test database, in its own process."""
    port = _free_port()
    env = {
        **os.environ,
        "INFRASIGHT_DATA_DIR": str(settings.data_dir),
        "INFRASIGHT_DATABASE_URL": settings.database_url,
        "INFRASIGHT_WEB": "true",
        "INFRASIGHT_WORKER_THREADS": "0",
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from infrasight.cli.app import main; main()",
            "serve",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError((tmp_path / "serve.log").read_text())
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_serve_mounts_the_pages_beside_the_api(server: str) -> None:
    login = httpx.get(f"{server}/login")
    assert login.status_code == 200
    assert "/_nicegui/" in login.text  # NiceGUI's scripts, served by this server
    assert "cdn" not in login.text.lower()
    assert httpx.get(f"{server}/api/v1/assets").status_code == 401
    unknown = httpx.get(f"{server}/api/v1/no-such-route")  # not the pages' HTML 404
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not Found"})
    wrong_method = httpx.put(f"{server}/api/v1/alarms")
    assert (wrong_method.status_code, wrong_method.headers["allow"]) == (405, "GET")
    unauthenticated = httpx.get(f"{server}/web/captures/1/overlay")
    assert unauthenticated.status_code == 401


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium "
    "(apt-get install chromium chromium-driver; .ci/run installs it)",
)
def test_browser_walk_through(server: str, web_site: WebSite, settings: Settings) -> None:
    from playwright.sync_api import sync_playwright

    origin = urlsplit(server).netloc
    foreign: list[str] = []
    failed: list[str] = []
    shots = SCREENSHOTS if settings.database_url == "" else None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.on(
                "request",
                lambda r: (
                    None
                    if r.url.startswith(("data:", "blob:")) or urlsplit(r.url).netloc == origin
                    else foreign.append(r.url)
                ),
            )
            # a request the browser itself cancels because the page moved on (net::ERR_ABORTED,
            # e.g. a font still loading at a navigation) is not a failed request
            page.on(
                "requestfailed",
                lambda r: failed.append(r.url) if r.failure != "net::ERR_ABORTED" else None,
            )
            page.on(
                "response",
                lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )

            cjk = _cjk_font()

            def connected() -> None:
                # NiceGUI sends what a person types and clicks over its socket only after the
                # page's handshake: on a busy machine, a fill right after a navigation or a
                # reload could be lost (the comment then went out empty, and the test timed out)
                page.wait_for_function("() => window.did_handshake === true")

            def shot(name: str) -> None:
                page.wait_for_load_state("networkidle")
                if shots is not None and (cjk or "zh-" not in name):
                    shots.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            page.goto(f"{server}/login")
            connected()
            page.get_by_label("E-mail").fill(web_site.email(Role.ADMIN))
            page.get_by_label("Password").fill(PASSWORD)
            shot("login")
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{server}/")
            page.get_by_text("VD viaduct").first.wait_for()
            shot("overview")

            asset = web_site.site.asset_id
            page.goto(f"{server}/assets/{asset}?channel=VD-SETTLE")
            page.locator("canvas").first.wait_for()
            page.get_by_text("buckets of").wait_for()
            # the forecast is fitted after the page is sent: its band and caption arrive later
            page.get_by_text("95 % band").first.wait_for(timeout=120_000)
            shot("asset")

            page.goto(f"{server}/alarms")
            page.get_by_text("P2-settlement").wait_for()
            shot("alarms")

            page.goto(f"{server}/assets/{asset}/captures")
            page.locator("img").first.wait_for()
            shot("captures")

            page.goto(f"{server}/captures/{web_site.capture_id}")
            overlay = page.locator(f'img[src="/web/captures/{web_site.capture_id}/overlay"]')
            overlay.wait_for()
            page.wait_for_load_state("networkidle")
            assert overlay.evaluate("img => img.naturalWidth") == 640
            page.get_by_text("crack").first.wait_for()
            shot("capture")

            capture_svg = page.locator("svg text", has_text="#").first
            capture_svg.wait_for()
            assert " mm" in (capture_svg.text_content() or "")  # the defect's id and widest width
            page.get_by_text("10 mm").first.wait_for()  # the scale bar at 0.1 mm/px

            page.goto(f"{server}/hazards")
            page.get_by_role("link", name=f"#{web_site.hazard_id}").click()
            page.wait_for_url(f"{server}/hazards/{web_site.hazard_id}")
            page.get_by_text("Ranked causes").wait_for()
            connected()
            page.get_by_role("button", name="Move to acknowledged").click()
            page.get_by_text("State: acknowledged").wait_for()
            connected()
            shot("hazard")
            page.get_by_role("button", name="Create work order").first.click()
            page.wait_for_url(f"{server}/work-orders/*")
            page.get_by_text("State: open").wait_for()
            connected()
            page.get_by_label("Assignee").click()
            page.get_by_role("option", name="(crew)").click()
            page.get_by_role("button", name="Assign", exact=True).click()
            page.get_by_text("State: assigned").wait_for()
            connected()
            page.get_by_label("Comment").fill("Jacks ordered")
            page.get_by_role("button", name="Add comment").click()
            page.get_by_text("Jacks ordered").wait_for()
            shot("work-order")
            page.goto(f"{server}/work-orders")
            page.get_by_text("assigned (1)").wait_for()
            connected()
            card = page.get_by_role("link", name="#1 Jacking").locator("xpath=..")
            card.drag_to(page.get_by_text("in progress (0)"))  # a person drags the card
            page.get_by_text("in progress (1)").wait_for()
            shot("work-orders")
            page.goto(f"{server}/hazards")
            page.get_by_text("mitigating").first.wait_for()
            shot("hazards")

            page.goto(f"{server}/rules")
            page.get_by_role("link", name="P2-settlement").click()
            page.get_by_label("Definition (JSON)").wait_for()
            connected()
            page.get_by_label("Definition (JSON)").fill('{"id": "P2-settlement"}')
            page.get_by_role("button", name="Save").click()
            page.get_by_text("definition:").first.wait_for()  # the API's message, in the page
            shot("rule-editor")

            page.get_by_label("language").click()  # the switch, as a person uses it
            page.get_by_role("option", name="繁體中文").click()
            page.get_by_text("所有規則").wait_for()
            page.goto(f"{server}/hazards/{web_site.hazard_id}")
            page.get_by_text("成因排序").wait_for()
            shot("hazard-zh-Hant")
            page.goto(f"{server}/captures/{web_site.capture_id}")
            page.get_by_text("審核偵測結果").wait_for()
            shot("capture-zh-Hant")

            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.context.add_cookies(page.context.cookies())
            phone.goto(f"{server}/")
            phone.get_by_text("VD viaduct").first.wait_for()  # (in Chinese by now)
            phone.wait_for_load_state("networkidle")
            if shots is not None and cjk:
                phone.screenshot(path=str(shots / "overview-phone.png"), full_page=True)
        finally:
            browser.close()
    assert foreign == [], f"requests to other addresses: {foreign}"
    assert failed == [], f"failed requests: {failed}"
