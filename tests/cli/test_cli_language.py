"""What the CLI prints for a person in the chosen language (``--lang``, ``INFRASIGHT_LANG`` or
the POSIX locale variables), in both Chinese locales; JSON output stays as it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from infrasight.api.app import create_app
from infrasight.cli.app import app
from infrasight.cli.common import console as cli_console
from infrasight.cli.i18n import locale_from_environment
from infrasight.core.settings import Settings
from tests.api.test_alarms import RULE
from tests.api.test_condition import _bridge

#: Known answers: the demo bridge under NBI and the settlement rule, per locale.
EXPECTED = {
    "zh-Hant": {
        "headers": ("對象", "條文"),
        "label": "良好",
        "rule": "VD-SETTLE：橙色（數值 > 3）；紅色（數值 > 5）",
        "error": "錯誤：",
        "unknown": "未知標準 'vibes'；已知標準：",
        "updated": "新增或變更的危害：無",
        "enabled": "已啟用",
    },
    "zh-Hans": {
        "headers": ("对象", "条文"),
        "label": "良好",
        "rule": "VD-SETTLE：橙色（数值 > 3）；红色（数值 > 5）",
        "error": "错误：",
        "unknown": "未知标准 'vibes'；已知标准：",
        "updated": "新增或变更的隐患：无",
        "enabled": "已启用",
    },
}


@pytest.fixture
def platform_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    for name in ("INFRASIGHT_DATABASE_URL", "INFRASIGHT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(data))
    monkeypatch.setenv("COLUMNS", "240")  # one table row per line
    # the CLI's console may have fixed its width when it was created (in the full suite it
    # wrapped at 80 columns), so the width is set on it as well
    monkeypatch.setattr(cli_console, "width", 240)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    made = runner.invoke(app, ["admin", "create", "--org", "Ops", "--email", "a@ops.example"])
    token = made.output.strip().splitlines()[-1].strip()
    with TestClient(create_app(Settings(data_dir=data, worker_threads=0))) as client:
        h = {"Authorization": f"Bearer {token}"}
        aid, _girder, pier = _bridge(client, h)
        device = client.post(
            "/api/v1/devices",
            json={"name": "DL-01", "kind": "datalogger", "asset_id": aid},
            headers=h,
        )
        assert device.status_code == 201, device.text
        channel = client.post(
            "/api/v1/channels",
            json={
                "key": "VD-SETTLE",
                "quantity": "settlement",
                "unit": "mm",
                "element_id": pier,
                "device_id": device.json()["id"],
            },
            headers=h,
        )
        assert channel.status_code == 201, channel.text
        rule = client.post("/api/v1/rules", json={"definition": RULE}, headers=h)
        assert rule.status_code == 201, rule.text
    return data


def _run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    got = CliRunner().invoke(app, args, env=env)
    return got.exit_code, got.output


@pytest.mark.parametrize(
    ("how", "locale"),
    [
        (["--lang", "zh-Hant"], "zh-Hant"),
        (["--lang", "zh-Hans"], "zh-Hans"),
        ({"INFRASIGHT_LANG": "zh-Hant"}, "zh-Hant"),
        ({"LANG": "zh_CN.UTF-8"}, "zh-Hans"),
        ({"LANG": "zh_HK.UTF-8"}, "zh-Hant"),
    ],
)
def test_the_cli_speaks_the_chosen_chinese(
    platform_dir: Path, how: list[str] | dict[str, str], locale: str
) -> None:
    said = EXPECTED[locale]
    flags, env = (how, None) if isinstance(how, list) else ([], how)
    code, out = _run([*flags, "condition", "B1", "--standard", "nbi"], env)
    assert code == 0, out
    assert all(h in out for h in said["headers"]) and said["label"] in out, out
    assert "subject" not in out and "Good" not in out
    code, out = _run([*flags, "condition", "B1", "--standard", "vibes"], env)
    assert code == 2 and said["error"] in out and said["unknown"] in out, out
    code, out = _run([*flags, "hazards", "update", "1"], env)
    assert code == 0 and said["updated"] in out, out
    # JSON for machines stays as it is: English labels, codes
    code, out = _run([*flags, "condition", "B1", "--standard", "nbi", "--json"], env)
    assert code == 0 and json.loads(out)["summary"]["label"] == "Good"


@pytest.mark.parametrize("locale", ["zh-Hant", "zh-Hans"])
def test_rule_summaries_in_the_cli(platform_dir: Path, locale: str) -> None:
    code, out = _run(["--lang", locale, "rules", "list"])
    assert code == 0, out
    assert EXPECTED[locale]["rule"] in out and EXPECTED[locale]["enabled"] in out, out


def test_english_by_default_and_a_bad_language_is_refused(platform_dir: Path) -> None:
    code, out = _run(["condition", "B1", "--standard", "nbi"])
    assert code == 0 and "subject" in out and "Good" in out, out
    code, out = _run(["--lang", "fr", "condition", "B1", "--standard", "nbi"])
    assert code == 2 and "unknown language 'fr'" in out, out


@pytest.mark.parametrize(
    ("environ", "locale"),
    [
        ({}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "zh_TW.UTF-8"}, "zh-Hant"),
        ({"LANG": "zh_SG"}, "zh-Hans"),
        ({"LC_ALL": "zh_HK.UTF-8", "LANG": "en_GB.UTF-8"}, "zh-Hant"),
        ({"INFRASIGHT_LANG": "zh-hans", "LANG": "zh_HK"}, "zh-Hans"),
        ({"INFRASIGHT_LANG": "klingon", "LANG": "zh_TW"}, "zh-Hant"),
    ],
)
def test_the_language_from_the_environment(environ: dict[str, str], locale: str) -> None:
    assert locale_from_environment(environ) == locale
