"""Which tools to offer a small model for a question, by embedding similarity.

Pure: each tool is represented by its description and the example questions that need it
(``tool_examples.toml``); a question is offered the tools with the most similar example (the
largest cosine similarity of the embeddings, :mod:`infrasight.assistant.embedding`). No word
list is fitted to the questions, so wording the examples never used, or another language,
still finds its tools (``benchmarks/assistant_retrieval.py`` measures it on held-out wording).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import numpy as np

from infrasight.assistant.embedding import TextEmbedder

__all__ = ["route_by_embedding", "tool_examples"]


@cache
def tool_examples() -> dict[str, tuple[str, ...]]:
    """The packaged example questions, by tool name (``tool_examples.toml``)."""
    data = tomllib.loads((Path(__file__).parent / "tool_examples.toml").read_text("utf-8"))
    return {name: tuple(str(q) for q in questions) for name, questions in data.items()}


def route_by_embedding(
    question: str,
    descriptions: Mapping[str, str],
    embedder: TextEmbedder,
    limit: int,
    *,
    examples: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """The ``limit`` tools (of ``descriptions``, by name) whose description or example
    questions are most similar to ``question``, the most similar first (ties in the order of
    ``descriptions``).

    Parameters
    ----------
    question
        The user's question, in any language the model reads.
    descriptions
        Each tool's description, by name: the tools that can be offered.
    embedder
        The embedding model (texts are embedded as E5 queries: question against question).
    limit
        Most tools returned (all when <= 0).
    examples
        Example questions by tool name (default: :func:`tool_examples`); tools without any are
        represented by their description alone.
    """
    names = list(descriptions)
    if limit <= 0 or limit >= len(names):
        return names
    shown = tool_examples() if examples is None else examples
    owners: list[int] = []
    texts: list[str] = []
    for i, name in enumerate(names):
        for text in (descriptions[name], *shown.get(name, ())):
            owners.append(i)
            texts.append(text)
    similarity = embedder.embed(texts, query=True) @ embedder.embed([question], query=True)[0]
    best = np.full(len(names), -np.inf)
    np.maximum.at(best, np.asarray(owners), similarity)
    order = sorted(range(len(names)), key=lambda i: (-best[i], i))
    return [names[i] for i in order[:limit]]
