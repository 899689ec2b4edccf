"""The catalogue loader, the translator and the data catalogues' texts in every locale."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from infrasight.locales import (
    DATA_DOMAIN,
    LOCALES,
    UnknownCatalogueError,
    messages,
    translator,
)
from infrasight.locales.extract import data_texts, main
from infrasight.reports.render import font_paths, missing_glyphs

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def test_a_missing_domain_or_locale_is_a_clear_error() -> None:
    with pytest.raises(UnknownCatalogueError, match="domain 'nope' has no catalogue for 'en'"):
        messages("nope", "en")
    with pytest.raises(UnknownCatalogueError, match="locale 'fr' has no catalogues"):
        translator("reports", "fr")


def test_an_empty_msgstr_is_the_english_msgid_and_is_missing_elsewhere() -> None:
    english = messages(DATA_DOMAIN, "en")  # the English catalogue's msgstrs are all empty
    assert english["Sensor recalibration"] == "Sensor recalibration"
    t = translator("notify", "zh-Hant")
    assert t("Asset: {asset}", asset="A1") == "資產：A1"
    assert t("Not in any catalogue {n}", n=2) == "Not in any catalogue 2"
    assert t.missing == {"Not in any catalogue {n}"}
    assert t.optional("not a data text") == "not a data text" and len(t.missing) == 1


def test_the_loader_is_cached_and_read_only() -> None:
    first = messages("reports", "zh-Hans")
    assert messages("reports", "zh-Hans") is first
    with pytest.raises(TypeError):
        first["x"] = "y"  # type: ignore[index]


def test_numbers_and_dates_follow_the_locale() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert translator("reports", "en").fixed(1234.5, 2) == "1,234.50"
    assert translator("reports", "zh-Hant").number(0.125, 2) == "0.12"  # half to even
    assert translator("messages", "zh-Hans").datetime(when) == "2026年3月4日 05:06:07"
    assert translator("reports", "zh-Hant").date(date(2026, 3, 4)) == "2026年3月4日"
    assert translator("reports", "en").short_date(when) == "4 Mar"
    assert translator("reports", "en").number(None) == "–"


def test_data_texts_come_from_the_toml_files() -> None:
    found = {(t.file, t.key): t.text for t in data_texts()}
    assert found["reasoning/mechanisms/settlement.toml", "name"] == "Settlement / support movement"
    assert found["reasoning/remediation/cracks.toml", "action.1.name"] == (
        "Epoxy injection of dormant cracks"
    )
    assert found["reasoning/standards/nbi.toml", "ratings.5"].startswith("FAIR CONDITION")
    assert ("reasoning/remediation/cracks.toml", "action.1.source") not in found  # a citation
    assert ("reasoning/mechanisms/asr.toml", "id") not in found


def test_the_catalogue_files_are_up_to_date_with_the_data_files() -> None:
    assert main(["--check"]) == 0


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "en"])
def test_every_data_text_is_translated(locale: str) -> None:
    t = translator("reports", locale)
    texts = {d.text for d in data_texts()}
    untranslated = sorted(x for x in texts if x not in t.data)
    assert untranslated == [], f"{locale} lacks {untranslated[:5]}"
    for text in texts:
        translated = t.data[text]
        assert re.search(r"[\u4e00-\u9fff]", translated), (locale, text)
        # every figure of a clause survives translation (0.012 in, >= 10 %, §4.1 ...)
        assert set(_NUMBER.findall(text)) <= set(_NUMBER.findall(translated)), (locale, text)
    bundled = [p for p in font_paths() if p.name == "fonts"]
    assert missing_glyphs({"all": list(t.data.values())}, bundled) == ""


def test_engineering_terms_follow_each_locale() -> None:
    hant, hans = translator("reports", "zh-Hant"), translator("reports", "zh-Hans")
    assert hant.optional("Corrosion of reinforcement") == "鋼筋銹蝕"  # Hong Kong form
    assert hans.optional("Corrosion of reinforcement") == "钢筋锈蚀"
    assert hant.optional("Sensor recalibration") == "傳感器重新校準"
    assert hans.optional("Shear distress") == "剪切损伤"
    assert hant.optional("CS3 Poor") == "CS3 欠佳"
