"""The ``errors`` catalogue: templates of the messages raised, each translated, placeholders
kept; a message is said in the reader's language and stays as raised in English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import infrasight
from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.locales import messages
from infrasight.locales.errors import error_message, error_translator, localise_message
from infrasight.locales.extract_errors import render_catalogues, templates_in
from infrasight.web.pages.rules import parse_definition

_FIELD = re.compile(r"\{[^{}]*\}")


def test_the_catalogue_files_are_up_to_date_with_the_sources() -> None:
    stale = [str(p) for p, text in render_catalogues().items() if p.read_text("utf-8") != text]
    assert stale == [], "run python -m infrasight.locales.extract_errors"


@pytest.mark.parametrize("locale", ["zh-Hant", "zh-Hans"])
def test_every_template_is_translated_with_its_placeholders(locale: str) -> None:
    english, translated = messages("errors", "en"), messages("errors", locale)
    assert len(english) > 300
    assert sorted(set(english) - set(translated)) == []
    for msgid, msgstr in translated.items():
        assert sorted(_FIELD.findall(msgid)) == sorted(_FIELD.findall(msgstr)), msgid


def test_a_message_is_said_in_the_readers_language() -> None:
    error = NotFoundError("element 12 not found on asset 3")
    assert error_message(error, "en") == error_message(error, None) == str(error)
    assert error_message(error, "zh-Hans") == "资产 3 上未找到构件 12"
    assert error_message(error, "zh-Hant") == "資產 3 上找不到構件 12"
    field = InvalidInputError("must be > 0 mm", field="width_mm")
    assert error_message(field, "zh-Hans") == "width_mm: 必须 > 0 毫米"
    # a value that is a catalogued word is translated; names as written stay
    t = error_translator("zh-Hant")
    assert localise_message("asset 'Bridge A' already exists", t) == "資產 'Bridge A' 已存在"
    assert localise_message("nothing like this is raised", t) == "nothing like this is raised"
    assert t.missing == {"nothing like this is raised"}


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("en", "definition: not JSON: Expecting ',' delimiter at line 3 column 9"),
        ("zh-Hans", "definition: JSON 语法错误（第 3 行第 9 列）：此处应有逗号“,”"),
        ("zh-Hant", "definition: JSON 語法錯誤（第 3 行第 9 欄）：此處應有逗號「,」"),
    ],
)
def test_the_rule_editor_names_the_line_and_column_of_a_json_error(locale: str, said: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_definition('{\n  "id": "r1",\n "a": 1 "b": 2\n}')
    assert error_message(caught.value, locale) == said


#: Two English words in a row, outside quotes and tokens holding digits, codes or paths.
_WORDS = re.compile(r"[A-Za-z]{3,}(?: [a-z]{3,})+")
_CODE = re.compile(r"'[^']*'|\"[^\"]*\"|\S*[-_=/.:@<>\[\]\d]\S*")
_CJK = re.compile(r"[\u4e00-\u9fff]")
#: The analytics packages, whose input errors reach people through the API, pages and CLI.
_ANALYTICS = ("signals", "measure", "vision", "reasoning", "edge", "mqtt")
#: Commands a message tells to run, which stay as written.
_COMMANDS = re.compile(r"pip install")


def _example(template: str) -> str:
    """An English message ``template`` stands for: every placeholder filled with a number (as
    raised: a ``!r`` value quoted)."""
    escaped = template.replace("{{", "\0").replace("}}", "\1")
    filled = _FIELD.sub(lambda m: "'7'" if "!r" in m.group(0) else "7", escaped)
    return filled.replace("\0", "{").replace("\1", "}")


@pytest.mark.parametrize("locale", ["zh-Hant", "zh-Hans"])
def test_every_raised_message_reads_without_english(locale: str) -> None:
    """A sweep over every message the code raises (the analytics' too): filled with values, it
    is said in Chinese with no run of English words outside codes, names and option names, so
    a message left untranslated, or matched by a wrong template, fails."""
    t = error_translator(locale)
    package = Path(infrasight.__file__).parent
    raised = [
        template
        for name in _ANALYTICS
        for path in sorted((package / name).rglob("*.py"))
        for template in templates_in(path)
    ]
    assert len(raised) > 300
    found = []
    for template in dict.fromkeys([*messages("errors", "en"), *raised]):
        english = _example(template)
        said = localise_message(english, t)
        if not _CJK.search(said):
            if _WORDS.search(_CODE.sub(" ", english)):
                found.append(f"{english!r} -> {said!r}")
            continue
        shown = _CODE.sub(" ", _COMMANDS.sub(" ", said))
        found += [f"{w!r} in {said!r}" for w in _WORDS.findall(shown)]
    assert found == [], "\n".join(found)
