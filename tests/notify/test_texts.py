"""Notification texts: every event kind has a title in every language, naming the asset."""

from __future__ import annotations

import pytest

from infrasight.notify.kinds import EVENT_KINDS, LANGUAGES
from infrasight.notify.texts import TITLES, notify_catalogue, render

PAYLOAD = {
    "subject": "settlement (hazard 3)",
    "asset": "Bridge A",
    "element": "Pier 2",
    "severity": 3,
    "evidence": ["channel:S1[2026-01-01T00:00Z/2026-01-02T00:00Z]"],
    "step": 2,
    "link": "https://x.example/api/v1/hazards/3",
}


def test_every_kind_has_a_title() -> None:
    assert set(TITLES) == set(EVENT_KINDS)


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_message_is_translated(language: str) -> None:
    messages = notify_catalogue(language)
    missing = [t for t in TITLES.values() if t not in messages]
    assert missing == []


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_text_names_asset_element_evidence_and_link(kind: str, language: str) -> None:
    text = render(kind, PAYLOAD, language)
    assert "Bridge A" in text.title and "settlement (hazard 3)" in text.title
    for value in ("Pier 2", "channel:S1[", "https://x.example/api/v1/hazards/3"):
        assert value in text.body
    assert "{" not in text.title + text.body


def test_chinese_texts_are_chinese() -> None:
    assert render("hazard.opened", PAYLOAD, "zh-Hant").title.startswith("新增危害")
    assert render("hazard.opened", PAYLOAD, "zh-Hans").title.startswith("新增隐患")
    assert render("hazard.opened", PAYLOAD, "fr").title.startswith("Hazard opened")
