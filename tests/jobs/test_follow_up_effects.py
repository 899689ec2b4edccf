"""An effect handler may write further effect rows: they are dispatched after its commit, and
a failed handler leaves none behind."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from infrasight.core.settings import Settings
from infrasight.jobs.runner import JobContext, add_effect
from infrasight.platform import Platform
from infrasight.services.accounts import ensure_organization
from infrasight.storage.models import Job


def _merge(arguments: list[dict[str, Any]]) -> dict[str, Any]:
    return {"n": sum(int(a["n"]) for a in arguments)}


@pytest.mark.parametrize("workers", [0, 1])
def test_follow_up_effects_run_after_the_commit(settings: Settings, workers: int) -> None:
    platform = Platform.create(settings, workers=workers)
    seen: list[tuple[str, int]] = []
    fail = {"first": False}

    def first(context: JobContext, session: Session, arguments: dict[str, Any]) -> dict[str, Any]:
        add_effect(session, "second", {"n": arguments["n"] * 10}, org)
        if fail["first"]:
            raise RuntimeError("boom")
        seen.append(("first", arguments["n"]))
        return {}

    def second(context: JobContext, session: Session, arguments: dict[str, Any]) -> dict[str, Any]:
        # the first effect has committed: its rows are gone
        assert session.scalar(select(func.count()).select_from(Job).where(Job.name == "first")) == 0
        seen.append(("second", arguments["n"]))
        return {}

    try:
        platform.jobs.register_effect("first", first, merge=_merge, quiet_s=0.01)
        platform.jobs.register_effect("second", second, merge=_merge, quiet_s=0.01)
        with platform.database.transaction() as session:
            org_row, _ = ensure_organization(session, "Gamma")
            org = org_row.id
            add_effect(session, "first", {"n": 1}, org)
            add_effect(session, "first", {"n": 2}, org)
        platform.jobs.dispatch("first", org)
        assert platform.jobs.wait_idle(30)
        assert seen == [("first", 3), ("second", 30)]
        fail["first"] = True
        with platform.database.transaction() as session:
            add_effect(session, "first", {"n": 5}, org)
        platform.jobs.dispatch("first", org)
        assert platform.jobs.wait_idle(30)
        with platform.database.session() as session:
            names = session.scalars(select(Job.name)).all()
        assert names == ["first"]  # kept for a retry; its follow-up rolled back with it
        assert seen == [("first", 3), ("second", 30)]
    finally:
        platform.close()
