"""Pure core: units, time parsing, the event bus, the permission table, settings."""

from __future__ import annotations

import logging

import pytest

from infrasight.core.domain import Action, Role, role_allows
from infrasight.core.errors import InvalidInputError
from infrasight.core.events import CaptureStored, Event, EventBus, ReadingBatchStored
from infrasight.core.settings import Settings
from infrasight.core.timeparse import parse_time_us, us_to_datetime
from infrasight.core.units import check_unit_for_quantity, converter


@pytest.mark.parametrize(
    ("source", "target", "value", "expected"),
    [
        ("m", "mm", 1.5, 1500.0),
        ("mm", "m", 1500.0, 1.5),
        ("degF", "degC", 32.0, 0.0),
        ("degC", "K", 0.0, 273.15),
        ("ue", "dimensionless", 1e6, 1.0),
        ("µε", "microstrain", 5.0, 5.0),
        ("deg", "mrad", 1.0, 17.453292519943),
        ("g0", "m/s**2", 1.0, 9.80665),
        ("L/h", "L/min", 60.0, 1.0),
    ],
)
def test_converter_known_answers(source: str, target: str, value: float, expected: float) -> None:
    conv = converter(source, target)
    assert value * conv.scale + conv.offset == pytest.approx(expected)


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("kg", "mm", "not compatible"),
        ("bananas^", "mm", "unknown unit"),
        ("", "mm", "unknown unit"),
    ],
)
def test_converter_errors(source: str, target: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        converter(source, target)


def test_quantity_unit_check() -> None:
    check_unit_for_quantity("tilt", "arcsec")
    with pytest.raises(InvalidInputError, match="cannot measure tilt"):
        check_unit_for_quantity("tilt", "mm")


@pytest.mark.parametrize(
    ("text", "expected_us"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T01:00:00+01:00", 0),
        ("1970-01-01T00:00:01.000001", 1_000_001),
        ("2024-02-29T12:00:00Z", 1_709_208_000_000_000),
    ],
)
def test_parse_time(text: str, expected_us: int) -> None:
    assert parse_time_us(text) == expected_us
    assert parse_time_us(us_to_datetime(expected_us).isoformat()) == expected_us


def test_bus_delivers_by_type_and_survives_failing_listeners(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    batches: list[Event] = []
    everything: list[Event] = []

    def broken(_event: Event) -> None:
        raise RuntimeError("listener bug")

    bus.subscribe(Event, broken)
    bus.subscribe(ReadingBatchStored, batches.append)
    stop = bus.subscribe(Event, everything.append)
    batch = ReadingBatchStored(
        organization_id=1, channel_ids=(1,), start_us=0, end_us=0, accepted=1
    )
    with caplog.at_level(logging.ERROR):
        bus.publish(batch)
        bus.publish(CaptureStored(organization_id=1, capture_id=2, sha256="0" * 64))
    assert batches == [batch] and len(everything) == 2
    assert "listener bug" in caplog.text
    stop()
    bus.publish(batch)
    assert len(everything) == 2 and len(batches) == 2


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, {Action.READ}),
        (Role.INSPECTOR, {Action.READ, Action.FIELD_WORK}),
        (Role.ENGINEER, {Action.READ, Action.FIELD_WORK, Action.CONFIGURE}),
        (Role.ADMIN, set(Action)),
    ],
)
def test_permission_table(role: Role, allowed: set[Action]) -> None:
    assert {a for a in Action if role_allows(role, a)} == allowed


def test_settings_validate_and_default_to_sqlite(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve()}/infrasight.db"
    monkeypatch.setenv("INFRASIGHT_DATABASE_URL", "postgresql://u:p@db/x")
    assert Settings().effective_database_url == "postgresql+psycopg://u:p@db/x"
    monkeypatch.setenv("INFRASIGHT_DATABASE_URL", "mysql://nope")
    with pytest.raises(ValueError, match="sqlite:// or postgresql://"):
        Settings()
