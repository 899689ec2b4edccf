"""``POST /ingest/readings``: readings from devices and integrators, JSON or CSV."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from infrasight.api.deps import PlatformDep, authenticate_request
from infrasight.core.domain import Action
from infrasight.core.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from infrasight.platform import Platform
from infrasight.services.auth import Principal
from infrasight.services.ingest import (
    ReadingColumns,
    finish_stored_readings,
    parse_csv_readings,
    parse_json_readings,
    store_readings,
    validate_readings,
)

router = APIRouter(tags=["ingest"])

_JSON_EXAMPLE = {
    "readings": [
        {"channel": "P2-SETTLEMENT", "time": "2024-05-01T12:00:00Z", "value": 1.25, "unit": "mm"}
    ]
}

_CSV_EXAMPLE = "channel,time,value,unit\nP2-SETTLEMENT,2024-05-01T12:00:00Z,1.25,mm\n"


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


def _store(platform: Platform, caller: Principal, body: bytes, content_type: str) -> IngestResponse:
    settings = platform.settings
    batch: ReadingColumns
    if content_type == "text/csv":
        batch = parse_csv_readings(body, max_readings=settings.max_batch_readings)
    else:
        batch = parse_json_readings(body, max_readings=settings.max_batch_readings)
    with platform.database.session() as session:
        validated = validate_readings(
            session, caller, batch, future_tolerance_s=settings.future_tolerance_s
        )
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
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", "text/csv"):
        raise UnsupportedMediaTypeError(
            f"content type {content_type or 'missing'!r} is not accepted; "
            "send application/json or text/csv",
            field="Content-Type",
        )
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
