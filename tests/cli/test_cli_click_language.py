"""What Click prints itself (the usage line, the error panel, the errors in the arguments) in
the CLI's language: known answers per locale, no run of English words left in Chinese, and the
English output as Click writes it."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from infrasight.cli.app import app

#: Two English words in a row, outside the command's name, quotes, option names, placeholders
#: and codes.
WORDS = re.compile(r"[A-Za-z]{3,}(?: [a-z]{3,})+")
CODE = re.compile(
    r"infrasight(?: [a-z]+)*|'[^']*'|\S*[-_=/.:@\[\]{}\d]\S*|\[/?\w+\]|OPTIONS|COMMAND|ARGS"
)
CALLS = {
    "argument": ["measure", "crack"],
    "option": ["signals", "forecast", "series.csv"],
    "no_option": ["signals", "forecast", "--nope"],
    "command": ["measure", "cracks"],
    "integer": ["demo", "--days", "x"],
    "range": ["demo", "--days", "0"],
    "extra": ["demo", "surplus"],
    "bad_parameter": [
        *("signals", "score", "s.csv", "--time-col", "t", "--value-col", "v", "--out", "o.csv"),
        *("--duplicates", "x"),
    ],
}
EXPECTED = {
    "en": {
        "argument": ["Usage: infrasight measure crack", "Missing argument 'image'.", "Error"],
        "option": ["Missing option '--time-col'."],
        "no_option": ["No such option: --nope"],
        "command": ["No such command 'cracks'. Did you mean 'crack'?"],
        "integer": ["Invalid value for '--days': Input should be a valid integer"],
        "range": ["Input should be greater than or equal to 1"],
        "extra": ["Got unexpected extra argument"],
        "bad_parameter": ["Invalid value: --duplicates must be 'mean' or 'first'"],
    },
    "zh-Hant": {
        "argument": ["用法： infrasight measure crack", "缺少參數 'image'。", "錯誤", "查看說明"],
        "option": ["缺少選項 '--time-col'。"],
        "no_option": ["沒有此選項：--nope"],
        "command": ["沒有命令 'cracks'。是否想用 'crack'？"],
        "integer": ["'--days' 的值無效：輸入應為有效整數"],
        "range": ["'--days' 的值無效：輸入應大於或等於 1"],
        "extra": ["收到多餘的參數"],
        "bad_parameter": ["值無效：--duplicates 必須為 'mean' 或 'first'"],
    },
    "zh-Hans": {
        "argument": ["用法： infrasight measure crack", "缺少参数 'image'。", "错误", "查看帮助"],
        "option": ["缺少选项 '--time-col'。"],
        "no_option": ["没有此选项：--nope"],
        "command": ["没有命令 'cracks'。是否想用 'crack'？"],
        "integer": ["'--days' 的值无效：输入应为有效整数"],
        "range": ["'--days' 的值无效：输入应大于或等于 1"],
        "extra": ["收到多余的参数"],
        "bad_parameter": ["值无效：--duplicates 必须为 'mean' 或 'first'"],
    },
}


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INFRASIGHT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")


@pytest.mark.parametrize("locale", list(EXPECTED))
def test_clicks_errors_are_said_in_the_chosen_language(locale: str) -> None:
    runner, found = CliRunner(), []
    for key, args in CALLS.items():
        got = runner.invoke(app, ["--lang", locale, *args], prog_name="infrasight")
        assert got.exit_code == 2, (key, got.output)
        for said in EXPECTED[locale][key]:
            assert said in got.output, (key, got.output)
        if locale != "en":
            found += [
                f"{key}: {w!r} in {got.output!r}" for w in WORDS.findall(CODE.sub(" ", got.output))
            ]
    assert found == [], "\n".join(found)


def test_the_usage_line_of_help_follows_the_language_and_english_is_clicks() -> None:
    runner = CliRunner()
    hans = runner.invoke(app, ["--lang", "zh-Hans", "signals", "--help"], prog_name="infrasight")
    assert "用法： infrasight signals [OPTIONS] COMMAND [ARGS]..." in hans.output
    assert "Usage" not in hans.output
    english = runner.invoke(app, ["signals", "--help"], prog_name="infrasight")
    assert "Usage: infrasight signals [OPTIONS] COMMAND [ARGS]..." in english.output
    # the environment's language is read as well, and a later English run is English again
    hant = runner.invoke(
        app, ["measure", "crack"], prog_name="infrasight", env={"LANG": "zh_HK.UTF-8"}
    )
    assert "用法： infrasight measure crack" in hant.output and "缺少參數 'image'。" in hant.output
    again = runner.invoke(app, ["measure", "crack"], prog_name="infrasight")
    assert "Usage: infrasight measure crack" in again.output
    assert "Missing argument 'image'." in again.output and "Try '" in again.output
