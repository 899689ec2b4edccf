"""Passage search over the organisation's texts (inspection notes, work-order comments, the pages
of uploaded PDFs and of the generated reports).

Pure: documents are split into passages (paragraphs, then sentences, at most ``MAX_PASSAGE``
characters) and ranked by Okapi BM25 (k1 = 1.2, b = 0.75) on words for Latin script and on
character bigrams for Chinese. Given an embedding model (:mod:`infrasight.assistant.embedding`),
the passages are also ranked by the cosine similarity of their embedding to the question's,
and the two rankings are fused by reciprocal rank (Cormack et al., SIGIR 2009: 1 / (60 + rank)
summed): the words a question shares with a note still count, and a question in other words
or another language finds it too (``benchmarks/assistant_retrieval.py`` measures each way).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np

from infrasight.assistant.embedding import TextEmbedder

__all__ = [
    "Document",
    "Passage",
    "bm25_scores",
    "content_terms",
    "fuse_ranks",
    "relevance",
    "search_passages",
    "split_passages",
    "tokens",
]

MAX_PASSAGE = 400
RRF_K = 60  # reciprocal-rank fusion constant (Cormack et al. 2009)
Ranking = Literal["bm25", "embedding", "hybrid"]
_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
_HAN = re.compile(r"[\u4e00-\u9fff]+")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])")


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A text and where it comes from (e.g. ``inspection:4``, ``work_order:2#comment:7``,
    ``report:3``), with its title and 1-based page for paged documents (PDFs)."""

    source: str
    text: str
    title: str = ""
    page: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Passage:
    """A ranked passage of a document."""

    source: str
    text: str
    score: float
    title: str = ""
    page: int | None = None


def tokens(text: str) -> list[str]:
    """Lower-case words, and the characters and bigrams of Chinese runs."""
    lowered = text.lower()
    out = _WORD.findall(lowered)
    for run in _HAN.findall(lowered):
        out.extend(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


@dataclass(frozen=True, slots=True)
class Relevance:
    """When a passage is returned with the embedding model (``relevance.toml``)."""

    min_cosine: float
    sure_margin: float
    anchors: tuple[str, ...]
    stopwords: frozenset[str]


@cache
def relevance() -> Relevance:
    """The calibrated relevance rule of ``relevance.toml``."""
    data = tomllib.loads((Path(__file__).parent / "relevance.toml").read_text("utf-8"))
    return Relevance(
        min_cosine=float(data["min_cosine"]),
        sure_margin=float(data["sure_margin"]),
        anchors=tuple(data["anchors"]),
        stopwords=frozenset(w for words in data["stopwords"].values() for w in words),
    )


def content_terms(text: str) -> set[str]:
    """The terms of ``text`` that say what it is about: numbers, words of 3 letters or more and
    Chinese character bigrams, less the stop words of ``relevance.toml``."""
    out = set()
    for term in tokens(text):
        if _HAN.fullmatch(term):
            keep = len(term) == 2
        else:
            keep = term.replace(".", "").isdigit() or len(term) >= 3
        if keep and term not in relevance().stopwords:
            out.add(term)
    return out


def split_passages(document: Document) -> list[Document]:
    """The document's passages: paragraphs, cut at sentence ends to at most ``MAX_PASSAGE``
    characters; each keeps the document's source, title and page."""
    out: list[Document] = []

    def add(text: str) -> None:
        out.append(
            Document(source=document.source, text=text, title=document.title, page=document.page)
        )

    for paragraph in re.split(r"\n\s*\n", document.text):
        current = ""
        for sentence in _SENTENCE.split(" ".join(paragraph.split())):
            if current and len(current) + len(sentence) + 1 > MAX_PASSAGE:
                add(current)
                current = ""
            current = f"{current} {sentence}".strip() if current else sentence.strip()
        if current:
            add(current[: 4 * MAX_PASSAGE])
    return out


def bm25_scores(
    query: str, texts: Sequence[str], *, k1: float = 1.2, b: float = 0.75
) -> list[float]:
    """Okapi BM25 score of each text for ``query`` (0 where no term is shared)."""
    bags = [Counter(tokens(t)) for t in texts]
    if not bags:
        return []
    lengths = [sum(bag.values()) for bag in bags]
    mean_length = sum(lengths) / len(lengths) or 1.0
    frequency: Counter[str] = Counter()
    for bag in bags:
        frequency.update(bag.keys())
    n = len(bags)
    terms = set(tokens(query))
    scores: list[float] = []
    for bag, length in zip(bags, lengths, strict=True):
        score = 0.0
        for term in terms:
            tf = bag.get(term, 0)
            if not tf:
                continue
            idf = math.log(1.0 + (n - frequency[term] + 0.5) / (frequency[term] + 0.5))
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / mean_length))
        scores.append(score)
    return scores


def fuse_ranks(*rankings: Sequence[float], k: int = RRF_K) -> list[float]:
    """Reciprocal-rank fusion: for each item, the sum over ``rankings`` of 1 / (k + rank),
    rank 1 being the highest score; an item scored 0 or less in a ranking gets nothing from
    it. Ties share the better rank."""
    if not rankings:
        return []
    fused = [0.0] * len(rankings[0])
    for scores in rankings:
        order = sorted(set(s for s in scores if s > 0), reverse=True)
        rank_of = {s: r for r, s in enumerate(order, start=1)}
        for i, s in enumerate(scores):
            if s > 0:
                fused[i] += 1.0 / (k + rank_of[s])
    return fused


def search_passages(
    query: str,
    documents: Sequence[Document],
    *,
    limit: int = 5,
    embedder: TextEmbedder | None = None,
    ranking: Ranking = "hybrid",
) -> list[Passage]:
    """The ``limit`` passages of ``documents`` that best match ``query``.

    Without ``embedder`` (or with ``ranking`` "bm25"): BM25, passages scoring 0 left out.
    With one: by the cosine similarity of the embeddings ("embedding") or by both rankings
    fused ("hybrid", :func:`fuse_ranks`); the score is the cosine or the fused score, and a
    passage is left out unless its cosine exceeds the question's cosine to everyday sentences
    by the calibrated margin, or reaches the calibrated floor with a content word shared with
    ``query`` (:func:`relevance`): a question about nothing in the documents finds nothing.
    """
    passages = [p for d in documents for p in split_passages(d)]
    if not passages:
        return []
    texts = [p.text for p in passages]
    lexical = bm25_scores(query, texts)
    if embedder is None or ranking == "bm25":
        scores = lexical
        keep = [s > 0 for s in scores]
    else:
        rule = relevance()
        asked = embedder.embed([query], query=True)[0]
        cosine = embedder.embed(texts, query=False) @ asked
        # how much closer to the passage than to everyday sentences about nothing here
        baseline = float(np.max(embedder.embed(list(rule.anchors), query=False) @ asked))
        # shifted to (0, 2] so every passage takes part in the fusion
        semantic = [float(c) + 1.0 for c in np.clip(cosine, -0.999, 1.0)]
        scores = (
            [float(c) for c in cosine] if ranking == "embedding" else fuse_ranks(lexical, semantic)
        )
        words = content_terms(query)
        keep = [
            float(c) - baseline >= rule.sure_margin
            or (float(c) >= rule.min_cosine and bool(words & content_terms(t)))
            for c, t in zip(cosine, texts, strict=True)
        ]
    ranked = [
        Passage(source=p.source, text=p.text, score=s, title=p.title, page=p.page)
        for p, s, kept in zip(passages, scores, keep, strict=True)
        if kept
    ]
    ranked.sort(key=lambda p: (-p.score, p.source, p.page or 0))
    return ranked[:limit]
