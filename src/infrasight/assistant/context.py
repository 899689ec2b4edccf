"""What the model cannot guess: the caller's structures, elements, channels and live hazards
with their ids.

A small model asked about "the settlement of pier 2" has to call ``readings_summary`` with a
channel id it has never seen; it guesses one and the tool answers ``not_found``. Before the
question, the agent reads the caller's asset list (and the elements and channels of the asset
the user is looking at, then of the other assets while they fit) through the same tools the
model calls, so as the caller, with the API's organisation and role checks: another
organisation's objects never appear. :func:`format_context` turns those results into a compact
system message of at most ``max_chars`` characters; what does not fit is left out whole (an
asset's block) or counted ("N more").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infrasight.assistant.grounding import ToolEvidence
from infrasight.assistant.tools import ToolContext, ToolRegistry
from infrasight.core.errors import InfraSightError

__all__ = [
    "AssetBlock",
    "ContextHeaders",
    "constrain_specs",
    "format_context",
    "gather_context",
    "id_choices",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextHeaders:
    """The message's labels in the user's language (``messages.toml``)."""

    assets: str
    elements: str
    channels: str
    more: str
    hazards: str = "hazards:"


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetBlock:
    """One asset with (when read) its elements, channels and hazards (every state), as the
    tools return them."""

    asset: dict[str, Any]
    elements: tuple[dict[str, Any], ...] | None = None
    channels: tuple[dict[str, Any], ...] | None = None
    hazards: tuple[dict[str, Any], ...] | None = None


#: Hazard states listed in the context: the ones someone still has to act on.
LIVE_HAZARD_STATES = frozenset({"open", "acknowledged", "mitigating"})


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())


def _asset_line(asset: dict[str, Any]) -> str:
    return f"{asset['id']}: {_one_line(asset['name'])} ({asset.get('kind') or '-'})"


def _detail(block: AssetBlock, headers: ContextHeaders) -> str:
    lines: list[str] = []
    names = {e["id"]: _one_line(e["name"]) for e in block.elements or ()}
    if block.elements:
        items = "; ".join(f"{e['id']} {_one_line(e['name'])}" for e in block.elements)
        lines.append(f"  {headers.elements} {items}")
    if block.channels:
        items = "; ".join(
            " ".join(
                part
                for part in (
                    str(c["id"]),
                    _one_line(c["key"]),
                    _one_line(c.get("quantity") or ""),
                    _one_line(c.get("unit") or "") if c.get("unit") != c.get("quantity") else "",
                    names.get(c.get("element_id"), ""),
                )
                if part
            )
            for c in block.channels
        )
        lines.append(f"  {headers.channels} {items}")
    live = [h for h in block.hazards or () if h.get("status") in LIVE_HAZARD_STATES]
    if live:
        items = "; ".join(
            " ".join(
                part
                for part in (
                    str(h["id"]),
                    _one_line(h.get("mechanism") or ""),
                    names.get(h.get("element_id"), ""),
                    f"R{h['risk']}" if h.get("risk") is not None else "",
                    _one_line(h.get("status") or ""),
                )
                if part
            )
            for h in live
        )
        lines.append(f"  {headers.hazards} {items}")
    return "\n".join(lines)


def format_context(blocks: Sequence[AssetBlock], headers: ContextHeaders, *, max_chars: int) -> str:
    """The context message: one line per asset, its elements and channels under it.

    Parameters
    ----------
    blocks
        The assets in the order to list them; the first ones' details are kept first.
    headers
        The labels in the user's language.
    max_chars
        Most characters of the message. Asset lines that do not fit are counted in a
        "more" line; an asset's elements and channels are kept whole or left out.

    Returns
    -------
    str
        The message, or "" when there is no asset or ``max_chars`` is 0.
    """
    if not blocks or max_chars <= 0:
        return ""
    out = [headers.assets]
    used = len(headers.assets)
    shown = 0
    for block in blocks:
        line = _asset_line(block.asset)
        more = len(headers.more.format(count=len(blocks) - shown)) + 1
        if used + len(line) + 1 + more > max_chars:
            break
        out.append(line)
        used += len(line) + 1
        shown += 1
        detail = _detail(block, headers)
        if detail and used + len(detail) + 1 + more <= max_chars:
            out.append(detail)
            used += len(detail) + 1
    if shown < len(blocks):
        out.append(headers.more.format(count=len(blocks) - shown))
    return "\n".join(out)


def _read(
    registry: ToolRegistry, ctx: ToolContext, name: str, arguments: dict[str, Any]
) -> list[dict[str, Any]] | None:
    tool = registry.get(name)
    if tool is None:
        return None
    try:
        result = tool.run(ctx, tool.parse(arguments))
    except InfraSightError as err:  # a role that may not list them: no context from it
        _log.info("assistant context: %s for %s: %s", name, ctx.caller.name, err)
        result = None
    finally:
        ctx.session.rollback()
    return result if isinstance(result, list) else None


def gather_context(
    registry: ToolRegistry,
    ctx: ToolContext,
    *,
    asset_id: int | None,
    max_chars: int,
    max_detailed: int = 8,
) -> tuple[list[AssetBlock], list[ToolEvidence]]:
    """The caller's assets, and the elements and channels of the first ``max_detailed`` (the
    asset ``asset_id`` first), read through the registry's tools as the caller.

    Returns the blocks for :func:`format_context` and the tool results as evidence (numbers the
    model takes from the context are then grounded and cited like any tool result).
    """
    if max_chars <= 0:
        return [], []
    evidence: list[ToolEvidence] = []
    assets = _read(registry, ctx, "list_assets", {})
    if not assets:
        return [], []
    evidence.append(ToolEvidence(tool="list_assets", arguments={}, result=assets))
    assets.sort(key=lambda a: a["id"] != asset_id)  # the asset in view first, then in order
    blocks: list[AssetBlock] = []
    for index, asset in enumerate(assets):
        if index >= max_detailed:
            blocks.append(AssetBlock(asset=asset))
            continue
        arguments = {"asset_id": asset["id"]}
        elements = _read(registry, ctx, "list_elements", arguments)
        channels = _read(registry, ctx, "list_channels", arguments)
        hazards = _read(registry, ctx, "list_hazards", arguments)
        for name, result in (
            ("list_elements", elements),
            ("list_channels", channels),
            ("list_hazards", hazards),
        ):
            if result is not None:
                evidence.append(ToolEvidence(tool=name, arguments=arguments, result=result))
        block = AssetBlock(
            asset=asset,
            elements=tuple(elements) if elements is not None else None,
            channels=tuple(channels) if channels is not None else None,
            hazards=tuple(hazards) if hazards is not None else None,
        )
        blocks.append(block)
    return blocks, evidence


def id_choices(blocks: Sequence[AssetBlock], *, complete: bool) -> dict[str, list[int]]:
    """The ids the caller may name, by tool argument (``asset_id``, ``element_id``,
    ``channel_id``, ``hazard_id``), from the context's blocks.

    An argument is given only when its list is whole: ``complete`` says the asset list is (the
    tool lists at most 100), and elements, channels and hazards need every asset's to have been
    read. Hazard ids include those in every state (a resolved hazard may still be asked about).
    """
    if not blocks or not complete:
        return {}
    out: dict[str, list[int]] = {"asset_id": [int(b.asset["id"]) for b in blocks]}
    if all(b.elements is not None for b in blocks):
        out["element_id"] = [int(e["id"]) for b in blocks for e in b.elements or ()]
    if all(b.channels is not None for b in blocks):
        out["channel_id"] = [int(c["id"]) for b in blocks for c in b.channels or ()]
    if all(b.hazards is not None for b in blocks):
        out["hazard_id"] = [int(h["id"]) for b in blocks for h in b.hazards or ()]
    return {name: ids for name, ids in out.items() if ids}


def constrain_specs(
    specs: Sequence[dict[str, Any]], choices: dict[str, list[int]]
) -> list[dict[str, Any]]:
    """The tool specs with each id argument of ``choices`` limited to those ids (JSON-schema
    ``enum``): a server that turns the schema into a grammar (llama.cpp) can then only write an
    id the caller has, and any model reads which ids exist. The specs given are not changed."""
    out: list[dict[str, Any]] = []
    for spec in specs:
        function = spec.get("function", {})
        properties = function.get("parameters", {}).get("properties", {})
        if not any(name in choices for name in properties):
            out.append(spec)
            continue
        constrained = {}
        for name, schema in properties.items():
            ids = choices.get(name)
            if ids is None:
                constrained[name] = schema
            elif "anyOf" in schema:  # optional: the integer branch limited, null kept
                branches = [
                    {"type": "integer", "enum": ids} if b.get("type") == "integer" else b
                    for b in schema["anyOf"]
                ]
                constrained[name] = {**schema, "anyOf": branches}
            else:
                rest = {k: v for k, v in schema.items() if k not in ("minimum", "maximum")}
                constrained[name] = {**rest, "enum": ids}
        parameters = {**function["parameters"], "properties": constrained}
        out.append({**spec, "function": {**function, "parameters": parameters}})
    return out
