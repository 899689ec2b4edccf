"""Migration 0008 on a database with users and tokens: data kept, old tokens get an expiry,
the same e-mail becomes possible in two organisations, and the downgrade restores the schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from infrasight.core.settings import Settings
from infrasight.services.auth import hash_token
from infrasight.storage.migrate import alembic_config, upgrade


def test_upgrade_keeps_users_and_gives_old_tokens_an_expiry(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    upgrade(settings, "0006")
    engine = create_engine(settings.effective_database_url)
    created = datetime(2025, 1, 1)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organizations (id, name, created_at) VALUES (1, 'A', :t), (2, 'B', :t)"
            ),
            {"t": created},
        )
        connection.execute(
            text(
                "INSERT INTO users (id, organization_id, email, name, role, is_active, created_at)"
                " VALUES (1, 1, 'a@x.example', '', 'admin', 1, :t)"
            ),
            {"t": created},
        )
        connection.execute(
            text(
                "INSERT INTO api_tokens (user_id, token_hash, label, created_at)"
                " VALUES (1, :h, 'old', :t)"
            ),
            {"h": hash_token("isu_old"), "t": created},
        )
    engine.dispose()

    upgrade(settings)
    before = datetime.now(UTC).replace(tzinfo=None)
    engine = create_engine(settings.effective_database_url)
    with engine.begin() as connection:
        kind, expires = connection.execute(
            text("SELECT kind, expires_at FROM api_tokens WHERE label = 'old'")
        ).one()
        assert kind == "api"
        expiry = datetime.fromisoformat(str(expires))
        assert timedelta(days=89) < expiry - before <= timedelta(days=90)
        assert connection.execute(text("SELECT count(*) FROM users")).scalar() == 1
        # The same address may now exist in another organisation.
        connection.execute(
            text(
                "INSERT INTO users (organization_id, email, name, role, is_active, created_at)"
                " VALUES (2, 'a@x.example', '', 'viewer', 1, :t)"
            ),
            {"t": created},
        )
        connection.execute(text("DELETE FROM users WHERE organization_id = 2"))
    engine.dispose()

    command.downgrade(alembic_config(settings.effective_database_url), "0006")
    engine = create_engine(settings.effective_database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 1
        assert connection.execute(text("SELECT email FROM users")).scalar() == "a@x.example"
    engine.dispose()
