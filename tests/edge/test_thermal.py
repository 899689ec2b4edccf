"""CPU temperature from sysfs thermal zones."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrasight.edge.thermal import cpu_temperature_c


def test_hottest_readable_zone_in_celsius(tmp_path: Path) -> None:
    for name, text in [
        ("thermal_zone0", "41250\n"),
        ("thermal_zone1", "58500"),
        ("thermal_zone2", "n/a"),
    ]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "temp").write_text(text)
    assert cpu_temperature_c(tmp_path) == pytest.approx(58.5)


def test_none_where_nothing_is_readable(tmp_path: Path) -> None:
    assert cpu_temperature_c(tmp_path) is None
    (tmp_path / "thermal_zone0").mkdir()
    (tmp_path / "thermal_zone0" / "temp").write_text("hot")
    assert cpu_temperature_c(tmp_path) is None
