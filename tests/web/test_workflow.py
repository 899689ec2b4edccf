"""Hazards, work orders, defect review and the rule editor, clicked through as each role would
(NiceGUI's simulated user), in every locale; what the clicks wrote is checked in the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from nicegui import ui
from nicegui.testing import User
from sqlalchemy import select

from infrasight.core.domain import Role
from infrasight.storage.models import (
    AlarmRule,
    AuditEvent,
    DefectReview,
    Hazard,
    HazardTransitionRecord,
    WorkOrder,
    WorkOrderComment,
)
from infrasight.storage.models import User as UserRow
from infrasight.web import WebContext
from infrasight.web.i18n import LOCALES, translator
from tests.web.conftest import RULE, WebSite, log_in


async def _as(web: User, site: WebSite, role: Role, ctx: WebContext, locale: str = "en") -> None:
    await log_in(web, site.email(role))
    await web.should_see(marker="logout")
    for state in ctx.browsers.values():
        state.locale = locale


def _hazard(ctx: WebContext, hazard_id: int) -> Hazard:
    with ctx.session() as session:
        hazard = session.get(Hazard, hazard_id)
        assert hazard is not None
        session.expunge(hazard)
        return hazard


@pytest.mark.parametrize("locale", list(LOCALES))
async def test_hazard_list_and_detail(
    web: User, web_site: WebSite, web_context: WebContext, locale: str
) -> None:
    t = translator(locale)
    await _as(web, web_site, Role.VIEWER, web_context, locale)
    await web.open("/hazards")
    table = web.find(marker="hazards").elements.pop()
    assert isinstance(table, ui.table)
    (row,) = table.rows
    assert row["risk"] == 16
    assert row["band"] == t("high")
    assert row["status"] == t("open")
    assert row["element"] == "VD viaduct · Pier 2"
    assert row["mechanism"] == t("Settlement / support movement")
    await web.open(f"/hazards/{web_site.hazard_id}")  # the #id link of the row (a table slot)
    await web.should_see(marker="hazard-title")
    await web.should_see(t("Ranked causes"))
    await web.should_see("FHWA-NHI-12-049 §10.1", marker="citation-1")
    await web.should_see(t("Thermal response (no damage)"))
    evidence = web.find(marker="evidence").elements.pop()
    assert isinstance(evidence, ui.table)
    assert [r["detail"] for r in evidence.rows] == [
        "Settlement grew 4.5 mm in two weeks",
        "Red level raised",
    ]
    assert evidence.rows[0]["value"] == f"{t.number(4.5, 3)} mm"
    matrix = web.find(marker="risk-matrix").elements.pop()
    assert isinstance(matrix, ui.html)
    assert matrix.content.count("data-here") == 1
    assert '<td data-here="true"' in matrix.content and "<b>● 16</b>" in matrix.content
    timeline = web.find(marker="timeline").elements.pop()
    assert isinstance(timeline, ui.echart)
    window, raised = timeline.options["series"]  # the readings' window, then the alarm
    assert [p[0] for p in window["data"]] == [
        "2024-05-01T00:00:00+00:00",
        "2024-05-15T00:00:00+00:00",
    ]
    assert raised["type"] == "scatter" and raised["data"][0][1] == t("alarm")
    assert raised["data"][0][0] > "2024-05-14"  # raised by the last readings of the two weeks
    trail = web.find(marker="trail").elements.pop()
    assert isinstance(trail, ui.table)
    opened = {"en": "opened from evidence", "zh-Hant": "由證據開立", "zh-Hans": "由证据创建"}
    # the engine's note in the reader's language
    assert [(r["actor"], r["note"]) for r in trail.rows] == [("system", opened[locale])]
    await web.should_see(marker="recommendation-jacking_underpinning")
    # a viewer reads but neither moves the hazard nor creates work orders
    await web.should_not_see(marker="to-acknowledged")
    await web.should_not_see(marker="create-jacking_underpinning")
    assert web_context.missing.get(locale, set()) == set(), "untranslated strings"


async def test_hazard_filters_narrow_the_list(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    await _as(web, web_site, Role.VIEWER, web_context)
    await web.open("/hazards?min_risk=20")
    await web.should_see("No hazards.")
    await web.open("/hazards?status=closed")
    await web.should_see("No hazards.")
    await web.open(f"/hazards?status=open&asset={web_site.site.asset_id}&min_risk=15")
    table = web.find(marker="hazards").elements.pop()
    assert isinstance(table, ui.table)
    assert [r["id"] for r in table.rows] == [web_site.hazard_id]
    web.find(marker="filter-status").elements.pop().set_value("acknowledged")
    await web.should_see("No hazards.")


@pytest.mark.parametrize("locale", ["en", "zh-Hant"])
async def test_inspector_moves_a_hazard_with_a_note(
    web: User, web_site: WebSite, web_context: WebContext, locale: str
) -> None:
    t = translator(locale)
    await _as(web, web_site, Role.INSPECTOR, web_context, locale)
    await web.open(f"/hazards/{web_site.hazard_id}")
    web.find(marker="transition-note").type("seen on site")
    web.find(marker="to-acknowledged").click()
    await web.should_see(t("State: {state}", state=t("acknowledged")))
    assert _hazard(web_context, web_site.hazard_id).status == "acknowledged"
    with web_context.session() as session:
        last = session.scalars(
            select(HazardTransitionRecord).order_by(HazardTransitionRecord.id.desc())
        ).first()
        assert last is not None
        assert (last.to_status, last.note, last.actor) == (
            "acknowledged",
            "seen on site",
            web_site.email(Role.INSPECTOR),
        )
    # an inspector may not create work orders (an engineer's)
    await web.should_not_see(marker="create-jacking_underpinning")
    assert web_context.missing.get(locale, set()) == set()


async def test_engineer_creates_assigns_and_the_crew_works_an_order(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    await _as(web, web_site, Role.ENGINEER, web_context)
    await web.open(f"/hazards/{web_site.hazard_id}")
    web.find(marker="to-acknowledged").click()  # mitigation starts from an acknowledged hazard
    await web.should_see("State: acknowledged")
    web.find(marker="create-jacking_underpinning").click()
    await web.should_see(marker="wo-title")
    with web_context.session() as session:
        (wo,) = session.scalars(select(WorkOrder)).all()
        wo_id = wo.id
        assert (wo.status, wo.action_id) == ("open", "jacking_underpinning")
        assert wo.hazard_id == web_site.hazard_id
    assert _hazard(web_context, web_site.hazard_id).status == "mitigating"
    # a move the role may make but the data refuses: assigning without an assignee
    await web.should_not_see(marker="to-in_progress")
    web.find(marker="assign").click()
    await web.should_see("Choose an assignee.")
    crew = next(
        uid
        for uid, label in web.find(marker="assignee").elements.pop().options.items()  # type: ignore[attr-defined]
        if "(crew)" in str(label)
    )
    web.find(marker="assignee").elements.pop().set_value(crew)
    web.find(marker="assign").click()
    await web.should_see("State: assigned")
    await web.should_see("Assignee: " + web_site.email(Role.CREW))
    # cancelling needs a reason: the service's message is shown and nothing changes
    web.find(marker="to-cancelled").click()
    await web.should_see("note: cancel needs a reason")
    with web_context.session() as session:
        assert session.get_one(WorkOrder, wo_id).status == "assigned"
    web.find(marker="logout").click()
    await web.should_see(marker="submit")

    # the crew member lands on their board, starts the work and comments
    await _as(web, web_site, Role.CREW, web_context)
    await web.open("/")
    await web.should_see(marker="column-assigned")
    await web.should_see(marker=f"wo-{wo_id}")
    await web.should_not_see(marker="nav-hazards")
    await web.open(f"/work-orders/{wo_id}")
    await web.should_not_see(marker="to-cancelled")  # supervisory
    await web.should_not_see(marker="assign")
    web.find(marker="to-in_progress").click()
    await web.should_see("State: in progress")
    web.find(marker="comment-text").type("Jacks in place")
    web.find(marker="comment-send").click()
    await web.should_see("Jacks in place")
    events = web.find(marker="events").elements.pop()
    assert isinstance(events, ui.table)
    assert [r["what"] for r in events.rows] == [
        "created open",
        "updated",
        "moved open → assigned",
        "moved assigned → in progress",
    ]
    with web_context.session() as session:
        assert session.get_one(WorkOrder, wo_id).status == "in_progress"
        (comment,) = session.scalars(select(WorkOrderComment)).all()
        assert (comment.author, comment.body) == (web_site.email(Role.CREW), "Jacks in place")
    await web.open(f"/hazards/{web_site.hazard_id}")
    await web.should_see(marker="forbidden")


async def test_board_moves_a_dragged_card_along_allowed_transitions_only(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    await _as(web, web_site, Role.ENGINEER, web_context)
    await web.open(f"/hazards/{web_site.hazard_id}")
    web.find(marker="create-jacking_underpinning").click()
    await web.should_see(marker="wo-title")
    with web_context.session() as session:
        wo_id = session.scalars(select(WorkOrder.id)).one()
    await web.open("/work-orders")
    await web.should_see("open (1)")
    await web.should_see("in progress (0)")
    await web.should_not_see(marker="column-cancelled")  # empty and rarely used
    # a move the lifecycle forbids: named in the warning, nothing written
    web.find(marker=f"wo-{wo_id}").trigger("dragstart")
    web.find(marker="column-in_progress").trigger("drop")
    await web.should_see("From open you may move to: assigned, cancelled")
    # allowed by the lifecycle, refused by the service (no assignee yet): its message
    web.find(marker=f"wo-{wo_id}").trigger("dragstart")
    web.find(marker="column-assigned").trigger("drop")
    await web.should_see("assignee_id: set an assignee")
    with web_context.session() as session:
        assert session.get_one(WorkOrder, wo_id).status == "open"
        crew = select(UserRow.id).where(UserRow.email == web_site.email(Role.CREW))
        session.get_one(WorkOrder, wo_id).assignee_id = session.scalars(crew).one()
        session.commit()
    web.find(marker=f"wo-{wo_id}").trigger("dragstart")
    web.find(marker="column-assigned").trigger("drop")
    await web.should_see("assigned (1)")
    with web_context.session() as session:
        assert session.get_one(WorkOrder, wo_id).status == "assigned"


async def test_a_viewer_cannot_drag(web: User, web_site: WebSite, web_context: WebContext) -> None:
    await _as(web, web_site, Role.ENGINEER, web_context)
    await web.open(f"/hazards/{web_site.hazard_id}")
    web.find(marker="create-jacking_underpinning").click()
    await web.should_see(marker="wo-title")
    web.find(marker="logout").click()
    await web.should_see(marker="submit")
    await _as(web, web_site, Role.VIEWER, web_context)
    await web.open("/work-orders")
    (card,) = web.find(marker="wo-1").elements
    assert "draggable" not in card.props
    await web.open("/work-orders/1")
    await web.should_see(marker="wo-title")
    await web.should_not_see(marker="to-assigned")
    await web.should_not_see(marker="comment-send")


async def test_a_lower_ranked_action_needs_a_reason(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    await _as(web, web_site, Role.ENGINEER, web_context)
    await web.open(f"/hazards/{web_site.hazard_id}")
    web.find(marker="create-monitoring_load_restriction").click()
    await web.should_see("reason: choosing")
    with web_context.session() as session:
        assert session.scalars(select(WorkOrder)).all() == []


@pytest.mark.parametrize("locale", list(LOCALES))
async def test_inspector_reviews_detections(
    web: User, web_site: WebSite, web_context: WebContext, locale: str
) -> None:
    t = translator(locale)
    await _as(web, web_site, Role.INSPECTOR, web_context, locale)
    await web.open(f"/captures/{web_site.capture_id}")
    image = web.find(marker="capture-image").elements.pop()
    assert isinstance(image, ui.interactive_image)
    table = web.find(marker="defects").elements.pop()
    assert isinstance(table, ui.table)
    first = table.rows[0]
    defect_id = int(first["id"])
    # the overlay labels each defect with its id and widest width; a 10 mm bar at 0.1 mm/px
    assert f"#{defect_id} {first['width']} mm" in image.content
    assert t("{length} mm", length=t.number(10.0, 1)) in image.content
    assert 'x2="114.2"' in image.content  # 14.2 px from the edge + 100 px of bar
    web.find(marker=f"reject-{defect_id}-formwork-joint").click()
    await web.should_see(t("Review saved."))
    with web_context.session() as session:
        (review,) = session.scalars(select(DefectReview)).all()
        assert (review.defect_id, review.verdict, review.note, review.reviewer) == (
            defect_id,
            "rejected",
            "formwork joint",
            web_site.email(Role.INSPECTOR),
        )
    await web.open(f"/captures/{web_site.capture_id}")
    table = web.find(marker="defects").elements.pop()
    assert isinstance(table, ui.table)
    assert table.rows[0]["review"] == f"{t('rejected')}: {t('formwork joint')}"
    web.find(marker=f"confirm-{defect_id}").click()
    await web.should_see(t("Review saved."))
    with web_context.session() as session:
        rows = session.scalars(select(DefectReview).order_by(DefectReview.id))
        verdicts = [r.verdict for r in rows]
        assert verdicts == ["rejected", "confirmed"]
    assert web_context.missing.get(locale, set()) == set()


async def test_viewer_cannot_review(web: User, web_site: WebSite, web_context: WebContext) -> None:
    await _as(web, web_site, Role.VIEWER, web_context)
    await web.open(f"/captures/{web_site.capture_id}")
    await web.should_see(marker="defects")
    await web.should_not_see("Review the detections")


@pytest.mark.parametrize("locale", list(LOCALES))
async def test_engineer_edits_rules_with_the_apis_validation(
    web: User, web_site: WebSite, web_context: WebContext, locale: str
) -> None:
    t = translator(locale)
    await _as(web, web_site, Role.ENGINEER, web_context, locale)
    await web.open("/rules")
    await web.should_see("P2-settlement")
    summary = {
        "en": "VD-SETTLE: amber value > 3; red value > 5",
        "zh-Hant": "VD-SETTLE：橙色（數值 > 3）；紅色（數值 > 5）",
        "zh-Hans": "VD-SETTLE：橙色（数值 > 3）；红色（数值 > 5）",
    }[locale]
    await web.should_see(summary)
    web.find(marker="new-rule").click()
    await web.should_see(marker="definition")
    editor = web.find(marker="definition")
    # not JSON
    editor.clear().type("{oops")
    web.find(marker="save").click()
    not_json = {
        "en": "definition: not JSON: Expecting property name enclosed in double quotes at line 1 "
        "column 2",
        "zh-Hant": "definition: JSON 語法錯誤（第 1 行第 2 欄）：此處應有以雙引號括住的屬性名稱",
        "zh-Hans": "definition: JSON 语法错误（第 1 行第 2 列）：此处应有用双引号括起的属性名",
    }[locale]
    await web.should_see(not_json)
    # JSON, but a channel the organisation does not have (the API's own check)
    bad = {**RULE, "id": "P2-fast", "channels": ["NO-SUCH"]}
    editor.clear().type(json.dumps(bad))
    web.find(marker="save").click()
    await web.should_see("NO-SUCH")
    with web_context.session() as session:
        assert len(session.scalars(select(AlarmRule)).all()) == 1
    good = {**RULE, "id": "P2-fast", "levels": [RULE["levels"][0]]}  # type: ignore[index]
    editor.clear().type(json.dumps(good))
    web.find(marker="save").click()
    await web.should_see(marker="rule-key")
    await web.should_see("P2-fast")
    with web_context.session() as session:
        row = session.scalars(select(AlarmRule).where(AlarmRule.key == "P2-fast")).one()
        rule_id = row.id
        assert row.definition["levels"][0]["name"] == "amber"
    # change: the id must stay
    editor = web.find(marker="definition")
    editor.clear().type(json.dumps({**good, "id": "renamed"}))
    web.find(marker="save").click()
    stay = {
        "en": "the rule id must stay 'P2-fast'",
        "zh-Hant": "規則 ID 必須保持為 'P2-fast'",
        "zh-Hans": "规则 ID 必须保持为 'P2-fast'",
    }[locale]
    await web.should_see(f"definition.id: {stay}")
    web.find(marker="enabled").elements.pop().set_value(False)
    editor.clear().type(json.dumps(good))
    web.find(marker="save").click()
    await web.should_see(t("Rule {key} saved.", key="P2-fast"))
    with web_context.session() as session:
        assert session.get_one(AlarmRule, rule_id).enabled is False
    # an engineer may not delete (an admin's)
    await web.should_not_see(marker="delete")
    assert web_context.missing.get(locale, set()) == set()


async def test_admin_deletes_a_rule_and_a_viewer_only_reads(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    await _as(web, web_site, Role.VIEWER, web_context)
    await web.open("/rules")
    await web.should_not_see(marker="new-rule")
    with web_context.session() as session:
        rule_id = session.scalars(select(AlarmRule.id)).one()
    await web.open(f"/rules/{rule_id}")
    await web.should_see(marker="definition")
    await web.should_not_see(marker="save")
    await web.open("/rules/new")
    await web.should_see(marker="forbidden")
    web.find(marker="logout").click()
    await web.should_see(marker="submit")
    await _as(web, web_site, Role.ADMIN, web_context)
    await web.open(f"/rules/{rule_id}")
    web.find(marker="delete").click()
    await web.should_see("Rule P2-settlement deleted.")
    with web_context.session() as session:
        assert session.scalars(select(AlarmRule)).all() == []
        assert session.scalars(
            select(AuditEvent).where(AuditEvent.action == "delete", AuditEvent.entity == "rule")
        ).all()


@pytest.mark.parametrize("locale", list(LOCALES))
async def test_overview_counts_hazards_and_overdue_work(
    web: User, web_site: WebSite, web_context: WebContext, locale: str
) -> None:
    t = translator(locale)
    await _as(web, web_site, Role.ENGINEER, web_context, locale)
    await web.open(f"/hazards/{web_site.hazard_id}")
    web.find(marker="create-jacking_underpinning").click()
    await web.should_see(marker="wo-title")
    await web.open("/")
    one, none = t.number(1, 0), t.number(0, 0)
    await web.should_see(t("Open hazards: {count}, highest risk {risk}", count=one, risk=16))
    await web.should_see(t("Work orders overdue: {count}", count=none))
    await web.should_see(t("Condition: no rating yet"))
    with web_context.session() as session:
        wo = session.scalars(select(WorkOrder)).one()
        wo.due_at = datetime(2024, 1, 1, tzinfo=UTC)
        session.get_one(Hazard, web_site.hazard_id).status = "resolved"
        session.commit()
    await web.open("/")
    await web.should_see(t("Work orders overdue: {count}", count=one))
    await web.should_see(t("Open hazards: {count}", count=none))
    assert web_context.missing.get(locale, set()) == set()


@pytest.mark.parametrize("locale", list(LOCALES))
async def test_asset_page_lists_hazards_alarms_and_condition_history(
    web: User, web_site: WebSite, web_context: WebContext, client: TestClient, locale: str
) -> None:
    t = translator(locale)
    rating = client.post(
        f"/api/v1/assets/{web_site.site.asset_id}/ratings",
        json={
            "element_id": web_site.site.element_id,
            "standard": "nbi",
            "rating": 6,
            "inspected_at": "2024-04-02T09:00:00Z",
            "inspector": "K. Chan",
        },
        headers=web_site.tenant.headers(Role.INSPECTOR),
    )
    assert rating.status_code == 201, rating.text
    await _as(web, web_site, Role.VIEWER, web_context, locale)
    await web.open(f"/assets/{web_site.site.asset_id}")
    await web.should_see(
        t(
            "#{id} {mechanism}: risk {risk}, {state}",
            id=web_site.hazard_id,
            mechanism=t("Settlement / support movement"),
            risk=16,
            state=t("open"),
        )
    )
    red = {"en": "red", "zh-Hant": "紅色", "zh-Hans": "红色"}[locale]  # the level by its name
    await web.should_see(f"{red} · P2-settlement", marker="asset-alarms")
    when = t.datetime(datetime(2024, 4, 2, 9, tzinfo=UTC))
    await web.should_see(f"{when} · Pier 2 · nbi 6")
    assert web_context.missing.get(locale, set()) == set()
