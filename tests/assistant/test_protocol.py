"""The assistant over HTTP against recorded tool-call transcripts, replayed by a small
OpenAI-compatible server: tool calls, permissions, grounding, cross-organisation refusal,
prompt injection (nothing written), timeouts, malformed tool calls, languages, conversations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infrasight.assistant.grounding import ToolEvidence, check_grounding
from infrasight.assistant.key_facts import key_facts, key_facts_line
from infrasight.assistant.replay import RawReply, ReplayServer, replay, text_reply, tool_reply
from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.storage.models import (
    AssistantConversation,
    AssistantMessage,
    AssistantToolCall,
    AuditEvent,
    Hazard,
    HazardTransitionRecord,
    WorkOrder,
)
from tests.assistant.conftest import SECRET, World, transcript
from tests.conftest import Tenant, make_site, make_tenant

ASK = "/api/v1/assistant/ask"


def _configure(platform: Platform, server: ReplayServer, **extra: Any) -> None:
    platform.settings.llm_base_url = server.url
    platform.settings.llm_model = "recorded"
    for key, value in extra.items():
        setattr(platform.settings, key, value)


def _events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def _counts(platform: Platform) -> dict[str, int]:
    with platform.database.session() as s:
        return {
            model.__tablename__: int(s.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Hazard, HazardTransitionRecord, WorkOrder, AuditEvent)
        }


@pytest.fixture
def recorded(platform: Platform) -> Iterator[Any]:
    """Start a replay server for a list of responses and point the platform at it."""
    servers: list[ReplayServer] = []

    def start(responses: list[Any], **extra: Any) -> ReplayServer:
        server = ReplayServer(replay(responses)).__enter__()
        servers.append(server)
        _configure(platform, server, **extra)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def test_without_a_model_the_assistant_is_503_and_the_rest_works(
    client: TestClient, tenant: Tenant
) -> None:
    r = client.post(ASK, json={"question": "What is open?"}, headers=tenant.headers(Role.VIEWER))
    assert r.status_code == 503
    body = r.json()
    assert set(body) == {"detail", "field"}
    assert "INFRASIGHT_LLM_BASE_URL" in body["detail"]
    assert client.get("/api/v1/assets", headers=tenant.headers(Role.VIEWER)).status_code == 200


def test_recorded_transcript_tool_calls_citations_and_audit(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    t = transcript("hazard_why", world)
    server = recorded(t["responses"])
    before = _counts(platform)
    events = _events(
        client.post(ASK, json={"question": t["question"]}, headers=tenant.headers(Role.VIEWER))
    )
    assert [e["type"] for e in events] == ["tool_call"] * 3 + ["answer"]
    assert [(e["tool"], e["arguments"], e["outcome"]) for e in events[:3]] == [
        ("list_hazards", {"asset_id": world.asset_id}, "ok"),
        ("get_hazard", {"hazard_id": world.hazard_id}, "ok"),
        ("recommendations", {"hazard_id": world.hazard_id}, "ok"),
    ]
    answer = events[-1]
    assert answer["stopped"] == "answered"
    assert answer["unsupported"] == []
    assert answer["grounded_share"] == 1.0
    cited = {c["text"]: c for c in answer["citations"]}
    assert cited["16"]["value"] == 16 and cited["16"]["tool"] in {"list_hazards", "get_hazard"}
    assert cited["80%"]["value"] == pytest.approx(0.8)
    assert cited["16"]["arguments"] in (
        {"asset_id": world.asset_id},
        {"hazard_id": world.hazard_id},
    )
    # the model was offered JSON-schema tools and got the tool results back
    first = server.requests[0]
    names = {t["function"]["name"] for t in first["tools"]}
    assert {"list_hazards", "get_hazard", "condition_rating", "draft_work_order"} <= names
    assert not any(n.startswith(("delete", "create", "update")) for n in names)
    tool_messages = [m for m in server.requests[-1]["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 3
    assert json.loads(tool_messages[1]["content"])["risk"] == 16
    # stored: the conversation, both messages, one audit row per tool call; nothing else
    assert _counts(platform) == before
    with platform.database.session() as s:
        conv = s.scalars(select(AssistantConversation)).one()
        assert conv.organization_id == tenant.organization_id
        roles = s.scalars(select(AssistantMessage.role).order_by(AssistantMessage.id)).all()
        assert roles == ["user", "assistant"]
        calls = s.scalars(select(AssistantToolCall).order_by(AssistantToolCall.id)).all()
        assert [(c.tool, c.outcome) for c in calls] == [
            ("list_hazards", "ok"),
            ("get_hazard", "ok"),
            ("recommendations", "ok"),
        ]


def test_a_sentence_with_an_unsupported_number_is_removed_and_recorded(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    t = transcript("readings_zh", world)
    recorded(t["responses"])
    response = client.post(
        ASK, json={"question": t["question"]}, headers=tenant.headers(Role.VIEWER)
    )
    events = _events(response)
    # the invented sentence reaches the user in no event of the stream (only in the record)
    assert all("12.5" not in e.get("answer", "") for e in events)
    assert all("12.5" not in json.dumps(e) for e in events[:-1])
    answer = events[-1]
    assert answer["language"] == "zh-Hans" and answer["stopped"] == "answered"
    assert answer["answer"] == "桥墩2（VD-P2-SETTLE）最新沉降为5毫米，最大值5毫米，20个读数；"
    assert answer["unsupported"] == ["12.5"]
    assert answer["rejected_claims"] == [
        {"sentence": "预计30天后达到12.5毫米。", "numbers": ["12.5"]}
    ]
    assert answer["numbers_checked"] == 6  # 2, 5, 5, 20, 30, 12.5
    assert answer["grounded_share"] == 1.0  # of what is delivered
    texts = {c["text"]: c for c in answer["citations"]}
    assert set(texts) == {"2", "5", "20"}  # "30" went with its sentence
    assert texts["20"]["path"] == "readings" and texts["20"]["value"] == 20
    assert texts["5"]["value"] == pytest.approx(5.0)
    # recorded with the stored answer
    with platform.database.session() as s:
        stored = s.scalars(
            select(AssistantMessage).where(AssistantMessage.role == "assistant")
        ).one()
        assert stored.content == answer["answer"]
        assert stored.details["rejected_claims"] == answer["rejected_claims"]


def test_unsupported_number_is_marked_or_the_answer_rejected_on_request(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    t = transcript("readings_zh", world)
    recorded(t["responses"], assistant_grounding="mark")
    answer = _events(
        client.post(ASK, json={"question": t["question"]}, headers=tenant.headers(Role.VIEWER))
    )[-1]
    assert answer["unsupported"] == ["12.5"] and answer["rejected_claims"] == []
    assert "12.5［未经核实］" in answer["answer"]
    texts = {c["text"]: c for c in answer["citations"]}
    assert texts["30"]["path"] == "arguments.days"
    assert answer["grounded_share"] == pytest.approx(1 - 1 / len(answer["citations"] + ["x"]))
    # the same transcript, with the check set to reject
    recorded(t["responses"], assistant_grounding="reject")
    answer = _events(
        client.post(ASK, json={"question": t["question"]}, headers=tenant.headers(Role.VIEWER))
    )[-1]
    assert answer["stopped"] == "rejected"
    assert "12.5" in answer["answer"] and "5毫米" not in answer["answer"]


def test_when_every_sentence_is_removed_the_answer_is_the_engines_key_figures(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    calls = tool_reply(("list_hazards", {}))
    invented = text_reply("Pier 2 is at risk 99. It will fail in 12 days.")
    recorded([calls, invented], assistant_key_facts=True)
    answer = _events(client.post(ASK, json={"question": "risk?"}, headers=tenant.headers()))[-1]
    assert answer["answer"] == "— highest risk: settlement, risk 16"
    assert answer["stopped"] == "answered" and answer["grounded_share"] == 1.0
    assert [c["numbers"] for c in answer["rejected_claims"]] == [["99"], ["12"]]
    assert [(c["text"], c["value"]) for c in answer["citations"]] == [("16", 16)]
    # without key figures nothing checked is left: a clear refusal, no number of the model's
    recorded([calls, invented], assistant_key_facts=False)
    answer = _events(client.post(ASK, json={"question": "risk?"}, headers=tenant.headers()))[-1]
    assert answer["stopped"] == "rejected" and "99" not in answer["answer"]
    assert answer["answer"].startswith("I cannot give a checked answer")
    assert len(answer["rejected_claims"]) == 2


def test_another_organisations_objects_are_not_found_and_never_reach_the_model(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    t = transcript("cross_org", world)
    server = recorded(t["responses"])
    answer = _events(
        client.post(ASK, json={"question": t["question"]}, headers=tenant.headers(Role.ENGINEER))
    )[-1]
    assert [c["outcome"] for c in answer["tool_calls"]] == ["not_found"] * 4
    assert answer["drafts"] == []
    sent = json.dumps(server.requests, ensure_ascii=False)
    assert SECRET not in sent and "Ring 7" not in sent and "water_ingress" not in sent
    assert SECRET not in json.dumps(answer, ensure_ascii=False)
    # asking about the other asset directly is a 404 before any model call
    calls = len(server.requests)
    r = client.post(
        ASK,
        json={"question": "status?", "asset_id": world.other_asset_id},
        headers=tenant.headers(Role.ENGINEER),
    )
    assert r.status_code == 404 and r.json()["field"] is None
    assert len(server.requests) == calls


def test_prompt_injection_writes_nothing(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    t = transcript("injection", world)
    server = recorded(t["responses"])
    before = _counts(platform)
    answer = _events(
        client.post(ASK, json={"question": t["question"]}, headers=tenant.headers(Role.ADMIN))
    )[-1]
    assert _counts(platform) == before
    outcomes = [(c["tool"], c["outcome"]) for c in answer["tool_calls"]]
    assert outcomes == [
        ("delete_hazard", "malformed"),
        ("list_hazards", "malformed"),
        ("sql", "malformed"),
        ("draft_work_order", "ok"),
    ]
    assert answer["write_refused"] is True
    assert "did not change anything" in answer["answer"]
    draft = answer["drafts"][0]
    assert draft["written"] is False and draft["body"]["hazard_id"] == world.hazard_id
    assert draft["confirm_with"] == "POST /api/v1/work-orders"
    errors = [
        json.loads(m["content"]) for m in server.requests[1]["messages"] if m["role"] == "tool"
    ]
    assert (
        errors[0]["error"] == "malformed" and "no tool named 'delete_hazard'" in errors[0]["detail"]
    )
    assert "delete" in errors[1]["detail"]  # an argument the schema does not have
    with platform.database.session() as s:
        assert s.scalar(select(func.count()).select_from(Hazard)) == 2


def test_timeout_and_unreadable_answers_are_clear_and_write_nothing(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    before = _counts(platform)
    recorded([RawReply(body=b"{}", delay_s=1.5)], llm_timeout_s=0.3)
    answer = _events(client.post(ASK, json={"question": "hi"}, headers=tenant.headers()))[-1]
    assert answer["stopped"] == "model_failed"
    assert "did not answer within 0.3 s" in answer["error"]
    assert answer["citations"] == [] and answer["tool_calls"] == []
    for raw, words in (
        (RawReply(body=b"<html>busy</html>"), "not JSON"),
        (RawReply(status=500, body=b"{}"), "HTTP 500"),
        (RawReply(body=b'{"choices": []}'), "no choices"),
    ):
        recorded([raw])
        answer = _events(client.post(ASK, json={"question": "hi"}, headers=tenant.headers()))[-1]
        assert answer["stopped"] == "model_failed" and words in answer["error"]
    assert _counts(platform) == before


def test_malformed_tool_calls_are_answered_to_the_model(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    server = recorded(
        [
            tool_reply(
                ("get_hazard", "{not json"),
                ("get_hazard", {"hazard_id": "x"}),
                ("get_hazard", "[1, 2]"),
                ("get_hazard", {"hazard_id": 0}),
            ),
            tool_reply(("get_hazard", {"hazard_id": world.hazard_id})),
            text_reply("Risk 16."),
        ]
    )
    answer = _events(client.post(ASK, json={"question": "risk?"}, headers=tenant.headers()))[-1]
    assert [c["outcome"] for c in answer["tool_calls"]] == ["malformed"] * 4 + ["ok"]
    assert answer["tool_calls"][0]["arguments"] == {"_raw": "{not json"}
    assert "hazard_id" in answer["tool_calls"][1]["detail"]
    assert answer["answer"] == "Risk 16." and answer["unsupported"] == []
    assert len(server.requests) == 3


def test_steps_are_bounded(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    loop = [tool_reply(("list_assets", {"kind": str(n)})) for n in range(10)]
    server = recorded(loop, assistant_max_steps=3)
    answer = _events(client.post(ASK, json={"question": "loop"}, headers=tenant.headers()))[-1]
    assert answer["stopped"] == "out_of_steps" and answer["steps"] == 3
    # tools on the first two steps (both malformed: list_assets takes no kind), none on the last
    assert ["tools" in r for r in server.requests] == [True, True, False]
    assert len(answer["tool_calls"]) == 2


def test_the_model_calls_tools_again_after_seeing_results(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    # round 1 lists the hazards; round 2 opens the one listed (its id came from round 1)
    t = transcript("hazard_why", world)
    server = recorded(t["responses"], assistant_tool_rounds=2)
    answer = _events(
        client.post(ASK, json={"question": t["question"]}, headers=tenant.headers(Role.VIEWER))
    )[-1]
    assert answer["stopped"] == "answered" and answer["steps"] == 3
    assert [c["tool"] for c in answer["tool_calls"]] == [
        "list_hazards",
        "get_hazard",
        "recommendations",
    ]
    assert ["tools" in r for r in server.requests] == [True, True, False]
    round_two = server.requests[1]["messages"]
    listed = [m for m in round_two if m["role"] == "tool"]
    assert len(listed) == 1 and json.loads(listed[0]["content"])[0]["id"] == world.hazard_id
    # numbers of both rounds cited, from the round that returned them
    cited = {c["text"]: c for c in answer["citations"]}
    assert cited["80%"]["tool"] in {"list_hazards", "get_hazard"}
    assert cited["4"]["tool"] in {"get_hazard", "list_hazards"}
    assert answer["grounded_share"] == 1.0 and answer["rejected_claims"] == []


def test_tool_rounds_are_bounded(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    # one round allowed: the second plan is not offered tools, its calls are not run
    t = transcript("hazard_why", world)
    server = recorded(t["responses"], assistant_tool_rounds=1)
    answer = _events(
        client.post(ASK, json={"question": t["question"]}, headers=tenant.headers(Role.VIEWER))
    )[-1]
    assert [c["tool"] for c in answer["tool_calls"]] == ["list_hazards"]
    assert ["tools" in r for r in server.requests] == [True, False]
    assert answer["stopped"] == "out_of_steps"
    # three rounds (the default) of a model that never stops calling: three rounds run
    loop = [tool_reply(("list_assets", {"kind": str(n)})) for n in range(10)]
    server = recorded(loop, assistant_max_steps=10, assistant_tool_rounds=3)
    answer = _events(client.post(ASK, json={"question": "loop"}, headers=tenant.headers()))[-1]
    assert len(answer["tool_calls"]) == 3 and answer["steps"] == 4
    assert ["tools" in r for r in server.requests] == [True, True, True, False]


def test_a_repeated_tool_call_is_not_run_again_and_the_model_is_asked_to_answer(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    again = tool_reply(("list_assets", {}))
    server = recorded([again, again, text_reply("There is 1 asset.")])
    answer = _events(client.post(ASK, json={"question": "assets?"}, headers=tenant.headers()))[-1]
    assert answer["stopped"] == "answered" and answer["steps"] == 3
    assert [c["tool"] for c in answer["tool_calls"]] == ["list_assets"]
    assert ["tools" in r for r in server.requests] == [True, True, False]
    assert answer["answer"] == "There is 1 asset." and answer["unsupported"] == []
    assert answer["citations"][0]["path"] == "len(result)"


def test_roles_bad_input_and_languages(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    server = recorded([text_reply("好的。")] * 3)
    device = make_site(client, tenant, prefix="DL").device_headers  # a datalogger's token
    r = client.post(ASK, json={"question": "x"}, headers=device)
    assert r.status_code == 403 and "device tokens" in r.json()["detail"]
    r = client.post(ASK, json={"question": "x", "language": "fr"}, headers=tenant.headers())
    assert r.status_code == 422 and r.json()["field"] == "language"
    r = client.post(ASK, json={"question": ""}, headers=tenant.headers())
    assert r.status_code == 422 and r.json()["field"] == "question"
    r = client.post(ASK, json={"question": "   "}, headers=tenant.headers())
    assert r.status_code == 422 and r.json()["field"] == "question"
    assert server.requests == []
    r = client.post(ASK, json={"question": "這座橋墩的沉降怎樣？"}, headers=tenant.headers())
    assert _events(r)[-1]["language"] == "zh-Hant"
    assert "繁體中文" in server.requests[-1]["messages"][0]["content"]
    r = client.post(
        ASK,
        json={"question": "How is pier 2?", "language": "zh-Hans", "stream": False},
        headers=tenant.headers(),
    )
    assert r.status_code == 200 and r.json()["language"] == "zh-Hans"
    assert "简体中文" in server.requests[-1]["messages"][0]["content"]


def test_conversations_are_per_user(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    server = recorded([text_reply("First."), text_reply("Second.")])
    first = client.post(
        ASK, json={"question": "one", "stream": False}, headers=tenant.headers(Role.VIEWER)
    ).json()
    cid = first["conversation_id"]
    second = client.post(
        ASK,
        json={"question": "two", "conversation_id": cid, "stream": False},
        headers=tenant.headers(Role.VIEWER),
    ).json()
    assert second["conversation_id"] == cid
    history = [m["content"] for m in server.requests[1]["messages"] if m["role"] != "system"]
    assert history == ["one", "First.", "two"]
    mine = client.get(f"/api/v1/assistant/conversations/{cid}", headers=tenant.headers(Role.VIEWER))
    assert [m["role"] for m in mine.json()["messages"]] == ["user", "assistant"] * 2
    for headers in (tenant.headers(Role.ENGINEER), make_tenant(platform, "Gamma").headers()):
        assert (
            client.get(f"/api/v1/assistant/conversations/{cid}", headers=headers).status_code == 404
        )
        r = client.post(ASK, json={"question": "x", "conversation_id": cid}, headers=headers)
        assert r.status_code == 404
        assert client.get("/api/v1/assistant/conversations", headers=headers).json() == []
    listed = client.get("/api/v1/assistant/conversations", headers=tenant.headers(Role.VIEWER))
    assert [c["id"] for c in listed.json()] == [cid]


def test_key_facts_under_a_small_models_answer_are_the_engines_and_cited(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    calls = tool_reply(("list_hazards", {}), ("list_assets", {}))
    recorded(
        [calls, text_reply("Pier 2 is at risk 99.")],
        assistant_key_facts=True,
        assistant_grounding="mark",
    )
    question = {"question": "pier 2 risk?"}
    answer = _events(client.post(ASK, json=question, headers=tenant.headers()))[-1]
    assert answer["key_facts"] == ["highest risk: settlement, risk 16", "Demo viaduct"]
    said, facts = answer["answer"].split("\n\n")
    assert said == "Pier 2 is at risk 99 [unverified]."  # the model's own number is still checked
    assert facts == "— highest risk: settlement, risk 16\n— Demo viaduct"
    assert answer["unsupported"] == ["99"]
    (risk,) = [c for c in answer["citations"] if c["text"] == "16"]
    assert (risk["tool"], risk["path"], risk["value"]) == ("list_hazards", "[0].risk", 16)
    platform.settings.assistant_key_facts = False
    recorded([calls, text_reply("Risk 16.")])
    answer = _events(client.post(ASK, json={"question": "risk?"}, headers=tenant.headers()))[-1]
    assert answer["answer"] == "Risk 16." and answer["key_facts"] == []


def test_key_facts_lines_read_their_paths_and_skip_what_is_missing() -> None:
    summary = {"key": "VD-P2", "unit": "mm", "latest_mean": 3.3712, "minimum": 2.1, "maximum": 4.2}
    assert key_facts_line("readings_summary", summary) == (
        "VD-P2: latest mean 3.37 mm, minimum 2.10 mm, maximum 4.20 mm"
    )
    assert key_facts_line("readings_summary", {"key": "VD-P2", "readings": 0}) is None
    assert key_facts_line("list_elements", [{}, {}, {}]) == "3 elements"
    assert key_facts_line("get_alarm", {"id": 1}) is None  # no template
    assert key_facts([("list_elements", [{}]), ("list_elements", [{}])]) == ["1 elements"]


@pytest.mark.parametrize("language", ["en", "zh-Hans", "zh-Hant"])
def test_key_facts_are_written_in_the_answers_language_and_every_number_is_grounded(
    language: str,
) -> None:
    results: list[tuple[str, Any]] = [
        ("list_elements", [{"id": 1}, {"id": 2}, {"id": 3}]),
        (
            "readings_summary",
            {
                "key": "VD-P2-SETTLE",
                "unit": "mm",
                "latest_mean": 3.3712,
                "minimum": 2.1,
                "maximum": 4.2,
            },
        ),
        ("channel_trend", {"unit": "mm", "growth": {"rate_per_year": 1.84}}),
        ("list_alarms", {"total": 4, "alarms": [{"key": "VD-P2-SETTLE:settle-alert"}]}),
        ("list_hazards", [{"mechanism": "settlement", "risk": 16}]),
        ("recommendations", {"recommendations": [{"action": "jacking", "urgency_days": 30}]}),
        ("list_work_orders", [{"action_id": "jacking"}, {"action_id": "grout"}]),
    ]
    lines = key_facts(results, language)
    assert len(lines) == len(results)
    text = "\n".join(lines)
    if language != "en":
        assert "个构件" in text or "個構件" in text
        assert "elements" not in text and "latest mean" not in text
    verdict = check_grounding(
        text, [ToolEvidence(tool=t, arguments={}, result=r) for t, r in results]
    )
    assert verdict.unsupported == ()
    cited = {(c.tool, c.path, c.value) for c in verdict.citations}
    assert ("readings_summary", "maximum", 4.2) in cited
    assert ("readings_summary", "latest_mean", 3.3712) in cited
    assert ("channel_trend", "growth.rate_per_year", 1.84) in cited
    assert ("list_hazards", "[0].risk", 16) in cited
    assert ("recommendations", "recommendations[0].urgency_days", 30) in cited


def test_when_the_model_fails_after_a_tool_call_its_key_figures_still_reach_the_user(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, recorded: Any
) -> None:
    calls = tool_reply(("list_hazards", {"asset_id": world.asset_id}))
    recorded([calls, RawReply(body=b"{}", delay_s=1.5)], assistant_key_facts=True,
             llm_timeout_s=0.5)  # fmt: skip
    answer = _events(client.post(ASK, json={"question": "風險？"}, headers=tenant.headers()))[-1]
    assert answer["stopped"] == "model_failed" and "0.5 s" in answer["error"]
    assert answer["key_facts"] == ["風險最高：settlement，風險 16"]
    assert answer["answer"].endswith("\n\n— 風險最高：settlement，風險 16")
    (risk,) = answer["citations"]
    assert (risk["tool"], risk["path"], risk["value"]) == ("list_hazards", "[0].risk", 16)
    assert answer["unsupported"] == [] and answer["grounded_share"] == 1.0
    # without key figures: the failure alone, as before
    recorded([calls, RawReply(body=b"{}", delay_s=1.5)], assistant_key_facts=False)
    answer = _events(client.post(ASK, json={"question": "risk?"}, headers=tenant.headers()))[-1]
    assert answer["stopped"] == "model_failed" and answer["citations"] == []
    assert answer["key_facts"] == [] and "—" not in answer["answer"]
