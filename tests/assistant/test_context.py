"""The context message: the caller's assets, elements and channels with their ids, read as the
caller (another organisation's never appear), bounded in size; a model that takes its ids from
it gets results where a guessed id got ``not_found``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infrasight.assistant.context import (
    AssetBlock,
    ContextHeaders,
    constrain_specs,
    format_context,
    id_choices,
)
from infrasight.assistant.replay import ReplayServer, text_reply, tool_reply
from infrasight.assistant.tools import default_registry
from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.storage.models import Hazard
from tests.assistant.conftest import SECRET, World
from tests.conftest import Tenant

ASK = "/api/v1/assistant/ask"
HEADERS = ContextHeaders(assets="Assets:", elements="elements:", channels="channels:",
                         more="({count} more)")  # fmt: skip


def _events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def _context(request: dict[str, Any]) -> str:
    """The context system message the model was sent ("" when none)."""
    found = [
        m["content"]
        for m in request["messages"]
        if m["role"] == "system" and "asset_id" in m["content"] and "channel" in m["content"]
    ]
    assert len(found) <= 1
    return found[0] if found else ""


@pytest.fixture
def serve(platform: Platform) -> Iterator[Any]:
    servers: list[ReplayServer] = []

    def start(responder: Any, **settings: Any) -> ReplayServer:
        server = ReplayServer(responder).__enter__()
        servers.append(server)
        platform.settings.llm_base_url = server.url
        platform.settings.llm_model = "recorded"
        for key, value in settings.items():
            setattr(platform.settings, key, value)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def test_the_model_is_told_the_callers_ids_and_never_another_organisations(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, world: World, serve: Any
) -> None:
    server = serve(lambda _r: text_reply("ok"))
    _events(client.post(ASK, json={"question": "How is pier 2?"}, headers=tenant.headers()))
    listing = _context(server.requests[0])
    assert f"{world.asset_id}: Demo viaduct (bridge)" in listing
    assert f"{world.element_id} Pier 2" in listing
    assert f"{world.channel_id} VD-P2-SETTLE settlement mm Pier 2" in listing
    sent = json.dumps(server.requests, ensure_ascii=False)
    assert SECRET not in sent and "Ring 7" not in sent
    assert f"{world.other_asset_id}: " not in listing
    # the other organisation is told its own asset, not ours
    _events(client.post(ASK, json={"question": "How is it?"}, headers=other_tenant.headers()))
    theirs = _context(server.requests[-1])
    assert f"{world.other_asset_id}: {SECRET} (bridge)" in theirs and "Ring 7" in theirs
    assert "Demo viaduct" not in theirs and "VD-P2-SETTLE" not in theirs
    # in the user's language; off with assistant_context_chars = 0
    _events(client.post(ASK, json={"question": "2號橋墩怎樣？"}, headers=tenant.headers()))
    assert "請使用這些 id" in _context(server.requests[-1])
    server = serve(lambda _r: text_reply("ok"), assistant_context_chars=0)
    _events(client.post(ASK, json={"question": "How is pier 2?"}, headers=tenant.headers()))
    assert _context(server.requests[-1]) == ""


def test_a_model_that_takes_the_channel_id_from_the_context_gets_the_readings(
    client: TestClient, tenant: Tenant, world: World, serve: Any
) -> None:
    """The transcript of a model that reads the id from the context: the call is ok and the
    answer's figures come from the engine, cited; the same call with a guessed id is not."""

    def responder(request: dict[str, Any]) -> dict[str, Any]:
        if any(m["role"] == "tool" for m in request["messages"]):
            result = json.loads([m for m in request["messages"] if m["role"] == "tool"][-1]
                                ["content"])  # fmt: skip
            if "maximum" not in result:
                return text_reply("I could not read it.")
            return text_reply(f"The maximum settlement was {result['maximum']:.2f} mm.")
        found = re.search(r"(\d+) VD-P2-SETTLE", _context(request))
        channel = int(found.group(1)) if found else 999  # a guess
        return tool_reply(("readings_summary", {"channel_id": channel, "days": 30}))

    serve(responder)
    answer = _events(
        client.post(ASK, json={"question": "Max settlement of pier 2?"}, headers=tenant.headers())
    )[-1]
    assert answer["tool_calls"][0]["arguments"] == {"channel_id": world.channel_id, "days": 30}
    assert answer["tool_calls"][0]["outcome"] == "ok"
    assert "5.00 mm" in answer["answer"] and answer["unsupported"] == []
    cited = {c["text"]: c for c in answer["citations"]}
    assert cited["5.00"]["tool"] == "readings_summary" and cited["5.00"]["path"] == "maximum"
    assert cited["5.00"]["value"] == pytest.approx(5.0)
    # without the context the same model guesses an id, which is not found
    serve(responder, assistant_context_chars=0)
    guessed = _events(
        client.post(ASK, json={"question": "Max settlement of pier 2?"}, headers=tenant.headers())
    )[-1]
    assert guessed["tool_calls"][0]["arguments"]["channel_id"] == 999
    assert guessed["tool_calls"][0]["outcome"] == "not_found"
    assert "5.00" not in guessed["answer"]


def test_ids_from_the_context_ground_numbers_in_the_answer(
    client: TestClient, tenant: Tenant, world: World, serve: Any
) -> None:
    serve(lambda _r: text_reply(f"Demo viaduct is asset {world.asset_id}; it has 1 channel."))
    answer = _events(client.post(ASK, json={"question": "Which?"}, headers=tenant.headers()))[-1]
    assert answer["unsupported"] == [] and answer["tool_calls"] == []
    assert {c["tool"] for c in answer["citations"]} <= {"list_assets", "list_channels"}


def test_format_context_is_bounded_and_keeps_an_assets_block_whole() -> None:
    blocks = [
        AssetBlock(
            asset={"id": i, "name": f"Bridge {i}", "kind": "bridge"},
            elements=({"id": 10 * i, "name": "Pier 1"},),
            channels=(
                {
                    "id": 100 * i,
                    "key": f"B{i}-SET",
                    "quantity": "settlement",
                    "unit": "mm",
                    "element_id": 10 * i,
                },
            ),
        )
        for i in range(1, 41)
    ]
    full = format_context(blocks[:2], HEADERS, max_chars=10_000)
    assert full == (
        "Assets:\n1: Bridge 1 (bridge)\n  elements: 10 Pier 1\n"
        "  channels: 100 B1-SET settlement mm Pier 1\n2: Bridge 2 (bridge)\n"
        "  elements: 20 Pier 1\n  channels: 200 B2-SET settlement mm Pier 1"
    )
    for limit in (60, 200, 700, 1500):
        text = format_context(blocks, HEADERS, max_chars=limit)
        assert len(text) <= limit
        shown = re.findall(r"^(\d+): Bridge", text, flags=re.MULTILINE)
        assert text.endswith(f"({40 - len(shown)} more)")
        # a block's detail is whole or absent
        assert text.count("  elements:") == text.count("  channels:")
    assert format_context(blocks, HEADERS, max_chars=0) == ""
    assert format_context([], HEADERS, max_chars=500) == ""
    # an asset listed without its elements and channels (not read) is one line
    bare = format_context([AssetBlock(asset={"id": 3, "name": " A\nB ", "kind": None})],
                          HEADERS, max_chars=500)  # fmt: skip
    assert bare == "Assets:\n3: A B (-)"


def test_id_arguments_are_limited_to_the_callers_ids(
    client: TestClient, tenant: Tenant, world: World, serve: Any
) -> None:
    server = serve(lambda _r: text_reply("ok"))
    _events(client.post(ASK, json={"question": "How is pier 2?"}, headers=tenant.headers()))
    tools = {
        t["function"]["name"]: t["function"]["parameters"] for t in server.requests[0]["tools"]
    }
    channel = tools["readings_summary"]["properties"]["channel_id"]
    ours = [world.channel_id, world.channel_id + 1]  # the channel and its anomaly channel
    assert channel["type"] == "integer" and sorted(channel["enum"]) == ours
    assert "maximum" not in channel
    assert tools["list_elements"]["properties"]["asset_id"]["enum"] == [world.asset_id]
    optional = tools["list_channels"]["properties"]["asset_id"]["anyOf"]
    assert {"type": "integer", "enum": [world.asset_id]} in optional
    assert {"type": "null"} in optional
    assert tools["get_hazard"]["properties"]["hazard_id"]["enum"] == [world.hazard_id]
    assert world.other_hazard_id not in tools["recommendations"]["properties"]["hazard_id"]["enum"]
    assert world.other_asset_id not in tools["list_elements"]["properties"]["asset_id"]["enum"]


def test_constrain_specs_leaves_the_given_specs_and_other_arguments_alone() -> None:
    specs = default_registry().specs()
    before = json.dumps(specs, sort_keys=True)
    blocks = [
        AssetBlock(asset={"id": 4, "name": "A"}, elements=({"id": 7, "name": "P"},), channels=()),
        AssetBlock(asset={"id": 9, "name": "B"}, elements=(), channels=({"id": 3, "key": "K"},)),
    ]
    choices = id_choices(blocks, complete=True)
    assert choices == {"asset_id": [4, 9], "element_id": [7], "channel_id": [3]}
    assert id_choices(blocks, complete=False) == {}
    # an asset whose channels were not read: no channel list (it would forbid real ids)
    partial = [*blocks, AssetBlock(asset={"id": 11, "name": "C"})]
    assert id_choices(partial, complete=True) == {"asset_id": [4, 9, 11]}
    out = {s["function"]["name"]: s for s in constrain_specs(specs, choices)}
    assert json.dumps(specs, sort_keys=True) == before
    trend = out["channel_trend"]["function"]["parameters"]["properties"]
    assert trend["channel_id"]["enum"] == [3]
    assert "enum" not in trend["horizon_days"]
    unchanged = {s["function"]["name"]: s for s in specs}
    assert out["list_assets"] == unchanged["list_assets"]
    assert out["get_hazard"] == unchanged["get_hazard"]


def test_one_system_message_and_tool_results_as_user_messages_when_set(
    client: TestClient, tenant: Tenant, world: World, serve: Any
) -> None:
    """llama.cpp's chatml-function-calling template writes the tool schemas after every system
    message and drops ``tool`` messages: with ``llm_tool_results = "user"`` the model reads each
    result (key figures first) as a user message naming the tool."""
    replies = iter([tool_reply(("list_elements", {"asset_id": world.asset_id}))])
    server = serve(
        lambda _r: next(replies, text_reply("One element.")),
        llm_tool_results="user",
        assistant_key_facts=True,
        assistant_result_chars=300,
    )
    body = {"question": "How many elements?", "asset_id": world.asset_id}
    answer = _events(client.post(ASK, json=body, headers=tenant.headers()))[-1]
    assert answer["tool_calls"][0]["outcome"] == "ok"
    first, second = server.requests
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert f"looking at asset {world.asset_id}" in first["messages"][0]["content"]
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    result = second["messages"][-1]["content"]
    assert result.startswith("Result of list_elements:\n1 elements\n[{")
    assert len(result) <= len("Result of list_elements:\n") + 300
    # the OpenAI protocol by default
    replies = iter([tool_reply(("list_elements", {"asset_id": world.asset_id}))])
    server = serve(lambda _r: next(replies, text_reply("One.")), llm_tool_results="tool")
    _events(client.post(ASK, json=body, headers=tenant.headers()))
    tool = server.requests[1]["messages"][-1]
    assert tool["role"] == "tool" and tool["name"] == "list_elements"
    assert json.loads(tool["content"].split("\n", 1)[1])[0]["name"] == "Pier 2"


def test_crew_who_may_not_list_assets_are_told_none(
    client: TestClient, tenant: Tenant, world: World, serve: Any
) -> None:
    assert client.get("/api/v1/assets", headers=tenant.headers(Role.CREW)).status_code == 403
    server = serve(lambda _r: text_reply("ok"))
    answer = _events(
        client.post(ASK, json={"question": "How is pier 2?"}, headers=tenant.headers(Role.CREW))
    )[-1]
    assert answer["stopped"] == "answered"
    assert _context(server.requests[0]) == ""
    assert "Demo viaduct" not in json.dumps(server.requests) and "VD-P2-SETTLE" not in json.dumps(
        server.requests
    )


def test_live_hazards_are_listed_with_their_ids_and_only_the_callers(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    world: World,
    serve: Any,
    platform: Platform,
) -> None:
    server = serve(lambda _r: text_reply("ok"))
    _events(client.post(ASK, json={"question": "Any hazards?"}, headers=tenant.headers()))
    listing = _context(server.requests[-1])
    assert (
        f"  hazards to act on (hazard_id mechanism element risk status): {world.hazard_id} "
        "settlement Pier 2 R16 open" in listing
    )
    assert str(world.other_hazard_id) + " water_ingress" not in listing
    _events(client.post(ASK, json={"question": "有隐患吗？"}, headers=tenant.headers()))
    assert (
        f"待处理的隐患（hazard_id 机理 构件 风险 状态）： {world.hazard_id} settlement"
        in _context(server.requests[-1])
    )
    # a resolved hazard is not listed, but may still be asked about (its id stays allowed)
    with platform.database.transaction() as s:
        s.get(Hazard, world.hazard_id).status = "resolved"  # type: ignore[union-attr]
    _events(client.post(ASK, json={"question": "Any hazards?"}, headers=tenant.headers()))
    assert "hazards to act on" not in _context(server.requests[-1])
    tools = {
        t["function"]["name"]: t["function"]["parameters"] for t in server.requests[-1]["tools"]
    }
    assert tools["get_hazard"]["properties"]["hazard_id"]["enum"] == [world.hazard_id]
    # the other organisation sees its own hazard, never ours
    _events(client.post(ASK, json={"question": "Any hazards?"}, headers=other_tenant.headers()))
    theirs = _context(server.requests[-1])
    assert f"{world.other_hazard_id} water_ingress Ring 7 R16 open" in theirs
    assert f"{world.hazard_id} settlement" not in theirs
