"""`infrasight signals ...` through the public CLI."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from infrasight.cli.app import app
from infrasight.signals.simulate import modal_response

runner = CliRunner()


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def test_score_writes_rows_with_scores(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(0, 1, 600)
    v[400] += 20
    times = [f"2024-03-01T00:{i // 60:02d}:{i % 60:02d}" for i in range(600)]
    _write(
        tmp_path / "in.csv",
        ["ts", "strain", "note"],
        [[t, f"{x:.5f}", "ok"] for t, x in zip(times, v, strict=True)],
    )
    res = runner.invoke(
        app,
        [
            "signals",
            "score",
            str(tmp_path / "in.csv"),
            "--time-col",
            "ts",
            "--value-col",
            "strain",
            "--out",
            str(tmp_path / "out.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert len(rows) == 600 and rows[0]["note"] == "ok"
    s = np.array([float(r["anomaly_score"]) for r in rows])
    assert np.all((s >= 0) & (s <= 1)) and int(np.argmax(s)) == 400 and s[400] > 0.9


def test_score_with_temperature_compensation(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    t = np.arange(0, 20 * 86400, 1800.0)
    temp = 10 + 8 * np.sin(2 * np.pi * t / 86400)
    strain = -4.0 * np.interp(t - 7200, t, temp) + rng.normal(0, 0.3, t.size)
    strain[t > 15 * 86400] += 3.0  # hidden by a +-32 um/m thermal swing
    _write(
        tmp_path / "s.csv",
        ["t", "strain", "temp"],
        [[a, f"{b:.4f}", f"{c:.3f}"] for a, b, c in zip(t, strain, temp, strict=True)],
    )
    args = [
        "signals",
        "score",
        str(tmp_path / "s.csv"),
        "--time-col",
        "t",
        "--value-col",
        "strain",
        "--out",
        str(tmp_path / "o.csv"),
    ]
    raw = runner.invoke(app, args)
    assert raw.exit_code == 0, raw.output
    comp = runner.invoke(
        app,
        [
            *args[:-1],
            str(tmp_path / "c.csv"),
            "--driver-col",
            "temp",
            "--reference",
            "0.5",
            "--max-lag",
            "4h",
        ],
    )
    assert comp.exit_code == 0, comp.output
    assert "lag 2 h" in comp.output
    rows = list(csv.DictReader((tmp_path / "c.csv").open()))
    s = np.array([float(r["anomaly_score"]) for r in rows])
    k = int(np.searchsorted(t, 15 * 86400, side="right"))
    assert s[k] > 0.9  # the offset shows once temperature is removed
    assert np.mean(s[100:k] >= 0.5) < 0.01
    assert rows[0]["compensated"] == "" and s[0] == 0.0  # before the 2 h lag is covered
    res = np.array([float(r["compensated"] or "nan") for r in rows])
    assert abs(np.nanmedian(res[k + 10 :]) - np.nanmedian(res[:k]) - 3.0) < 0.15
    raw_rows = list(csv.DictReader((tmp_path / "o.csv").open()))
    # without compensation the learned daily cycle still reveals the step, less clearly
    assert float(raw_rows[k]["anomaly_score"]) < s[k]


def _score_args(src: Path, out: Path, *extra: str) -> list[str]:
    return [
        "signals",
        "score",
        str(src),
        "--time-col",
        "t",
        "--value-col",
        "v",
        "--out",
        str(out),
        *extra,
    ]


def test_score_takes_rows_as_loggers_write_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    t = np.arange(2000) * 60.0
    v = rng.normal(0.0, 1.0, t.size)
    v[1500] += 25.0
    rows: list[list[object]] = [[f"{a:g}", f"{b:.5f}"] for a, b in zip(t, v, strict=True)]
    rows.insert(1001, [f"{t[1000]:g}", "500"])  # repeated timestamp, another value
    rows.insert(1201, [f"{t[1200]:g}", f"{v[1200]:.5f}"])  # repeated, same value
    rows[300], rows[301] = rows[301], rows[300]  # out of order
    del rows[1700:1710]  # a 10-minute gap
    _write(tmp_path / "in.csv", ["t", "v"], rows)
    res = runner.invoke(app, _score_args(tmp_path / "in.csv", tmp_path / "mean.csv"))
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "2 repeated-timestamp rows merged (mean)" in text
    assert "1 out-of-order rows sorted" in text and "1 gaps" in text
    out = list(csv.DictReader((tmp_path / "mean.csv").open()))
    assert len(out) == len(rows)  # every input row, in file order
    assert [r["t"] for r in out] == [r[0] for r in rows]
    s = np.array([float(r["anomaly_score"]) for r in out])
    assert s[1000] == s[1001] and s[1000] > 0.9  # (v + 500) / 2 is far off
    assert s[1201] == s[1202]
    spike = next(i for i, r in enumerate(out) if r["t"] == f"{t[1500]:g}")
    assert s[spike] > 0.9
    res = runner.invoke(
        app, _score_args(tmp_path / "in.csv", tmp_path / "first.csv", "--duplicates", "first")
    )
    assert res.exit_code == 0 and "merged (first)" in " ".join(res.output.split())
    first = [float(r["anomaly_score"]) for r in csv.DictReader((tmp_path / "first.csv").open())]
    assert first[1001] < 0.5  # the first reading of that time was a normal one
    res = runner.invoke(
        app, _score_args(tmp_path / "in.csv", tmp_path / "x.csv", "--duplicates", "last")
    )
    assert res.exit_code == 2 and "--duplicates" in res.output
    assert not (tmp_path / "x.csv").exists()


def test_score_plot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = np.arange(3000) * 600.0
    v = np.sin(2 * np.pi * t / 86400) + np.random.default_rng(2).normal(0, 0.05, t.size)
    v[2500] += 3
    _write(tmp_path / "in.csv", ["t", "v"], [[a, f"{b:.4f}"] for a, b in zip(t, v, strict=True)])
    png = tmp_path / "s.png"
    res = runner.invoke(
        app, _score_args(tmp_path / "in.csv", tmp_path / "o.csv", "--plot", str(png))
    )
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the extra were missing
    res = runner.invoke(
        app, _score_args(tmp_path / "in.csv", tmp_path / "o2.csv", "--plot", str(png))
    )
    assert res.exit_code == 2 and "infrasight[plot]" in res.output
    assert not (tmp_path / "o2.csv").exists()


def test_score_bad_input_exit_2(tmp_path: Path) -> None:
    _write(tmp_path / "dup.csv", ["t", "v"], [[0, 1], [1, 2], [1, 3]])
    res = runner.invoke(
        app,
        [
            "signals",
            "score",
            str(tmp_path / "dup.csv"),
            "--time-col",
            "t",
            "--value-col",
            "nope",
            "--out",
            str(tmp_path / "o.csv"),
        ],
    )
    assert res.exit_code == 2 and "no column 'nope'" in res.output
    _write(tmp_path / "txt.csv", ["t", "v"], [[0, 1], [1, "abc"]])
    res = runner.invoke(
        app,
        [
            "signals",
            "score",
            str(tmp_path / "txt.csv"),
            "--time-col",
            "t",
            "--value-col",
            "v",
            "--out",
            str(tmp_path / "o.csv"),
        ],
    )
    assert res.exit_code == 2 and "row 2" in res.output
    assert not (tmp_path / "o.csv").exists()


def test_modal_json(tmp_path: Path) -> None:
    y, _ = modal_response(
        np.random.default_rng(1),
        n_samples=16384,
        frequencies_hz=(2.0, 6.5),
        damping_ratios=(0.01, 0.02),
        n_channels=3,
    )
    np.save(tmp_path / "rec.npy", y)
    res = runner.invoke(
        app,
        [
            "signals",
            "modal",
            str(tmp_path / "rec.npy"),
            "--fs",
            "100",
            "--json",
            "--max-order",
            "30",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    f = [m["frequency_hz"] for m in doc["modes"]]
    assert f == [pytest_approx(2.0), pytest_approx(6.5)]
    assert len(doc["modes"][0]["mode_shape"]) == 3
    assert 0.005 < doc["modes"][0]["damping_ratio"] < 0.02
    res = runner.invoke(app, ["signals", "modal", str(tmp_path / "rec.npy")])
    assert res.exit_code == 2 and "--fs" in res.output


def pytest_approx(x: float) -> object:
    import pytest

    return pytest.approx(x, rel=0.01)


def test_forecast_json_and_out(tmp_path: Path) -> None:
    t = np.arange(60) * 86400.0
    y = 0.2 + 0.01 * np.arange(60) + np.random.default_rng(2).normal(0, 0.002, 60)
    _write(tmp_path / "w.csv", ["t", "width"], [[a, b] for a, b in zip(t, y, strict=True)])
    res = runner.invoke(
        app,
        [
            "signals",
            "forecast",
            str(tmp_path / "w.csv"),
            "--time-col",
            "t",
            "--value-col",
            "width",
            "--limit",
            "1.0",
            "--horizon",
            "90d",
            "--json",
            "--out",
            str(tmp_path / "fc.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["slope_per_day"] == pytest_approx(0.01)
    # (1.0 - 0.79) / 0.01 = 21 days
    assert abs(doc["time_to_limit"]["eta_days"] - 21.0) < 1.0
    assert doc["time_to_limit"]["probability_by_horizon"] > 0.99
    assert len((tmp_path / "fc.csv").read_text().splitlines()) == 51
    res = runner.invoke(
        app,
        [
            "signals",
            "forecast",
            str(tmp_path / "w.csv"),
            "--time-col",
            "t",
            "--value-col",
            "width",
            "--horizon",
            "soon",
        ],
    )
    assert res.exit_code == 2


def test_rules_validate_and_evaluate(tmp_path: Path) -> None:
    rules = {
        "rules": [
            {
                "id": "crack-width",
                "channels": ["w1", "w2"],
                "combine": "any",
                "persistence_count": 2,
                "no_data_s": 7200,
                "levels": [
                    {"name": "amber", "severity": 1, "limits": [{"upper": 0.3}]},
                    {"name": "red", "severity": 2, "limits": [{"upper": 0.5, "hysteresis": 0.05}]},
                ],
            }
        ]
    }
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    res = runner.invoke(app, ["signals", "rules", "validate", str(tmp_path / "rules.json")])
    assert res.exit_code == 0 and "1 rule(s) valid" in res.output
    w1 = [0.1, 0.35, 0.36, 0.6, 0.62, 0.2, 0.2, 0.2]
    rows = [[i * 600, x, "" if i == 7 else 0.1] for i, x in enumerate(w1)]
    rows.append([7 * 600 + 9000, 0.1, 0.1])
    _write(tmp_path / "d.csv", ["time", "w1", "w2"], rows)
    res = runner.invoke(
        app,
        [
            "signals",
            "rules",
            "evaluate",
            str(tmp_path / "rules.json"),
            str(tmp_path / "d.csv"),
            "--time-col",
            "time",
            "--json",
            "--state-out",
            str(tmp_path / "state.json"),
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    kinds = [(e["kind"], e["level"], e["time"]) for e in doc["events"]]
    assert kinds[:4] == [
        ("raised", "amber", 1200.0),
        ("level_changed", "red", 2400.0),
        ("cleared", "normal", 3000.0),
        ("no_data", "no_data", 10800.0),
    ]
    assert ("data_resumed", "normal", 13200.0) in kinds
    state = json.loads((tmp_path / "state.json").read_text())
    assert "crack-width" in state["rules"]
    # the cleared rule alarm cannot be acknowledged; a second batch re-raises it
    res = runner.invoke(
        app,
        [
            "signals",
            "rules",
            "ack",
            str(tmp_path / "state.json"),
            "crack-width",
            "--by",
            "alice",
            "--time",
            "20000",
        ],
    )
    assert res.exit_code == 2 and "not active" in res.output
    _write(
        tmp_path / "d2.csv",
        ["time", "w1", "w2"],
        [[20000, 0.7, 0.1], [20600, 0.7, 0.1], [21000, 0.7, 0.1]],
    )
    res = runner.invoke(
        app,
        [
            "signals",
            "rules",
            "evaluate",
            str(tmp_path / "rules.json"),
            str(tmp_path / "d2.csv"),
            "--time-col",
            "time",
            "--json",
            "--state",
            str(tmp_path / "state.json"),
            "--state-out",
            str(tmp_path / "state.json"),
            "--escalate-after",
            "5min",
        ],
    )
    assert res.exit_code == 0, res.output
    kinds2 = [(e["kind"], e["level"], e["time"]) for e in json.loads(res.stdout)["events"]]
    assert kinds2 == [("re_raised", "red", 20600.0), ("escalated", "red", 20900.0)]
    res = runner.invoke(
        app,
        [
            "signals",
            "rules",
            "ack",
            str(tmp_path / "state.json"),
            "crack-width",
            "--by",
            "alice",
            "--time",
            "21100",
        ],
    )
    assert res.exit_code == 0, res.output
    ack = json.loads(res.stdout)
    assert ack["kind"] == "acknowledged" and ack["actor"] == "alice"
    state2 = json.loads((tmp_path / "state.json").read_text())
    assert state2["alarms"]["crack-width"]["status"] == "acknowledged"
    bad = dict(rules["rules"][0], levels=[])
    (tmp_path / "bad.json").write_text(json.dumps([bad]))
    res = runner.invoke(app, ["signals", "rules", "validate", str(tmp_path / "bad.json")])
    assert res.exit_code == 2 and "at least one level" in res.output


def test_changepoints_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    y = np.r_[rng.normal(0, 1, 200), rng.normal(5, 1, 200)]
    _write(tmp_path / "c.csv", ["t", "v"], [[i, x] for i, x in enumerate(y)])
    res = runner.invoke(
        app,
        [
            "signals",
            "changepoints",
            str(tmp_path / "c.csv"),
            "--time-col",
            "t",
            "--value-col",
            "v",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["row_indices"] == [200] and abs(doc["shifts"][0] - 5) < 0.5


def test_modal_and_forecast_plots(tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("matplotlib")
    y, _ = modal_response(
        np.random.default_rng(1),
        n_samples=16384,
        frequencies_hz=(2.0, 6.5),
        damping_ratios=(0.01, 0.02),
        n_channels=3,
    )
    np.save(tmp_path / "rec.npy", y)
    png = tmp_path / "stab.png"
    args = ["signals", "modal", str(tmp_path / "rec.npy"), "--fs", "100", "--max-order", "40"]
    res = runner.invoke(app, [*args, "--plot", str(png), "--json"])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    modes = json.loads(res.stdout)["modes"]
    assert [m["frequency_hz"] for m in modes] == [pytest_approx(2.0), pytest_approx(6.5)]
    lo, hi = modes[0]["frequency_ci_hz"]
    assert lo < 2.0 < hi and modes[0]["n_blocks"] >= 3
    bad = runner.invoke(app, [*args, "--plot", str(tmp_path / "stab.jpg")])
    assert bad.exit_code == 2 and "png" in bad.output
    assert not (tmp_path / "stab.jpg").exists()

    t = np.arange(90) * 86400.0
    e = np.clip(np.arange(90) - 30.0, 0, None)
    v = 0.06 * e * (1 + e / 60) + np.random.default_rng(3).normal(0, 0.05, 90)
    _write(tmp_path / "s.csv", ["t", "mm"], [[a, b] for a, b in zip(t, v, strict=True)])
    fc_png = tmp_path / "fc.png"
    fargs = ["signals", "forecast", str(tmp_path / "s.csv"), "--time-col", "t", "--value-col"]
    res = runner.invoke(app, [*fargs, "mm", "--limit", "10", "--plot", str(fc_png), "--json"])
    assert res.exit_code == 0, res.output
    assert fc_png.read_bytes()[:4] == b"\x89PNG"
    doc = json.loads(res.stdout)
    assert doc["model"] == "auto" and doc["selected_model"] == "onset"
    # 10 mm at e = 74.4 days: 15.4 days after the last reading (e = 59)
    assert abs(doc["time_to_limit"]["eta_days"] - 15.4) < 0.15 * 15.4
    res = runner.invoke(app, [*fargs, "mm", "--model", "seasonal"])
    assert res.exit_code == 2 and "--period" in res.output


def test_plot_without_matplotlib_names_the_extra(tmp_path: Path, monkeypatch: object) -> None:
    import sys

    import pytest

    mp = pytest.MonkeyPatch()
    mp.setitem(sys.modules, "matplotlib", None)
    try:
        t = np.arange(30) * 86400.0
        _write(tmp_path / "s.csv", ["t", "v"], [[a, 0.1 * a / 86400.0] for a in t])
        png = tmp_path / "fc.png"
        res = runner.invoke(
            app,
            [
                *("signals", "forecast", str(tmp_path / "s.csv"), "--time-col", "t"),
                *("--value-col", "v", "--plot", str(png)),
            ],
        )
    finally:
        mp.undo()
    assert res.exit_code == 2 and "infrasight[plot]" in res.output
    assert not png.exists()
