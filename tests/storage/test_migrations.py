"""Migrations: an empty database upgrades to a schema identical to the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from infrasight.core.settings import Settings
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import Base
from infrasight.storage.timeseries import include_in_schema_compare
from tests.conftest import POSTGRES_URL


def _assert_matches_models(url: str) -> None:
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": False, "include_name": include_in_schema_compare},
        )
        assert compare_metadata(context, Base.metadata) == []
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_sqlite_from_empty(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "fresh")
    upgrade(settings)
    _assert_matches_models(settings.effective_database_url)
    upgrade(settings)  # a second upgrade is a no-op
    engine = create_engine(settings.effective_database_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


@pytest.mark.postgres
def test_postgres_from_empty(postgres_database: str) -> None:
    assert POSTGRES_URL
    _assert_matches_models(Settings(database_url=postgres_database).effective_database_url)
