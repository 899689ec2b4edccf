"""Cause inference: score each mechanism's evidence tests, rank, and turn scores into
calibrated confidences. Every point of a score comes from a test with its evidence."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from infrasight.reasoning.causes.features import Feature, compute_features
from infrasight.reasoning.causes.library import Mechanism, MechanismLibrary, Test
from infrasight.reasoning.causes.types import CauseResult, Inference, Observations
from infrasight.reasoning.evidence import Evidence, EvidenceKind

__all__ = ["infer_causes", "score_mechanism"]


UNKNOWN_POSITION = 0.75
"""Degree to which a defect with no recorded position on the element (a capture placed on the
element or asset only) matches a pattern that names a position: its kind and orientation
still point at the mechanism, less surely."""


def _defect_matches(obs: Observations, match: Mapping[str, object]) -> tuple[list[Evidence], float]:
    """Defects matching the pattern and the degree of the best match (1, or
    :data:`UNKNOWN_POSITION` when only the missing position kept it from matching; 0: none)."""
    out = []
    best = 0.0
    for d in obs.defects:
        ok, degree = True, 1.0
        for key, want in match.items():
            if key == "max_width_mm":
                ok = d.width_mm is not None and d.width_mm <= float(want)  # type: ignore[arg-type]
            elif key == "min_width_mm":
                ok = d.width_mm is not None and d.width_mm >= float(want)  # type: ignore[arg-type]
            elif key == "position" and not d.position:
                degree = UNKNOWN_POSITION
            else:
                ok = getattr(d, key) in want  # type: ignore[operator]
            if not ok:
                break
        if ok:
            best = max(best, degree)
            width = f", {d.width_mm:g} mm" if d.width_mm is not None else ""
            where = f" at {d.position}" if d.position else " (position on the element unknown)"
            out.append(
                Evidence(
                    kind=EvidenceKind.DEFECT,
                    ref=d.ref,
                    test="defect pattern",
                    detail=f"{d.orientation} {d.kind}{where}{width}".strip(),
                    value=d.width_mm,
                    unit="mm" if d.width_mm is not None else "",
                )
            )
    return out, best


def _context(obs: Observations, t: Test) -> tuple[float | None, str]:
    ctx = obs.context
    cond = t.condition or {}
    if t.field == "age_years":
        if ctx.age_years is None:
            return None, ""
        if "lt" in cond:
            return float(ctx.age_years < float(cond["lt"])), f"age {ctx.age_years:g} years"
        return float(ctx.age_years > float(cond["gt"])), f"age {ctx.age_years:g} years"
    if t.field == "exposure":
        if ctx.exposure is None:  # not recorded: unknown, not benign
            return None, ""
        return float(cond["contains"] in ctx.exposure), "exposure " + (
            ", ".join(sorted(ctx.exposure)) or "none"
        )
    if ctx.material is None:
        return None, ""
    return float(ctx.material == cond["equals"]), f"material {ctx.material}"


def score_mechanism(
    mech: Mechanism, obs: Observations, feats: Mapping[str, Feature]
) -> tuple[float, list[Evidence], list[Evidence]]:
    """Score of one mechanism and its evidence for and against.

    Each test gives an agreement ``g`` in [0, 1] (``None``: not testable, no effect) and adds
    ``weight_for * g - weight_against * (1 - g)`` to the mechanism's prior.
    """
    score = mech.prior
    ev_for: list[Evidence] = []
    ev_against: list[Evidence] = []
    for t in mech.tests:
        items: list[Evidence]
        if t.test == "signal":
            f = feats.get(t.feature)
            if f is None or f.value is None:
                continue
            g = f.value if t.expect == "high" else 1.0 - f.value
            items = list(f.evidence)
        elif t.test == "defect":
            items, g = _defect_matches(obs, t.match or {})
            if t.expect == "absent":  # a recorded pattern speaks against the mechanism
                g = 1.0 - g
            if not items:
                items = [
                    Evidence(
                        kind=EvidenceKind.ELEMENT,
                        ref=f"element:{obs.context.element_id}",
                        test="defect pattern",
                        detail=f"no defect matching {t.label.removesuffix(' absent')} recorded",
                    )
                ]
        else:
            value, detail = _context(obs, t)
            if value is None:
                continue
            g = value
            items = [
                Evidence(
                    kind=EvidenceKind.ELEMENT,
                    ref=f"element:{obs.context.element_id}",
                    test=t.label,
                    detail=detail,
                )
            ]
        contrib = t.weight_for * g - t.weight_against * (1.0 - g)
        score += contrib
        if contrib > 1e-9:
            ev_for.extend(_tag(items, t, contrib))
        elif contrib < -1e-9:
            ev_against.extend(_tag(items, t, contrib))
    return score, ev_for, ev_against


def _tag(items: list[Evidence], t: Test, contrib: float) -> list[Evidence]:
    return [
        Evidence(
            kind=e.kind,
            ref=e.ref,
            test=f"{t.label} ({contrib:+.2f})",
            detail=e.detail,
            value=e.value,
            unit=e.unit,
        )
        for e in items
    ]


def infer_causes(
    obs: Observations, library: MechanismLibrary, *, temperature: float | None = None
) -> Inference:
    """Rank the library's mechanisms for one element.

    Parameters
    ----------
    obs : Observations
    library : MechanismLibrary
    temperature : float, optional
        Softmax temperature; default the library's calibrated one.

    Returns
    -------
    Inference
        Causes sorted by confidence (softmax of the scores over the library, sums to 1).
    """
    feats = compute_features(obs)
    tau = library.temperature if temperature is None else temperature
    scored = []
    for mech in library.mechanisms.values():
        s, ev_for, ev_against = score_mechanism(mech, obs, feats)
        scored.append((mech, s, ev_for, ev_against))
    scores = np.array([s for _, s, _, _ in scored])
    z = (scores - scores.max()) / tau
    p = np.exp(z) / np.exp(z).sum()
    causes = [
        CauseResult(
            mechanism=m.id,
            name=m.name,
            damage=m.damage,
            hazard_kind=m.hazard_kind,
            confidence=float(pi),
            score=float(s),
            citation=m.citation,
            evidence_for=tuple(ef),
            evidence_against=tuple(ea),
        )
        for (m, s, ef, ea), pi in zip(scored, p, strict=True)
    ]
    causes.sort(key=lambda c: (-c.score, c.mechanism))
    return Inference(
        element_id=obs.context.element_id,
        causes=tuple(causes),
        features={k: f.value for k, f in feats.items()},
    )
