"""Builders shared by the API and web tests: an uploaded crack capture and a recorded hazard."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image

from infrasight.platform import Platform
from infrasight.reasoning.causes import infer_causes
from infrasight.reasoning.causes.library import load_mechanisms
from infrasight.reasoning.evidence import Evidence
from infrasight.reasoning.hazards.risk import assess_risk, load_risk_matrix
from infrasight.services.hazard_prediction import summarise
from infrasight.storage.models import Hazard, HazardEvidenceLink, HazardTransitionRecord
from infrasight.synthetic import RenderedCrackScene, render_crack_scene
from infrasight.synthetic.scenarios import generate_scenario

#: The detail of an evidence row written before phrases were stored (English only).
LEGACY_DETAIL = "Settlement grew 4.5 mm in two weeks"


def png(array: np.ndarray) -> bytes:
    """``array`` (an image) encoded as PNG."""
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def crack_scene() -> RenderedCrackScene:
    """One straight crack 0.3-0.6 mm wide on a 640 x 480 surface at 0.1 mm/px (seed 21)."""
    return render_crack_scene(
        branch_probability=0.0,
        width=640,
        height=480,
        seed=21,
        n_cracks=1,
        width_range_px=(3.0, 6.0),
        mm_per_px=0.1,
    )


def upload_crack_capture(
    client: TestClient,
    headers: Mapping[str, str],
    asset_id: int,
    *,
    element_id: int | None = None,
    time: datetime | None = None,
) -> tuple[Response, RenderedCrackScene]:
    """POST :func:`crack_scene` as a capture of ``asset_id`` (0.1 mm/px); the answer and scene."""
    scene = crack_scene()
    data = {"asset_id": str(asset_id), "mm_per_px": "0.1"}
    if element_id is not None:
        data["element_id"] = str(element_id)
    if time is not None:
        data["time"] = time.isoformat()
    answer = client.post(
        "/api/v1/captures",
        files={"file": ("wall.png", png(scene.image))},
        data=data,
        headers=dict(headers),
    )
    return answer, scene


def insert_hazard(
    platform: Platform,
    organization_id: int,
    asset_id: int,
    element_id: int | None,
    *,
    causes: Sequence[Mapping[str, Any]],
    evidence: Sequence[Mapping[str, Any]],
    band: str = "high",
    confidence: float = 0.8,
    note: str = "",
    prediction: Mapping[str, Any] | None = None,
) -> int:
    """An open settlement hazard (risk 16) as the engine writes one: evidence and an ``open``
    transition in the same transaction; its id."""
    with platform.database.transaction() as session:
        hazard = Hazard(
            organization_id=organization_id,
            asset_id=asset_id,
            element_id=element_id,
            mechanism="settlement",
            hazard_kind="structural",
            status="open",
            confidence=confidence,
            likelihood=4,
            consequence=4,
            risk=16,
            risk_band=band,
            causes=[dict(c) for c in causes],
            prediction=dict(prediction or {}),
        )
        session.add(hazard)
        session.flush()
        for item in evidence:
            session.add(HazardEvidenceLink(hazard_id=hazard.id, **item))
        session.add(
            HazardTransitionRecord(
                hazard_id=hazard.id,
                from_status="",
                action="open",
                to_status="open",
                note=note,
                actor="system",
            )
        )
        session.flush()
        return int(hazard.id)


def engine_hazard(
    platform: Platform, organization_id: int, asset_id: int, element_id: int | None
) -> tuple[int, list[Evidence]]:
    """A hazard holding what the cause engine infers for the settlement scenario (seed 7): its
    top cause and that cause's evidence (one per source, with the phrases), then one evidence
    row written before phrases were stored (:data:`LEGACY_DETAIL`). The hazard's id and the
    phrased evidence, in order."""
    top = infer_causes(generate_scenario("settlement", 7).observations, load_mechanisms()).top
    cited = list({e.ref: e for e in reversed(top.evidence_for)}.values())[::-1]  # one per ref
    evidence: list[dict[str, Any]] = [
        {
            "kind": str(e.kind),
            "ref": e.ref,
            "test": e.test,
            "detail": e.detail,
            "value": e.value,
            "unit": e.unit,
            "message": None if e.phrase is None else e.phrase.as_dict(),
        }
        for e in cited
    ]
    evidence.append(
        {"kind": "reading_window", "ref": "channel:OLD[..]", "test": "t", "detail": LEGACY_DETAIL}
    )
    risk = assess_risk(
        load_risk_matrix(),
        cause_confidence=0.81,
        progression_probability=0.35,
        asset_criticality=4,
        element_criticality=5,
        hazard_kind="structural",
    )
    condition = {
        "state": 2,
        "standard": "aashto_mbe",
        "expected_years_to_next": 3.25,
        "probability_within": {"30d": 0.02, "90d": 0.07, "365d": 0.35},
    }
    prediction = {
        "risk_basis": risk.basis,
        "risk_basis_message": None if risk.basis_phrase is None else risk.basis_phrase.as_dict(),
        "progression_probability_1y": 0.35,
        "next": summarise(condition, [], []),
    }
    hazard_id = insert_hazard(
        platform,
        organization_id,
        asset_id,
        element_id,
        causes=[top.as_dict()],
        evidence=evidence,
        prediction=prediction,
        note="opened from evidence",
    )
    return hazard_id, cited
