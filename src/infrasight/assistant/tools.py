"""The assistant's tools: read-only, JSON-schema described, each run as the asking user.

Every tool calls the function that serves the matching API endpoint with the caller's
:class:`Principal` (as the web pages do, ``web/data.py``), so organisation scoping (another
organisation's object is "not found"), the role table and the queries are exactly the API's.
Arguments are validated by a pydantic model per tool, whose JSON schema is what the model is
offered; the API's own query limits are repeated there, since calling a route function directly
skips FastAPI's validation. The only "write" is :func:`draft_work_order`, which returns the body
the user may confirm in the app and writes nothing.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from infrasight.api.routes.alarms import get_alarm, list_alarms
from infrasight.api.routes.assets import list_assets, list_elements
from infrasight.api.routes.captures import capture_defects, list_captures
from infrasight.api.routes.channels import channel_readings, get_channel, list_channels
from infrasight.api.routes.condition import get_condition
from infrasight.api.routes.defects import list_reviews
from infrasight.api.routes.forecasts import forecast
from infrasight.api.routes.hazards import get_hazard, list_hazards
from infrasight.api.routes.inspections import list_inspections
from infrasight.api.routes.ratings import get_deterioration, list_ratings
from infrasight.api.routes.reports import list_reports
from infrasight.api.routes.work_orders import get_one as get_work_order_detail
from infrasight.api.routes.work_orders import get_recommendations, list_work_orders
from infrasight.assistant.documents import extract_pages, page_documents
from infrasight.assistant.embedding import TextEmbedder
from infrasight.assistant.retrieval import Document, Passage, search_passages
from infrasight.assistant.routing import route_by_embedding
from infrasight.core.domain import Action
from infrasight.core.errors import InvalidInputError, PermissionDeniedError
from infrasight.locales import DEFAULT_LOCALE
from infrasight.reasoning.hazards import HazardStatus
from infrasight.reasoning.work_orders import WorkOrderStatus
from infrasight.services.auth import Principal
from infrasight.services.work_order_attachments import list_attachments
from infrasight.services.work_orders import is_crew
from infrasight.storage.blobs import BlobStore

__all__ = ["TOOLS", "Tool", "ToolContext", "ToolRegistry", "default_registry"]

MAX_ID = 2**63 - 1
MAX_DOCUMENTS = 50  # files (attachments, reports) read by one document search
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolContext:
    """What a tool runs with: a read session, the asking user and (for document search) the
    blob store holding uploaded files and rendered reports."""

    session: Session
    caller: Principal
    blobs: BlobStore | None = None
    #: The stored page texts of a blob (SHA-256, media type), extracted once
    #: (``services/document_texts.py``); without it, the blob is read and extracted here.
    texts: Callable[[str, str], list[str]] | None = None
    #: The embedding model for document search (hybrid with BM25); None: BM25 alone.
    embedder: TextEmbedder | None = None


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


IdInt = Annotated[int, Field(ge=1, le=MAX_ID)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Tool:
    """A named, described, read-only function of the caller's data."""

    name: str
    description: str
    arguments: type[_Args]
    run: Callable[[ToolContext, Any], Any]

    def spec(self) -> dict[str, Any]:
        """The OpenAI ``tools`` entry."""
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": schema},
        }

    def parse(self, arguments: dict[str, Any]) -> _Args:
        """Validated arguments; :class:`InvalidInputError` naming the field otherwise."""
        try:
            return self.arguments.model_validate(arguments)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or None
            raise InvalidInputError(str(first.get("msg", "invalid")), field=where) from err


def _json(value: Any) -> Any:
    return jsonable_encoder(value)


# --- assets, elements, channels -------------------------------------------------------------


class NoArgs(_Args):
    pass


def _assets(ctx: ToolContext, _a: NoArgs) -> Any:
    page = list_assets(ctx.session, ctx.caller, kind=None, limit=100, offset=0)
    return [
        {"id": a.id, "name": a.name, "kind": a.kind, "description": a.description}
        for a in page.items
    ]


class AssetArgs(_Args):
    asset_id: IdInt


def _elements(ctx: ToolContext, a: AssetArgs) -> Any:
    return [
        {
            "id": e.id,
            "name": e.name,
            "kind": e.kind,
            "parent_id": e.parent_id,
            "material": e.material,
        }
        for e in list_elements(a.asset_id, ctx.session, ctx.caller)
    ]


class ChannelSearchArgs(_Args):
    asset_id: IdInt | None = None
    search: str = Field(default="", max_length=100, description="part of a key or quantity")


def _channels(ctx: ToolContext, a: ChannelSearchArgs) -> Any:
    page = list_channels(
        ctx.session,
        ctx.caller,
        element_id=None,
        device_id=None,
        asset_id=a.asset_id,
        limit=1000,
        offset=0,
    )
    needle = a.search.strip().lower()
    return [
        {
            "id": c.id,
            "key": c.key,
            "quantity": c.quantity,
            "unit": c.unit,
            "element_id": c.element_id,
            "description": c.description,
        }
        for c in page.items
        if not needle or needle in f"{c.key} {c.quantity} {c.description}".lower()
    ]


class ReadingsArgs(_Args):
    channel_id: IdInt
    days: float = Field(default=7.0, gt=0, le=3650, description="the last N days of data")


def _readings(ctx: ToolContext, a: ReadingsArgs) -> Any:
    channel = get_channel(a.channel_id, ctx.session, ctx.caller)
    whole = channel_readings(a.channel_id, ctx.session, ctx.caller, None, None, 1)
    if whole.end is None:
        return {"channel_id": channel.id, "key": channel.key, "readings": 0}
    start = max(whole.end - a.days * DAY, whole.start or whole.end - a.days * DAY)
    series = channel_readings(a.channel_id, ctx.session, ctx.caller, start, whole.end, 200)
    points = [p for p in series.points if p.count > 0]
    if not points:
        return {"channel_id": channel.id, "key": channel.key, "readings": 0}
    count = sum(p.count for p in points)
    summary = {
        "channel_id": channel.id,
        "key": channel.key,
        "quantity": channel.quantity,
        "unit": channel.unit,
        "from": series.start,
        "to": series.end,
        "readings": count,
        "minimum": min(p.min for p in points),
        "maximum": max(p.max for p in points),
        "mean": sum(p.mean * p.count for p in points) / count,
        "first_mean": points[0].mean,
        "latest_mean": points[-1].mean,
        "change": points[-1].mean - points[0].mean,
    }
    return _json(summary)


class TrendArgs(_Args):
    channel_id: IdInt
    horizon_days: float = Field(default=30.0, gt=0, le=3650)
    limit: float | None = Field(default=None, description="a limit in the channel's unit")


def _trend(ctx: ToolContext, a: TrendArgs) -> Any:
    result = forecast(
        a.channel_id,
        ctx.session,
        ctx.caller,
        kind="auto",
        history_days=90.0,
        horizon_days=a.horizon_days,
        period_days=None,
        limit=a.limit,
        points=3,
        level=0.95,
    )
    out = _json(result)
    out["points"] = out["points"][-1:]  # the value at the horizon
    return out


# --- alarms, defects, hazards, condition ------------------------------------------------------


class AlarmListArgs(_Args):
    status: Literal["active", "acknowledged", "cleared"] | None = None
    category: Literal["rule", "maintenance", "structural"] | None = None


def _alarms(ctx: ToolContext, a: AlarmListArgs) -> Any:
    page = list_alarms(
        ctx.session,
        ctx.caller,
        status=a.status,
        category=a.category,
        rule_id=None,
        locale=DEFAULT_LOCALE,
        limit=50,
        offset=0,
    )
    alarms = [{k: v for k, v in x.items() if k != "note_message"} for x in _json(page.items)]
    return {"total": page.total, "alarms": alarms}


class AlarmArgs(_Args):
    alarm_id: IdInt


def _alarm(ctx: ToolContext, a: AlarmArgs) -> Any:
    detail = _json(get_alarm(a.alarm_id, ctx.session, ctx.caller, DEFAULT_LOCALE))
    detail.pop("note_message", None)
    detail["events"] = detail["events"][-10:]
    return detail


def _defects(ctx: ToolContext, a: AssetArgs) -> Any:
    captures = list_captures(
        ctx.session, ctx.caller, asset_id=a.asset_id, inspection_id=None, limit=100, offset=0
    )
    out = []
    for capture in captures.items:
        for d in capture_defects(capture.id, ctx.session, ctx.caller, DEFAULT_LOCALE, None):
            reviews = list_reviews(d.id, ctx.session, ctx.caller)
            out.append(
                {
                    "id": d.id,
                    "capture_id": d.capture_id,
                    "captured_at": capture.time,
                    "element_id": d.element_id,
                    "kind": d.kind,
                    "confidence": d.confidence,
                    "measurements": d.measurements,
                    "review": reviews[-1].verdict if reviews else None,
                }
            )
    return _json(out)


class HazardListArgs(_Args):
    asset_id: IdInt | None = None
    status: HazardStatus | None = None


def _hazards(ctx: ToolContext, a: HazardListArgs) -> Any:
    return _json(list_hazards(ctx.session, ctx.caller, a.asset_id, a.status, None))


class HazardArgs(_Args):
    hazard_id: IdInt


def _no_message(item: Any) -> Any:
    return {k: v for k, v in item.items() if k != "message"} if isinstance(item, dict) else item


def _hazard(ctx: ToolContext, a: HazardArgs) -> Any:
    detail = get_hazard(a.hazard_id, ctx.session, ctx.caller, DEFAULT_LOCALE)
    # the English sentences suffice for the model: their message keys would only add tokens
    detail["causes"] = [
        {
            **c,
            "evidence_for": [_no_message(e) for e in c.get("evidence_for", [])],
            "evidence_against": [_no_message(e) for e in c.get("evidence_against", [])],
        }
        for c in detail.get("causes", [])[:3]
    ]
    detail["evidence"] = [_no_message(e) for e in detail.get("evidence", [])[:10]]
    detail.pop("transitions", None)
    return _json(detail)


class ConditionArgs(_Args):
    asset_id: IdInt
    standard: Literal["aashto-mbei", "nbi", "jtg-h21", "tunnel-lining"] = "aashto-mbei"


def _rating_text(rating: Any) -> Any:
    """A rating without its message keys (the English texts suffice for the model)."""
    if not isinstance(rating, dict):
        return rating
    kept = {k: v for k, v in rating.items() if k not in ("label_message", "clause_message")}
    return {**kept, "evidence": [_no_message(e) for e in rating.get("evidence", [])]}


def _condition(ctx: ToolContext, a: ConditionArgs) -> Any:
    rated = get_condition(a.asset_id, ctx.session, ctx.caller, a.standard, DEFAULT_LOCALE)
    return _json(
        {
            **rated,
            "elements": [_rating_text(r) for r in rated["elements"]],
            "groups": [_rating_text(r) for r in rated["groups"]],
            "summary": _rating_text(rated["summary"]),
        }
    )


class DeteriorationArgs(_Args):
    asset_id: IdInt
    standard: Literal["aashto-mbei", "nbi", "jtg-h21", "tunnel-lining"] = "aashto-mbei"


def _deterioration(ctx: ToolContext, a: DeteriorationArgs) -> Any:
    ratings = list_ratings(a.asset_id, ctx.session, ctx.caller)
    forecast_ = (
        get_deterioration(a.asset_id, ctx.session, ctx.caller, DEFAULT_LOCALE, standard=a.standard)
        if ratings
        else None
    )
    return _json({"recorded_ratings": ratings[-20:], "deterioration": forecast_})


# --- remediation and work orders --------------------------------------------------------------


def _recommendations(ctx: ToolContext, a: HazardArgs) -> Any:
    return _json(
        get_recommendations(a.hazard_id, ctx.session, ctx.caller, DEFAULT_LOCALE, None, None)
    )


class WorkOrderListArgs(_Args):
    status: WorkOrderStatus | None = None
    asset_id: IdInt | None = None
    hazard_id: IdInt | None = None


def _work_orders(ctx: ToolContext, a: WorkOrderListArgs) -> Any:
    return _json(
        list_work_orders(ctx.session, ctx.caller, DEFAULT_LOCALE, a.status, a.asset_id, a.hazard_id)
    )


class WorkOrderArgs(_Args):
    work_order_id: IdInt


def _work_order(ctx: ToolContext, a: WorkOrderArgs) -> Any:
    detail = get_work_order_detail(a.work_order_id, ctx.session, ctx.caller, DEFAULT_LOCALE)
    detail["events"] = detail.get("events", [])[-10:]
    return _json(detail)


class InspectionArgs(_Args):
    asset_id: IdInt | None = None


def _inspections(ctx: ToolContext, a: InspectionArgs) -> Any:
    page = list_inspections(ctx.session, ctx.caller, asset_id=a.asset_id, limit=20, offset=0)
    return _json(page.items)


class SearchArgs(_Args):
    query: str = Field(min_length=1, max_length=500, description="words to look for")
    asset_id: IdInt | None = None


def _link(passage: Passage) -> str:
    """Where the web app shows the passage's document (a report's PDF opened at the page)."""
    kind, _, rest = passage.source.partition(":")
    if kind == "report":
        page = f"#page={passage.page}" if passage.page else ""
        return f"/web/reports/{rest}/pdf{page}"
    if kind == "work_order":
        return f"/work-orders/{rest.partition('#')[0]}"
    return ""


def _report_documents(ctx: ToolContext, asset_id: int | None) -> list[Document]:
    if ctx.blobs is None or is_crew(ctx.caller):
        return []
    page = list_reports(ctx.session, ctx.caller, asset_id, MAX_DOCUMENTS, 0)
    documents: list[Document] = []
    for report in page.items:
        if report.sha256 is None:
            continue
        documents += _stored_document(
            ctx,
            report.sha256,
            "application/pdf",
            source=f"report:{report.id}",
            title=f"report {report.id} ({report.language})",
        )
    return documents


def _stored_document(
    ctx: ToolContext, sha256: str, media_type: str, *, source: str, title: str
) -> list[Document]:
    """The pages of a stored blob as documents (its stored text when the context has one)."""
    if ctx.texts is not None:
        pages = ctx.texts(sha256, media_type)
    else:
        assert ctx.blobs is not None
        pages = extract_pages(ctx.blobs.get(sha256), media_type)
    return page_documents(pages, media_type, source=source, title=title)


def _search(ctx: ToolContext, a: SearchArgs) -> Any:
    """Passages of inspection notes, work-order comments and text or PDF attachments, and the
    generated reports' pages, that the caller may read (crew: their own work orders only)."""
    documents: list[Document] = []
    if not is_crew(ctx.caller):
        page = list_inspections(ctx.session, ctx.caller, asset_id=a.asset_id, limit=1000, offset=0)
        documents += [
            Document(source=f"inspection:{i.id}", text=i.notes) for i in page.items if i.notes
        ]
    files = 0
    for wo in list_work_orders(ctx.session, ctx.caller, DEFAULT_LOCALE, None, a.asset_id, None):
        detail = get_work_order_detail(wo.id, ctx.session, ctx.caller, DEFAULT_LOCALE)
        documents += [
            Document(source=f"work_order:{wo.id}#comment:{c['id']}", text=c["body"])
            for c in detail["comments"]
        ]
        if ctx.blobs is None:
            continue
        for att in list_attachments(ctx.session, ctx.caller, wo.id):
            if files >= MAX_DOCUMENTS:
                break
            files += 1
            documents += _stored_document(
                ctx,
                att.blob_sha256,
                att.media_type,
                source=f"work_order:{wo.id}#attachment:{att.id}",
                title=att.filename or f"attachment {att.id}",
            )
    documents += _report_documents(ctx, a.asset_id)
    found = search_passages(a.query, documents, embedder=ctx.embedder)
    out: list[dict[str, Any]] = []
    for p in found:
        item: dict[str, Any] = {"source": p.source, "passage": p.text, "score": round(p.score, 3)}
        if p.title:
            item["document"] = p.title
        if p.page is not None:
            item["page"] = p.page
        if link := _link(p):
            item["link"] = link
        out.append(item)
    return out


class DraftArgs(_Args):
    hazard_id: IdInt
    action: str | None = Field(default=None, max_length=60, description="a recommended action id")
    reason: str = Field(default="", max_length=2000)


def draft_work_order(ctx: ToolContext, a: DraftArgs) -> Any:
    """A work order the user may create in the app (``POST /work-orders``): nothing is written."""
    recs = get_recommendations(a.hazard_id, ctx.session, ctx.caller, DEFAULT_LOCALE, None, None)
    ranked = recs["recommendations"]
    if not ranked:
        return {"draft": None, "reason": "no remediation action applies to this hazard"}
    chosen = next((r for r in ranked if r["action"] == a.action), ranked[0])
    try:
        ctx.caller.require(Action.CONFIGURE)
        allowed = True
    except PermissionDeniedError:
        allowed = False
    body = {"hazard_id": a.hazard_id, "action": chosen["action"], "draft": True}
    if a.reason and chosen is not ranked[0]:
        body["reason"] = a.reason
    return _json(
        {
            "draft": {
                "kind": "work_order",
                "confirm_with": "POST /api/v1/work-orders",
                "body": body,
                "action_name": chosen.get("name", ""),
                "urgency_days": chosen.get("urgency_days"),
                "written": False,
            },
            "caller_may_create": allowed,
        }
    )


TOOLS: tuple[Tool, ...] = (
    Tool(name="list_assets", description="The organisation's structures (id, name, kind).",
         arguments=NoArgs, run=_assets),
    Tool(name="list_elements", description="The elements of an asset (spans, piers, rings).",
         arguments=AssetArgs, run=_elements),
    Tool(name="list_channels",
         description="Measured channels (id, key, quantity, unit), optionally of one asset or "
         "matching a search text.", arguments=ChannelSearchArgs, run=_channels),
    Tool(name="readings_summary",
         description="Minimum, maximum, mean, latest value and change of a channel over the last "
         "N days.", arguments=ReadingsArgs, run=_readings),
    Tool(name="channel_trend",
         description="Trend of a channel projected ahead: growth rate per year, the value at the "
         "horizon and, with a limit, when it is expected to be crossed.",
         arguments=TrendArgs, run=_trend),
    Tool(name="list_alarms", description="Alarms, most severe first.",
         arguments=AlarmListArgs, run=_alarms),
    Tool(name="get_alarm", description="One alarm with its transitions.",
         arguments=AlarmArgs, run=_alarm),
    Tool(name="list_defects",
         description="Defects found in an asset's captures with their measurements and review.",
         arguments=AssetArgs, run=_defects),
    Tool(name="list_hazards", description="Hazards (at-risk elements), highest risk first.",
         arguments=HazardListArgs, run=_hazards),
    Tool(name="get_hazard",
         description="One hazard: ranked causes with evidence for and against, risk, evidence.",
         arguments=HazardArgs, run=_hazard),
    Tool(name="condition_rating",
         description="Condition of an asset's elements under a standard, with clause and "
         "evidence.", arguments=ConditionArgs, run=_condition),
    Tool(name="deterioration_forecast",
         description="Recorded ratings and the fitted deterioration forecast of an asset.",
         arguments=DeteriorationArgs, run=_deterioration),
    Tool(name="recommendations",
         description="Remediation actions for a hazard, ranked, with urgency and source.",
         arguments=HazardArgs, run=_recommendations),
    Tool(name="list_work_orders", description="Work orders, soonest due first.",
         arguments=WorkOrderListArgs, run=_work_orders),
    Tool(name="get_work_order", description="One work order with its events and comments.",
         arguments=WorkOrderArgs, run=_work_order),
    Tool(name="list_inspections", description="Inspections with their notes, newest first.",
         arguments=InspectionArgs, run=_inspections),
    Tool(name="search_documents",
         description="Search inspection notes, work-order comments and attachments (PDF, text) "
         "and the generated PDF reports; returns passages with their source, document and "
         "page.", arguments=SearchArgs, run=_search),
    Tool(name="draft_work_order",
         description="Propose a work order for a hazard. Returns a draft for the user to confirm "
         "in the app; nothing is created.", arguments=DraftArgs, run=draft_work_order),
)  # fmt: skip


class ToolRegistry:
    """Tools by name; runs one as the caller."""

    def __init__(self, tools: tuple[Tool, ...]) -> None:
        self._tools = {t.name: t for t in tools}

    @property
    def names(self) -> list[str]:
        """The tools' names."""
        return list(self._tools)

    def specs(self, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The OpenAI ``tools`` list (of the tools in ``names`` only, in that order, when
        given)."""
        if names is None:
            return [t.spec() for t in self._tools.values()]
        return [self._tools[n].spec() for n in names if n in self._tools]

    def route(
        self, question: str, limit: int, *, embedder: TextEmbedder | None = None
    ) -> list[str]:
        """The at most ``limit`` tools to offer for ``question``.

        With ``embedder``: those whose description or example questions are most similar to
        the question (:func:`~infrasight.assistant.routing.route_by_embedding`). Without: those
        whose words (``tool_routing.toml``) the question names most often, the most named
        first (ties in registry order); the fallback tools when it names none.

        For small models, which pick the right tool more often, and read faster, among a few
        (and a 135M model mostly picks the first tool it is shown).
        """
        if limit <= 0 or limit >= len(self._tools):
            return self.names
        if embedder is not None:
            descriptions = {name: tool.description for name, tool in self._tools.items()}
            return route_by_embedding(question, descriptions, embedder, limit)
        words, fallback = _routing()
        scores = {
            name: sum(1 for pattern in words.get(name, ()) if pattern.search(question))
            for name in self._tools
        }
        ranked = sorted((n for n in self._tools if scores[n] > 0), key=lambda n: -scores[n])
        if ranked:
            return ranked[:limit]
        return [n for n in self._tools if n in set(fallback)]

    def get(self, name: str) -> Tool | None:
        """The tool called ``name``, or None."""
        return self._tools.get(name)

    def add(self, tool: Tool) -> None:
        """Register one more tool (e.g. document search)."""
        self._tools[tool.name] = tool


@cache
def _routing() -> tuple[dict[str, tuple[re.Pattern[str], ...]], tuple[str, ...]]:
    data = tomllib.loads((Path(__file__).parent / "tool_routing.toml").read_text("utf-8"))

    def pattern(word: str) -> re.Pattern[str]:
        escaped = re.escape(word)
        return re.compile(rf"(?<![A-Za-z]){escaped}(?![A-Za-z])" if word.isascii() else escaped,
                          re.IGNORECASE)  # fmt: skip

    words = {name: tuple(pattern(w) for w in ws) for name, ws in data["words"].items()}
    return words, tuple(data["fallback"])


def default_registry() -> ToolRegistry:
    """The read-only tools of the platform."""
    return ToolRegistry(TOOLS)
