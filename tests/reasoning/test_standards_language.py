"""The standards engines write their labels, clauses and evidence as phrases: the English text
is unchanged, and every one reads in Chinese with its numbers (no English words left)."""

from __future__ import annotations

import re

import pytest

from infrasight.locales.phrases import evidence_translator, localised_text, render_phrase
from infrasight.reasoning.standards import (
    AssetCondition,
    ConditionRating,
    ElementObservation,
    StandardRegistry,
    load_standards,
    rate_condition,
)
from tests.reasoning.test_standards import _d, _el, _jtg_bridge

_WORD = re.compile(r"[A-Za-z]{3,}")
#: Words a Chinese text may keep: the standards' own names, items and abbreviations.
_KEPT = {"MBEI", "AASHTO", "FHWA", "NBI", "CFR", "Coding", "Guide", "PMCI", "PCCI", "JTG"}
_KEPT |= {"BDCI", "SPCI", "SBCI", "InfraSight", "sum", "sqrt", "mean", "min"}  # formulas


@pytest.fixture(scope="module")
def reg() -> StandardRegistry:
    return load_standards()


def _ratings(res: AssetCondition) -> list[ConditionRating]:
    return [*res.elements, *res.groups, res.summary]


def _nbi() -> list[ElementObservation]:
    return [
        _el("D", "deck", _d("c", "crack", 10.0, width_mm=0.5), q=100.0, material="rc"),
        _el(
            "G", "girder", _d("s", "spall", 4.0, depth_mm=40), q=50.0, material="rc",
            component="superstructure",
        ),
        _el("P", "pier", material="rc", component="substructure", nbi_rating="7"),
    ]  # fmt: skip


def _tunnel() -> list[ElementObservation]:
    return [
        ElementObservation(
            element_id="R12",
            element_type="lining_ring",
            defects=(_d("c", "crack", width_mm=0.3), _d("l", "leakage", grade="dripping")),
            measurements={"convergence_mm": 12.0},
        )
    ]


_CASES = {
    "aashto-mbei": lambda: [
        _el("D", "deck", _d("c", "crack", 10.0, width_mm=0.5), q=100.0, material="rc"),
        _el("G", "girder", _d("e", "efflorescence", grade="heavy_buildup_rust"), material="rc"),
        _el("P", "pier", material="rc"),
    ],
    "nbi": _nbi,
    "jtg-h21": lambda: _jtg_bridge(pier_class="5"),
    "tunnel-lining": _tunnel,
}


def _texts(res: AssetCondition, locale: str) -> list[str]:
    t = evidence_translator(locale)
    out = []
    for r in _ratings(res):
        out.append(localised_text(r.label_phrase.as_dict() if r.label_phrase else None, r.label, t))
        out.append(
            localised_text(r.clause_phrase.as_dict() if r.clause_phrase else None, r.clause, t)
        )
        out += [render_phrase(e.phrase, t) for e in r.evidence if e.phrase is not None]
    assert t.missing == set(), t.missing
    return out


@pytest.mark.parametrize("standard", list(_CASES))
def test_the_english_text_is_the_phrase_in_english(reg: StandardRegistry, standard: str) -> None:
    res = rate_condition(reg, standard, _CASES[standard]())
    for r in _ratings(res):
        if r.clause_phrase is not None:  # None: the data file's own clause, translated as is
            assert r.clause_phrase.english() == r.clause
        if r.label_phrase is not None:
            assert r.label_phrase.english() == r.label
        for e in r.evidence:
            assert e.phrase is not None, (standard, e)
            assert e.phrase.english() == e.detail
    assert _texts(res, "en")[-1]  # English renders through the catalogue too, nothing missing


@pytest.mark.parametrize("locale", ["zh-Hant", "zh-Hans"])
@pytest.mark.parametrize("standard", list(_CASES))
def test_every_text_reads_in_chinese(reg: StandardRegistry, standard: str, locale: str) -> None:
    res = rate_condition(reg, standard, _CASES[standard]())
    for text in _texts(res, locale):
        assert [w for w in _WORD.findall(text) if w not in _KEPT] == [], text
        assert re.search(r"[\u4e00-\u9fff]", text) or not _WORD.search(text), text


def test_known_numbers_in_simplified_chinese(reg: StandardRegistry) -> None:
    jtg = _texts(rate_condition(reg, "jtg-h21", _jtg_bridge(pier_class="5")), "zh-Hans")
    # G1: cracks 3/5 -> DP 45; PMCI 100 - 45 - 25 x 55 / (100 sqrt 2) = 45.28 (test_standards)
    assert "构件评分 PMCI 45.28" in jtg
    assert "裂缝：标度 3/5 → 扣分值 DP 45" in jtg  # the indicator's name from the catalogue
    assert "构件评分 PMCI 45.28（n = 3，t = 9.7）" in jtg
    assert "全桥评分 Dr 40.69，5 类" in jtg  # the main part (piers, class 5) governs
    assert "主要部件桥墩为 5 类" in jtg
    nbi = _texts(rate_condition(reg, "nbi", _nbi()), "zh-Hans")
    assert "部件数量的 10.0% 处于 CS2" in nbi and "检查人员评定 7" in nbi
    assert "未评定（无构件）：桥面" not in nbi  # the deck is there (its kind names it)
    tunnel = _texts(rate_condition(reg, "tunnel-lining", _tunnel()), "zh-Hant")
    assert "收斂（mm） = 12 → 第 2 級" in tunnel and "滴漏 → 第 2 級" in tunnel
    assert "寬度（mm） = 0.3 → 第 1 級" in tunnel
