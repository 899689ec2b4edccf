"""Sensor-fault classes (IPC-SHM 2020) and routing."""

from __future__ import annotations

import numpy as np
import pytest

from infrasight.signals import FaultClass, NotEnoughDataError, classify_window, route_anomalies
from infrasight.signals.simulate import fault_window


@pytest.mark.parametrize(("seed", "kind"), list(enumerate(FaultClass)))
def test_each_class_recognised(seed: int, kind: FaultClass) -> None:
    # a random-walk drift can honestly look like a trend now and then: 17 of 20 required
    rng = np.random.default_rng(seed)
    hits = sum(
        classify_window(fault_window(kind, rng), reference_std=1.0).label is kind for _ in range(20)
    )
    assert hits >= 17


def test_flat_without_reference_is_minor_and_short_window_raises() -> None:
    assert classify_window(np.full(200, 3.0)).label is FaultClass.MINOR
    with pytest.raises(NotEnoughDataError):
        classify_window(np.zeros(10))


def test_routing_separates_gauge_from_structure() -> None:
    rng = np.random.default_rng(0)
    normal = classify_window(fault_window(FaultClass.NORMAL, rng), reference_std=1.0)
    spiky = classify_window(fault_window(FaultClass.OUTLIER, rng), reference_std=1.0)
    r = route_anomalies({"a": spiky, "b": normal, "c": normal}, {"a": True})
    assert not r.structural and r.maintenance == ("a",)
    r2 = route_anomalies({"a": normal, "b": normal, "c": normal}, {"a": True, "b": True})
    assert r2.structural and r2.maintenance == ()
    r3 = route_anomalies({"a": normal, "b": normal}, {"b": True})
    assert not r3.structural and r3.maintenance == ("b",)
    assert route_anomalies({"a": normal}, {}).reason == "no change"
