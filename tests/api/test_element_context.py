"""What the register knows about an element reaches the cause tests as known, what it does not
know as unknown: construction year (API field, validated), material, exposure class."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.reasoning.causes import infer_causes, load_mechanisms
from infrasight.services.hazards import element_context
from infrasight.storage.models import Element
from infrasight.synthetic.scenarios import generate_scenario
from tests.conftest import Site, Tenant

AT = int(datetime(2025, 7, 2, tzinfo=UTC).timestamp() * 1e6)  # mid-2025, data time


def test_construction_year_is_an_element_field(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    h = tenant.headers(Role.ENGINEER)
    url = f"/api/v1/assets/{site.asset_id}/elements"
    made = client.post(
        url, json={"name": "Span 1", "kind": "span", "construction_year": 1968}, headers=h
    )
    assert made.status_code == 201 and made.json()["construction_year"] == 1968
    plain = client.post(url, json={"name": "Span 2", "kind": "span"}, headers=h).json()
    assert plain["construction_year"] is None
    for bad in (1700, 2300, "1968", 1968.5):
        r = client.post(
            url, json={"name": "X", "kind": "span", "construction_year": bad}, headers=h
        )
        assert r.status_code == 422 and "construction_year" in r.text, bad
    eid = made.json()["id"]
    r = client.patch(f"/api/v1/elements/{eid}", json={"construction_year": 1750}, headers=h)
    assert r.status_code == 422 and "construction_year" in r.text
    assert client.get(f"/api/v1/elements/{eid}", headers=h).json()["construction_year"] == 1968
    r = client.patch(f"/api/v1/elements/{eid}", json={"construction_year": None}, headers=h)
    assert r.status_code == 200 and r.json()["construction_year"] is None  # back to unknown


def _element(**kw: object) -> Element:
    base: dict[str, object] = {"id": 3, "asset_id": 1, "name": "G", "kind": "girder"}
    return Element(**{"material": "", "exposure_class": "", **base, **kw})


def test_blank_register_fields_are_unknown_not_benign() -> None:
    ctx = element_context(_element(), AT)
    assert ctx.material is None and ctx.exposure is None and ctx.age_years is None
    ctx = element_context(
        _element(material="Steel", exposure_class="XC4 XF2", construction_year=2024), AT
    )
    assert ctx.material == "steel" and ctx.exposure == {"freeze_thaw"}
    assert ctx.age_years == pytest.approx(2025.5 - 2024.5, abs=0.01)
    ctx = element_context(_element(material="reinforced concrete", exposure_class="XC1"), AT)
    assert ctx.material == "rc" and ctx.exposure == frozenset()  # recorded: no chloride/frost
    assert element_context(_element(exposure_class="XD3"), AT).exposure == {"chloride"}
    assert element_context(_element(material="timber"), AT).material is None


def test_unknown_context_gives_no_evidence_against() -> None:
    sc = generate_scenario("freeze_thaw", 5003)
    lib = load_mechanisms()

    def context_items(exposure: frozenset[str] | None) -> list[str]:
        import dataclasses

        obs = dataclasses.replace(
            sc.observations,
            context=dataclasses.replace(sc.observations.context, exposure=exposure),
        )
        ft = next(c for c in infer_causes(obs, lib).causes if c.mechanism == "freeze_thaw")
        return [
            e.detail for e in (*ft.evidence_for, *ft.evidence_against) if "exposure" in e.detail
        ]

    assert context_items(None) == []  # not recorded: no test
    assert context_items(frozenset()) == ["exposure none"]  # recorded as benign: against
    assert context_items(frozenset({"freeze_thaw"})) == ["exposure freeze_thaw"]


def test_a_defect_row_s_recorded_position_reaches_the_cause_tests() -> None:
    from infrasight.services.hazards import _position
    from infrasight.storage.models import Defect

    def defect(geometry: dict[str, object], measurements: dict[str, object]) -> Defect:
        return Defect(kind="crack", geometry=geometry, measurements=measurements)

    assert _position(defect({"bbox": [1, 2, 3, 4], "position": "near_support"}, {})) == (
        "near_support"
    )
    assert _position(defect({}, {"position": " Midspan_Soffit "})) == "midspan_soffit"
    assert _position(defect({"position": "somewhere"}, {})) == ""  # not in the vocabulary
    assert _position(defect({}, {})) == ""


def test_a_recorded_orientation_wins_over_the_angle() -> None:
    from infrasight.services.hazards import _orientation

    assert _orientation({"orientation": "vertical", "angle_to_axis_deg": 10.0}) == "vertical"
    assert _orientation({"angle_to_axis_deg": 10.0}) == "longitudinal"
    assert _orientation({"orientation": "wobbly", "angle_to_axis_deg": 45.0}) == "diagonal"
    assert _orientation({"pattern": "map"}) == "map"
