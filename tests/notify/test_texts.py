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


SAID = {
    **PAYLOAD,
    "subject_message": {
        "key": "{mechanism!t} (hazard {id})",
        "params": {"mechanism": "settlement", "id": 3},
    },
    "note_message": {
        "key": "risk {before!t} -> {after!t}",
        "params": {"before": "medium", "after": "very high"},
    },
    "evidence_messages": [
        {
            "key": "{level!t} at {time!d}",
            "params": {"level": "red", "time": "2026-01-02T03:00:00+00:00"},
        }
    ],
}


@pytest.mark.parametrize(
    ("language", "title", "note", "evidence"),
    [
        (
            "en",
            "Hazard opened: settlement (hazard 3) on Bridge A",
            "Note: risk medium -> very high",
            "Evidence: red at 2 Jan 2026, 03:00:00",
        ),
        (
            "zh-Hant",
            "新增危害：Bridge A 的 沉降（危害 3）",
            "備註：風險 中 → 極高",
            "證據：2026年1月2日 上午3:00:00 紅色",
        ),
        (
            "zh-Hans",
            "新增隐患：Bridge A 的 沉降（隐患 3）",
            "备注：风险 中 → 极高",
            "证据：2026年1月2日 03:00:00 红色",
        ),
    ],
)
def test_the_subject_and_note_read_in_the_recipients_language(
    language: str, title: str, note: str, evidence: str
) -> None:
    text = render("hazard.opened", SAID, language)
    assert text.title == title
    assert note in text.body.splitlines() and evidence in text.body.splitlines(), text.body
