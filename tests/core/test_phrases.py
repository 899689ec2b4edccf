"""Phrases (message key + parameters): validation, English, storage round trip, rendering per
locale, and the ``evidence`` catalogues covering every phrase the code writes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from babel.messages.extract import extract_from_dir

import infrasight
from infrasight.core.phrases import Phrase, fields, phrase, phrase_list
from infrasight.locales import LOCALES, messages
from infrasight.locales.phrases import (
    EVIDENCE_DOMAIN,
    evidence_translator,
    format_number,
    localised_detail,
    render_phrase,
)
from infrasight.reports.render import font_paths, missing_glyphs
from infrasight.services.user_locale import accepted_locale

PACKAGE = Path(infrasight.__file__).parent
MOVED = "{channel} moved {delta:+.4g} {unit} ({z:+.1f} sigmas)"


def test_a_phrase_needs_a_value_for_every_placeholder() -> None:
    with pytest.raises(ValueError, match=r"no value for \['z'\]"):
        phrase(MOVED, channel="S", delta=1.0, unit="mm")
    with pytest.raises(ValueError, match="unknown conversion !x"):
        phrase("{a!x}", a="1")
    with pytest.raises(ValueError, match="not a plain name"):
        phrase("{0} mm", **{"0": 1.0})
    with pytest.raises(ValueError, match="value is a list"):
        phrase("{value}", value=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="list of parts"):
        Phrase(key="")


def test_english_is_pythons_formatting() -> None:
    moved = phrase(MOVED, channel="SET-P2", delta=9.58712, unit="mm", z=113.64)
    assert moved.english() == "SET-P2 moved +9.587 mm (+113.6 sigmas)"
    assert phrase("{a!t} {b!t} at {c}", a="", b="crack", c=None).english() == "crack at –"
    both = phrase_list(moved, phrase("{p:.0%} missing", p=0.25))
    assert both.english() == "SET-P2 moved +9.587 mm (+113.6 sigmas), 25% missing"
    assert phrase_list(moved) is moved
    assert phrase("{x:g} to {y:g}", x=float("-inf"), y=float("nan")).values == {
        "x": None,
        "y": None,
    }


def test_a_stored_phrase_comes_back_equal_and_a_bad_one_is_none() -> None:
    moved = phrase(MOVED, channel="SET-P2", delta=9.58712, unit="mm", z=113.64)
    listed = phrase_list(moved, phrase("no spikes, stuck values, gaps or noise bursts"))
    for said in (moved, listed):
        assert Phrase.from_dict(said.as_dict()) == said
    assert moved.as_dict() == {
        "key": MOVED,
        "params": {"channel": "SET-P2", "delta": 9.58712, "unit": "mm", "z": 113.64},
    }
    for bad in (None, "text", {"key": ""}, {"key": MOVED, "params": {}}, {"parts": ["x"]}):
        assert Phrase.from_dict(bad) is None
    assert fields(MOVED)[1] == ("delta", "+.4g", None)


@pytest.mark.parametrize(
    ("value", "spec", "locale", "expected"),
    [
        (9.58712, "+.4g", "en_GB", "+9.587"),
        (-0.0053, "+.2%", "zh_Hans_CN", "-0.53%"),
        (0.25, ".0%", "zh_Hant_HK", "25%"),
        (1234.5, ".1f", "en_GB", "1,234.5"),
        (113.64, "+.1f", "zh_Hant_HK", "+113.6"),
        (12, "", "en_GB", "12"),
        (0.861, "g", "zh_Hans_CN", "0.861"),
        (3.14159, ">10", "en_GB", "   3.14159"),  # any other spec: Python's
    ],
)
def test_numbers_follow_the_spec_and_the_locale(
    value: float, spec: str, locale: str, expected: str
) -> None:
    assert format_number(value, spec, locale) == expected


def test_a_phrase_renders_in_each_locale() -> None:
    defect = phrase_list(
        phrase("{kind!t}", kind="crack"),
        phrase("max width {width:.2f} {unit}", width=0.35, unit="mm"),
    )
    alarm = phrase(
        "{key} {level!t} ({status!t}) raised {raised!d}",
        key="P2 settlement",
        level="red",
        status="active",
        raised="2026-03-04T05:06Z",
    )
    want = {
        "en": (
            "crack, max width 0.35 mm",
            "P2 settlement red (active) raised 4 Mar 2026, 05:06:00",
        ),
        "zh-Hant": (
            "裂縫，最大寬度 0.35 mm",
            "P2 settlement 紅色（生效中），觸發於 2026年3月4日 上午5:06:00",
        ),
        "zh-Hans": (
            "裂缝，最大宽度 0.35 mm",
            "P2 settlement 红色（活动），触发于 2026年3月4日 05:06:00",
        ),
    }
    for locale, (text, raised) in want.items():
        t = evidence_translator(locale)
        assert render_phrase(defect, t) == text
        assert render_phrase(alarm, t) == raised
        assert t.missing == set()


def test_an_unknown_key_reads_in_english_and_is_recorded() -> None:
    t = evidence_translator("zh-Hans")
    assert render_phrase(phrase("new text {n:.1f}", n=2.25), t) == "new text 2.2"
    assert t.missing == {"new text {n:.1f}"}
    assert evidence_translator("fr").locale == "en"


def test_a_row_without_a_phrase_keeps_its_stored_text() -> None:
    t = evidence_translator("zh-Hans")
    assert localised_detail(None, "old English", t) == "old English"
    assert localised_detail({"key": 3}, "old English", t) == "old English"
    stored = phrase("late growth rate {ratio:.2f}x the early rate", ratio=0.5).as_dict()
    assert localised_detail(stored, "old English", t) == "后期增长速率为早期的 0.50 倍"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-Hans", "zh-Hans"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"),
        ("zh-HK", "zh-Hant"),
        ("zh-Hant-TW", "zh-Hant"),
        ("en-GB,en;q=0.9", "en"),
        ("fr;q=1, zh-TW;q=0.5, en;q=0.4", "zh-Hant"),
        ("en;q=0.2, zh-Hans;q=0.9", "zh-Hans"),
        ("en;q=0, zh", "zh-Hans"),
        ("fr, de", None),
        ("", None),
        ("zh;q=x", None),
    ],
)
def test_accept_language_picks_a_shipped_locale(header: str, expected: str | None) -> None:
    assert accepted_locale(header) == expected


def _code_phrases() -> set[str]:
    found: set[str] = set()
    for folder in ("reasoning", "services", "signals", "measure"):
        found |= {
            str(message)
            for _f, _l, message, _c, _x in extract_from_dir(
                str(PACKAGE / folder), keywords={"phrase": None, "N_": None}
            )
        }
    return found


def test_the_code_writes_phrases() -> None:
    assert {MOVED, "crack", "{kind!t}"} <= _code_phrases()


@pytest.mark.parametrize("locale", list(LOCALES))
def test_every_phrase_is_in_the_catalogue_with_its_placeholders(locale: str) -> None:
    catalogue = messages(EVIDENCE_DOMAIN, locale)
    assert sorted(_code_phrases() - set(catalogue)) == []
    for key in _code_phrases():
        assert sorted(fields(key)) == sorted(fields(catalogue[key])), (locale, key)
        if locale != "en" and re.search(r"[A-Za-z]{3,}", re.sub(r"\{[^}]*\}", "", key)):
            assert re.search(r"[\u4e00-\u9fff]", catalogue[key]), (locale, key)
    bundled = [p for p in font_paths() if p.name == "fonts"]
    assert missing_glyphs({"all": list(catalogue.values())}, bundled) == ""


def test_verification_checks_read_in_chinese_with_their_numbers() -> None:
    from infrasight.reasoning.verification import judge_readings, load_verification_rules

    rule = load_verification_rules().for_work("jacking_underpinning", "")
    days = np.arange(0.0, 40.0, 0.5)
    values = 2.0 + 0.01 * np.random.default_rng(3).standard_normal(days.size)
    checks = judge_readings(
        "channel:SET-P2", days, values, rule, period_days=30.0, upper=5.0, unit="mm"
    )
    t = evidence_translator("zh-Hans")
    stored = [c.as_dict() for c in checks]
    texts = [localised_detail(c.get("message"), str(c["detail"]), t) for c in stored]
    assert texts[0] == "完工后读数覆盖 39.5 天（最后 30 天内 61 个）"
    assert texts[1].startswith("最后 30 天内读数为 1.9")
    assert texts[1].endswith("；无下限，上限 5 mm")  # an open side, not -inf
    assert stored[0]["detail"] == "39.5 days of readings after completion (61 in the last 30 d)"
    assert all(not re.search(r"[A-Za-z]{3,}", x.replace("mm", "")) for x in texts)
    assert t.missing == set()


def test_a_list_of_words_is_translated_word_by_word() -> None:
    said = phrase("no defect recorded matching: {terms!t}", terms="crack, map, <= 0.3 mm")
    assert said.english() == "no defect recorded matching: crack, map, <= 0.3 mm"
    zh = render_phrase(said, evidence_translator("zh-Hans"))
    assert zh == "未记录符合以下条件的缺陷：裂缝、网状、<= 0.3 mm"
    english = render_phrase(
        phrase("{w!t}", w="rust_staining, along_bar"), evidence_translator("en")
    )
    assert english == "rust staining, along a bar"


def test_a_list_joins_by_its_kind_in_each_locale() -> None:
    head = phrase("hazard {hazard} recurred", hazard=7)
    checks = phrase_list(
        phrase_list(
            phrase("{note}", note="channel:SET-P2"), phrase("verification failed"), join=":"
        ),
        phrase("{note}", note="x"),
        join=";",
    )
    said = phrase_list(head, checks, join=":")
    assert said.english() == "hazard 7 recurred: channel:SET-P2: verification failed; x"
    assert Phrase.from_dict(said.as_dict()) == said
    assert said.as_dict()["join"] == ":" and "join" not in phrase_list(head, head).as_dict()
    t = evidence_translator("zh-Hans")
    assert render_phrase(said, t) == "隐患 7 再次出现：channel:SET-P2：验证未通过；x"
    assert render_phrase(said, evidence_translator("zh-Hant")).startswith("危害 7 再次出現：")
    assert Phrase.from_dict({"parts": [head.as_dict()], "join": "/"}) is None
    with pytest.raises(ValueError, match="unknown join"):
        phrase_list(head, head, join="/")
    with pytest.raises(ValueError, match="at least one part"):
        phrase_list()


def test_clauses_join_however_many_and_each_is_translated() -> None:
    import tomllib

    from infrasight.reasoning.standards.texts import joined_clauses

    data = tomllib.loads((PACKAGE / "reasoning/standards/aashto-mbei.toml").read_text("utf-8"))
    clauses = list(dict.fromkeys(d["clause"] for d in data["defects"].values()))[:5]
    assert len(clauses) == 5
    said = joined_clauses(clauses)
    assert said is not None and joined_clauses([]) is None
    assert said.english() == "; ".join(clauses)
    t = evidence_translator("zh-Hans")
    text = render_phrase(said, t)
    assert text == "；".join(t.optional(c) for c in clauses)
    assert all(t.optional(c) != c for c in clauses) and t.missing == set()
    assert not re.search(r"[A-Za-z]{3,} [A-Za-z]{3,} [A-Za-z]{3,}", text)


@pytest.mark.parametrize(
    ("said", "english", "hans"),
    [
        (
            phrase(
                "{measure!t} = {value:g} -> CS{state}", measure="width_mm", value=0.248884, state=2
            ),
            "width_mm = 0.25 -> CS2",
            "宽度（mm） = 0.25 → CS2",
        ),
        (
            phrase(
                "{channel} reaches {limit:g} {unit} ({level!t}) in {days:g} days",
                channel="S",
                limit=4.0,
                unit="mm",
                level="red",
                days=1234.5678,
            ),
            "S reaches 4 mm (red) in 1234.6 days",
            "S 将在 1,234.6 天后达到 4 mm（红色）",
        ),
        (
            phrase("silent for {seconds:g} s", seconds=7200.4),
            "silent for 7200 s",
            "已 7,200 秒无数据",
        ),
        (  # no unit known: 6 significant digits, as before
            phrase("{channel}={value:g}", channel="S", value=0.123456789),
            "S=0.123457",
            "S = 0.123457",
        ),
        (  # a precision of its own is kept
            phrase("max width {width:.2f} {unit}", width=0.248884, unit="mm"),
            "max width 0.25 mm",
            "最大宽度 0.25 mm",
        ),
    ],
)
def test_numbers_show_the_precision_of_their_unit(said: Phrase, english: str, hans: str) -> None:
    assert said.english() == english
    assert render_phrase(said, evidence_translator("zh-Hans")) == hans


def test_units_decimals_come_from_the_data_file() -> None:
    from infrasight.core.phrases import plain_decimals, unit_decimals

    key = "{orientation!t} {kind!t}, {position!t}, {width:g} mm"
    assert unit_decimals(key, "width", {}) == 2
    assert unit_decimals("{limit:g} {unit}", "limit", {"unit": "degC"}) == 1
    assert unit_decimals("{limit:g} {unit}", "limit", {"unit": "furlong"}) is None
    assert unit_decimals("{width:.3f} mm", "width", {}) is None
    assert (plain_decimals(0.248884, 2), plain_decimals(5.0, 2), plain_decimals(-0.001, 2)) == (
        "0.25",
        "5",
        "0",
    )
