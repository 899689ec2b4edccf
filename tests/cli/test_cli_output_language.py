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


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        (
            "en",
            "seeded 'InfraSight Demo': 2 assets, 9 channels, 12,960 readings over 90 days, "
            "3 captures, 4 alarm rules (2 alarms raised), 3 hazards; work orders: "
            "1 closed after a passed verification, 1 in progress; log in as {email} with "
            "password {password}",
        ),
        (
            "zh-Hant",
            "已建立 'InfraSight Demo'：2 項資產、9 個量測通道、90 日共 12,960 個讀數、3 張影像、"
            "4 條警報規則（已觸發 2 次警報）、3 項危害；工單：驗證通過後關閉 1 張、進行中 1 張；"
            "請以 {email} 登入，密碼 {password}",
        ),
        (
            "zh-Hans",
            "已创建 'InfraSight Demo'：2 项资产、9 个测量通道、90 天共 12,960 个读数、3 张影像、"
            "4 条告警规则（已触发 2 次告警）、3 项隐患；工单：验证通过后关闭 1 张、进行中 1 张；"
            "请以 {email} 登录，密码 {password}",
        ),
    ],
)
def test_the_demo_summary_is_said_in_the_chosen_language(locale: str, said: str) -> None:
    from infrasight.cli.i18n import set_locale
    from infrasight.cli.platform_cmds import _demo_summary
    from infrasight.demo.seed import DEMO_ADMIN_EMAIL, DEMO_ORGANIZATION, DEMO_PASSWORD, SeedOutcome

    figures = {"channels": 9, "readings": 12_960, "days": 90, "captures": 3, "rules": 4}
    outcome = SeedOutcome(
        created=True,
        readings=12_960,
        captures=3,
        token="t",
        summary="",
        figures={**figures, "alarms": 2, "hazards": 3},
        work_orders={"closed after a passed verification": 1, "in progress": 1},
    )
    assert DEMO_ORGANIZATION == "InfraSight Demo"
    set_locale(locale)
    try:
        got = _demo_summary(outcome)
        again = _demo_summary(
            SeedOutcome(created=False, readings=0, captures=0, token="t", summary="")
        )
    finally:
        set_locale(None)
    assert got == said.format(email=DEMO_ADMIN_EMAIL, password=repr(DEMO_PASSWORD))
    assert DEMO_ADMIN_EMAIL in again
    if locale != "en":
        assert _english(got) == [] and _english(again) == []
