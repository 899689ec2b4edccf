"""What the analysis and admin commands print for a person, in both Chinese locales: known
answers per locale, and no run of English words outside quoted names, paths, URLs and codes
(a sweep over each command's output). English output is as before."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infrasight.cli.app import app

#: Two English words in a row, outside quotes and tokens holding digits, paths or codes.
WORDS = re.compile(r"[A-Za-z]{3,}(?: [a-z]{3,})+")
CODE = re.compile(r"'[^']*'|\S*[-_=/.:@\d]\S*|\[/?\w+\]")
RULES = [
    {
        "id": "P2-settle",
        "channels": ["VD-SETTLE"],
        "levels": [
            {"name": "amber", "severity": 1, "limits": [{"quantity": "value", "upper": 3.0}]},
            {"name": "red", "severity": 2, "limits": [{"quantity": "value", "upper": 5.0}]},
        ],
    }
]
EXPECTED = {
    "en": {
        "db": "database at revision",
        "admin": "created organisation 'Ops'; admin a@ops.example; no password (token only)",
        "retention": "raw readings of 'Ops' kept 30 days",
        "rules": "1 rule(s) valid",
        "changepoints": "1 change point(s)",
        "bad": "error:",
        "few": "error: 3 finite readings, at least 10 needed",
        "image": "error: image file not found: ",
    },
    "zh-Hant": {
        "db": "資料庫版本",
        "admin": "已建立機構 'Ops'；管理員 a@ops.example；無密碼（只可用權杖）",
        "retention": "'Ops' 的原始讀數保留 30 日",
        "rules": "1 條規則有效",
        "changepoints": "第 6 行（時間 5）：均值偏移 +8",
        "bad": "錯誤：",
        "few": "錯誤： 3 個有限讀數，至少需要 10 個",
        "image": "錯誤： 找不到影像檔案：",
    },
    "zh-Hans": {
        "db": "数据库版本",
        "admin": "已创建机构 'Ops'；管理员 a@ops.example；无密码（仅可用令牌）",
        "retention": "'Ops' 的原始读数保留 30 天",
        "rules": "1 条规则有效",
        "changepoints": "第 6 行（时间 5）：均值偏移 +8",
        "bad": "错误：",
        "few": "错误： 3 个有限读数，至少需要 10 个",
        "image": "错误： 未找到图像文件：",
    },
}


def _english(text: str) -> list[str]:
    return WORDS.findall(CODE.sub(" ", text))


@pytest.mark.parametrize("locale", list(EXPECTED))
def test_admin_and_analysis_commands_speak_the_chosen_language(
    locale: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("INFRASIGHT_DATABASE_URL", "INFRASIGHT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    series = tmp_path / "series.csv"
    series.write_text("t,v\n" + "".join(f"{i},{1 if i < 5 else 9}\n" for i in range(10)))
    few = tmp_path / "few.csv"
    few.write_text("t,v\n0,1\n1,2\n2,3\n")
    runner, want = CliRunner(), EXPECTED[locale]
    calls = {
        "db": ["db", "upgrade"],
        "admin": ["admin", "create", "--org", "Ops", "--email", "a@ops.example"],
        "retention": ["admin", "retention", "--org", "Ops", "--days", "30"],
        "rules": ["signals", "rules", "validate", str(rules)],
        "changepoints": [
            "signals",
            "changepoints",
            str(series),
            "--time-col",
            "t",
            "--value-col",
            "v",
        ],
        "bad": ["signals", "changepoints", str(series), "--time-col", "t", "--value-col", "nope"],
        # an analytics error (signals) and an input error of the measure commands
        "few": ["signals", "changepoints", str(few), "--time-col", "t", "--value-col", "v"],
        "image": ["measure", "crack", str(tmp_path / "missing.png")],
    }
    found = []
    for key, args in calls.items():
        got = runner.invoke(app, ["--lang", locale, *args])
        assert (got.exit_code == 0) is (key not in ("bad", "few", "image")), (key, got.output)
        assert want[key] in got.output, (key, got.output)
        if locale != "en":
            lines = got.output.splitlines()
            shown = lines[:-1] if key == "admin" else lines  # the token
            found += [f"{key}: {w!r} in {line!r}" for line in shown for w in _english(line)]
    assert found == [], "\n".join(found)
