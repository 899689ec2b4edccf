"""Cause inference: score each mechanism's evidence tests, rank, and turn scores into
calibrated confidences. Every point of a score comes from a test with its evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from infrasight.core.phrases import N_, Phrase, phrase, phrase_list
from infrasight.reasoning.causes.features import Feature, compute_features
from infrasight.reasoning.causes.library import Mechanism, MechanismLibrary, Test
from infrasight.reasoning.causes.types import (
    CauseResult,
    DefectEvidence,
    Inference,
    Observations,
)
from infrasight.reasoning.evidence import Evidence, EvidenceKind

__all__ = ["infer_causes", "score_mechanism"]


UNKNOWN_POSITION = 0.75
"""Degree to which a defect with no recorded position on the element (a capture placed on the
element or asset only) matches a pattern that names a position: its kind and orientation
still point at the mechanism, less surely."""


#: The defect and material words the phrases translate (``{name!t}``), for extraction.
VOCABULARY = (
    N_("crack"),
    N_("spall"),
    N_("scaling"),
    N_("rust_staining"),
    N_("leakage"),
    N_("efflorescence"),
    N_("exposed_rebar"),
    N_("spalling"),
    N_("corrosion"),
    N_("transverse"),
    N_("diagonal"),
    N_("longitudinal"),
    N_("map"),
    N_("vertical"),
    N_("midspan_soffit"),
    N_("near_support"),
    N_("along_bar"),
    N_("pier"),
    N_("edge"),
    N_("weld_toe"),
    N_("joint"),
    N_("surface"),
    N_("rc"),
    N_("psc"),
    N_("steel"),
)


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
            out.append(
                Evidence(
                    kind=EvidenceKind.DEFECT,
                    ref=d.ref,
                    test=N_("defect pattern"),
                    phrase=_defect_phrase(d),
                    value=d.width_mm,
                    unit="mm" if d.width_mm is not None else "",
                )
            )
    return out, best


def _pattern_terms(t: Test) -> str:
    """A defect test's pattern as a list of words (``"crack, longitudinal, along_bar"``, each
    translated by ``{terms!t}``) and width bounds (``"<= 0.3 mm"``)."""
    match = t.match or {}
    terms: list[str] = []
    for key in ("kind", "orientation", "position"):
        want = match.get(key)
        terms += [str(w) for w in want] if isinstance(want, list | tuple) else []
    if "min_width_mm" in match:
        terms.append(f">= {float(match['min_width_mm']):g} mm")
    if "max_width_mm" in match:
        terms.append(f"<= {float(match['max_width_mm']):g} mm")
    return ", ".join(terms)


def _defect_phrase(d: DefectEvidence) -> Phrase:
    """The defect as a person reads it: orientation, kind, position, width (mm)."""
    if d.position and d.width_mm is not None:
        return phrase(
            "{orientation!t} {kind!t}, {position!t}, {width:g} mm",
            orientation=d.orientation,
            kind=d.kind,
            position=d.position,
            width=d.width_mm,
        )
    if d.position:
        return phrase(
            "{orientation!t} {kind!t}, {position!t}",
            orientation=d.orientation,
            kind=d.kind,
            position=d.position,
        )
    if d.width_mm is not None:
        return phrase(
            "{orientation!t} {kind!t} (position on the element unknown), {width:g} mm",
            orientation=d.orientation,
            kind=d.kind,
            width=d.width_mm,
        )
    return phrase(
        "{orientation!t} {kind!t} (position on the element unknown)",
        orientation=d.orientation,
        kind=d.kind,
    )


def _context(obs: Observations, t: Test) -> tuple[float | None, Phrase | None]:
    ctx = obs.context
    cond = t.condition or {}
    if t.field == "age_years":
        if ctx.age_years is None:
            return None, None
        age = phrase("age {age:g} years", age=ctx.age_years)
        if "lt" in cond:
            return float(ctx.age_years < float(cond["lt"])), age
        return float(ctx.age_years > float(cond["gt"])), age
    if t.field == "exposure":
        if ctx.exposure is None:  # not recorded: unknown, not benign
            return None, None
        found = float(cond["contains"] in ctx.exposure)
        if not ctx.exposure:
            return found, phrase("exposure none")
        return found, phrase("exposure {classes}", classes=", ".join(sorted(ctx.exposure)))
    if ctx.material is None:
        return None, None
    return float(ctx.material == cond["equals"]), phrase(
        "material {material!t}", material=ctx.material
    )


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
                        test=N_("defect pattern"),
                        phrase=phrase(
                            "no defect recorded matching: {terms!t}", terms=_pattern_terms(t)
                        ),
                    )
                ]
        else:
            value, said = _context(obs, t)
            if value is None:
                continue
            g = value
            items = [
                Evidence(
                    kind=EvidenceKind.ELEMENT,
                    ref=f"element:{obs.context.element_id}",
                    test_phrase=t.label_phrase,
                    phrase=said,
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
    score = phrase("({contribution:+.2f})", contribution=contrib)
    tagged = phrase_list(t.label_phrase, score, join=" ")
    return [replace(e, test=tagged.english(), test_phrase=tagged) for e in items]


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
