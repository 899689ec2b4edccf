"""The pages' shared answers: kept until a write of this process or their time to live, keyed by
what the caller may see, and a page shows a write at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from nicegui.testing import User

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.services.auth import Principal, resolve_token
from infrasight.storage.models import ApiToken, Asset
from infrasight.storage.readings import insert_readings
from infrasight.web.summary_cache import SummaryCache, caller_key
from tests.conftest import Tenant
from tests.web.conftest import WebSite, log_in


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_computed_once_until_invalidated() -> None:
    cache = SummaryCache()
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get("k", compute) == 1
    assert cache.get("k", compute) == 1
    assert cache.get("other", compute) == 2
    cache.invalidate()
    assert cache.get("k", compute) == 3
    assert len(calls) == 3


def test_an_answer_expires_after_its_time_to_live() -> None:
    clock = Clock()
    cache = SummaryCache(ttl_s=30.0, clock=clock)
    assert cache.get("k", lambda: "old") == "old"
    clock.now += 29.9
    assert cache.get("k", lambda: "new") == "old"
    clock.now += 0.2
    assert cache.get("k", lambda: "new") == "new"


def test_an_answer_computed_across_a_write_is_not_kept() -> None:
    cache = SummaryCache()

    def compute_while_someone_writes() -> str:
        cache.invalidate()
        return "maybe stale"

    assert cache.get("k", compute_while_someone_writes) == "maybe stale"
    assert cache.get("k", lambda: "fresh") == "fresh"


def test_only_the_newest_answers_are_kept() -> None:
    cache = SummaryCache(size=2)
    for key in ("a", "b", "c"):
        cache.get(key, lambda key=key: key.upper())
    assert cache.get("a", lambda: "recomputed") == "recomputed"
    assert cache.get("c", lambda: "recomputed") == "C"


def test_the_key_separates_organisations_roles_and_crew_members() -> None:
    def who(org: int, role: Role, user: int) -> Principal:
        return Principal(organization_id=org, name="x", role=role, user_id=user)

    assert caller_key(who(1, Role.VIEWER, 5)) == caller_key(who(1, Role.VIEWER, 6))
    assert caller_key(who(1, Role.VIEWER, 5)) != caller_key(who(2, Role.VIEWER, 5))
    assert caller_key(who(1, Role.VIEWER, 5)) != caller_key(who(1, Role.ENGINEER, 5))
    assert caller_key(who(1, Role.CREW, 5)) != caller_key(who(1, Role.CREW, 6))


def test_a_committed_write_drops_the_answers_and_a_token_use_does_not(
    platform: Platform, tenant: Tenant
) -> None:
    cache = SummaryCache()
    cache.watch(platform.database)
    cache.get("k", lambda: "before")
    later = datetime.now(UTC) + timedelta(hours=1)
    with platform.database.session() as session:
        resolve_token(session, tenant.tokens[Role.VIEWER], now=later)  # its last use moves
        assert any(isinstance(row, ApiToken) for row in session.dirty)
        session.commit()
    assert cache.get("k", lambda: "after") == "before"
    with platform.database.transaction() as session:
        session.add(Asset(organization_id=tenant.organization_id, name="New", kind="bridge"))
    assert cache.get("k", lambda: "after") == "after"
    with platform.database.transaction() as session:
        session.rollback()  # a transaction that wrote nothing
    assert cache.get("k", lambda: "again") == "after"


def test_readings_written_by_raw_sql_drop_the_answers(
    platform: Platform, web_site: WebSite
) -> None:
    cache = SummaryCache()
    cache.watch(platform.database)
    cache.get("k", lambda: "before")
    with platform.database.transaction() as session:
        insert_readings(session, [(web_site.site.settlement_channel_id, 1, 2.0)])
    assert cache.get("k", lambda: "after") == "after"


async def test_the_overview_shows_a_new_asset_at_once(
    web: User, client: TestClient, web_site: WebSite
) -> None:
    await log_in(web, web_site.email(Role.VIEWER))
    await web.should_see(marker="logout")
    await web.open("/")
    await web.should_not_see("Viaduct added today")
    made = client.post(
        "/api/v1/assets",
        json={"name": "Viaduct added today", "kind": "bridge"},
        headers=web_site.tenant.headers(Role.ENGINEER),
    )
    assert made.status_code == 201, made.text
    await web.open("/")
    await web.should_see("Viaduct added today")
