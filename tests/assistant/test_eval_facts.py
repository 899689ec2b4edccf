"""The assistant eval's fact check (``benchmarks/assistant_eval.py``) is strict: number tokens
read whole and compared at the expected fact's precision, so a label such as "Span 2" is not
the -2.13 mm the question asked for."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

EVAL = Path(__file__).resolve().parents[2] / "benchmarks" / "assistant_eval.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("assistant_eval", EVAL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("answer", "truth", "stated"),
    [
        ("Span 2 is fine.", {"latest_mean": -2.13}, False),  # a label, not the measurement
        ("Ring 103: latest -2.13 mm.", {"latest_mean": -2.13}, True),
        ("Ring 103: latest -2.134 mm.", {"latest_mean": -2.13}, True),
        ("Ring 103: about -2.1 mm.", {"latest_mean": -2.13}, False),  # not to 2 decimals
        ("Ring 103: 2.13 mm.", {"latest_mean": -2.13}, False),  # the sign is part of it
        ("VD-P2-SETTLE reads 0.4.", {"maximum": 2.0}, False),  # "P2" is a name
        ("13.6 mm a year.", {"growth_rate": 13.6}, True),
        ("13.64 mm a year.", {"growth_rate": 13.6}, True),
        ("Risk 12, within 30 days.", {"top_hazard_risk": 12, "top_urgency": 30}, True),
        ("Risk 12.4.", {"top_hazard_risk": 12}, False),  # a whole value: the same whole number
        ("settlement at pier 2", {"top_hazard_mechanism": "settlement"}, True),
        ("jacking underpinning", {"top_action": "jacking_underpinning"}, True),
    ],
)
def test_a_fact_is_stated_only_at_its_precision(
    bench: ModuleType, answer: str, truth: dict[str, object], stated: bool
) -> None:
    assert bench.facts_stated(answer, truth) is stated
