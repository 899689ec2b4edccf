"""Shared fixtures: a migrated database per test (SQLite always, PostgreSQL when configured),
the wired platform, an HTTP client, and organisations with one user per role."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from infrasight.api.app import create_app
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.accounts import create_user, ensure_organization
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import Base

POSTGRES_URL = os.environ.get("INFRASIGHT_TEST_POSTGRES_URL", "")
# NiceGUI keeps global state, so only one app per process can have the web pages: API tests
# build many apps and run without them; tests/web mounts the pages itself.
os.environ.setdefault("INFRASIGHT_WEB", "false")
BACKENDS = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test (migrating once is faster)."""
    folder = tmp_path_factory.mktemp("template")
    upgrade(Settings(data_dir=folder))
    return folder / "infrasight.db"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A private, migrated PostgreSQL database for this test worker."""
    if not POSTGRES_URL:
        pytest.skip("INFRASIGHT_TEST_POSTGRES_URL is not set")
    name = f"infrasight_test_{uuid.uuid4().hex[:10]}"
    admin_url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = POSTGRES_URL.rpartition("/")
    url = f"{base}/{name}"
    upgrade(Settings(database_url=url))
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Settings:
    """Settings of a fresh, migrated database on each backend under test."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_database")
        _truncate_postgres(url)
        return Settings(data_dir=data_dir, database_url=url, worker_threads=0)
    shutil.copy(sqlite_template, data_dir / "infrasight.db")
    return Settings(data_dir=data_dir, worker_threads=0)


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    """The wired platform; background jobs run only when a test calls ``run_pending``."""
    wired = Platform.create(settings, workers=0)
    yield wired
    wired.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    """An HTTP client of the API."""
    with TestClient(create_app(platform=platform)) as http:
        yield http


@dataclass(frozen=True)
class Tenant:
    """An organisation with one user per role; ``headers(role)`` authenticates as that user."""

    organization_id: int
    tokens: dict[Role, str]

    def headers(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_tenant(platform: Platform, name: str) -> Tenant:
    tokens: dict[Role, str] = {}
    with platform.database.transaction() as session:
        org, _ = ensure_organization(session, name)
        for role in Role:
            _, tokens[role] = create_user(
                session, org, f"{role.value}@{name.lower().replace(' ', '-')}.example", role
            )
        org_id = org.id
    return Tenant(organization_id=org_id, tokens=tokens)


@pytest.fixture
def tenant(platform: Platform) -> Tenant:
    """The organisation most tests act in."""
    return make_tenant(platform, "Alpha Rail")


@pytest.fixture
def other_tenant(platform: Platform) -> Tenant:
    """A second organisation that must never see the first one's data."""
    return make_tenant(platform, "Beta Tunnels")


@dataclass(frozen=True)
class Site:
    """An asset with an element, a datalogger (and its token) and two channels."""

    asset_id: int
    element_id: int
    device_id: int
    device_token: str
    strain_channel_id: int
    settlement_channel_id: int

    @property
    def device_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.device_token}"}


def make_site(client: TestClient, tenant: Tenant, prefix: str = "VD") -> Site:
    h = tenant.headers(Role.ENGINEER)
    asset = client.post(
        "/api/v1/assets", json={"name": f"{prefix} viaduct", "kind": "bridge"}, headers=h
    )
    assert asset.status_code == 201, asset.text
    asset_id = asset.json()["id"]
    element = client.post(
        f"/api/v1/assets/{asset_id}/elements", json={"name": "Pier 2", "kind": "pier"}, headers=h
    )
    assert element.status_code == 201, element.text
    element_id = element.json()["id"]
    device = client.post(
        "/api/v1/devices",
        json={"name": f"{prefix}-DL-01", "kind": "datalogger", "asset_id": asset_id},
        headers=h,
    )
    assert device.status_code == 201, device.text
    device_id = device.json()["id"]
    ids = []
    for key, quantity, unit in (
        (f"{prefix}-STRAIN", "strain", "µε"),
        (f"{prefix}-SETTLE", "settlement", "mm"),
    ):
        channel = client.post(
            "/api/v1/channels",
            json={
                "key": key,
                "quantity": quantity,
                "unit": unit,
                "element_id": element_id,
                "device_id": device_id,
            },
            headers=h,
        )
        assert channel.status_code == 201, channel.text
        ids.append(channel.json()["id"])
    return Site(
        asset_id=asset_id,
        element_id=element_id,
        device_id=device_id,
        device_token=device.json()["token"],
        strain_channel_id=ids[0],
        settlement_channel_id=ids[1],
    )


@pytest.fixture
def site(client: TestClient, tenant: Tenant) -> Site:
    """A configured monitoring site in ``tenant``."""
    return make_site(client, tenant)
