"""Every page, in both Chinese locales, drawn in Chromium with the fonts the app ships: a text drawn
with any other font (the browser's fallback for a character our fonts lack) fails the test.

Chromium reports, through the DevTools protocol (``CSS.getPlatformFontsForNode``), which fonts
drew each element's text; the pages ask for Roboto (served by NiceGUI) and the locale's CJK
subset (served by the app, see :mod:`infrasight.web.fonts`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest

from infrasight.core.domain import Role
from infrasight.web.fonts import FONT_FAMILIES
from tests.web.conftest import PASSWORD, WebSite
from tests.web.test_browser import CHROMIUM, FLAGS, server

__all__ = ["server"]  # the fixture, shared with the walk-through

#: A character our fonts lack (a rare ideograph in Noto CJK, outside the shipped subsets).
RARE = "龘"


def system_font_draws(character: str) -> bool:
    """Whether fontconfig knows a system font with ``character`` (Chromium's fallback for it)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    found = subprocess.run(
        [fc_list, f":charset={ord(character):x}", "family"],
        capture_output=True,
        text=True,
        check=False,
    )
    return bool(found.stdout.strip())


pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium "
        "(apt-get install chromium chromium-driver; .ci/run installs it)",
    ),
    # without a system CJK font a character our fonts lack is drawn as a box by our own font,
    # and Chromium reports no fallback: the check could not fail
    pytest.mark.skipif(
        not system_font_draws(RARE),
        reason="needs a system font with CJK ideographs for Chromium to fall back to "
        "(apt-get install fonts-noto-cjk; .ci/run installs it)",
    ),
]

SKIPPED_TAGS = {"SCRIPT", "STYLE", "NOSCRIPT", "TEXTAREA", "TITLE"}
#: Icons (their own font) and NiceGUI's connection popups (hidden; a warning emoji in ::before).
SKIPPED = re.compile(r"material-(icons|symbols)|q-icon|nicegui-error-popup")


def _walk(node: dict[str, Any], icon: bool, out: list[tuple[int, str]]) -> None:
    attributes = node.get("attributes", [])
    classes = dict(zip(attributes[::2], attributes[1::2], strict=False)).get("class", "")
    icon = icon or bool(SKIPPED.search(classes))
    if node.get("nodeName") in SKIPPED_TAGS:
        return
    text = "".join(
        child.get("nodeValue", "") for child in node.get("children", []) if child["nodeType"] == 3
    )
    if text.strip() and not icon:
        out.append((node["nodeId"], text.strip()))
    for child in node.get("children", []):
        if child["nodeType"] == 1:
            _walk(child, icon, out)
    if "contentDocument" in node:
        _walk(node["contentDocument"], icon, out)


def _monospace(cdp: Any, node_id: int) -> bool:
    styles = cdp.send("CSS.getComputedStyleForNode", {"nodeId": node_id})["computedStyle"]
    family = next((s["value"] for s in styles if s["name"] == "font-family"), "")
    return "monospace" in family


def fallback_texts(page: Any, allowed: set[str]) -> list[str]:
    """The texts of ``page`` some part of which a font outside ``allowed`` drew."""
    page.evaluate("document.fonts.ready.then(() => true)")
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
        texts: list[tuple[int, str]] = []
        _walk(root, False, texts)
        wrong = []
        for node_id, text in texts:
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node_id})["fonts"]
            others = sorted({f["familyName"] for f in fonts} - allowed)
            if others and text.isascii() and _monospace(cdp, node_id):
                continue  # code (rule keys, ids) in the system's monospace font
            if others:
                wrong.append(f"{text[:60]!r} drawn with {others}")
        return wrong
    finally:
        cdp.detach()


def test_every_page_draws_chinese_with_the_shipped_fonts(server: str, web_site: WebSite) -> None:
    from playwright.sync_api import sync_playwright

    asset, capture, hazard = (
        web_site.site.asset_id,
        web_site.capture_id,
        web_site.hazard_id,
    )
    paths = [
        "/",
        f"/assets/{asset}?channel=VD-SETTLE",
        "/alarms",
        f"/assets/{asset}/captures",
        f"/captures/{capture}",
        "/hazards",
        f"/hazards/{hazard}",
        "/work-orders",
        "/rules",
        f"/assets/{asset}/reports",
    ]
    failures: dict[str, list[str]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(f"{server}/login")
            page.get_by_label("E-mail").fill(web_site.email(Role.ADMIN))
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{server}/")
            checked = 0
            for locale, name in (("zh-Hans", "简体中文"), ("zh-Hant", "繁體中文")):
                page.get_by_label("language").click()
                # the switch reloads the page: wait for that reload, or the next goto races it
                with page.expect_navigation(wait_until="networkidle"):
                    page.get_by_role("option", name=name).click()
                page.wait_for_function(f"document.documentElement.innerHTML.includes('{name}')")
                allowed = {"Roboto", FONT_FAMILIES[locale][1]}
                for path in paths:
                    page.goto(f"{server}{path}", wait_until="networkidle")
                    wrong = fallback_texts(page, allowed)
                    checked += 1
                    if wrong:
                        failures[f"{locale} {path}"] = wrong
                # the check itself: a character the shipped fonts lack is reported
                page.evaluate(f"document.body.insertAdjacentHTML('beforeend', '<p>{RARE}</p>')")
                assert any(RARE in text for text in fallback_texts(page, allowed))
        finally:
            browser.close()
    assert checked == 2 * len(paths)
    assert not failures, "\n".join(f"{where}: {wrong}" for where, wrong in failures.items())
