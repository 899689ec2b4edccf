"""The remediation catalogue, row by row: validation of the data files, activity inference and
the ranking (with urgency scaled by risk band) for known hazards."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrasight.reasoning.causes import load_mechanisms
from infrasight.reasoning.errors import DefinitionError
from infrasight.reasoning.remediation import (
    Activity,
    infer_activity,
    load_catalogue,
    recommend,
)

CAT = load_catalogue()


def test_catalogue_rows_are_complete_and_cite_a_source() -> None:
    assert len(CAT.actions) == 15
    lib = load_mechanisms()
    known = set(lib.mechanisms)
    for a in CAT.actions:
        assert a.mechanisms <= known, a.id
        assert a.source and a.effect and a.urgency_days >= 1
    # every damage mechanism and the sensor fault has at least one action (the no-damage
    # explanations, thermal response and applied load, open no hazard to act on)
    assert {m for m in known if lib.mechanisms[m].hazard_kind == "none"} == {
        "thermal",
        "applied_load",
    }
    for mech in known - {"thermal", "applied_load"}:
        assert any(mech in a.mechanisms for a in CAT.actions), mech
    assert set(CAT.urgency_factor) == {"low", "medium", "high", "very high"}


@pytest.mark.parametrize(
    ("mechanism", "band", "activity", "exposure", "expected"),
    [
        # ACI 224.1R: epoxy injection for dormant cracks, routing and sealing for active ones
        ("shrinkage", "medium", "dormant", (), [("epoxy_injection", 90), ("surface_sealing", 180)]),
        ("shrinkage", "medium", "active", (), [("routing_sealing", 60), ("surface_sealing", 180)]),
        # leaking: flexible grout first; urgency halved at band high
        (
            "water_ingress",
            "high",
            "leaking",
            (),
            [("flexible_grout_injection", 15), ("routing_sealing", 30), ("drainage_repair", 30)],
        ),
        # corrosion with chlorides: patch repair, then cathodic protection (EN 1504-9 P10)
        (
            "corrosion",
            "high",
            "active",
            ("chloride",),
            [("patch_repair", 45), ("cathodic_protection", 90), ("hydrophobic_impregnation", 182)],
        ),
        # no chlorides: cathodic protection and impregnation do not apply
        ("corrosion", "medium", "dormant", (), [("patch_repair", 90)]),
        (
            "settlement",
            "very high",
            "active",
            (),
            [
                ("jacking_underpinning", 15),
                ("monitoring_load_restriction", 2),
                ("bearing_replacement", 30),
            ],
        ),
        (
            "sensor_fault",
            "low",
            "active",
            (),
            [("sensor_repair", 28), ("sensor_recalibration", 60)],
        ),
        # stitching only at band high or above
        ("fatigue", "low", "active", (), [("routing_sealing", 120)]),
        ("stiffness_loss", "low", "leaking", (), []),
    ],
)
def test_ranking_row_by_row(
    mechanism: str,
    band: str,
    activity: str,
    exposure: tuple[str, ...],
    expected: list[tuple[str, int]],
) -> None:
    recs = recommend(
        CAT,
        mechanism=mechanism,
        band=band,
        activity=Activity(activity),
        exposure=frozenset(exposure),
    )
    assert [(r.action.id, r.urgency_days) for r in recs] == expected
    assert [r.rank for r in recs] == list(range(1, len(expected) + 1))


def test_unknown_band_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="'extreme'"):
        recommend(CAT, mechanism="shrinkage", band="extreme", activity=Activity.DORMANT)


@pytest.mark.parametrize(
    ("mechanism", "evidence", "defects", "expected"),
    [
        ("water_ingress", [], [], Activity.LEAKING),
        ("shrinkage", ["defect"], ["efflorescence"], Activity.LEAKING),
        ("settlement", ["reading_window", "alarm"], [], Activity.ACTIVE),
        ("stiffness_loss", ["modal_shift"], [], Activity.ACTIVE),
        ("shrinkage", ["defect"], ["crack"], Activity.DORMANT),
        ("shrinkage", [], [], Activity.DORMANT),
    ],
)
def test_activity_row_by_row(
    mechanism: str, evidence: list[str], defects: list[str], expected: Activity
) -> None:
    got = infer_activity(CAT, mechanism=mechanism, evidence_kinds=evidence, defect_kinds=defects)
    assert got is expected


def _write(folder: Path, actions: str, settings: str | None = None) -> Path:
    base = Path(__file__).parents[2] / "src/infrasight/reasoning/remediation/catalogue.toml"
    (folder / "catalogue.toml").write_text(settings if settings is not None else base.read_text())
    (folder / "a.toml").write_text(actions)
    return folder


GOOD = """
[[action]]
id = "x"
name = "X"
mechanisms = ["shrinkage"]
activity = ["dormant"]
priority = 1
urgency_days = 10
effect = "e"
source = "s"
"""


def test_a_custom_folder_loads(tmp_path: Path) -> None:
    cat = load_catalogue(_write(tmp_path, GOOD))
    assert [a.id for a in cat.actions] == ["x"]


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (GOOD.replace('activity = ["dormant"]', 'activity = ["sleepy"]'), "unknown activity"),
        (GOOD.replace("urgency_days = 10", "urgency_days = 0"), "'urgency_days' must be"),
        (GOOD.replace('source = "s"', ""), "missing \\['source'\\]"),
        (GOOD.replace('source = "s"', 'source = "s"\ncost = 3'), "unknown keys \\['cost'\\]"),
        (GOOD + 'bands = ["extreme"]', "unknown risk bands"),
        (GOOD + GOOD, "duplicate action ids \\['x'\\]"),
        ("[[action]\n", "remediation catalogue"),
        ('title = "t"\n' + GOOD, "only \\[\\[action\\]\\] tables"),
    ],
)
def test_bad_rows_are_rejected(tmp_path: Path, actions: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        load_catalogue(_write(tmp_path, actions))


def test_missing_settings_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="urgency_factor"):
        load_catalogue(_write(tmp_path, GOOD, settings="[activity]\n"))
    (tmp_path / "catalogue.toml").unlink()
    with pytest.raises(DefinitionError, match=r"catalogue\.toml missing"):
        load_catalogue(tmp_path)
