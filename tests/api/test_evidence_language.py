"""Evidence sentences in the reader's language: a hazard whose evidence the cause engine wrote
(message keys and numbers stored with it), read over HTTP in each locale; rows written before
phrases were stored keep their English text."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.reasoning.evidence import Evidence
from tests.conftest import Site, Tenant
from tests.helpers import LEGACY_DETAIL, engine_hazard

_WORD = re.compile(r"[A-Za-z]{3,}")


def _hazard(platform: Platform, tenant: Tenant, site: Site) -> tuple[int, list[Evidence]]:
    return engine_hazard(platform, tenant.organization_id, site.asset_id, site.element_id)


def _words(text: str, allowed: set[str]) -> list[str]:
    """English words of ``text`` other than the channel keys and units it cites."""
    return [w for w in _WORD.findall(text) if w not in allowed]


@pytest.mark.parametrize("header", ["zh-Hans", "zh-CN,zh;q=0.9,en;q=0.5"])
def test_evidence_reads_in_simplified_chinese_with_its_numbers(
    client: TestClient, platform: Platform, tenant: Tenant, site: Site, header: str
) -> None:
    hazard_id, cited = _hazard(platform, tenant, site)
    got = client.get(
        f"/api/v1/hazards/{hazard_id}",
        headers={**tenant.headers(Role.VIEWER), "Accept-Language": header},
    )
    assert got.status_code == 200, got.text
    body = got.json()
    allowed = {"SET", "CRK", "mm"}
    *phrased, legacy = body["evidence"]
    assert len(phrased) == len(cited) >= 4
    for item, source in zip(phrased, cited, strict=True):
        assert item["message"] == source.phrase.as_dict()  # the key and raw numbers as well
        assert _words(item["detail"], allowed) == [], item["detail"]
        assert re.search(r"[\u4e00-\u9fff]", item["detail"]), item["detail"]
    assert legacy["detail"] == LEGACY_DETAIL and legacy["message"] is None  # as stored
    details = [e["detail"] for e in phrased]
    # the settlement of the scenario (known answer, with the hourly temperature lags of #13)
    assert "SET-P2 位移 +9.621 mm（+108.2 倍标准差）" in details
    assert "CRK-2 约在同一时间变化 +30.0 倍标准差" in details
    assert "经温度补偿后，F1 偏移 -0.53%（-1.7 倍标准差）" in details
    assert "桥墩的竖向裂缝，0.86 mm" in details
    prediction = body["prediction"]  # its sentences too
    assert prediction["risk_basis"] == (
        "成因置信度 0.81 × (0.5 + 0.5 × 一年内恶化概率 0.35)；后果 = ceil((4 + 5) / 2) +0（结构）"
    )
    assert prediction["next"]["event"] == "状况等级 2 → 3（aashto_mbe）"
    assert prediction["next"]["years"] == 3.25
    assert [t["note"] for t in body["transitions"]] == ["由证据创建"]  # the engine's own note
    cause = body["causes"][0]  # the cause's own copy of its evidence, translated alike
    assert set(details) <= {e["detail"] for e in cause["evidence_for"]}
    assert all(not _words(e["detail"], allowed) for e in cause["evidence_for"])


def test_the_users_own_language_without_a_header_and_a_header_wins(
    client: TestClient, platform: Platform, tenant: Tenant, site: Site
) -> None:
    hazard_id, _top = _hazard(platform, tenant, site)
    headers = tenant.headers(Role.VIEWER)
    english = client.get(f"/api/v1/hazards/{hazard_id}", headers=headers).json()
    assert "SET-P2 moved +9.621 mm (+108.2 sigmas)" in [e["detail"] for e in english["evidence"]]
    assert english["prediction"]["risk_basis"] == (
        "cause confidence 0.81 x (0.5 + 0.5 P(progress within 1 year) 0.35); "
        "consequence ceil((4 + 5) / 2) +0 for structural"
    )
    assert english["prediction"]["next"]["event"] == "condition state 2 -> 3 (aashto_mbe)"
    assert client.patch("/api/v1/users/me", json={"locale": "zh-Hant"}, headers=headers).is_success
    own = client.get(f"/api/v1/hazards/{hazard_id}", headers=headers).json()
    assert "SET-P2 位移 +9.621 mm（+108.2 倍標準差）" in [e["detail"] for e in own["evidence"]]
    asked = client.get(
        f"/api/v1/hazards/{hazard_id}", headers={**headers, "Accept-Language": "en-GB"}
    ).json()
    assert "SET-P2 moved +9.621 mm (+108.2 sigmas)" in [e["detail"] for e in asked["evidence"]]
    unknown = client.get(
        f"/api/v1/hazards/{hazard_id}", headers={**headers, "Accept-Language": "fr, de;q=0.8"}
    ).json()
    assert unknown["evidence"] == own["evidence"]  # no shipped locale asked: the user's own
