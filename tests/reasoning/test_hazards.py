"""Hazard lifecycle (row by row), risk matrix and evidence grouping."""

from __future__ import annotations

import pytest

from infrasight.reasoning.errors import OutOfRangeError, TransitionNotAllowedError
from infrasight.reasoning.evidence import Evidence, EvidenceKind
from infrasight.reasoning.hazards import (
    TRANSITIONS,
    ExistingHazard,
    HazardAction,
    HazardEvidence,
    HazardStatus,
    action_to,
    allowed_targets,
    apply_action,
    assess_risk,
    evidence_identity,
    group_evidence,
    load_risk_matrix,
)

S, A = HazardStatus, HazardAction

# every row of the table, and nothing else
ROWS = [
    (S.OPEN, A.ACKNOWLEDGE, S.ACKNOWLEDGED),
    (S.OPEN, A.MERGE, S.MERGED),
    (S.OPEN, A.NEW_EVIDENCE, S.OPEN),
    (S.OPEN, A.EVIDENCE_GONE, S.RESOLVED),
    (S.ACKNOWLEDGED, A.MITIGATE, S.MITIGATING),
    (S.ACKNOWLEDGED, A.RESOLVE, S.RESOLVED),
    (S.ACKNOWLEDGED, A.MERGE, S.MERGED),
    (S.ACKNOWLEDGED, A.NEW_EVIDENCE, S.ACKNOWLEDGED),
    (S.ACKNOWLEDGED, A.EVIDENCE_GONE, S.RESOLVED),
    (S.MITIGATING, A.RESOLVE, S.RESOLVED),
    (S.MITIGATING, A.MERGE, S.MERGED),
    (S.MITIGATING, A.NEW_EVIDENCE, S.MITIGATING),
    (S.RESOLVED, A.CLOSE, S.CLOSED),
    (S.RESOLVED, A.REOPEN, S.OPEN),
    (S.RESOLVED, A.NEW_EVIDENCE, S.OPEN),
]


@pytest.mark.parametrize(("state", "action", "to"), ROWS)
def test_allowed_rows(state: HazardStatus, action: HazardAction, to: HazardStatus) -> None:
    t = apply_action(state, action, "n")
    assert (t.from_status, t.action, t.to_status, t.note) == (state, action, to, "n")


def test_table_is_exactly_the_rows() -> None:
    assert dict(TRANSITIONS) == {(s, a): t for s, a, t in ROWS}


@pytest.mark.parametrize(
    ("state", "action"),
    [(s, a) for s in S for a in A if (s, a) not in {(r[0], r[1]) for r in ROWS}],
)
def test_forbidden_rows(state: HazardStatus, action: HazardAction) -> None:
    with pytest.raises(TransitionNotAllowedError) as info:
        apply_action(state, action)
    assert set(info.value.allowed) == {str(a) for (s, a) in TRANSITIONS if s is state}


def test_targets_for_the_api() -> None:
    assert action_to(S.OPEN, S.ACKNOWLEDGED) is A.ACKNOWLEDGE
    assert action_to(S.RESOLVED, S.OPEN) is A.REOPEN
    assert allowed_targets(S.OPEN) == (S.ACKNOWLEDGED, S.MERGED)  # evidence_gone: system only
    with pytest.raises(TransitionNotAllowedError):
        action_to(S.OPEN, S.RESOLVED)
    assert allowed_targets(S.CLOSED) == ()
    with pytest.raises(TransitionNotAllowedError, match="allowed: acknowledged, merged"):
        action_to(S.OPEN, S.CLOSED)


# risk: p = confidence x (0.5 + 0.5 q); levels at 0.05, 0.2, 0.5, 0.8;
# consequence = ceil((asset + element) / 2) + adjustment, clamped 1-5
RISK_ROWS = [
    # 0.9 x (0.5 + 0.4) = 0.81 -> L5; ceil(4.5) = 5 -> C5; 25 very high
    (0.9, 0.8, 4, 5, "structural", 5, 5, "very high"),
    # 0.95 -> L5; ceil(3) - 3 = 0 -> clamp 1; 5 medium
    (0.95, None, 3, 3, "maintenance", 5, 1, "medium"),
    # 0.6 x 0.6 = 0.36 -> L3; ceil(2.5) - 1 = 2; 6 medium
    (0.6, 0.2, 2, 3, "durability", 3, 2, "medium"),
    # 0.04 -> L1; ceil(1) = 1 -> 1 low
    (0.04, None, 1, 1, "structural", 1, 1, "low"),
    # 0.5 x 1.0 = 0.5 -> L4; ceil(3.5) = 4; 16 high
    (0.5, 1.0, 3, 4, "structural", 4, 4, "high"),
]


@pytest.mark.parametrize(("c", "q", "a", "e", "kind", "L", "C", "band"), RISK_ROWS)
def test_risk_matrix(
    c: float, q: float | None, a: int, e: int, kind: str, L: int, C: int, band: str
) -> None:
    r = assess_risk(
        load_risk_matrix(),
        cause_confidence=c,
        progression_probability=q,
        asset_criticality=a,
        element_criticality=e,
        hazard_kind=kind,
    )
    assert (r.likelihood, r.consequence, r.score, r.band) == (L, C, L * C, band)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"cause_confidence": 1.5}, "cause_confidence"),
        ({"asset_criticality": 0}, "asset_criticality"),
        ({"element_criticality": 6}, "element_criticality"),
        ({"hazard_kind": "vibes"}, "hazard_kind"),
        ({"progression_probability": -0.1}, "progression_probability"),
    ],
)
def test_risk_bad_input(kw: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "cause_confidence": 0.5,
        "progression_probability": None,
        "asset_criticality": 3,
        "element_criticality": 3,
        "hazard_kind": "structural",
    }
    args.update(kw)
    with pytest.raises(OutOfRangeError) as info:
        assess_risk(load_risk_matrix(), **args)  # type: ignore[arg-type]
    assert info.value.field == field


def _ev(ref: str) -> Evidence:
    return Evidence(kind=EvidenceKind.ALARM, ref=ref, test="alarm", detail="d")


def test_grouping_one_hazard_per_element_and_mechanism() -> None:
    items = [
        HazardEvidence(element_id="P2", mechanism="settlement", evidence=_ev("alarm:1")),
        HazardEvidence(element_id="P2", mechanism="settlement", evidence=_ev("alarm:2")),
        HazardEvidence(element_id="P2", mechanism="settlement", evidence=_ev("alarm:2")),
        HazardEvidence(element_id="G1", mechanism="sensor_fault", evidence=_ev("alarm:3")),
    ]
    plans = group_evidence(items)
    assert [
        (p.element_id, p.mechanism, p.hazard_id, [e.ref for e in p.new_evidence]) for p in plans
    ] == [
        ("P2", "settlement", None, ["alarm:1", "alarm:2"]),
        ("G1", "sensor_fault", None, ["alarm:3"]),
    ]
    existing = [
        ExistingHazard(
            hazard_id="7",
            element_id="P2",
            mechanism="settlement",
            status=S.RESOLVED,
            refs=frozenset({"alarm:1"}),
        ),
        ExistingHazard(
            hazard_id="8",
            element_id="G1",
            mechanism="sensor_fault",
            status=S.CLOSED,
            refs=frozenset({"alarm:3"}),
        ),
    ]
    plans = group_evidence(items, existing)
    p2 = next(p for p in plans if p.element_id == "P2")
    assert p2.hazard_id == "7" and [e.ref for e in p2.new_evidence] == ["alarm:2"]
    assert p2.transition is not None and p2.transition.to_status is S.OPEN
    g1 = next(p for p in plans if p.element_id == "G1")
    assert g1.hazard_id is None  # closed hazards are final: a new one opens
    # idempotent: evidence already held gives no plan
    held = [
        ExistingHazard(
            hazard_id="7",
            element_id="P2",
            mechanism="settlement",
            status=S.OPEN,
            refs=frozenset({"alarm:1", "alarm:2"}),
        )
    ]
    assert group_evidence(items[:3], held) == []


def _win(ref: str, test: str = "lasting change (+0.85)", value: float = 1.0) -> Evidence:
    return Evidence(
        kind=EvidenceKind.READING_WINDOW, ref=ref, test=test, detail=f"moved {value}", value=value
    )


def test_evidence_identity_ignores_window_and_contribution() -> None:
    a = _win("channel:SET[2026-01-03T04:00Z/..]", "lasting change (+0.85)")
    b = _win("channel:SET[2026-01-03T05:00Z/2026-02-01T00:00Z]", "lasting change (-0.10)")
    assert (
        evidence_identity(a)
        == evidence_identity(b)
        == (
            "reading_window",
            "channel:SET",
            "lasting change",
        )
    )


@pytest.mark.parametrize(
    ("incoming", "new", "updated", "reopened"),
    [
        # the same ongoing change, its value grown: refreshed in place, no reopening
        ("channel:SET[2026-01-03T04:00Z/..]", 0, 1, False),
        # its onset re-estimated a day later: the same change
        ("channel:SET[2026-01-04T04:00Z/..]", 0, 1, False),
        # a whole-period window (no start): the same item
        ("channel:SET[../..]", 0, 1, False),
        # a change ten days later on the same channel: new evidence reopens
        ("channel:SET[2026-01-13T04:00Z/..]", 1, 0, True),
        # another channel: new evidence
        ("channel:TILT[2026-01-03T04:00Z/..]", 1, 0, True),
    ],
)
def test_held_evidence_is_refreshed_not_added(
    incoming: str, new: int, updated: int, reopened: bool
) -> None:
    held = _win("channel:SET[2026-01-03T04:00Z/..]", value=1.0)
    hazard = ExistingHazard(
        hazard_id="7",
        element_id="P2",
        mechanism="settlement",
        status=S.RESOLVED,
        refs=frozenset({held.ref}),
        evidence=(held,),
    )
    item = HazardEvidence(
        element_id="P2",
        mechanism="settlement",
        evidence=_win(incoming, "lasting change (+0.9)", 2.0),
    )
    [plan] = group_evidence([item], [hazard])
    assert (len(plan.new_evidence), len(plan.updated_evidence)) == (new, updated)
    assert (plan.transition is not None) is reopened
    if updated:
        assert plan.updated_evidence[0][0] == held.ref
        assert plan.updated_evidence[0][1].value == 2.0
    # applied, the same item again is nothing to do (idempotent)
    now = plan.updated_evidence[0][1] if updated else plan.new_evidence[0]
    after = ExistingHazard(
        hazard_id="7",
        element_id="P2",
        mechanism="settlement",
        status=S.OPEN,
        refs=frozenset({now.ref} | ({held.ref} if new else set())),
        evidence=(now,) + ((held,) if new else ()),
    )
    assert (
        group_evidence(
            [HazardEvidence(element_id="P2", mechanism="settlement", evidence=now)], [after]
        )
        == []
    )


def test_a_held_item_named_exactly_is_not_claimed_by_a_similar_one() -> None:
    """Two held windows of one channel; the incoming items are one of them exactly (refreshed)
    and a window close to both (it must not rename the exactly named one: the service would
    then look up a link whose ref the first update had already changed)."""
    a = _win("channel:SET[2026-01-03T04:00Z/..]", value=1.0)
    b = _win("channel:SET[2026-01-04T04:00Z/..]", value=1.0)
    hazard = ExistingHazard(
        hazard_id="7",
        element_id="P2",
        mechanism="settlement",
        status=S.OPEN,
        refs=frozenset({a.ref, b.ref}),
        evidence=(b, a),
    )
    similar = _win("channel:SET[2026-01-03T12:00Z/..]", "lasting change (+0.9)", 2.0)
    exact = _win(b.ref, "lasting change (+0.9)", 3.0)
    [plan] = group_evidence(
        [
            HazardEvidence(element_id="P2", mechanism="settlement", evidence=similar),
            HazardEvidence(element_id="P2", mechanism="settlement", evidence=exact),
        ],
        [hazard],
    )
    olds = [old for old, _ in plan.updated_evidence]
    assert sorted(olds) == sorted([a.ref, b.ref])  # each held link updated once
    assert dict(plan.updated_evidence)[b.ref].value == 3.0
    assert dict(plan.updated_evidence)[a.ref].ref == similar.ref
    assert plan.new_evidence == ()
