"""A Mosquitto broker per test (skipped, with the reason, when mosquitto is not installed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mqtt.broker import find_mosquitto, mosquitto


@pytest.fixture
def broker_port(tmp_path: Path) -> Iterator[int]:
    """The port of a fresh broker on 127.0.0.1."""
    if find_mosquitto() is None:
        pytest.skip("the mosquitto broker is not installed (apt-get install -y mosquitto)")
    with mosquitto(tmp_path / "broker") as port:
        yield port
