"""The answer's language (en, zh-Hant, zh-Hans) and the assistant's fixed texts in it.

Pure: the texts come from ``messages.toml`` beside this module. A question's language is the one
asked for, else the one its script shows: Chinese characters choose Chinese, and characters that
exist only in the traditional or only in the simplified script choose between the two.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from infrasight.core.errors import InvalidInputError

__all__ = ["LANGUAGES", "Texts", "choose_language", "texts", "wants_write"]

LANGUAGES = ("en", "zh-Hant", "zh-Hans")
_HAN = re.compile(r"[\u4e00-\u9fff]")
# frequent characters that differ between the scripts (traditional / simplified)
_TRADITIONAL = set(
    "這為們說對時會來個國過還發點體麼樣開關應與當從現實裡經問題將險處營單資況檢報運測維護據橋墩隧溫"
)
_SIMPLIFIED = set(
    "这为们说对时会来个国过还发点体么样开关应与当从现实里经问题将险处营单资况检报运测维护据桥墩隧温"
)
_TRADITIONAL -= _SIMPLIFIED
_SIMPLIFIED -= _TRADITIONAL


@dataclass(frozen=True, slots=True, kw_only=True)
class Texts:
    """The fixed texts of one language."""

    language: str
    system: str
    context_asset: str
    unverified: str
    rejected: str
    out_of_steps: str
    read_only: str
    model_failed: str
    #: Labels of the context message (the caller's assets, elements, channels with ids).
    context_assets: str = ""
    context_elements: str = ""
    context_channels: str = ""
    context_more: str = ""
    context_hazards: str = ""
    #: The answer when the check removed every sentence and no key figures remain.
    withheld: str = ""


@cache
def _catalogue() -> dict[str, object]:
    with (Path(__file__).parent / "messages.toml").open("rb") as handle:
        return tomllib.load(handle)


def texts(language: str) -> Texts:
    """The texts of ``language`` (one of :data:`LANGUAGES`)."""
    table = _catalogue()[language]
    assert isinstance(table, dict)
    return Texts(
        language=language,
        system=str(table["system"]),
        context_asset=str(table["context_asset"]),
        unverified=str(table["unverified"]),
        rejected=str(table["rejected"]),
        out_of_steps=str(table["out_of_steps"]),
        read_only=str(table["read_only"]),
        model_failed=str(table["model_failed"]),
        context_assets=str(table["context_assets"]),
        context_elements=str(table["context_elements"]),
        context_channels=str(table["context_channels"]),
        context_more=str(table["context_more"]),
        context_hazards=str(table["context_hazards"]),
        withheld=str(table["withheld"]),
    )


def choose_language(question: str, requested: str | None = None) -> str:
    """``requested`` when given (validated), else the language the question is written in.

    Raises
    ------
    InvalidInputError
        ``requested`` is not one of en, zh-Hant, zh-Hans (field ``language``).
    """
    if requested is not None:
        aliases = {"zh-tw": "zh-Hant", "zh-hk": "zh-Hant", "zh-cn": "zh-Hans", "zh": "zh-Hans"}
        found = next((lang for lang in LANGUAGES if lang.lower() == requested.lower()), None)
        found = found or aliases.get(requested.lower())
        if found is None:
            raise InvalidInputError(
                f"{requested!r} is not a language of the assistant; use one of "
                + ", ".join(LANGUAGES),
                field="language",
            )
        return found
    if not _HAN.search(question):
        return "en"
    traditional = sum(ch in _TRADITIONAL for ch in question)
    simplified = sum(ch in _SIMPLIFIED for ch in question)
    return "zh-Hant" if traditional > simplified else "zh-Hans"


@cache
def _write_patterns() -> tuple[re.Pattern[str], ...]:
    table = _catalogue()["write_intent"]
    assert isinstance(table, dict)
    return tuple(re.compile(p) for p in table["patterns"])


def wants_write(question: str) -> bool:
    """Whether the question asks to change data or to drop the assistant's rules."""
    return any(p.search(question) for p in _write_patterns())
