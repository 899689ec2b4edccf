"""One term per concept: every catalogue agrees with ``locales/glossary.toml`` and a text in
several domains (pages, reports, notifications, data) translates the same way in each."""

from __future__ import annotations

import re
import tomllib
from importlib import resources

import pytest

from infrasight.locales import DOMAINS, messages

LOCALES = ("zh-Hant", "zh-Hans")


def _glossary() -> list[dict[str, str]]:
    text = resources.files("infrasight.locales").joinpath("glossary.toml").read_text("utf-8")
    terms: list[dict[str, str]] = tomllib.loads(text)["term"]
    return terms


def _phrase(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(term)}(?![\w-])", re.IGNORECASE)


def test_the_glossary_is_well_formed() -> None:
    terms = _glossary()
    assert len(terms) >= 20
    assert len({t["en"].lower() for t in terms}) == len(terms), "a term listed twice"
    for term in terms:
        assert set(term) <= {"en", "match", *LOCALES}, term
        assert all(term.get(locale) for locale in LOCALES), term
        assert term.get("match", "phrase") in {"phrase", "exact"}, term


@pytest.mark.parametrize("locale", LOCALES)
def test_every_catalogue_uses_the_glossary_terms(locale: str) -> None:
    wrong = []
    for term in _glossary():
        wanted, exact, pattern = term[locale], term.get("match") == "exact", _phrase(term["en"])
        for domain in DOMAINS:
            for msgid, msgstr in messages(domain, locale).items():
                if not msgid or not msgstr:
                    continue
                if exact and msgid.lower() == term["en"].lower() and msgstr != wanted:
                    wrong.append(f"{domain}: {msgid!r} -> {msgstr!r}, glossary {wanted!r}")
                if not exact and pattern.search(msgid) and wanted not in msgstr:
                    wrong.append(f"{domain}: {msgid!r} -> {msgstr!r} lacks {wanted!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("locale", LOCALES)
def test_a_text_translates_alike_in_every_domain(locale: str) -> None:
    seen: dict[str, dict[str, str]] = {}
    for domain in DOMAINS:
        for msgid, msgstr in messages(domain, locale).items():
            if msgid and msgstr:
                seen.setdefault(msgid, {})[domain] = msgstr
    differing = {m: by for m, by in seen.items() if len(set(by.values())) > 1}
    assert not differing, differing


def test_the_check_finds_a_drifted_term() -> None:
    """The phrase check would catch last session's "shear distress" drift."""
    term = next(t for t in _glossary() if t["en"] == "Shear distress")
    assert _phrase(term["en"]).search("Shear distress at pier 2")
    assert term["zh-Hans"] not in "剪切病害"
