"""The condition API in the reader's language: labels, clauses and evidence sentences that the
standards engines write as phrases, with their numbers, for every locale."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.platform import Platform
from tests.api.test_condition import _bridge, _crack
from tests.conftest import Tenant

_WORD = re.compile(r"[A-Za-z]{3,}")
#: Words a Chinese condition text may keep: standards' names and items, units, abbreviations.
_KEPT = {"MBEI", "AASHTO", "FHWA", "NBI", "CFR", "Coding", "Guide", "InfraSight"}


def _texts(body: dict[str, object]) -> list[str]:
    ratings = [*body["elements"], *body["groups"], body["summary"]]  # type: ignore[misc]
    out = []
    for r in ratings:
        out += [r["label"], r["clause"], *(e["detail"] for e in r["evidence"])]
    return out


def _condition(client: TestClient, aid: int, standard: str, headers: dict[str, str]) -> dict:
    got = client.get(
        f"/api/v1/assets/{aid}/condition", params={"standard": standard}, headers=headers
    )
    assert got.status_code == 200, got.text
    return got.json()  # type: ignore[no-any-return]


def test_mbei_and_nbi_read_in_simplified_chinese_with_their_numbers(
    client: TestClient, platform: Platform, tenant: Tenant
) -> None:
    aid, g1, _ = _bridge(client, tenant.headers(Role.ENGINEER))
    _crack(platform, tenant.organization_id, aid, g1, 0.5)
    zh = {**tenant.headers(Role.VIEWER), "Accept-Language": "zh-Hans"}
    mbei = _condition(client, aid, "aashto-mbei", zh)
    nbi = _condition(client, aid, "nbi", zh)
    for text in _texts(mbei) + _texts(nbi):
        assert [w for w in _WORD.findall(text) if w not in _KEPT] == [], text
    g = next(e for e in mbei["elements"] if e["subject"].endswith("G1"))
    # RC cracking 1130: 0.3048 <= 0.5 <= 1.27 mm -> CS2 (test_condition's known answer)
    assert [e["detail"] for e in g["evidence"]] == ["宽度（mm） = 0.5 → CS2"]
    assert g["evidence"][0]["message"] == {
        "key": "{measure!t} = {value:g} -> CS{state}",
        "params": {"measure": "width_mm", "value": 0.5, "state": 2},
    }
    assert g["label"] == "CS2 一般" and g["clause"].startswith("MBEI 2019 §4.2 缺陷 1130：")
    summary = mbei["summary"]
    assert summary["evidence"][0]["detail"] == f"构件 {g1} G1：CS2 一般"
    assert summary["clause"].endswith("：状况等级按构件报告；汇总 = 最差构件")
    groups = {c["subject"]: c for c in nbi["groups"]}
    sup = groups["component:superstructure"]  # one unit all in CS2 -> 6
    assert sup["label"] == "6 满意状况－结构构件有轻微劣化"
    assert "部件数量的 100.0% 处于 CS2" in [e["detail"] for e in sup["evidence"]]
    assert nbi["summary"]["label"] == "一般"
    assert "未评定（无构件）：桥面" in [e["detail"] for e in nbi["summary"]["evidence"]]


def test_english_is_unchanged_and_traditional_chinese_follows_the_user(
    client: TestClient, platform: Platform, tenant: Tenant
) -> None:
    aid, g1, _ = _bridge(client, tenant.headers(Role.ENGINEER))
    _crack(platform, tenant.organization_id, aid, g1, 0.5)
    headers = tenant.headers(Role.VIEWER)
    english = _condition(client, aid, "nbi", headers)
    sup = {c["subject"]: c for c in english["groups"]}["component:superstructure"]
    assert "100.0% of the component's quantity in CS2" in [e["detail"] for e in sup["evidence"]]
    assert sup["clause"].startswith("Coding Guide item 59 (Superstructure); ")
    assert client.patch("/api/v1/users/me", json={"locale": "zh-Hant"}, headers=headers).is_success
    own = _condition(client, aid, "aashto-mbei", headers)
    g = next(e for e in own["elements"] if e["subject"].endswith("G1"))
    assert [e["detail"] for e in g["evidence"]] == ["寬度（mm） = 0.5 → CS2"]
    assert g["label"] == "CS2 尚可"
    header_wins = _condition(client, aid, "aashto-mbei", {**headers, "Accept-Language": "en"})
    assert header_wins["summary"]["evidence"][0]["detail"] == f"element:{g1} G1 in CS2 Fair"


@pytest.mark.parametrize("locale", ["en", "zh-Hant", "zh-Hans"])
def test_no_elements_is_a_clear_error_in_any_language(
    client: TestClient, tenant: Tenant, locale: str
) -> None:
    asset = client.post(
        "/api/v1/assets", json={"name": "B2", "kind": "bridge"}, headers=tenant.headers()
    )
    got = client.get(
        f"/api/v1/assets/{asset.json()['id']}/condition",
        params={"standard": "nbi"},
        headers={**tenant.headers(Role.VIEWER), "Accept-Language": locale},
    )
    said = {
        "en": "no elements to rate",
        "zh-Hant": "沒有可評級的構件",
        "zh-Hans": "没有可评定的构件",
    }
    assert got.status_code == 422, got.text
    assert got.json() == {"detail": f"elements: {said[locale]}", "field": "elements"}


@pytest.mark.parametrize(
    ("locale", "lacks", "outside"),
    [
        (
            "en",
            "material: element {e} G1 lacks 'material', needed by aashto-mbei",
            "rating: 10 outside 0-9 for nbi",
        ),
        (
            "zh-Hant",
            "material: 構件 {e} G1 缺少「材料」，aashto-mbei 需要此項",
            "rating: 10 超出 nbi 的 0-9 範圍",
        ),
        (
            "zh-Hans",
            "material: 构件 {e} G1 缺少「材料」，aashto-mbei 需要此项",
            "rating: 10 超出 nbi 的 0-9 范围",
        ),
    ],
)
def test_rating_errors_read_in_the_callers_language_with_the_same_codes(
    client: TestClient, platform: Platform, tenant: Tenant, locale: str, lacks: str, outside: str
) -> None:
    eng = tenant.headers(Role.ENGINEER)
    aid = client.post("/api/v1/assets", json={"name": "B9", "kind": "bridge"}, headers=eng).json()[
        "id"
    ]
    eid = client.post(
        f"/api/v1/assets/{aid}/elements", json={"name": "G1", "kind": "girder"}, headers=eng
    ).json()["id"]  # no material: the crack cannot be rated under MBEI
    _crack(platform, tenant.organization_id, aid, eid, 0.5)
    h = {**eng, "Accept-Language": locale}
    got = client.get(
        f"/api/v1/assets/{aid}/condition", params={"standard": "aashto-mbei"}, headers=h
    )
    assert got.status_code == 422, got.text
    assert got.json() == {"detail": lacks.format(e=eid), "field": "material"}
    rated = client.post(
        f"/api/v1/assets/{aid}/ratings",
        json={
            "element_id": eid,
            "standard": "nbi",
            "rating": 10,
            "inspected_at": "2025-01-01T00:00:00Z",
        },
        headers=h,
    )
    assert rated.status_code == 422 and rated.json() == {"detail": outside, "field": "rating"}
