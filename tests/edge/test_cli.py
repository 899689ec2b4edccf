"""``infrasight edge status`` and the configuration checks, through Typer's runner."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from infrasight.cli.app import app
from infrasight.edge.items import EdgeReading, Priority
from infrasight.edge.queue import EdgeQueue

runner = CliRunner()


def _write_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "edge.toml"
    config.write_text(
        'server_url = "http://127.0.0.1:9"\ntoken = "isd_x"\n'
        f'queue_path = "{tmp_path / "queue.db"}"\n{extra}'
    )
    return config


def test_edge_status_reads_the_queue_file(tmp_path: Path) -> None:
    config = _write_config(tmp_path)
    queue = EdgeQueue(tmp_path / "queue.db")
    queue.put(
        [
            EdgeReading(channel="A", ts_us=1, value=1.0),
            EdgeReading(channel="A", ts_us=2, value=2.0, priority=Priority.ALARM),
        ]
    )
    queue.close()
    result = runner.invoke(app, ["edge", "status", "--config", str(config)])
    assert result.exit_code == 0, result.output
    status = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert (status["depth"], status["alarm_depth"], status["dead"]) == (2, 1, 0)
    assert status["disk_free_bytes"] > 0


def test_bad_configuration_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = _write_config(tmp_path, "batch_size = 0\n")
    result = runner.invoke(app, ["edge", "status", "--config", str(config)])
    assert result.exit_code == 2
    assert "batch_size" in result.output
    missing = runner.invoke(app, ["edge", "status", "--config", str(_write_config(tmp_path))])
    assert missing.exit_code == 2
    assert "no queue" in missing.output


def test_mqtt_run_needs_a_broker_url() -> None:
    result = runner.invoke(app, ["mqtt", "run"], env={"INFRASIGHT_MQTT_URL": ""})
    assert result.exit_code == 2
    assert "INFRASIGHT_MQTT_URL" in result.output


def test_light_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from infrasight.edge.__main__ import main

    config = _write_config(tmp_path)
    assert main(["status", "--config", str(config)]) == 2  # no queue yet
    EdgeQueue(tmp_path / "queue.db").close()
    assert main(["status", "--config", str(config)]) == 0
    assert orjson.loads(capsys.readouterr().out)["depth"] == 0


def test_edge_status_shows_the_cameras_the_agent_last_reported(tmp_path: Path) -> None:
    from infrasight.edge.agent import EdgeAgent
    from infrasight.edge.config import load_config

    config = _write_config(
        tmp_path,
        "\n[[cameras]]\n"
        f'name = "deck-1"\nsource = "{tmp_path / "no-such-folder"}"\ninterval_s = 10\n',
    )
    before = runner.invoke(app, ["edge", "status", "--config", str(config)])
    assert before.exit_code == 2  # no queue yet
    agent = EdgeAgent(load_config(config))
    agent.cameras.tick()  # one round of the camera thread
    agent.write_status()  # what the heartbeat thread does
    agent.stop()
    result = runner.invoke(app, ["edge", "status", "--config", str(config)])
    assert result.exit_code == 0, result.output
    status = orjson.loads(result.stdout.strip().splitlines()[-1])
    camera = status["cameras"]["deck-1"]
    assert camera["state"] == "error"
    assert "does not exist" in camera["error"]
    assert camera["frames"] == 0
    assert 0 <= status["agent_status_age_s"] < 60
    assert status["connected"] is False


def test_edge_status_without_a_running_agent_has_no_cameras(tmp_path: Path) -> None:
    config = _write_config(tmp_path)
    EdgeQueue(tmp_path / "queue.db").close()
    result = runner.invoke(app, ["edge", "status", "--config", str(config)])
    status = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert (status["cameras"], status["agent_status_age_s"]) == ({}, None)


def test_bad_camera_in_the_configuration_exits_2_naming_it(tmp_path: Path) -> None:
    config = _write_config(
        tmp_path, '\n[[cameras]]\nname = "c"\nsource = "usb:0"\nanalysis = "displacement"\n'
    )
    result = runner.invoke(app, ["edge", "status", "--config", str(config)])
    assert result.exit_code == 2
    assert "cameras.0" in result.output
    assert "displacement" in result.output
