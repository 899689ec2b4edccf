"""The assistant's chat panel on the asset and hazard pages, against a fake OpenAI-compatible
server replaying recorded responses: the steps, the checked answer, its citations (linked to the
passage's document), "no model configured", and nothing written but the conversation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from nicegui import ui
from nicegui.testing import User
from sqlalchemy import func, select

from infrasight.assistant.replay import ReplayServer, replay, text_reply, tool_reply
from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.storage.models import AssistantConversation, Hazard, WorkOrder
from infrasight.web import WebContext
from infrasight.web.assistant_panel import citation_line
from infrasight.web.i18n import translator
from tests.web.conftest import WebSite, log_in

RETRIES = 100  # the answer comes from a worker thread; NiceGUI's user retries every 0.1 s


@pytest.fixture
def model(platform: Platform) -> Iterator[Any]:
    """Start a replay server for ``responses`` and configure the platform to use it."""
    servers: list[ReplayServer] = []

    def start(responses: list[Any]) -> ReplayServer:
        server = ReplayServer(replay(responses)).__enter__()
        servers.append(server)
        platform.settings.llm_base_url, platform.settings.llm_model = server.url, "recorded"
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def _count(platform: Platform, model: Any) -> int:
    with platform.database.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


async def _login(web: User, site: WebSite, role: Role, ctx: WebContext, locale: str) -> None:
    await log_in(web, site.email(role))
    await web.should_see(marker="logout")
    for state in ctx.browsers.values():
        state.locale = locale


@pytest.mark.parametrize("locale", ["en", "zh-Hant"])
async def test_without_a_model_the_panel_says_so(
    web: User, web_site: WebSite, web_context: WebContext, locale: str
) -> None:
    t = translator(locale)
    await _login(web, web_site, Role.VIEWER, web_context, locale)
    for page in (f"/hazards/{web_site.hazard_id}", f"/assets/{web_site.site.asset_id}"):
        await web.open(page)
        await web.should_see(marker="assistant-off")
        await web.should_see(t("Ask the assistant"))
        await web.should_not_see(marker="assistant-question")
    assert web_context.missing.get(locale, set()) == set()


async def test_a_question_on_the_hazard_page_is_answered_with_citations(
    web: User, web_site: WebSite, web_context: WebContext, platform: Platform, model: Any
) -> None:
    hid = web_site.hazard_id
    server = model(
        [
            tool_reply(("get_hazard", {"hazard_id": hid})),
            text_reply(f"Hazard {hid} has a risk of 16; settlement grew 4.5 mm. Soon 7.7 mm."),
        ]
    )
    before = (_count(platform, Hazard), _count(platform, WorkOrder))
    await _login(web, web_site, Role.VIEWER, web_context, "en")
    await web.open(f"/hazards/{hid}")
    web.find(marker="assistant-question").type("Why is pier 2 at risk?")
    web.find(marker="assistant-ask").click()
    await web.should_see(marker="assistant-answer", retries=RETRIES)
    await web.should_see("Looked up get_hazard: done")
    answer = next(iter(web.find(marker="assistant-answer").elements))
    assert isinstance(answer, ui.label) and "16" in answer.text
    assert "7.7" not in answer.text  # no tool returned 7.7: its sentence is removed
    lines = [str(getattr(e, "text", "")) for e in web.find(marker="assistant-citation").elements]
    assert any(line.startswith("16: get_hazard") and line.endswith("risk = 16") for line in lines)
    assert any(line.startswith("4.5: get_hazard") for line in lines)
    await web.should_see("Removed, no tool returned 7.7: Soon 7.7 mm.")
    await web.should_not_see(marker="assistant-unverified")
    # the question went to the model with the page's asset, as the asking user
    assert server.requests[0]["messages"][-1]["content"].endswith("Why is pier 2 at risk?")
    assert (_count(platform, Hazard), _count(platform, WorkOrder)) == before
    assert _count(platform, AssistantConversation) == 1
    assert web_context.missing.get("en", set()) == set()


async def test_a_document_citation_links_to_its_work_order_and_empty_questions_are_refused(
    web: User,
    web_site: WebSite,
    web_context: WebContext,
    client: TestClient,
    model: Any,
) -> None:
    h = web_site.tenant.headers(Role.ENGINEER)
    wo = client.post("/api/v1/work-orders", json={"hazard_id": web_site.hazard_id}, headers=h)
    assert wo.status_code == 201, wo.text
    wid = wo.json()["id"]
    note = {"body": "Bearing jacking load 850 kN, grout cured."}
    assert client.post(f"/api/v1/work-orders/{wid}/comments", json=note, headers=h).is_success
    model(
        [
            tool_reply(("search_documents", {"query": "jacking load"})),
            text_reply("The comment gives a jacking load of 850 kN."),
        ]
    )
    await _login(web, web_site, Role.ENGINEER, web_context, "en")
    await web.open(f"/assets/{web_site.site.asset_id}")
    web.find(marker="assistant-ask").click()
    await web.should_see(marker="assistant-error")
    await web.should_see("Write a question first.")
    web.find(marker="assistant-question").type("What jacking load?")
    web.find(marker="assistant-ask").click()
    await web.should_see(marker="assistant-answer", retries=RETRIES)
    (link,) = web.find(marker="assistant-citation").elements
    assert isinstance(link, ui.link) and link.props["href"] == f"/work-orders/{wid}"
    (consulted,) = web.find(marker="assistant-passage").elements
    assert isinstance(consulted, ui.link) and consulted.props["href"] == f"/work-orders/{wid}"


def test_citation_lines_name_the_passage_or_the_tool_value() -> None:
    t = translator("zh-Hant")
    passage = {"source": "report:3", "document": "report 3 (en)", "page": 2,
               "link": "/web/reports/3/pdf#page=2"}  # fmt: skip
    line, link = citation_line({"text": "850", "tool": "search_documents", "passage": passage}, t)
    assert (line, link) == ("850: report 3 (en)，第 2 頁", "/web/reports/3/pdf#page=2")
    long = {"text": "30", "tool": "get_hazard", "arguments": {"hazard_id": 2},
            "path": "causes[2].citation", "value": "Doebling S.W. " * 20}  # fmt: skip
    line, link = citation_line(long, translator("en"))
    assert link == "" and line.startswith('30: get_hazard {"hazard_id": 2}, causes[2].citation = ')
    assert line.endswith("…") and len(line.split(" = ", 1)[1]) == 80
    line, _ = citation_line({"text": "2", "tool": "question"}, translator("en"))
    assert line == "2: from the question"
