"""The lean path of device ingest answers exactly as the FastAPI route does.

Each request is sent twice to one application: once with the lean path in front (as served)
and once without it (the route). Status, body and headers (all but ``date``) must be equal,
and the lean path must have answered the requests it is meant for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select

from infrasight.api.app import InfraSightAPI, create_app
from infrasight.api.lean_ingest import LeanIngest
from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.storage.models import Reading
from tests.conftest import Site, Tenant, make_site

PATH = "/api/v1/ingest/readings"
T0 = datetime(2024, 5, 1, tzinfo=UTC)


@dataclass
class Both:
    """One application; ``send`` posts through the lean path or through the route."""

    client: TestClient
    app: InfraSightAPI
    lean: LeanIngest
    taken: list[int]

    def send(self, lean: bool, **request: Any) -> Response:
        self.app.lean_ingest = self.lean if lean else None
        try:
            return self.client.post(PATH, **request)
        finally:
            self.app.lean_ingest = self.lean


@pytest.fixture
def both(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Iterator[Both]:
    app = create_app(platform=platform)
    assert isinstance(app, InfraSightAPI) and app.lean_ingest is not None
    lean = app.lean_ingest
    taken: list[int] = []
    handle = lean._handle

    def counted(*args: Any) -> bytes:
        taken.append(1)
        return handle(*args)

    monkeypatch.setattr(lean, "_handle", counted)
    with TestClient(app) as client:
        yield Both(client=client, app=app, lean=lean, taken=taken)


def _json(readings: list[dict[str, Any]]) -> dict[str, Any]:
    return {"json": {"readings": readings}}


def _reading(minute: float, channel: str = "VD-SETTLE", value: Any = 1.5) -> dict[str, Any]:
    return {
        "channel": channel,
        "time": (T0 + timedelta(minutes=minute)).isoformat(),
        "value": value,
    }


def _comparable(response: Response) -> tuple[int, Any, list[tuple[str, str]]]:
    headers = sorted((k, v) for k, v in response.headers.multi_items() if k != "date")
    try:
        body: Any = response.json()
    except json.JSONDecodeError:
        body = response.text
    return response.status_code, body, headers


Case = Callable[[Site, Tenant, int], dict[str, Any]]

CASES: list[tuple[str, Case, int, bool]] = [
    # name, request (given the site, tenant and a minute no other request uses), status, lean
    (
        "device json",
        lambda s, t, m: {**_json([_reading(m)]), "headers": s.device_headers},
        200,
        True,
    ),
    (
        "device csv with unit",
        lambda s, t, m: {
            "content": f"channel,time,value,unit\nVD-SETTLE,{_reading(m)['time']},2,cm\n",
            "headers": {**s.device_headers, "Content-Type": "text/csv; charset=utf-8"},
        },
        200,
        True,
    ),
    (
        "engineer",
        lambda s, t, m: {**_json([_reading(m)]), "headers": t.headers(Role.ENGINEER)},
        200,
        True,
    ),
    (
        "viewer may not configure",
        lambda s, t, m: {**_json([_reading(m)]), "headers": t.headers(Role.VIEWER)},
        403,
        True,
    ),
    (
        "unknown token",
        lambda s, t, m: {**_json([_reading(m)]), "headers": {"Authorization": "Bearer isd_nope"}},
        401,
        True,
    ),
    (
        "not a bearer header",
        lambda s, t, m: {**_json([_reading(m)]), "headers": {"Authorization": "Basic eA=="}},
        401,
        True,
    ),
    ("no token", lambda s, t, m: _json([_reading(m)]), 401, False),
    (
        "text/plain",
        lambda s, t, m: {
            "content": "x",
            "headers": {**s.device_headers, "Content-Type": "text/plain"},
        },
        415,
        False,
    ),
    (
        "not JSON",
        lambda s, t, m: {
            "content": b"{nope",
            "headers": {**s.device_headers, "Content-Type": "application/json"},
        },
        422,
        True,
    ),
    (
        "unknown channel",
        lambda s, t, m: {**_json([_reading(m), _reading(m, "NOPE")]), "headers": s.device_headers},
        422,
        True,
    ),
    (
        "value is a string",
        lambda s, t, m: {**_json([_reading(m, value="1")]), "headers": s.device_headers},
        422,
        True,
    ),
    (
        "time in the future",
        lambda s, t, m: {
            **_json([{**_reading(m), "time": "2999-01-01T00:00:00Z"}]),
            "headers": s.device_headers,
        },
        422,
        True,
    ),
    (
        "channel is a list",
        lambda s, t, m: {**_json([_reading(m, ["VD-SETTLE"])]), "headers": s.device_headers},  # type: ignore[arg-type]
        422,
        True,
    ),
    (
        "body over 64 KiB (the route)",
        lambda s, t, m: {
            **_json([_reading(m + i / 1000) for i in range(1000)]),
            "headers": s.device_headers,
        },
        200,
        False,
    ),
]


@pytest.mark.parametrize(("name", "case", "status", "lean"), CASES, ids=[c[0] for c in CASES])
def test_lean_path_answers_as_the_route(
    both: Both,
    platform: Platform,
    tenant: Tenant,
    site: Site,
    name: str,
    case: Case,
    status: int,
    lean: bool,
) -> None:
    answers = []
    for minute, through_lean in ((0, True), (2000, False)):
        before = len(both.taken)
        answers.append(_comparable(both.send(through_lean, **case(site, tenant, minute))))
        assert len(both.taken) - before == (1 if through_lean and lean else 0), name
    assert answers[0] == answers[1]
    assert answers[0][0] == status, answers[0]
    with platform.database.session() as session:
        stored = session.scalar(
            select(func.count())
            .select_from(Reading)
            .where(Reading.channel_id == site.settlement_channel_id)
        )
    written = {"body over 64 KiB (the route)": 2000}.get(name, 2)
    assert stored == (written if status == 200 else 0)


def test_lean_path_answers_resent_readings_as_duplicates(both: Both, site: Site) -> None:
    request = {**_json([_reading(5, value=1.0)]), "headers": site.device_headers}
    first = both.send(True, **request)
    again = [both.send(lean, **request) for lean in (True, False)]
    changed = {**_json([_reading(5, value=9.0)]), "headers": site.device_headers}
    conflict = [both.send(lean, **changed) for lean in (True, False)]
    assert first.json() == {"accepted": 1, "duplicates": 0, "conflicts": 0}
    assert [_comparable(r) for r in again] == [_comparable(again[1])] * 2
    assert again[0].json() == {"accepted": 0, "duplicates": 1, "conflicts": 0}
    assert [_comparable(r) for r in conflict] == [_comparable(conflict[1])] * 2
    assert conflict[0].json() == {"accepted": 0, "duplicates": 1, "conflicts": 1}


def test_bad_tokens_on_the_lean_path_count_toward_the_limit(both: Both, platform: Platform) -> None:
    request = {**_json([_reading(1)]), "headers": {"Authorization": "Bearer isd_wrong"}}
    limit = platform.settings.auth_failures
    statuses = [both.send(i % 2 == 0, **request).status_code for i in range(limit + 1)]
    assert statuses == [401] * (limit - 1) + [429, 429]
    blocked = [both.send(lean, **request) for lean in (True, False)]
    assert [_comparable(r) for r in blocked] == [_comparable(blocked[1])] * 2
    assert blocked[0].headers["retry-after"].isdigit()


def test_the_openapi_operation_is_the_routes(platform: Platform) -> None:
    lean = create_app(platform=platform).openapi()
    route = create_app(platform=platform, lean_ingest=False).openapi()
    assert lean["paths"][PATH] == route["paths"][PATH]


def test_a_device_of_another_organisation_cannot_write_here(
    both: Both, client: TestClient, other_tenant: Tenant, site: Site
) -> None:
    other = make_site(client, other_tenant, prefix="OT")
    request = {**_json([_reading(1)]), "headers": other.device_headers}
    answers = [both.send(lean, **request) for lean in (True, False)]
    assert answers[0].status_code == 422 and "unknown channel" in answers[0].json()["detail"]
    assert _comparable(answers[0]) == _comparable(answers[1])
