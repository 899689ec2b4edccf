"""Cause inference on generated scenarios with known truth."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from infrasight.reasoning.causes import (
    ElementContext,
    Observations,
    infer_causes,
    load_mechanisms,
)
from infrasight.reasoning.causes.library import MechanismLibrary
from infrasight.reasoning.errors import DefinitionError
from infrasight.synthetic.scenarios import MECHANISMS, generate_scenario, generate_suite

STRUCTURAL = set(MECHANISMS) - {"thermal", "sensor_fault", "water_ingress"}


@pytest.fixture(scope="module")
def lib() -> MechanismLibrary:
    return load_mechanisms()


def test_library_has_every_mechanism_with_citation(lib: MechanismLibrary) -> None:
    assert set(lib.ids) == {*MECHANISMS, "stiffness_loss", "applied_load"}
    for m in lib.mechanisms.values():
        assert len(m.citation) > 20 and m.tests
    assert not lib.mechanisms["thermal"].damage
    assert lib.mechanisms["sensor_fault"].hazard_kind == "maintenance"
    assert 0.1 < lib.temperature < 10


def test_suite_accuracy_and_cross_confusions(lib: MechanismLibrary) -> None:
    # seeds 2000-2047 were not used for tuning (0-299)
    suite = generate_suite(48, 2000)
    tops = [infer_causes(s.observations, lib).top.mechanism for s in suite]
    truths = [s.truth.mechanism for s in suite]
    acc = np.mean([a == b for a, b in zip(truths, tops, strict=True)])
    assert acc >= 0.85
    for a, b in zip(truths, tops, strict=True):
        if a in STRUCTURAL:
            assert b != "sensor_fault"
        if a == "sensor_fault":
            assert not lib.mechanisms[b].damage
        if a == "thermal":
            assert not lib.mechanisms[b].damage


def test_settlement_explained_with_linkable_evidence(lib: MechanismLibrary) -> None:
    sc = generate_scenario("settlement", 7)
    inf = infer_causes(sc.observations, lib)
    assert inf.top.mechanism == "settlement"
    assert sum(c.confidence for c in inf.causes) == pytest.approx(1.0, abs=1e-9)
    assert inf.causes[0].confidence > inf.causes[1].confidence
    refs = [e.ref for e in inf.top.evidence_for]
    assert any(r.startswith("channel:SET-P2[") for r in refs)
    thermal = next(c for c in inf.causes if c.mechanism == "thermal")
    assert any("SET-P2" in e.ref for e in thermal.evidence_against)
    for c in inf.causes:
        for e in (*c.evidence_for, *c.evidence_against):
            assert e.ref.split(":")[0] in {"channel", "defect", "element", "driver"}
            assert e.test and e.detail


def test_thermal_only_is_no_damage(lib: MechanismLibrary) -> None:
    inf = infer_causes(generate_scenario("thermal", 11).observations, lib)
    assert inf.top.mechanism == "thermal" and not inf.top.damage
    assert inf.features["residual_change"] is not None and inf.features["residual_change"] < 0.5


def test_spiky_gauge_is_a_sensor_fault(lib: MechanismLibrary) -> None:
    seed = next(
        s for s in range(100, 400) if generate_scenario("sensor_fault", s).truth.fault == "spikes"
    )
    sc = generate_scenario("sensor_fault", seed)
    inf = infer_causes(sc.observations, lib)
    assert inf.top.mechanism == "sensor_fault"
    assert any(
        e.test.startswith("fault_signature") and sc.truth.faulty_channel in e.ref
        for e in inf.top.evidence_for
    )


def test_scenarios_are_reproducible() -> None:
    a = generate_scenario("corrosion", 5)
    b = generate_scenario("corrosion", 5)
    assert a.truth == b.truth
    np.testing.assert_array_equal(
        a.observations.channels[0].values, b.observations.channels[0].values
    )
    assert a.truth.onset_h is not None and 0.3 * 2160 < a.truth.onset_h < 0.7 * 2160
    with pytest.raises(ValueError, match="unknown 'rust'"):
        generate_scenario("rust", 1)


def test_bad_mechanism_file(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text(
        'id = "x"\nname = "x"\ndamage = true\nhazard_kind = "structural"\ncitation = "c"\n'
        'description = "d"\ntests = [{ test = "signal", feature = "vibes", expect = "high", '
        "for = 1.0, against = 1.0 }]\n"
    )
    with pytest.raises(DefinitionError, match="unknown feature 'vibes'"):
        load_mechanisms([tmp_path])


YONGHE = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "shm" / "yonghe"


@pytest.mark.skipif(not YONGHE.exists(), reason="../shared/datasets/shm/yonghe not present")
def test_yonghe_healthy_days_no_damage_damaged_day_structural(lib: MechanismLibrary) -> None:
    from scipy.io import loadmat

    from infrasight.reasoning.causes import ChannelData, ChannelRole, ElementContext, Observations

    F = np.asarray(loadmat(YONGHE / "Yonghe_Modal_FDD.mat")["freq_fdd"], dtype=np.float64).T
    kinds = {}
    for day in range(2, 10):  # the record up to the end of each day; damage on day 9
        t = np.arange(day * 24, dtype=np.float64)
        chans = tuple(
            ChannelData(key=f"M{k}", role=ChannelRole.FREQUENCY, times_h=t, values=F[: t.size, k])
            for k in range(4)
        )
        obs = Observations(context=ElementContext(element_id="deck"), times_h=t, channels=chans)
        kinds[day] = infer_causes(obs, lib).top.hazard_kind
    assert all(kinds[d] == "none" for d in range(2, 9)), kinds
    assert kinds[9] == "structural"


def _prefix(obs: Observations, end_h: float) -> Observations:
    chans = tuple(
        dataclasses.replace(
            c, times_h=c.times_h[c.times_h < end_h], values=c.values[c.times_h < end_h]
        )
        for c in obs.channels
    )
    m = obs.times_h < end_h
    return dataclasses.replace(
        obs,
        times_h=obs.times_h[m],
        channels=chans,
        drivers={k: v[m] for k, v in obs.drivers.items()},
    )


@pytest.mark.parametrize(("mechanism", "day"), [("shrinkage", 20), ("flexural_overload", 18)])
def test_rain_gain_on_a_dry_spell_is_no_evidence(
    lib: MechanismLibrary, mechanism: str, day: int
) -> None:
    # The last 40 % of these prefixes carries no rain: the fitted gain (8.65 and 89 against
    # 0.3) is noise; it used to make water ingress the top cause (what each streamed batch sees).
    sc = generate_scenario(mechanism, 1000 + MECHANISMS.index(mechanism), days=45)
    obs = dataclasses.replace(
        sc.observations, defects=(), context=ElementContext(element_id="x", material="rc")
    )
    inf = infer_causes(_prefix(obs, day * 24.0), lib)
    assert inf.features.get("moisture_rain_gain") is None
    assert inf.top.mechanism != "water_ingress"


def test_rain_gain_rise_with_rain_in_both_segments_is_evidence(lib: MechanismLibrary) -> None:
    sc = generate_scenario("water_ingress", 2008)
    inf = infer_causes(sc.observations, lib)
    gain = inf.features.get("moisture_rain_gain")
    assert gain is not None and gain > 0.9
    assert inf.top.mechanism == "water_ingress"


@pytest.mark.parametrize("seed", [1049, 1001])
def test_map_cracking_from_day_0_is_damage_at_the_first_inspection(
    lib: MechanismLibrary, seed: int
) -> None:
    # Shrinkage present from day 0 (tuning seeds): the gauges show no change against a start
    # that already holds it, so the cause rests on the inspection's map cracking. Ten days in
    # (what the first batch after the inspection sees) the top cause is a map-cracking damage
    # mechanism, no longer "thermal, no damage"; without the defect no map-cracking mechanism
    # is on top (1001 stays thermal; 1049's gauges, compensated to their noise with the
    # temperature's rate, show a 7-sigma change that reads as another slow mechanism).
    sc = generate_scenario("shrinkage", seed, days=45)
    assert [(d.kind, d.orientation) for d in sc.observations.defects] == [("crack", "map")]
    early = _prefix(sc.observations, 240.0)
    inf = infer_causes(early, lib)
    assert inf.top.mechanism in {"asr", "shrinkage"} and inf.top.damage
    thermal = next(c for c in inf.causes if c.mechanism == "thermal")
    assert any(e.kind == "defect" for e in thermal.evidence_against)
    bare = infer_causes(dataclasses.replace(early, defects=()), lib).top.mechanism
    assert bare not in {"asr", "shrinkage"}
    if seed == 1001:
        assert bare == "thermal"


def test_fine_flexural_cracks_do_not_count_against_thermal(lib: MechanismLibrary) -> None:
    sc = generate_scenario("thermal", 1000, days=45)
    assert [(d.orientation, d.position) for d in sc.observations.defects] == [
        ("transverse", "midspan_soffit")
    ]
    inf = infer_causes(sc.observations, lib)
    assert inf.top.mechanism == "thermal"
    thermal = inf.causes[0]
    assert not any(e.kind == "defect" for e in thermal.evidence_against)


def test_a_defect_test_expects_present_or_absent(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text(
        'id = "x"\nname = "x"\ndamage = true\nhazard_kind = "structural"\ncitation = "c"\n'
        'description = "d"\ntests = [{ test = "defect", expect = "rarely", match = { kind = '
        '["crack"] }, for = 1.0, against = 1.0 }]\n'
    )
    with pytest.raises(DefinitionError, match="present or absent"):
        load_mechanisms([tmp_path])


def test_a_defect_tests_label_reads_as_words() -> None:
    from infrasight.reasoning.causes.library import Test, load_mechanisms

    labels = {
        m.id: [t.label for t in m.tests if t.test == "defect"]
        for m in load_mechanisms().mechanisms.values()
    }
    assert "defect: crack, vertical or diagonal, pier or near_support" in labels["settlement"]
    assert "defect: crack, map or transverse, <= 0.3 mm" in labels["shrinkage"]
    assert labels["thermal"] == ["no defect: crack, map"]
    wide = Test(test="defect", weight_for=1.0, weight_against=0.0, match={"min_width_mm": 0.2})
    assert wide.label == "defect: >= 0.2 mm"
    assert all("=[" not in x and "['" not in x for xs in labels.values() for x in xs)
