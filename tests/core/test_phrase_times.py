"""A time a phrase holds as ISO text (a sensor-health alarm's onset, its evidence window) reads
as the locale's date and time in Chinese; English keeps the text as stored."""

from __future__ import annotations

from infrasight.core.phrases import phrase
from infrasight.locales.phrases import evidence_translator, render_phrase


def test_iso_times_in_a_sentence_read_as_local_dates() -> None:
    said = phrase(
        "{channel}: {fault!t} since {since}",
        channel="VD-S2",
        fault="drift",
        since="2026-03-01T06:30Z",
    )
    assert render_phrase(said, evidence_translator("en")).endswith("since 2026-03-01T06:30Z")
    hans = render_phrase(said, evidence_translator("zh-Hans"))
    hant = render_phrase(said, evidence_translator("zh-Hant"))
    assert "2026年3月1日 06:30:00" in hans and "T06:30Z" not in hans, hans
    assert "2026年3月1日" in hant and "T06:30Z" not in hant, hant
    # a value that only starts like a date stays as written
    named = phrase(
        "{channel}: {fault!t} since {since}", channel="c", fault="drift", since="2026-03-01 lot"
    )
    assert "自 2026-03-01 lot 起" in render_phrase(named, evidence_translator("zh-Hans"))
