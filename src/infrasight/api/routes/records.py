"""High-rate waveform records (e.g. 100 Hz acceleration in 10-minute blocks)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Response, UploadFile, status
from pydantic import AliasChoices, BaseModel, Field
from sqlalchemy import select

from infrasight.api.deps import CallerDep, PlatformDep, SessionDep
from infrasight.api.routes.common import (
    DbId,
    Limit,
    Offset,
    Page,
    ReadModel,
    RequestModel,
    check_references,
    get_owned,
    page_of,
    parse_form_time,
)
from infrasight.core.domain import Action, JobStatus
from infrasight.core.errors import (
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
)
from infrasight.core.events import RecordStored
from infrasight.core.units import check_unit_for_quantity
from infrasight.services.analysis import ANALYSE_RECORD
from infrasight.services.audit import record_audit
from infrasight.services.records import (
    load_record_array,
    parse_record_upload,
    record_to_csv,
    record_to_npy,
)
from infrasight.storage.blobs import register_blob
from infrasight.storage.models import Job, ModalReference, Record

router = APIRouter(tags=["records"])


class RecordRead(ReadModel):
    id: int
    asset_id: DbId
    element_id: DbId | None
    device_id: DbId | None
    quantity: str
    unit: str
    start_time: datetime
    sample_rate_hz: float
    n_samples: int
    channel_names: list[str]
    dtype: str
    sha256: str = Field(validation_alias=AliasChoices("blob_sha256", "sha256"))
    created_at: datetime


class RecordCreated(RecordRead):
    job_id: DbId | None = None


@router.post("/records", status_code=status.HTTP_201_CREATED)
def create_record(
    platform: PlatformDep,
    session: SessionDep,
    caller: CallerDep,
    file: Annotated[UploadFile, File(description=".npy (samples x channels) or CSV")],
    asset_id: Annotated[DbId, Form()],
    start_time: Annotated[str, Form(description="ISO-8601 time of the first sample")],
    sample_rate_hz: Annotated[float, Form(gt=0, le=1_000_000)],
    quantity: Annotated[str, Form()] = "acceleration",
    unit: Annotated[str, Form()] = "m/s**2",
    channel_names: Annotated[str | None, Form(description="Comma-separated names")] = None,
    element_id: Annotated[DbId | None, Form()] = None,
    device_id: Annotated[DbId | None, Form()] = None,
) -> RecordCreated:
    """Store a waveform block as one blob plus a metadata row, and queue its analysis."""
    if caller.is_device:
        if device_id is not None and device_id != caller.device_id:
            raise PermissionDeniedError("a device may only post records as itself (device_id)")
        device_id = caller.device_id
    else:
        caller.require(Action.CONFIGURE)
    if file.size is not None and file.size > platform.settings.max_body_bytes:
        raise PayloadTooLargeError("record file exceeds the body size limit", field="file")
    check_unit_for_quantity(quantity, unit)
    check_references(session, caller, asset_id, element_id=element_id, device_id=device_id)
    start = parse_form_time(start_time, "start_time")
    array, names_in_file = parse_record_upload(file.file.read(), file.filename or "")
    names = [n.strip() for n in channel_names.split(",")] if channel_names else names_in_file
    names = names or [f"ch{i + 1}" for i in range(array.shape[1])]
    if len(names) != array.shape[1]:
        raise InvalidInputError(
            f"{len(names)} channel names for {array.shape[1]} columns", field="channel_names"
        )
    blob = record_to_npy(array)
    sha256, _ = platform.blobs.put(blob)
    register_blob(session, sha256, len(blob), "application/x-npy")
    record = Record(
        organization_id=caller.organization_id,
        asset_id=asset_id,
        element_id=element_id,
        device_id=device_id,
        quantity=quantity,
        unit=unit,
        start_time=start,
        sample_rate_hz=sample_rate_hz,
        n_samples=int(array.shape[0]),
        channel_names=names,
        dtype=str(array.dtype),
        blob_sha256=sha256,
    )
    session.add(record)
    session.flush()
    job = platform.jobs.create(
        session, ANALYSE_RECORD, {"record_id": record.id}, caller.organization_id
    )
    record_audit(session, caller, "create", "record", record.id, {"sha256": sha256})
    session.commit()
    platform.jobs.enqueue(job.id)
    platform.bus.publish(RecordStored(organization_id=caller.organization_id, record_id=record.id))
    return RecordCreated(**RecordRead.model_validate(record).model_dump(), job_id=job.id)


@router.get("/records")
def list_records(
    session: SessionDep,
    caller: CallerDep,
    asset_id: DbId | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[RecordRead]:
    """The organisation's waveform records, newest first, optionally of one asset; paged."""
    caller.require(Action.READ)
    query = (
        select(Record)
        .where(Record.organization_id == caller.organization_id)
        .order_by(Record.start_time.desc(), Record.id.desc())
    )
    if asset_id is not None:
        query = query.where(Record.asset_id == asset_id)
    return page_of(session, query, limit, offset, RecordRead)


@router.get("/records/{record_id}")
def get_record(record_id: DbId, session: SessionDep, caller: CallerDep) -> RecordRead:
    """One record's metadata (the samples are at /records/{id}/data)."""
    caller.require(Action.READ)
    return RecordRead.model_validate(get_owned(session, Record, record_id, caller.organization_id))


@router.get("/records/{record_id}/data", response_class=Response)
def record_data(
    record_id: DbId,
    platform: PlatformDep,
    session: SessionDep,
    caller: CallerDep,
    format: Literal["npy", "csv"] = "npy",
) -> Response:
    """The samples as .npy (samples x channels) or CSV with a ``time_s`` column."""
    caller.require(Action.READ)
    record = get_owned(session, Record, record_id, caller.organization_id)
    data = platform.blobs.get(record.blob_sha256)
    if format == "npy":
        return Response(data, media_type="application/x-npy")
    text = record_to_csv(load_record_array(data), record.channel_names, 0.0, record.sample_rate_hz)
    return Response(text, media_type="text/csv")


class ModesRead(BaseModel):
    record_id: DbId
    status: str = Field(description="Status of the record's analysis job")
    modes: list[dict[str, Any]]
    tracked_frequencies_hz: list[float | None] | None = None
    note: str = ""


def _latest_analysis(session: SessionDep, organization_id: int, record_id: DbId) -> Job | None:
    """The record's most recent analysis job."""
    return session.scalars(
        select(Job)
        .where(Job.name == ANALYSE_RECORD, Job.organization_id == organization_id)
        .where(Job.arguments["record_id"].as_integer() == record_id)
        .order_by(Job.id.desc())
        .limit(1)
    ).one_or_none()


def _modes_read(record_id: DbId, job: Job | None) -> ModesRead:
    if job is None or job.status != JobStatus.SUCCEEDED:
        return ModesRead(record_id=record_id, status=job.status if job else "missing", modes=[])
    result = job.result
    return ModesRead(
        record_id=record_id,
        status=job.status,
        modes=[
            {k: v for k, v in m.items() if k != "mode_shape_complex"}
            for m in result.get("modes", [])
        ],
        tracked_frequencies_hz=result.get("tracked_frequencies_hz"),
        note=str(result.get("modal", "")),
    )


@router.get("/records/{record_id}/modes")
def record_modes(record_id: DbId, session: SessionDep, caller: CallerDep) -> ModesRead:
    """Modes identified in the record (SSI-COV) and the reference modes they were matched to."""
    caller.require(Action.READ)
    get_owned(session, Record, record_id, caller.organization_id)
    return _modes_read(record_id, _latest_analysis(session, caller.organization_id, record_id))


class ModalReferenceSet(RequestModel):
    record_id: DbId


@router.put("/assets/{asset_id}/modal-reference")
def set_modal_reference(
    asset_id: DbId, body: ModalReferenceSet, session: SessionDep, caller: CallerDep
) -> ModesRead:
    """Make a record's identified modes the reference that later records are tracked against."""
    caller.require(Action.CONFIGURE)
    try:
        record = get_owned(session, Record, body.record_id, caller.organization_id)
    except NotFoundError as err:
        raise InvalidInputError(str(err), field="record_id") from err
    if record.asset_id != asset_id:
        raise InvalidInputError("the record belongs to another asset", field="record_id")
    job = _latest_analysis(session, caller.organization_id, record.id)
    succeeded = job is not None and job.status == JobStatus.SUCCEEDED
    stored = job.result.get("modes", []) if job is not None and succeeded else []
    if not stored:
        raise InvalidInputError("no modes were identified in this record", field="record_id")
    reference = session.get(ModalReference, asset_id)
    if reference is None:
        session.add(ModalReference(asset_id=asset_id, record_id=record.id, modes=stored))
    else:
        reference.record_id, reference.modes = record.id, stored
    record_audit(
        session, caller, "set_modal_reference", "asset", asset_id, {"record_id": record.id}
    )
    session.commit()
    return _modes_read(record.id, job)
