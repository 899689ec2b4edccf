"""Passage search over the organisation's texts (inspection notes, work-order comments, the pages
of uploaded PDFs and of the generated reports).

Pure: documents are split into passages (paragraphs, then sentences, at most ``MAX_PASSAGE``
characters) and ranked by Okapi BM25 (k1 = 1.2, b = 0.75) on words for Latin script and on
character bigrams for Chinese, so a question in either script finds passages in it. This is a
lexical ranking: no embedding model is used (none that ships its weights in a registry package
and reads Chinese was found; see docs/assistant.md).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Document", "Passage", "search_passages", "split_passages", "tokens"]

MAX_PASSAGE = 400
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


def search_passages(
    query: str, documents: Sequence[Document], *, limit: int = 5, k1: float = 1.2, b: float = 0.75
) -> list[Passage]:
    """The ``limit`` passages of ``documents`` that best match ``query`` (BM25 > 0 only)."""
    passages = [p for d in documents for p in split_passages(d)]
    if not passages:
        return []
    bags = [Counter(tokens(p.text)) for p in passages]
    lengths = [sum(bag.values()) for bag in bags]
    mean_length = sum(lengths) / len(lengths) or 1.0
    frequency: Counter[str] = Counter()
    for bag in bags:
        frequency.update(bag.keys())
    n = len(passages)
    terms = set(tokens(query))
    ranked: list[Passage] = []
    for passage, bag, length in zip(passages, bags, lengths, strict=True):
        score = 0.0
        for term in terms:
            tf = bag.get(term, 0)
            if not tf:
                continue
            idf = math.log(1.0 + (n - frequency[term] + 0.5) / (frequency[term] + 0.5))
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / mean_length))
        if score > 0:
            ranked.append(
                Passage(
                    source=passage.source,
                    text=passage.text,
                    score=score,
                    title=passage.title,
                    page=passage.page,
                )
            )
    ranked.sort(key=lambda p: (-p.score, p.source, p.page or 0))
    return ranked[:limit]
