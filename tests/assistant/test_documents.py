"""Document retrieval: the pages of uploaded PDFs (work-order attachments) and of generated
reports are searched by ``search_documents``; citations point to the passage (document, page);
scoping follows the API (another organisation's files never, crew only their own work orders)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infrasight.assistant import documents
from infrasight.assistant.documents import EXTRACTOR, document_pages, pdf_pages
from infrasight.assistant.grounding import ToolEvidence, check_grounding, passage_of
from infrasight.assistant.replay import ReplayServer, replay, text_reply, tool_reply
from infrasight.assistant.retrieval import search_passages
from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.storage.blobs import register_blob
from infrasight.storage.models import DocumentText, Report, User, WorkOrderAttachment
from tests.assistant.conftest import SECRET, World
from tests.assistant.pdfs import text_pdf
from tests.conftest import Tenant

API = "/api/v1"
ASK = f"{API}/assistant/ask"
REPAIR = [
    "Repair method statement\nPier 2 bearing replacement, viaduct.",
    "Jacking load per bearing 850 kN.\nBearing plinth grout cured 28 days before loading.",
]


def test_pdf_pages_are_read_page_by_page_and_bad_files_give_none() -> None:
    pages = pdf_pages(text_pdf(REPAIR))
    assert len(pages) == 2
    assert "850 kN" in pages[1] and "850" not in pages[0]
    assert pdf_pages(b"%PDF-1.4 this is not a pdf") == []
    assert pdf_pages(b"") == []


def test_document_pages_keep_page_numbers_and_skip_photos() -> None:
    docs = document_pages(
        text_pdf(["", *REPAIR]), "application/pdf", source="report:1", title="r.pdf"
    )
    assert [d.page for d in docs] == [2, 3]  # the blank first page has no passage
    (text,) = document_pages(b"grout cured", "text/plain", source="a", title="n.txt")
    assert (text.page, text.text) == (None, "grout cured")
    assert document_pages(b"\x89PNG....", "image/png", source="p", title="p.png") == []
    found = search_passages("jacking load bearing", docs)
    assert (found[0].page, found[0].title) == (3, "r.pdf")


def test_a_cited_number_points_to_its_passage() -> None:
    result = [
        {
            "source": "report:4",
            "passage": "Jacking load 850 kN.",
            "document": "r",
            "page": 2,
            "link": "/web/reports/4/pdf#page=2",
            "score": 1.5,
        },
    ]
    evidence = [ToolEvidence(tool="search_documents", arguments={"query": "load"}, result=result)]
    (cited,) = check_grounding("The jacking load is 850 kN.", evidence).citations
    assert cited.passage == {
        "source": "report:4",
        "document": "r",
        "page": 2,
        "link": "/web/reports/4/pdf#page=2",
    }
    assert passage_of(result, "[0].score") == cited.passage
    assert passage_of({"value": 3}, "value") is None


def _user_id(platform: Platform, email: str) -> int:
    with platform.database.session() as s:
        return int(s.scalars(select(User.id).where(User.email == email)).one())


def _work_order_with_pdf(
    client: TestClient, platform: Platform, tenant: Tenant, world: World, **body: Any
) -> int:
    h = tenant.headers(Role.ENGINEER)
    r = client.post(f"{API}/work-orders", json={"hazard_id": world.hazard_id, **body}, headers=h)
    assert r.status_code == 201, r.text
    wo = int(r.json()["id"])
    files = {"file": ("method-statement.pdf", text_pdf(REPAIR), "application/pdf")}
    r = client.post(f"{API}/work-orders/{wo}/attachments", files=files, headers=h)
    assert r.status_code == 201, r.text
    return wo


def _report(platform: Platform, org_id: int, asset_id: int, pages: list[str]) -> int:
    data = text_pdf(pages)
    sha, _ = platform.blobs.put(data)
    with platform.database.transaction() as s:
        register_blob(s, sha, len(data), "application/pdf")
        row = Report(
            organization_id=org_id,
            asset_id=asset_id,
            language="en",
            period_start=datetime(2026, 11, 1, tzinfo=UTC),
            period_end=datetime(2026, 11, 30, tzinfo=UTC),
            blob_sha256=sha,
            size_bytes=1,
            pages=len(pages),
            created_by="test",
        )
        s.add(row)
        s.flush()
        return int(row.id)


def _ask(
    client: TestClient, platform: Platform, tenant: Tenant, role: Role, query: str, answer: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    responses: list[Any] = [tool_reply(("search_documents", {"query": query})), text_reply(answer)]
    with ReplayServer(replay(responses)) as server:
        platform.settings.llm_base_url, platform.settings.llm_model = server.url, "recorded"
        r = client.post(
            ASK, json={"question": query, "stream": False}, headers=tenant.headers(role)
        )
        assert r.status_code == 200, r.text
        tool_message = next(m for m in server.requests[1]["messages"] if m["role"] == "tool")
        assert server.requests[0]["max_tokens"] == platform.settings.llm_max_tokens == 1024
        # a tool-calling turn is sent back with "" content: llama-cpp-python refuses null
        (turn,) = [m for m in server.requests[1]["messages"] if m.get("tool_calls")]
        assert turn["content"] == ""
    return r.json(), json.loads(tool_message["content"])


def test_pdf_attachments_and_reports_are_searched_and_cited_by_page(
    client: TestClient, platform: Platform, tenant: Tenant, other_tenant: Tenant, world: World
) -> None:
    wo = _work_order_with_pdf(client, platform, tenant, world)
    rid = _report(
        platform,
        tenant.organization_id,
        world.asset_id,
        ["Monthly report", "Pier 2 settlement 5.0 mm, bearing load checked."],
    )
    _report(
        platform,
        other_tenant.organization_id,
        world.other_asset_id,
        [f"{SECRET}: bearing load 999 kN"],
    )
    answer, sent = _ask(
        client,
        platform,
        tenant,
        Role.VIEWER,
        "bearing jacking load",
        "The method statement gives a jacking load of 850 kN per bearing.",
    )
    first = sent[0]
    assert first["source"].startswith(f"work_order:{wo}#attachment:")
    assert (first["document"], first["page"], first["link"]) == (
        "method-statement.pdf",
        2,
        f"/work-orders/{wo}",
    )
    report_hits = [p for p in sent if p["source"] == f"report:{rid}"]
    assert [(p["page"], p["link"]) for p in report_hits] == [(2, f"/web/reports/{rid}/pdf#page=2")]
    assert SECRET not in json.dumps(sent) and "999" not in json.dumps(sent)
    (cited,) = answer["citations"]
    assert cited["text"] == "850" and cited["passage"]["page"] == 2
    assert cited["passage"]["document"] == "method-statement.pdf"
    assert {(p["source"], p.get("page")) for p in answer["passages"]} == {
        (first["source"], 2),
        (first["source"], 1),
        (f"report:{rid}", 2),
    }


def test_crew_ask_with_their_own_permissions(
    client: TestClient, platform: Platform, tenant: Tenant, world: World
) -> None:
    crew_id = _user_id(platform, "crew@alpha-rail.example")
    mine = _work_order_with_pdf(client, platform, tenant, world, assignee_id=crew_id)
    _work_order_with_pdf(client, platform, tenant, world)  # not assigned to the crew member
    _report(platform, tenant.organization_id, world.asset_id, ["bearing jacking load 700 kN"])
    answer, sent = _ask(client, platform, tenant, Role.CREW, "bearing jacking load", "See the PDF.")
    assert answer["stopped"] == "answered"
    assert {p["source"].split("#")[0] for p in sent} == {f"work_order:{mine}"}  # no report
    # a tool crew may not use is refused exactly as the API refuses it, and nothing leaks
    responses: list[Any] = [tool_reply(("list_hazards", {})), text_reply("No access.")]
    with ReplayServer(replay(responses)) as server:
        platform.settings.llm_base_url, platform.settings.llm_model = server.url, "recorded"
        r = client.post(
            ASK,
            json={"question": "open hazards?", "stream": False},
            headers=tenant.headers(Role.CREW),
        )
    (call,) = r.json()["tool_calls"]
    assert call["outcome"] == "denied"
    assert client.get(f"{API}/hazards", headers=tenant.headers(Role.CREW)).status_code == 403


def test_pdf_text_is_extracted_once_and_kept_by_content(
    client: TestClient,
    platform: Platform,
    tenant: Tenant,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extracted: list[int] = []
    real = documents.pdf_pages

    def counting(data: bytes) -> list[str]:
        extracted.append(len(data))
        return real(data)

    monkeypatch.setattr(documents, "pdf_pages", counting)
    wo = _work_order_with_pdf(client, platform, tenant, world)
    assert len(extracted) == 1  # at upload
    with platform.database.session() as s:
        (attachment,) = s.scalars(
            select(WorkOrderAttachment).where(WorkOrderAttachment.work_order_id == wo)
        ).all()
        stored = s.get(DocumentText, attachment.blob_sha256)
        assert stored is not None and stored.extractor == EXTRACTOR
        assert "850 kN" in stored.text["pages"][1] and len(stored.text["pages"]) == 2
    rid = _report(platform, tenant.organization_id, world.asset_id, ["Grout cured 28 days."])
    for _ in range(2):
        _answer, sent = _ask(client, platform, tenant, Role.VIEWER, "jacking load grout", "ok")
        sources = {p["source"].partition("#")[0] for p in sent}
        assert sources == {f"work_order:{wo}", f"report:{rid}"}
    assert len(extracted) == 2  # the report (stored before the index) on its first search only
    with platform.database.transaction() as s:
        report = s.get(Report, rid)
        assert report is not None and report.blob_sha256 is not None
        report_text = s.get(DocumentText, report.blob_sha256)
        assert report_text is not None and report_text.text["pages"][0].startswith("Grout")
        report_text.extractor = "an older extractor"
    _ask(client, platform, tenant, Role.VIEWER, "grout", "ok")
    assert len(extracted) == 3  # a text of another extractor is extracted again
    # a changed document is a new blob: its own text, found by the next search
    changed = text_pdf(["Jacking load 900 kN."])
    files = {"file": ("method-statement.pdf", changed, "application/pdf")}
    r = client.post(
        f"{API}/work-orders/{wo}/attachments", files=files, headers=tenant.headers(Role.ENGINEER)
    )
    assert r.status_code == 201, r.text
    _answer, sent = _ask(client, platform, tenant, Role.VIEWER, "jacking load", "ok")
    assert len(extracted) == 4 and any("900 kN" in p["passage"] for p in sent)
    with platform.database.session() as s:
        assert s.scalar(select(func.count()).select_from(DocumentText)) == 3
