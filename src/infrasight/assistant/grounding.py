"""The answer check: every number in an answer must come from a tool result (or the question).

Pure: works on the answer text and the tool results as JSON values. A number in the answer is
*grounded* when some number in a tool result rounds to it at the precision the answer wrote
(``4.2`` is grounded by ``4.2317``, ``4.23`` not by ``4.2``; ``85 %`` by a fraction ``0.85``; a
bare whole number such as "Span 2" or "3 alarms" only by an equal whole value, never by a
measurement it rounds, such as -2.13 mm), in the arguments the tool
was called with ("the last 30 days"), or in the question; a date ``2026-11-30`` is grounded by a
tool result's time on that day. Each grounded number gets a citation (tool, arguments, where in
the result, the value); the others are *unsupported*.

The value must be the one the number claims, not an unrelated equal value
(``quantities.toml``):

- a number written with a unit (``4.2 mm``, ``30 天``) is grounded only by a value of that unit
  (the record's ``unit`` field, or the key: ``urgency_days``, ``rate_per_year``); never by an
  identifier, a count or a score, and a percentage only by a fraction or a ``%`` value;
- a number just after a quantity word ("maximum 4.2", "风险分数为12") is grounded only by a value
  of that quantity or of a key no quantity names: "maximum 2.1" is unsupported when 2.1 is only
  the minimum.

A bare number ("3 alarms") is grounded by any equal value, counts of listed records included.

:func:`remove_unsupported` takes the sentences holding an unsupported number out of an answer
(the assistant's default, ``assistant_grounding = "remove"``).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "Citation",
    "Grounding",
    "NumberMention",
    "RejectedClaim",
    "ToolEvidence",
    "check_grounding",
    "consulted_passages",
    "extract_numbers",
    "mark_unsupported",
    "passage_of",
    "remove_unsupported",
    "sentence_spans",
]

# a date first (kept whole), then a number not glued to a letter, digit or dot on its left
# (``P2`` in a channel key is a name, not a number); CJK characters are not letters here.
_DATE = r"(?P<date>\d{4}-\d{2}-\d{2})"
_NUM = r"(?P<num>[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?P<pct>\s?%)?"
_TOKEN = re.compile(rf"(?<![A-Za-z0-9_.\-]){_DATE}|(?<![A-Za-z0-9_.]){_NUM}")
_LIST_MARKER = re.compile(r"^[ \t]*(?P<n>\d+)[.)]\s", re.MULTILINE)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_CLAUSE_END = re.compile(r"[!?;:\n。！？；：]|\.(?!\d)")
_SENTENCE_END = re.compile(r"[!?;\n。！？；]+|\.(?!\d)")
QUANTITY_WINDOW = 40  # characters before a number searched for a quantity word


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    units: tuple[tuple[str, str], ...]  # alias, canonical: longest alias first
    length_mm: dict[str, float]
    key_units: dict[str, str]
    key_endings: tuple[tuple[str, str], ...]
    words: tuple[tuple[re.Pattern[str], str], ...]  # a quantity word's pattern, quantity
    key_quantity: dict[str, str]


@cache
def _vocabulary() -> _Vocabulary:
    data = tomllib.loads((Path(__file__).parent / "quantities.toml").read_text("utf-8"))
    words: list[tuple[re.Pattern[str], str]] = []
    key_quantity: dict[str, str] = {}
    for name, entry in data["quantity"].items():
        for word in entry["words"]:
            escaped = re.escape(word)
            pattern = rf"(?<![A-Za-z]){escaped}(?![A-Za-z])" if word.isascii() else escaped
            words.append((re.compile(pattern, re.IGNORECASE), name))
        key_quantity.update({key: name for key in entry["keys"]})
    aliases = sorted(data["unit_aliases"].items(), key=lambda kv: -len(kv[0]))
    return _Vocabulary(
        units=tuple(aliases),
        length_mm=dict(data["length_mm"]),
        key_units=dict(data["key_units"]),
        key_endings=tuple(data["key_endings"].items()),
        words=tuple(words),
        key_quantity=key_quantity,
    )


def _unit_after(text: str, end: int) -> str | None:
    """The canonical unit written right after a number ending at ``end`` (one space allowed)."""
    rest = text[end : end + 16]
    rest = rest[1:] if rest[:1] in (" ", "\u00a0") else rest
    for alias, unit in _vocabulary().units:
        if rest.startswith(alias):
            following = rest[len(alias) : len(alias) + 1]
            if alias.isascii() and alias[-1].isalpha() and following.isalpha():
                continue  # "5 more" is not 5 m
            return unit
    return None


def _quantity_before(text: str, start: int, floor: int) -> str | None:
    """The quantity named closest before ``start`` (not before ``floor`` nor a clause end)."""
    window_start = max(floor, start - QUANTITY_WINDOW)
    window = text[window_start:start]
    ends = list(_CLAUSE_END.finditer(window))
    if ends:
        window = window[ends[-1].end() :]
    best: tuple[int, int, str] | None = None
    for pattern, name in _vocabulary().words:
        for m in pattern.finditer(window):
            rank = (m.end(), m.end() - m.start(), name)
            if best is None or rank[:2] > best[:2]:
                best = rank
    return best[2] if best else None


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberMention:
    """A number (or date) written in the answer, with its place (character offsets)."""

    text: str
    start: int
    end: int
    value: float | None
    decimals: int
    percent: bool
    date: str | None
    #: The canonical unit written after it (``mm``, ``day``, ``%``, ...; see quantities.toml).
    unit: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolEvidence:
    """One tool call's result, as the check sees it."""

    tool: str
    arguments: dict[str, Any]
    result: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Citation:
    """Where a number of the answer comes from: a tool call and the value in its result."""

    text: str
    tool: str
    arguments: dict[str, Any]
    path: str
    value: Any
    #: The document passage the value is in (``source``, ``document``, ``page``, ``link``), when
    #: the tool result is a passage of a document search.
    passage: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = {
            "text": self.text,
            "tool": self.tool,
            "arguments": self.arguments,
            "path": self.path,
            "value": self.value,
        }
        if self.passage is not None:
            out["passage"] = self.passage
        return out


PASSAGE_KEYS = ("source", "document", "page", "link")
_STEP = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
MISSING = object()  # what ``path_child`` gives for a step the node does not have


def path_child(node: Any, index: str | None, key: str | None) -> Any:
    """One step of a result path (``a.b[2].c``): ``node[int(index)]`` of a list or ``node[key]``
    of a dict, or ``MISSING`` when the node has no such child."""
    if index is not None and isinstance(node, list) and int(index) < len(node):
        return node[int(index)]
    if key is not None and isinstance(node, dict) and key in node:
        return node[key]
    return MISSING


def path_steps(path: str) -> Iterator[tuple[str | None, str | None]]:
    """The (index, key) steps of a result path such as ``items[0].value``."""
    for match in _STEP.finditer(path):
        index, key = match.groups()
        yield index, key


def consulted_passages(evidence: Sequence[ToolEvidence]) -> list[dict[str, Any]]:
    """The document passages the tools returned (location only), each once, in call order."""
    out: list[dict[str, Any]] = []
    for item in evidence:
        records = item.result if isinstance(item.result, list) else []
        for record in records:
            if isinstance(record, dict) and "source" in record and "passage" in record:
                where = {k: record[k] for k in PASSAGE_KEYS if k in record}
                if where not in out:
                    out.append(where)
    return out


def passage_of(result: Any, path: str) -> dict[str, Any] | None:
    """Where the leaf at ``path`` of ``result`` comes from: the innermost record on the path that
    names a ``source`` and a ``passage`` (a document search hit), reduced to its location."""
    found: dict[str, Any] | None = None
    node = result
    for match in _STEP.finditer(path):
        if isinstance(node, dict) and "source" in node and "passage" in node:
            found = {k: node[k] for k in PASSAGE_KEYS if k in node}
        node = path_child(node, *match.groups())
        if node is MISSING:
            break
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Grounding:
    """The check's verdict on an answer."""

    mentions: tuple[NumberMention, ...]
    citations: tuple[Citation, ...]
    unsupported: tuple[NumberMention, ...] = field(default=())

    @property
    def grounded_share(self) -> float:
        """Share of the answer's numbers that are grounded (1.0 when it has none)."""
        if not self.mentions:
            return 1.0
        return 1.0 - len(self.unsupported) / len(self.mentions)


def extract_numbers(text: str) -> list[NumberMention]:
    """The numbers and ISO dates written in ``text`` (list markers such as ``1.`` excluded)."""
    markers = {m.start("n") for m in _LIST_MARKER.finditer(text)}
    out: list[NumberMention] = []
    for m in _TOKEN.finditer(text):
        if m.group("date"):
            out.append(
                NumberMention(
                    text=m.group("date"),
                    start=m.start(),
                    end=m.end(),
                    value=None,
                    decimals=0,
                    percent=False,
                    date=m.group("date"),
                )
            )
            continue
        raw = m.group("num")
        if m.start("num") in markers:
            continue
        plain = raw.replace(",", "").replace("−", "-")
        decimals = len(plain.partition(".")[2])
        percent = bool(m.group("pct"))
        out.append(
            NumberMention(
                text=m.group(0).strip(),
                start=m.start(),
                end=m.end(),
                value=float(plain),
                decimals=decimals,
                percent=percent,
                date=None,
                unit="%" if percent else _unit_after(text, m.end("num")),
            )
        )
    return out


_KEY = re.compile(r"([^.\[\]]+)(?:\[\d+\])*$")


def _key_of(path: str) -> str:
    m = _KEY.search(path)
    return m.group(1) if m else ""


def _leaf_unit(key: str, record_unit: str | None) -> str | None:
    vocab = _vocabulary()
    unit = vocab.key_units.get(key)
    if unit is None:
        unit = next((u for end, u in vocab.key_endings if key.endswith(end)), record_unit)
    if unit is not None and "{unit}" in unit:
        return unit.replace("{unit}", record_unit) if record_unit else None
    return unit


def _leaves(
    value: Any, path: str = "", unit: str | None = None
) -> Iterator[tuple[str, Any, str | None]]:
    """(path, leaf, unit of the leaf) of a JSON value; a list also gives its length (a count,
    ``len(path)``). A dict's ``unit`` field is the unit of its values and of those below."""
    if isinstance(value, dict):
        own = value.get("unit")
        unit = own if isinstance(own, str) and own else unit
        for key, item in value.items():
            if key == "unit":
                continue
            yield from _leaves(item, f"{path}.{key}" if path else str(key), unit)
    elif isinstance(value, list | tuple):
        yield f"len({path or 'result'})", len(value), "id"
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]", unit)
    else:
        yield path, value, _leaf_unit(_key_of(path), unit)


@dataclass(frozen=True, slots=True)
class _Known:
    value: float | None
    day: str | None
    evidence: ToolEvidence | None
    path: str
    original: Any
    unit: str | None = None
    quantity: str | None = None


def _known_values(evidence: Sequence[ToolEvidence], question: str) -> list[_Known]:
    known: list[_Known] = []
    key_quantity = _vocabulary().key_quantity
    for item in evidence:
        leaves = [*_leaves(item.result), *_leaves(item.arguments, "arguments")]
        for path, leaf, unit in leaves:
            if isinstance(leaf, bool) or leaf is None:
                continue
            if isinstance(leaf, int | float):
                if math.isfinite(float(leaf)):
                    quantity = key_quantity.get(_key_of(path))
                    known.append(_Known(float(leaf), None, item, path, leaf, unit, quantity))
            elif isinstance(leaf, str):
                for day in _ISO_DAY.findall(leaf):
                    known.append(_Known(None, day, item, path, leaf))
                for mention in extract_numbers(leaf):
                    if mention.value is not None:
                        known.append(_Known(mention.value, None, item, path, leaf, mention.unit))
    for mention in extract_numbers(question):
        known.append(
            _Known(mention.value, mention.date, None, "question", mention.text, mention.unit)
        )
    return known


def _in_unit(mention: NumberMention, known: _Known) -> list[float]:
    """``known``'s value in the unit ``mention`` was written in (none when the units differ)."""
    assert known.value is not None
    value, have, want = abs(known.value), known.unit, mention.unit
    if want is None:
        return [value]
    if want == "%":
        return [value * 100.0] if have == "1" else [value] if have == "%" else []
    if have is None or have in ("id", "score", "1"):
        return []
    if have == want:
        return [value]
    lengths = _vocabulary().length_mm
    if have in lengths and want in lengths:
        return [value * lengths[have] / lengths[want]]
    if have.endswith("/year") and have.removesuffix("/year") == want:
        return [value]  # a rate written with its length only ("每年沉降13.4毫米")
    return []


def _matches(mention: NumberMention, known: _Known) -> bool:
    if mention.date is not None:
        return known.day == mention.date
    if known.value is None or mention.value is None:
        return False
    target = abs(mention.value)
    if mention.decimals == 0 and mention.unit is None:
        # a bare whole number ("Span 2", "3 alarms", "risk 16") is an id, a label, a count or a
        # score: only an equal whole value grounds it, never a measurement it rounds (-2.13 mm)
        return any(c == target for c in _in_unit(mention, known))
    # the tool's value as the answer wrote it: rounded to the answer's decimals (4.2 for
    # 4.2317), in the answer's unit; never more digits than the tool gave (4.23 for 4.2)
    half_step = 0.5 * 10.0 ** (-mention.decimals) + 1e-9
    return any(abs(c - target) <= half_step for c in _in_unit(mention, known))


def _preference(mention: NumberMention, known: _Known, quantity: str | None) -> tuple[Any, ...]:
    """Sort key of the values that ground ``mention``: the named quantity, then the same unit,
    then a measured value before an argument or the question, then the closest value."""
    if mention.value is None or known.value is None:
        return (0, 0, 0, 0.0)
    distance = min((abs(c - abs(mention.value)) for c in _in_unit(mention, known)), default=0.0)
    return (
        quantity is None or known.quantity != quantity,
        known.unit != mention.unit,
        known.evidence is None or known.path.startswith("arguments"),
        distance,
    )


def check_grounding(
    answer: str,
    evidence: Sequence[ToolEvidence],
    *,
    question: str = "",
    fallback: Sequence[ToolEvidence] = (),
) -> Grounding:
    """Cite every number of ``answer`` from ``evidence`` (or ``question``); list the rest.

    Parameters
    ----------
    answer
        The model's answer text.
    evidence
        The results of the tool calls made for it, in call order.
    question
        The user's question: its own numbers ("pier 2") need no tool.
    fallback
        Results that ground a number only when ``evidence`` does not (the context's listings,
        which the model read but did not ask for).
    """
    mentions = extract_numbers(answer)
    known = _known_values(evidence, question)
    spare = _known_values(fallback, "") if fallback else []
    citations: list[Citation] = []
    unsupported: list[NumberMention] = []
    floor = 0
    for mention in mentions:
        quantity = _quantity_before(answer, mention.start, floor) if mention.date is None else None
        floor = mention.end
        hits: list[_Known] = []
        for values in (known, spare):
            hits = [k for k in values if _matches(mention, k)]
            if quantity is not None:  # another named quantity, an id or a count is not the one
                hits = [
                    k
                    for k in hits
                    if k.quantity == quantity or (k.quantity is None and k.unit != "id")
                ]
            if hits:
                break
        hit = min(hits, key=lambda k: _preference(mention, k, quantity)) if hits else None
        if hit is None:
            unsupported.append(mention)
        elif hit.evidence is None:
            citations.append(
                Citation(
                    text=mention.text, tool="question", arguments={}, path="", value=hit.original
                )
            )
        else:
            citations.append(
                Citation(
                    text=mention.text,
                    tool=hit.evidence.tool,
                    arguments=hit.evidence.arguments,
                    path=hit.path,
                    value=hit.original,
                    passage=passage_of(hit.evidence.result, hit.path),
                )
            )
    return Grounding(
        mentions=tuple(mentions), citations=tuple(citations), unsupported=tuple(unsupported)
    )


def mark_unsupported(answer: str, unsupported: Sequence[NumberMention], marker: str) -> str:
    """``answer`` with ``marker`` written after every unsupported number."""
    out = answer
    for mention in sorted(unsupported, key=lambda m: m.end, reverse=True):
        out = out[: mention.end] + marker + out[mention.end :]
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectedClaim:
    """A sentence the answer check removed, and its numbers that no tool result holds."""

    sentence: str
    numbers: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the answer's ``rejected_claims``)."""
        return {"sentence": self.sentence, "numbers": list(self.numbers)}


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each sentence of ``text``, its end mark included: sentences end at
    ``. ! ? ;``, their full-width forms and line ends; not at a decimal point (``4.2``) nor at
    a list marker's dot (``1.``)."""
    markers = {m.end("n") for m in _LIST_MARKER.finditer(text)}
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() in markers:
            continue
        spans.append((start, m.end()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def remove_unsupported(
    text: str, unsupported: Sequence[NumberMention]
) -> tuple[str, tuple[RejectedClaim, ...]]:
    """``text`` without the sentences that hold an unsupported number, and those sentences.

    Parameters
    ----------
    text
        The checked text (offsets of ``unsupported`` are in it).
    unsupported
        The numbers no tool result holds (:attr:`Grounding.unsupported`).
    """
    kept: list[str] = []
    rejected: list[RejectedClaim] = []
    for start, end in sentence_spans(text):
        inside = tuple(m.text for m in unsupported if start <= m.start < end)
        if inside:
            rejected.append(RejectedClaim(sentence=text[start:end].strip(), numbers=inside))
        else:
            kept.append(text[start:end])
    out = re.sub(r"[ \t]+\n", "\n", "".join(kept))
    return re.sub(r"\n{3,}", "\n\n", out).strip(), tuple(rejected)
