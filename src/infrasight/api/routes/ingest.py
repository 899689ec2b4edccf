"""``POST /ingest/readings``: readings from devices and integrators, JSON or CSV."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from infrasight.api.deps import PlatformDep, authenticate_request, authenticate_token
from infrasight.core.domain import Action
from infrasight.core.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from infrasight.platform import Platform
from infrasight.services.auth import Principal
from infrasight.services.ingest import (
    ReadingColumns,
    ValidatedReadings,
    finish_stored_readings,
    parse_csv_readings,
    parse_json_readings,
    store_readings,
    validate_readings,
)
from infrasight.services.throttle import FailureLimiter

router = APIRouter(tags=["ingest"])

_JSON_EXAMPLE = {
    "readings": [
        {"channel": "P2-SETTLEMENT", "time": "2024-05-01T12:00:00Z", "value": 1.25, "unit": "mm"}
    ]
}

_CSV_EXAMPLE = "channel,time,value,unit\nP2-SETTLEMENT,2024-05-01T12:00:00Z,1.25,mm\n"


CONTENT_TYPES = ("application/json", "text/csv")


def media_type(content_type: str) -> str:
    """``Content-Type`` without parameters, lower case."""
    return content_type.split(";")[0].strip().lower()


class IngestResponse(BaseModel):
    accepted: int
    duplicates: int
    conflicts: int = Field(
        description="Duplicates whose value differs from the stored one (the stored value is kept)."
    )


def _authenticate(request: Request, platform: Platform) -> Principal:
    caller = authenticate_request(request, platform)
    if not caller.is_device:
        caller.require(Action.CONFIGURE)
    return caller


def check_content_type(content_type: str) -> None:
    """415 unless ``content_type`` (lower case, no parameters) is JSON or CSV."""
    if content_type not in CONTENT_TYPES:
        raise UnsupportedMediaTypeError(
            f"content type {content_type or 'missing'!r} is not accepted; "
            "send application/json or text/csv",
            field="Content-Type",
        )


def parse_body(platform: Platform, body: bytes, content_type: str) -> ReadingColumns:
    """The batch a JSON or CSV body holds (not yet validated)."""
    limit = platform.settings.max_batch_readings
    if content_type == "text/csv":
        return parse_csv_readings(body, max_readings=limit)
    return parse_json_readings(body, max_readings=limit)


def _store(platform: Platform, caller: Principal, body: bytes, content_type: str) -> IngestResponse:
    batch = parse_body(platform, body, content_type)
    with platform.database.session() as session:
        validated = validate_readings(
            session, caller, batch, future_tolerance_s=platform.settings.future_tolerance_s
        )
    return store_validated(platform, validated)


def authenticate_and_store(
    platform: Platform,
    limiter: FailureLimiter,
    token: str,
    client: str,
    content_type: str,
    body: bytes,
) -> IngestResponse:
    """The route's work in one go, for the lean path (``api/lean_ingest.py``): the token and
    the channels are looked up in one session, and the checks come in the route's order
    (token, role, content type, the readings)."""
    with platform.database.session() as session:
        caller = authenticate_token(session, token, limiter, client)
        if not caller.is_device:
            caller.require(Action.CONFIGURE)
        check_content_type(content_type)
        batch = parse_body(platform, body, content_type)
        validated = validate_readings(
            session, caller, batch, future_tolerance_s=platform.settings.future_tolerance_s
        )
    return store_validated(platform, validated)


def store_validated(platform: Platform, validated: ValidatedReadings) -> IngestResponse:
    """Store a validated batch (group commit) and publish its event; the answer."""
    # Stored with the batches of concurrent requests in one transaction (group commit); the
    # answer goes out after that commit.
    # the last-seen update and the effect row: one for the whole group (finish step)
    result = platform.database.write(
        partial(store_readings, batch=validated, deferred=True), finish=finish_stored_readings
    )
    if result.event is not None and result.accepted:
        platform.bus.publish(result.event)
    return IngestResponse(
        accepted=result.accepted, duplicates=result.duplicates, conflicts=result.conflicts
    )


@router.post(
    "/ingest/readings",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"example": _JSON_EXAMPLE},
                "text/csv": {"example": _CSV_EXAMPLE},
            },
        }
    },
)
async def ingest(request: Request, platform: PlatformDep) -> IngestResponse:
    """Store a batch atomically; re-sent readings count as duplicates and change nothing.

    A duplicate whose value differs from the stored one is also counted in `conflicts`.
    """
    caller = await run_in_threadpool(_authenticate, request, platform)
    content_type = media_type(request.headers.get("content-type", ""))
    check_content_type(content_type)
    limit = platform.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return await run_in_threadpool(_store, platform, caller, b"".join(chunks), content_type)
