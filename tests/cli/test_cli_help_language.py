"""``--help`` in the CLI's language: every help text of every command is translated in both
Chinese locales (a sweep over the whole command tree), the help printed for ``--lang`` or the
environment is Chinese, and the English help is as Typer writes it."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from infrasight.cli.app import app
from infrasight.cli.help_texts import HELP_DOMAIN, help_texts, lang_from_args, localise
from infrasight.locales import translator

#: Two English words in a row (the second lowercase) outside option names, placeholders, codes
#: and the names of programs and commands, which stay as written.
WORDS = re.compile(r"(?<![-\w$<`'])[A-Za-z]{3,}(?: [a-z]{3,})+(?![\w>`'])")
NAMES = re.compile(r"Celery beat|calibrate camera|rules evaluate")


def _texts(locale: str) -> list[str]:
    command = typer.main.get_command(app)
    localise(command, translator(HELP_DOMAIN, locale))
    try:
        return list(help_texts(command, around=False))
    finally:
        localise(typer.main.get_command(app), translator(HELP_DOMAIN, "en"))


@pytest.mark.parametrize("locale", ["zh-Hant", "zh-Hans"])
def test_every_help_text_is_translated(locale: str) -> None:
    english = set(help_texts(typer.main.get_command(app)))
    assert len(english) > 200
    left = [t for t in _texts(locale) if t in english and re.search(r"[A-Za-z]{3,} [a-z]", t)]
    assert left == []
    found = [
        f"{w.group(0)!r} in {t!r}" for t in _texts(locale) for w in WORDS.finditer(NAMES.sub("", t))
    ]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--lang", "zh-Hans", "cracks", "detect", "--help"], {}, "分割裂缝"),
        (["--lang=zh-Hant", "signals", "--help"], {}, "訊號分析"),
        (["workorders", "--help"], {"INFRASIGHT_LANG": "zh-Hans"}, "工单：隐患的整治"),
        (["admin", "create", "--help"], {"LANG": "zh_HK.UTF-8"}, "建立管理員"),
    ],
)
def test_help_is_printed_in_the_chosen_language(
    args: list[str], env: dict[str, str], said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("INFRASIGHT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "200")
    got = CliRunner().invoke(app, args)
    assert got.exit_code == 0, got.output
    assert said in got.output, got.output
    body = got.output.split("\n", 3)[-1]  # after the usage line (Click's own)
    assert WORDS.findall(NAMES.sub("", body)) == [], body
    # the next run in English reads English again (Typer's headings are module-wide)
    monkeypatch.delenv("INFRASIGHT_LANG", raising=False)
    monkeypatch.delenv("LANG", raising=False)
    again = CliRunner().invoke(app, ["cracks", "detect", "--help"])
    assert "Segment cracks" in again.output and "Options" in again.output


def test_lang_is_read_ahead_only_before_the_sub_command() -> None:
    assert lang_from_args(["--lang", "zh-Hant", "db", "upgrade"]) == "zh-Hant"
    assert lang_from_args(["--lang=zh-Hans", "--help"]) == "zh-Hans"
    assert lang_from_args(["report", "1", "--lang", "zh-Hans"]) is None
    assert lang_from_args([]) is None
