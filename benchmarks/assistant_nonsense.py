"""Calibrate the document search's relevance floor: a question about nothing in the notes must
find nothing.

    python benchmarks/assistant_nonsense.py [--smoke] [--json]

With the embedding model every passage gets a cosine similarity, so a ranking alone returns
passages for any question; and multilingual-e5's cosines are compressed (0.75-0.86 for related
and unrelated texts alike), so no cosine floor alone tells them apart. The search keeps a
passage (``src/infrasight/assistant/relevance.toml``) when its cosine exceeds the question's
best cosine to a few everyday sentences (the anchors) by ``sure_margin``, or reaches
``min_cosine`` with a content word shared with the question
(:func:`infrasight.assistant.retrieval.content_terms`). This script measures, on generated data
only (not on the eval's questions):

- relevant: the questions of ``benchmarks/assistant_notes.toml`` (8 findings x 4 elements, in
  en, zh-Hans, zh-Hant, and across languages en -> zh-Hans and zh-Hans -> en) over their 32
  notes, as written and with the element number taken out (no shared number left): the
  relevant note's cosine and margin over the anchors, and the share found in the first 3
  (recall@3) under the rule;
- nonsense: generated questions about nothing in the notes (off-topic subjects in each
  language, filled from word lists with a seeded generator, and random letter and character
  strings): the best cosine and margin of any note, and the share for which the search returns
  nothing.

It prints both distributions, the share of each with a shared content word, and what the
search returns under the rule in use.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from assistant_retrieval import SCENARIOS, generated_notes

from infrasight.assistant.embedding import MISSING, shipped_embedder
from infrasight.assistant.retrieval import (
    Document,
    content_terms,
    relevance,
    search_passages,
)

_DATA = tomllib.loads((Path(__file__).with_suffix(".toml")).read_text("utf-8"))
SUBJECTS: dict[str, list[str]] = _DATA["subjects"]
FRAMES: dict[str, list[str]] = _DATA["frames"]
HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质"  # noqa: E501


def nonsense_questions(seed: int = 11) -> list[str]:
    """Off-topic questions in each language, and random letter and character strings."""
    rng = np.random.default_rng(seed)
    out = [
        frame.format(s=subject)
        for lang, subjects in SUBJECTS.items()
        for subject in subjects
        for frame in [FRAMES[lang][int(rng.integers(len(FRAMES[lang])))]]
    ]
    letters = "abcdefghijklmnopqrstuvwxyz"
    for _ in range(15):
        words = [
            "".join(letters[int(i)] for i in rng.integers(26, size=int(rng.integers(3, 9))))
            for _ in range(int(rng.integers(2, 6)))
        ]
        out.append(" ".join(words) + "?")
    for _ in range(15):
        out.append("".join(HAN[int(i)] for i in rng.integers(len(HAN), size=8)) + "？")
    return out


def _without_number(question: str) -> str:
    return re.sub(r"\s*\d+\s*[号號]?", "", question)


def _spread(values: list[float]) -> list[float]:
    """min, 2nd percentile, median, 98th percentile, max."""
    return [float(np.percentile(values, p)) for p in (0, 2, 50, 98, 100)]


def measure(*, smoke: bool = False) -> dict[str, Any]:
    """The relevant notes' and the nonsense questions' cosines and margins, and what the
    search returns for each under the rule of ``relevance.toml``; ``smoke``: 2 elements per
    finding and 20 nonsense questions, a run of seconds (no figure)."""
    embedder = shipped_embedder()
    if embedder is None:
        raise SystemExit(MISSING)
    rule = relevance()
    anchors = embedder.embed(list(rule.anchors), query=False)
    cases = generated_notes(2 if smoke else 4)
    out: dict[str, Any] = {"model": embedder.name, "min_cosine": rule.min_cosine,
                           "sure_margin": rule.sure_margin}  # fmt: skip
    for name, form in (("relevant", str), ("relevant_without_number", _without_number)):
        cosines: list[float] = []
        margins: list[float] = []
        shared = found = 0
        for asked, written in SCENARIOS:
            documents = [Document(source=c["id"], text=c["note"][written]) for c in cases]
            vectors = embedder.embed([d.text for d in documents], query=False)
            for i, case in enumerate(cases):
                question = form(case["query"][asked])
                q = embedder.embed([question], query=True)[0]
                cosines.append(float(vectors[i] @ q))
                margins.append(cosines[-1] - float(np.max(anchors @ q)))
                shared += bool(content_terms(question) & content_terms(documents[i].text))
                hits = search_passages(question, documents, limit=3, embedder=embedder)
                found += case["id"] in [p.source for p in hits]
        out[name] = {"questions": len(cosines), "cosine": _spread(cosines),
                     "margin": _spread(margins), "sharing_a_word": shared / len(cosines),
                     "recall@3": found / len(cosines)}  # fmt: skip
    cosines, margins = [], []
    shared = empty = 0
    for written in ("en", "zh-Hans", "zh-Hant"):
        documents = [Document(source=c["id"], text=c["note"][written]) for c in cases]
        vectors = embedder.embed([d.text for d in documents], query=False)
        for question in nonsense_questions()[: 20 if smoke else None]:
            q = embedder.embed([question], query=True)[0]
            cosines.append(float(np.max(vectors @ q)))
            margins.append(cosines[-1] - float(np.max(anchors @ q)))
            words = content_terms(question)
            shared += any(words & content_terms(d.text) for d in documents)
            empty += not search_passages(question, documents, limit=3, embedder=embedder)
    out["nonsense"] = {"questions": len(cosines), "cosine": _spread(cosines),
                       "margin": _spread(margins), "sharing_a_word": shared / len(cosines),
                       "no_passage": empty / len(cosines)}  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a run of seconds, no figure")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    r = measure(smoke=args.smoke)
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    print(f"embedding model: {r['model']}; rule: margin over the anchors >= "
          f"{r['sure_margin']}, or cosine >= {r['min_cosine']} with a shared "
          "content word")  # fmt: skip
    print(f"{'questions':<26}{'n':>5}  {'cosine min/p2/p50/p98/max':<32}"
          f"{'margin min/p2/p50/p98/max':<37}{'shared word':>12}{'found':>8}")  # fmt: skip
    for name in ("relevant", "relevant_without_number", "nonsense"):
        g = r[name]
        cos = "/".join(f"{v:.3f}" for v in g["cosine"])
        mar = "/".join(f"{v:+.3f}" for v in g["margin"])
        found = g["recall@3"] if "recall@3" in g else g["no_passage"]
        print(f"{name:<26}{g['questions']:>5}  {cos:<32}{mar:<37}"
              f"{100 * g['sharing_a_word']:>11.1f}%{100 * found:>7.1f}%")  # fmt: skip
    print("found: relevant, the note in the first 3 (recall@3); nonsense, no passage returned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
