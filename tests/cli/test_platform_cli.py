"""The platform CLI as a user drives it: db upgrade, admin create, import readings, demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from infrasight.api.app import create_app
from infrasight.cli.app import app
from infrasight.core.settings import Settings
from infrasight.demo.seed import DEMO_ADMIN_EMAIL, DEMO_PASSWORD

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(folder))
    monkeypatch.delenv("INFRASIGHT_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return folder


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1].strip()


def api(data_dir: Path) -> TestClient:
    return TestClient(create_app(Settings(data_dir=data_dir, worker_threads=0)))


def test_admin_create_prints_a_working_token(data_dir: Path) -> None:
    result = runner.invoke(
        app, ["admin", "create", "--org", "Metro Ops", "--email", "ops@metro.example"]
    )
    assert result.exit_code == 0, result.output
    token = last_line(result.output)
    assert token.startswith("isu_")
    with api(data_dir) as client:
        me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "admin" and me["organization"] == "Metro Ops"
    again = runner.invoke(
        app, ["admin", "create", "--org", "Metro Ops", "--email", "ops@metro.example"]
    )
    assert again.exit_code == 1 and "already exists" in again.output


def _login(data_dir: Path, email: str, password: str) -> int:
    with api(data_dir) as client:
        answer = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    return answer.status_code


def test_admin_create_with_a_password(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(
        app,
        [
            "admin",
            "create",
            "--org",
            "M",
            "--email",
            "a@m.example",
            "--password",
            "sesame-street-42",
        ],
    )
    assert result.exit_code == 0, result.output
    assert last_line(result.output).startswith("isu_") and "password login enabled" in result.output
    assert _login(data_dir, "a@m.example", "sesame-street-42") == 200
    # From the environment (kept out of the shell history) ...
    monkeypatch.setenv("INFRASIGHT_ADMIN_PASSWORD", "from the environment")
    result = runner.invoke(app, ["admin", "create", "--org", "M", "--email", "b@m.example"])
    assert result.exit_code == 0, result.output
    assert _login(data_dir, "b@m.example", "from the environment") == 200
    monkeypatch.delenv("INFRASIGHT_ADMIN_PASSWORD")
    # ... or typed at a hidden prompt, twice.
    result = runner.invoke(
        app,
        ["admin", "create", "--org", "M", "--email", "c@m.example", "--ask-password"],
        input="typed at the prompt\ntyped at the prompt\n",
    )
    assert result.exit_code == 0, result.output
    assert "typed at the prompt" not in result.output
    assert _login(data_dir, "c@m.example", "typed at the prompt") == 200
    assert _login(data_dir, "c@m.example", "sesame-street-42") == 401


def test_admin_create_refuses_a_weak_password(data_dir: Path) -> None:
    result = runner.invoke(
        app, ["admin", "create", "--org", "W", "--email", "a@w.example", "--password", "short"]
    )
    assert result.exit_code == 2
    assert "password: must have at least 12 characters" in result.output
    with api(data_dir) as client:
        assert (
            client.post(
                "/api/v1/auth/login", json={"email": "a@w.example", "password": "short"}
            ).status_code
            == 401
        )  # nothing was written


def test_admin_password_resets_a_password(data_dir: Path) -> None:
    token = last_line(
        runner.invoke(app, ["admin", "create", "--org", "R", "--email", "a@r.example"]).output
    )
    assert _login(data_dir, "a@r.example", "recovered-at-last") == 401
    result = runner.invoke(
        app,
        ["admin", "password", "--org", "R", "--email", "a@r.example"],
        env={"INFRASIGHT_ADMIN_PASSWORD": "recovered-at-last"},
    )
    assert result.exit_code == 0, result.output
    assert _login(data_dir, "a@r.example", "recovered-at-last") == 200
    with api(data_dir) as client:
        audit = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {token}"}).json()
    assert [(e["actor"], e["action"]) for e in audit["items"]][:2] == [
        ("a@r.example", "login"),
        ("cli:admin", "set_password"),
    ]
    missing = runner.invoke(
        app,
        [
            "admin",
            "password",
            "--org",
            "R",
            "--email",
            "zz@r.example",
            "--password",
            "whatever-long",
        ],
    )
    assert missing.exit_code == 1 and "no user" in missing.output
    none = runner.invoke(app, ["admin", "password", "--org", "R", "--email", "a@r.example"])
    assert none.exit_code == 2 and "INFRASIGHT_ADMIN_PASSWORD" in none.output


def test_admin_create_rejects_bad_email(data_dir: Path) -> None:
    result = runner.invoke(app, ["admin", "create", "--org", "X", "--email", "nobody"])
    assert result.exit_code == 2
    assert "not an e-mail address" in result.output


def _site(data_dir: Path, token: str) -> int:
    h = {"Authorization": f"Bearer {token}"}
    with api(data_dir) as client:
        asset = client.post(
            "/api/v1/assets", json={"name": "Tunnel", "kind": "tunnel"}, headers=h
        ).json()
        element = client.post(
            f"/api/v1/assets/{asset['id']}/elements", json={"name": "R1", "kind": "ring"}, headers=h
        ).json()
        channel = client.post(
            "/api/v1/channels",
            json={
                "key": "R1-CONV",
                "quantity": "convergence",
                "unit": "mm",
                "element_id": element["id"],
            },
            headers=h,
        ).json()
    return int(channel["id"])


def test_import_readings_all_or_nothing(data_dir: Path, tmp_path: Path) -> None:
    token = last_line(
        runner.invoke(app, ["admin", "create", "--org", "T", "--email", "a@t.example"]).output
    )
    channel_id = _site(data_dir, token)
    good = tmp_path / "good.csv"
    lines = ["channel,time,value,unit"] + [
        f"R1-CONV,2024-01-01T{h:02d}:{m:02d}:00Z,{h + m / 60:.4f},mm"
        for h in range(24)
        for m in range(0, 60, 5)
    ]
    good.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["import", "readings", str(good)])
    assert result.exit_code == 0, result.output
    assert last_line(result.output) == '{"accepted": 288, "duplicates": 0}'
    repeat = runner.invoke(app, ["import", "readings", str(good)])
    assert last_line(repeat.output) == '{"accepted": 0, "duplicates": 288}'

    bad = tmp_path / "bad.csv"
    bad.write_text("R1-CONV,2024-02-01T00:00:00Z,1.0\nR1-CONV,2024-02-01T00:10:00Z,1.0,kg\n")
    failed = runner.invoke(app, ["import", "readings", str(bad)])
    assert failed.exit_code == 2
    assert "CSV row 2" in failed.output and "not compatible" in failed.output
    with api(data_dir) as client:
        series = client.get(
            f"/api/v1/channels/{channel_id}/readings", headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert sum(p["count"] for p in series["points"]) == 288  # nothing of bad.csv was written


def test_import_needs_an_existing_file(data_dir: Path) -> None:
    result = runner.invoke(app, ["import", "readings", "/no/such/file.csv"])
    assert result.exit_code == 2


def test_demo_seeds_once_and_prints_a_token(data_dir: Path) -> None:
    result = runner.invoke(app, ["demo", "--days", "2"])
    assert result.exit_code == 0, result.output
    token = last_line(result.output)
    h = {"Authorization": f"Bearer {token}"}
    with api(data_dir) as client:
        assets = client.get("/api/v1/assets", headers=h).json()
        assert {a["kind"] for a in assets["items"]} == {"bridge", "tunnel"}
        channels = client.get("/api/v1/channels", headers=h).json()
        assert channels["total"] >= 20
        settle = next(c for c in channels["items"] if c["key"] == "VD-P2-SETTLE")
        series = client.get(f"/api/v1/channels/{settle['id']}/readings", headers=h).json()
        assert sum(p["count"] for p in series["points"]) == 2 * 144
        captures = client.get("/api/v1/captures", headers=h).json()
        assert captures["total"] == 3
        image = client.get(f"/api/v1/captures/{captures['items'][0]['id']}/image", headers=h)
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        # The demo admin logs in with the documented password.
        login = client.post(
            "/api/v1/auth/login",
            json={"email": DEMO_ADMIN_EMAIL, "password": DEMO_PASSWORD},
        )
        assert login.status_code == 200 and login.json()["role"] == "admin"
    assert DEMO_PASSWORD in result.output
    again = runner.invoke(app, ["demo", "--days", "2"])
    assert again.exit_code == 0 and "already seeded" in again.output
    assert last_line(again.output).startswith("isu_")


def test_rules_and_alarms_commands(data_dir: Path, tmp_path: Path) -> None:
    token = last_line(
        runner.invoke(app, ["admin", "create", "--org", "T", "--email", "a@t.example"]).output
    )
    _site(data_dir, token)
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            [
                {
                    "id": "conv",
                    "channels": ["R1-CONV"],
                    "levels": [
                        {
                            "name": "amber",
                            "severity": 1,
                            "limits": [{"quantity": "value", "lower": -2.0}],
                        }
                    ],
                }
            ]
        )
    )
    added = runner.invoke(app, ["rules", "add", str(rules)])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["rules", "list"])
    assert "conv" in listed.output and "R1-CONV" in listed.output
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"id": "x", "channels": ["R1-CONV"], "levels": []}))
    refused = runner.invoke(app, ["rules", "add", str(broken)])
    assert refused.exit_code == 2 and "at least one level" in refused.output
    readings = tmp_path / "r.csv"
    readings.write_text("R1-CONV,2024-01-01T00:00:00Z,-1.0\nR1-CONV,2024-01-01T00:10:00Z,-2.5\n")
    assert runner.invoke(app, ["import", "readings", str(readings)]).exit_code == 0
    alarms = runner.invoke(app, ["alarms", "list", "--status", "active"])
    assert "conv" in alarms.output and "amber" in alarms.output
    acked = runner.invoke(app, ["alarms", "ack", "1", "--by", "duty engineer"])
    assert acked.exit_code == 0 and "acknowledged by duty engineer" in acked.output
    twice = runner.invoke(app, ["alarms", "ack", "1", "--by", "duty engineer"])
    assert twice.exit_code == 1 and "not active" in twice.output
