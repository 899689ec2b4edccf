"""``infrasight ask "..."``: the assistant from the command line."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Annotated, Any

import typer
from sqlalchemy import select

from infrasight.assistant.service import prepare, run_ask
from infrasight.cli.common import console, exits_cleanly, open_platform
from infrasight.cli.platform_cmds import organization_principal
from infrasight.core.domain import Role
from infrasight.core.errors import InvalidInputError
from infrasight.services.auth import Principal
from infrasight.storage.models import User


def _principal(platform: Any, org: str | None, user: str | None) -> Principal:
    with platform.database.session() as session:
        base = organization_principal(session, org)
        if user is None:
            return replace(base, name="cli:ask")
        found = session.scalars(
            select(User).where(User.organization_id == base.organization_id, User.email == user)
        ).one_or_none()
        if found is None or not found.is_active:
            raise InvalidInputError(f"no active user {user!r} in the organisation", field="user")
        return Principal(
            organization_id=found.organization_id,
            name=found.email,
            role=Role(found.role),
            user_id=found.id,
        )


@exits_cleanly
def ask(
    question: Annotated[str, typer.Argument(help="The question, in English or Chinese")],
    org: Annotated[str | None, typer.Option(help="Organisation (needed if several)")] = None,
    user: Annotated[
        str | None, typer.Option(help="Ask as this user (e-mail): their role and conversations")
    ] = None,
    asset: Annotated[int | None, typer.Option(help="The asset the question is about")] = None,
    language: Annotated[str | None, typer.Option(help="en, zh-Hant or zh-Hans")] = None,
    conversation: Annotated[int | None, typer.Option(help="Continue a conversation")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer event as JSON")] = False,
) -> None:
    """Ask the assistant (needs INFRASIGHT_LLM_BASE_URL and INFRASIGHT_LLM_MODEL); every number
    in the answer is cited from a tool result; a sentence with a number no tool returned is
    removed and listed."""
    with open_platform() as platform:
        caller = _principal(platform, org, user)
        prepared = prepare(
            platform,
            caller,
            question=question,
            asset_id=asset,
            language=language,
            conversation_id=conversation,
        )
        answer: dict[str, Any] = {}
        for event in run_ask(platform, prepared):
            if event["type"] == "tool_call":
                console.print(
                    f"[dim]tool {event['tool']} {json.dumps(event['arguments'])}: "
                    f"{event['outcome']}[/dim]"
                )
            else:
                answer = event
    if as_json:
        typer.echo(json.dumps(answer, ensure_ascii=False, indent=1, default=str))
        return
    typer.echo(answer.get("answer", ""))
    for citation in answer.get("citations", []):
        console.print(
            f"[dim]  {citation['text']} <- {citation['tool']} "
            f"{json.dumps(citation['arguments'])} {citation['path']} = {citation['value']}[/dim]"
        )
    for claim in answer.get("rejected_claims", []):
        console.print(
            f"[yellow]  removed, no tool returned {', '.join(claim['numbers'])}: "
            f"{claim['sentence']}[/yellow]"
        )
    for draft in answer.get("drafts", []):
        console.print(f"draft (not created): {draft['confirm_with']} {json.dumps(draft['body'])}")
    if answer.get("error"):
        raise typer.Exit(1)
