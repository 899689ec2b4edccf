"""Passage search over inspection notes and work-order comments: BM25 ranking in English and
Chinese, and the ``search_documents`` tool scoped to the caller's organisation and role."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infrasight.assistant.replay import ReplayServer, replay, text_reply, tool_reply
from infrasight.assistant.retrieval import Document, search_passages, split_passages, tokens
from infrasight.core.domain import Role
from infrasight.platform import Platform
from tests.assistant.conftest import SECRET, World
from tests.conftest import Tenant

DOCS = [
    Document(source="inspection:1", text="Pier 2: new crack 0.3 mm wide at the bearing. Dry."),
    Document(source="inspection:2", text="Span 3 girder clean, no efflorescence."),
    Document(source="work_order:1#comment:1", text="2号桥墩支座处发现0.3毫米裂缝，已拍照。"),
    Document(
        source="work_order:1#comment:2", text="Drainage blocked near ring 103; water ingress."
    ),
]


def test_tokens_cover_words_and_chinese_bigrams() -> None:
    assert tokens("Pier 2 crack, 0.3 mm") == ["pier", "2", "crack", "0.3", "mm"]
    assert tokens("桥墩裂缝") == ["桥", "墩", "裂", "缝", "桥墩", "墩裂", "裂缝"]


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("crack at pier 2", "inspection:1"),
        ("桥墩裂缝", "work_order:1#comment:1"),
        ("water ingress drainage", "work_order:1#comment:2"),
        ("efflorescence", "inspection:2"),
    ],
)
def test_search_ranks_the_matching_passage_first(query: str, first: str) -> None:
    found = search_passages(query, DOCS)
    assert found[0].source == first
    assert all(a.score >= b.score for a, b in itertools.pairwise(found))


def test_nothing_matches_nothing_and_long_texts_are_split() -> None:
    assert search_passages("zebra", DOCS) == []
    assert search_passages("crack", []) == []
    long = Document(source="x", text=" ".join(["Sentence number one is here."] * 40))
    parts = split_passages(long)
    assert len(parts) > 1 and all(len(p.text) <= 400 for p in parts)


def test_search_documents_tool_is_scoped_and_its_numbers_are_cited(
    client: TestClient, platform: Platform, tenant: Tenant, other_tenant: Tenant, world: World
) -> None:
    h = tenant.headers(Role.ENGINEER)
    note = "Pier 2: new crack 0.3 mm wide at the bearing."
    assert (
        client.post(
            "/api/v1/inspections", json={"asset_id": world.asset_id, "notes": note}, headers=h
        ).status_code
        == 201
    )
    wo = client.post("/api/v1/work-orders", json={"hazard_id": world.hazard_id}, headers=h).json()
    client.post(
        f"/api/v1/work-orders/{wo['id']}/comments",
        json={"body": "Bearing crack photographed."},
        headers=h,
    )
    secret = {"asset_id": world.other_asset_id, "notes": f"{SECRET}: crack at pier 9 bearing."}
    assert (
        client.post(
            "/api/v1/inspections", json=secret, headers=other_tenant.headers(Role.ENGINEER)
        ).status_code
        == 201
    )
    responses: list[Any] = [
        tool_reply(("search_documents", {"query": "crack at the bearing"})),
        text_reply("Inspection notes report a crack 0.3 mm wide at the bearing."),
    ]
    with ReplayServer(replay(responses)) as server:
        platform.settings.llm_base_url, platform.settings.llm_model = server.url, "recorded"
        answer = client.post(
            "/api/v1/assistant/ask",
            json={"question": "Any cracks at the bearing?", "stream": False},
            headers=tenant.headers(Role.VIEWER),
        ).json()
        tool_message = next(m for m in server.requests[1]["messages"] if m["role"] == "tool")
        sent = json.loads(tool_message["content"])
    assert {p["source"] for p in sent} == {"inspection:1", f"work_order:{wo['id']}#comment:1"}
    assert SECRET not in json.dumps(sent) and SECRET not in answer["answer"]
    (cited,) = answer["citations"]
    assert (cited["text"], cited["tool"], cited["value"]) == ("0.3", "search_documents", note)
    assert cited["path"].endswith(".passage")
