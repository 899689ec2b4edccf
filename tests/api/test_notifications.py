"""Notifications through the HTTP API and the CLI: subscriptions (bad input refused, secrets
shown once), signed webhooks from alarms, hazards and work orders, retries with backoff, dead
letters, secret rotation, e-mail through a real SMTP server, restarts, and the SLA sweep."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from infrasight.api.app import create_app
from infrasight.cli.app import app as cli
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.notify.signing import verify
from infrasight.platform import Platform
from infrasight.storage.models import (
    AuditEvent,
    Hazard,
    HazardTransitionRecord,
    NotificationDelivery,
    NotificationSubscription,
    SlaEscalation,
    User,
    WorkOrderVerification,
)
from tests.api.test_durable_effects import MOVING_500, _add_rule, _readings
from tests.conftest import Site, Tenant
from tests.helpers import insert_hazard
from tests.notify.receiver import WebhookReceiver

API = "/api/v1"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    yield hook
    hook.close()


def _subscribe(client: TestClient, tenant: Tenant, target: str, **fields: Any) -> tuple[int, str]:
    answer = client.post(
        f"{API}/notifications/subscriptions",
        json={"channel": "webhook", "target": target, **fields},
        headers=tenant.headers(Role.ENGINEER),
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"]), str(answer.json()["secret"])


def _hazard(platform: Platform, tenant: Tenant, site: Site, band: str = "high") -> int:
    """A hazard opened by the engine (an ``open`` transition in the same transaction)."""
    return insert_hazard(
        platform,
        tenant.organization_id,
        site.asset_id,
        site.element_id,
        band=band,
        causes=[{"mechanism": "settlement", "confidence": 0.8}],
        evidence=[{"kind": "reading_window", "ref": "channel:VD-SETTLE[x]", "test": "t"}],
    )


def _count(platform: Platform, model: type[object]) -> int:
    with platform.database.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


def _deliveries(client: TestClient, tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    answer = client.get(f"{API}/notifications/deliveries", params=params, headers=tenant.headers())
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


# -- subscriptions -------------------------------------------------------------------------------


def test_secret_is_shown_once_and_never_again(
    client: TestClient, tenant: Tenant, receiver: WebhookReceiver
) -> None:
    sid, secret = _subscribe(
        client, tenant, receiver.url, event_kinds=["hazard.opened"], min_severity=2
    )
    assert secret.startswith("whsec_") and len(secret) > 40
    h = tenant.headers(Role.ENGINEER)
    one = client.get(f"{API}/notifications/subscriptions/{sid}", headers=h)
    listed = client.get(f"{API}/notifications/subscriptions", headers=h)
    patched = client.patch(
        f"{API}/notifications/subscriptions/{sid}", json={"enabled": False}, headers=h
    )
    for answer in (one, listed, patched):
        assert answer.status_code == 200, answer.text
        assert secret not in answer.text and 'secret"' not in answer.text
    assert one.json()["event_kinds"] == ["hazard.opened"] and one.json()["min_severity"] == 2
    assert patched.json()["enabled"] is False


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"channel": "webhook", "target": "ftp://example.com/x"}, "target", "http:// or https://"),
        ({"channel": "webhook", "target": "http:///nohost"}, "target", "needs a host"),
        ({"channel": "webhook", "target": "http://testserver/api/v1/x"}, "target", "this server"),
        ({"channel": "webhook", "target": "http://169.254.169.254/"}, "target", "link-local"),
        ({"channel": "webhook", "target": "http://x.example:99999/"}, "target", "not a valid"),
        ({"channel": "email", "target": "not an address"}, "target", "not an e-mail"),
        ({"channel": "sms", "target": "+4412345"}, "channel", ""),
        (
            {"channel": "webhook", "target": "http://x.example/", "event_kinds": ["alarm.boom"]},
            "event_kinds",
            "unknown event kind",
        ),
        (
            {"channel": "webhook", "target": "http://x.example/", "asset_ids": [999999]},
            "asset_ids",
            "not found",
        ),
        (
            {"channel": "webhook", "target": "http://x.example/", "min_severity": 9},
            "min_severity",
            "",
        ),
        ({"channel": "webhook", "target": "http://x.example/", "language": "fr"}, "language", ""),
    ],
)
def test_bad_subscriptions_are_refused_and_nothing_written(
    client: TestClient,
    platform: Platform,
    tenant: Tenant,
    body: dict[str, Any],
    field: str,
    message: str,
) -> None:
    answer = client.post(
        f"{API}/notifications/subscriptions", json=body, headers=tenant.headers(Role.ENGINEER)
    )
    assert answer.status_code == 422, answer.text
    assert field in answer.text and message in answer.text
    assert _count(platform, NotificationSubscription) == 0
    assert _count(platform, AuditEvent) == 0


def test_roles_and_tenancy(client: TestClient, platform: Platform, tenant: Tenant) -> None:
    from tests.conftest import make_tenant

    body = {"channel": "webhook", "target": "http://x.example/"}
    for role in (Role.VIEWER, Role.INSPECTOR, Role.CREW):
        answer = client.post(
            f"{API}/notifications/subscriptions", json=body, headers=tenant.headers(role)
        )
        assert answer.status_code == 403, (role, answer.text)
    sid, _ = _subscribe(client, tenant, "http://x.example/")
    other = make_tenant(platform, "Other Org")
    assert (
        client.get(f"{API}/notifications/subscriptions/{sid}", headers=other.headers()).status_code
        == 404
    )
    gone = client.delete(f"{API}/notifications/subscriptions/{sid}", headers=tenant.headers())
    assert gone.status_code == 204
    assert _count(platform, NotificationSubscription) == 0


# -- delivery ------------------------------------------------------------------------------------


def test_alarm_raised_reaches_a_signed_webhook(
    client: TestClient,
    platform: Platform,
    tenant: Tenant,
    site: Site,
    receiver: WebhookReceiver,
) -> None:
    _sid, secret = _subscribe(client, tenant, receiver.url, event_kinds=["alarm.raised"])
    _add_rule(client, tenant)
    ingest = client.post(
        f"{API}/ingest/readings",
        json={"readings": _readings(MOVING_500)},
        headers=site.device_headers,
    )
    assert ingest.status_code == 200, ingest.text
    attempts = platform.notifier.run_once()
    assert [a.outcome.ok for a in attempts] == [True]
    [got] = receiver.received
    verify(got.headers["X-InfraSight-Signature"], got.body, secret, now=time.time())
    doc = got.document
    assert doc["kind"] == "alarm.raised" and got.headers["X-InfraSight-Event"] == "alarm.raised"
    assert doc["asset"] == {"id": site.asset_id, "name": "VD viaduct"}
    assert doc["element"] == "Pier 2" and doc["severity"] == 2
    assert doc["text"]["title"] == "Alarm raised: settle-upper (over) on VD viaduct"
    assert "Element: Pier 2" in doc["text"]["body"]
    assert got.headers["X-InfraSight-Delivery"] == str(doc["delivery_id"])
    [row] = _deliveries(client, tenant)
    assert row["status"] == "delivered" and row["attempts"] == 1
    assert platform.notifier.run_once() == []  # delivered once


def test_filters_by_kind_severity_and_asset(
    client: TestClient,
    platform: Platform,
    tenant: Tenant,
    site: Site,
    receiver: WebhookReceiver,
) -> None:
    other_asset = client.post(
        f"{API}/assets", json={"name": "Other", "kind": "bridge"}, headers=tenant.headers()
    ).json()["id"]
    _subscribe(client, tenant, receiver.url, event_kinds=["alarm.raised"])  # wrong kind
    _subscribe(client, tenant, receiver.url, min_severity=4)  # too severe
    _subscribe(client, tenant, receiver.url, asset_ids=[other_asset])  # wrong asset
    wanted, _ = _subscribe(client, tenant, receiver.url, asset_ids=[site.asset_id], min_severity=3)
    hazard_id = _hazard(platform, tenant, site, band="high")  # severity 3
    platform.notifier.run_once()
    assert [r.document["kind"] for r in receiver.received] == ["hazard.opened"]
    assert [d["subscription_id"] for d in _deliveries(client, tenant)] == [wanted]
    doc = receiver.received[0].document
    assert doc["subject"] == {"type": "hazard", "id": hazard_id}
    assert doc["data"]["evidence"] == ["channel:VD-SETTLE[x]"]
    assert doc["link"].endswith(f"/api/v1/hazards/{hazard_id}")


def test_work_order_lifecycle_notifies_assigned_and_verified_in_order(
    client: TestClient,
    platform: Platform,
    tenant: Tenant,
    site: Site,
    receiver: WebhookReceiver,
) -> None:
    _subscribe(
        client,
        tenant,
        receiver.url,
        event_kinds=["work_order.assigned", "work_order.verified"],
        language="zh-Hant",
    )
    hazard_id = _hazard(platform, tenant, site)
    h = tenant.headers(Role.ENGINEER)
    wo = client.post(f"{API}/work-orders", json={"hazard_id": hazard_id}, headers=h)
    assert wo.status_code == 201, wo.text
    wid = wo.json()["id"]
    with platform.database.session() as s:
        crew = s.scalars(select(User.id).where(User.email.like("crew@%"))).one()
    assert (
        client.patch(f"{API}/work-orders/{wid}", json={"assignee_id": crew}, headers=h).status_code
        == 200
    )
    for to in ("assigned", "in_progress", "completed", "verifying", "closed"):
        if to == "closed":  # a work order closes after a passed verification (tested elsewhere)
            with platform.database.transaction() as s:
                s.add(
                    WorkOrderVerification(
                        work_order_id=wid,
                        method="readings",
                        outcome="passed",
                        period_days=14.0,
                        decided_by="engineer",
                    )
                )
        moved = client.post(f"{API}/work-orders/{wid}/transitions", json={"to": to}, headers=h)
        assert moved.status_code == 200, moved.text
    platform.notifier.run_once()
    kinds = [r.document["kind"] for r in receiver.received]
    assert kinds == ["work_order.assigned", "work_order.verified"]
    first = receiver.received[0].document
    assert first["text"]["language"] == "zh-Hant"
    assert first["text"]["title"].startswith("工單已指派：VD viaduct")
    assert first["data"]["assignee"].startswith("crew@")


def test_receiver_failures_are_retried_with_backoff_in_order(
    client: TestClient,
    platform: Platform,
    tenant: Tenant,
    site: Site,
    receiver: WebhookReceiver,
) -> None:
    _subscribe(client, tenant, receiver.url)
    first = _hazard(platform, tenant, site)
    second = _hazard(platform, tenant, site)
    receiver.fail_next = 2
    t0 = datetime.now(UTC) + timedelta(seconds=1)  # the rows are due from their creation
    [a1] = platform.notifier.run_once(t0)  # head of line fails; the second waits behind it
    assert not a1.outcome.ok and a1.outcome.status_code == 503 and a1.status == "pending"
    assert platform.notifier.run_once(t0 + timedelta(seconds=4)) == []  # backoff 5 s
    [a2] = platform.notifier.run_once(t0 + timedelta(seconds=6))
    assert not a2.outcome.ok  # second failure: next in 10 s
    assert platform.notifier.run_once(t0 + timedelta(seconds=15)) == []
    done = platform.notifier.run_once(t0 + timedelta(seconds=17))
    assert [a.outcome.ok for a in done] == [True, True]
    subjects = [r.document["subject"]["id"] for r in receiver.received]
    assert subjects == [first, second]
    rows = sorted(_deliveries(client, tenant), key=lambda d: d["id"])
    assert [(d["status"], d["attempts"]) for d in rows] == [("delivered", 3), ("delivered", 1)]


def test_unreachable_receiver_is_dead_lettered_then_retried(
    settings: Settings, tenant: Tenant, client: TestClient, site: Site
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    strict = settings.model_copy(update={"notify_max_attempts": 2})
    platform = Platform.create(strict, workers=0)
    try:
        with TestClient(create_app(platform=platform)) as http:
            _subscribe(http, tenant, f"http://127.0.0.1:{port}/hook")
            _hazard(platform, tenant, site)
            t0 = datetime.now(UTC) + timedelta(seconds=1)  # the rows are due from their creation
            [a1] = platform.notifier.run_once(t0)
            [a2] = platform.notifier.run_once(t0 + timedelta(seconds=6))
            assert a1.status == "pending" and a2.status == "dead"
            assert "Connection refused" in a2.outcome.error or "refused" in a2.outcome.error.lower()
            [dead] = _deliveries(http, tenant, status="dead")
            assert dead["attempts"] == 2 and dead["last_error"]
            again = http.post(
                f"{API}/notifications/deliveries/{dead['id']}/retry", headers=tenant.headers()
            )
            assert again.status_code == 200 and again.json()["status"] == "pending"
            twice = http.post(
                f"{API}/notifications/deliveries/{dead['id']}/retry", headers=tenant.headers()
            )
            assert twice.status_code == 409
    finally:
        platform.close()


def test_secret_rotation_signs_with_both_during_grace(
    client: TestClient,
    platform: Platform,
    tenant: Tenant,
    site: Site,
    receiver: WebhookReceiver,
) -> None:
    sid, old = _subscribe(client, tenant, receiver.url)
    h = tenant.headers(Role.ENGINEER)
    rotated = client.post(
        f"{API}/notifications/subscriptions/{sid}/rotate-secret", json={"grace_hours": 1}, headers=h
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["previous_secret_until"]
    _hazard(platform, tenant, site)
    platform.notifier.run_once()
    got = receiver.received[-1]
    for secret in (old, new):
        verify(got.headers["X-InfraSight-Signature"], got.body, secret, now=time.time())
    # no grace: the old secret stops at once
    newest = client.post(
        f"{API}/notifications/subscriptions/{sid}/rotate-secret", json={"grace_hours": 0}, headers=h
    ).json()["secret"]
    _hazard(platform, tenant, site)
    platform.notifier.run_once()
    got = receiver.received[-1]
    assert got.headers["X-InfraSight-Signature"].count("v1=") == 1
    verify(got.headers["X-InfraSight-Signature"], got.body, newest, now=time.time())
    from infrasight.notify.signing import SignatureError

    with pytest.raises(SignatureError):
        verify(got.headers["X-InfraSight-Signature"], got.body, new, now=time.time())
    bad = client.post(
        f"{API}/notifications/subscriptions/{sid}/rotate-secret",
        json={"grace_hours": 500},
        headers=h,
    )
    assert bad.status_code == 422 and "grace_hours" in bad.text


def test_facts_survive_a_restart_before_delivery(
    settings: Settings,
    tenant: Tenant,
    client: TestClient,
    site: Site,
    platform: Platform,
    receiver: WebhookReceiver,
) -> None:
    _sid, secret = _subscribe(client, tenant, receiver.url)
    hazard_id = _hazard(platform, tenant, site)
    platform.close()  # the process stops: the fact is a queued row, nothing was sent
    assert receiver.received == []
    again = Platform.create(settings, workers=0)
    try:
        again.notifier.run_once()
    finally:
        again.close()
    [got] = receiver.received
    assert got.document["subject"]["id"] == hazard_id
    verify(got.headers["X-InfraSight-Signature"], got.body, secret, now=time.time())


def test_a_rolled_back_change_notifies_nobody(
    client: TestClient, platform: Platform, tenant: Tenant, site: Site, receiver: WebhookReceiver
) -> None:
    _subscribe(client, tenant, receiver.url)
    with pytest.raises(RuntimeError), platform.database.transaction() as s:
        hz = Hazard(
            organization_id=tenant.organization_id,
            asset_id=site.asset_id,
            element_id=site.element_id,
            mechanism="settlement",
            hazard_kind="structural",
            status="open",
            confidence=0.5,
            likelihood=2,
            consequence=2,
            risk=4,
            risk_band="low",
            causes=[],
            prediction={},
        )
        s.add(hz)
        s.flush()
        s.add(
            HazardTransitionRecord(hazard_id=hz.id, from_status="", action="open", to_status="open")
        )
        s.flush()
        raise RuntimeError("the change fails")
    assert platform.notifier.run_once() == []
    assert receiver.received == []


# -- e-mail --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_email_through_a_real_smtp_server(
    settings: Settings, tenant: Tenant, client: TestClient, site: Site
) -> None:
    controller_module = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Message

    class Inbox(Message):
        def __init__(self) -> None:
            super().__init__()
            self.messages: list[Any] = []

        def handle_message(self, message: Any) -> None:
            self.messages.append(message)

    inbox = Inbox()
    port = _free_port()
    server = controller_module.Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    platform = Platform.create(
        settings.model_copy(
            update={"smtp_url": f"smtp://127.0.0.1:{port}", "public_url": "https://infra.example"}
        ),
        workers=0,
    )
    try:
        with TestClient(create_app(platform=platform)) as http:
            answer = http.post(
                f"{API}/notifications/subscriptions",
                json={"channel": "email", "target": "duty@example.org", "language": "zh-Hans"},
                headers=tenant.headers(Role.ENGINEER),
            )
            assert answer.status_code == 201 and answer.json()["secret"] == ""
            hazard_id = _hazard(platform, tenant, site)
            [attempt] = platform.notifier.run_once()
            assert attempt.outcome.ok, attempt.outcome.error
    finally:
        platform.close()
        server.stop()
    [mail] = inbox.messages
    assert mail["To"] == "duty@example.org"
    assert mail["From"] == "infrasight@localhost"
    from email.header import decode_header, make_header

    subject = str(make_header(decode_header(mail["Subject"])))
    assert subject == f"新增隐患：VD viaduct 的 沉降（隐患 {hazard_id}）"
    body = mail.get_payload(decode=True).decode()
    assert "构件：Pier 2" in body
    assert f"https://infra.example/api/v1/hazards/{hazard_id}" in body


def test_email_without_a_mail_server_waits(
    client: TestClient, platform: Platform, tenant: Tenant, site: Site
) -> None:
    client.post(
        f"{API}/notifications/subscriptions",
        json={"channel": "email", "target": "duty@example.org"},
        headers=tenant.headers(Role.ENGINEER),
    )
    _hazard(platform, tenant, site)
    [attempt] = platform.notifier.run_once()
    assert not attempt.outcome.ok and "INFRASIGHT_SMTP_URL" in attempt.outcome.error
    assert attempt.status == "pending"


# -- SLA sweep -----------------------------------------------------------------------------------


def test_sla_sweep_escalates_overdue_work_once_and_audits(
    client: TestClient,
    platform: Platform,
    tenant: Tenant,
    site: Site,
    receiver: WebhookReceiver,
) -> None:
    _subscribe(client, tenant, receiver.url, event_kinds=["work_order.overdue"])
    hazard_id = _hazard(platform, tenant, site)
    h = tenant.headers(Role.ENGINEER)
    wid = client.post(f"{API}/work-orders", json={"hazard_id": hazard_id}, headers=h).json()["id"]
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (
        client.patch(f"{API}/work-orders/{wid}", json={"due_at": past}, headers=h).status_code
        == 200
    )
    swept = client.post(f"{API}/notifications/sweep", headers=tenant.headers(Role.ADMIN))
    assert swept.status_code == 200, swept.text
    escalations = [e for e in swept.json()["escalations"] if e["subject_type"] == "work_order"]
    assert escalations == [
        {
            "subject_type": "work_order",
            "subject_id": wid,
            "rule": "work_order_overdue",
            "event": "work_order.overdue",
            "step": 1,
        }
    ]
    again = client.post(f"{API}/notifications/sweep", headers=tenant.headers(Role.ADMIN))
    assert again.json()["escalations"] == []  # idempotent within a step
    platform.notifier.run_once()
    [got] = receiver.received
    assert got.document["kind"] == "work_order.overdue" and got.document["data"]["step"] == 1
    assert "reminder 1" in got.document["text"]["title"]
    with platform.database.session() as s:
        audits = s.scalars(select(AuditEvent).where(AuditEvent.action == "sla.escalate")).all()
        assert [(a.entity, a.entity_id, a.actor) for a in audits if a.entity == "work_order"] == [
            ("work_order", wid, "system:sla-sweep")
        ]
    assert client.post(f"{API}/notifications/sweep", headers=h).status_code == 403


def test_sla_sweep_reminds_until_an_alarm_is_acknowledged(
    client: TestClient, platform: Platform, tenant: Tenant, site: Site
) -> None:
    _add_rule(client, tenant)
    client.post(
        f"{API}/ingest/readings",
        json={"readings": _readings(MOVING_500)},
        headers=site.device_headers,
    )
    platform.notifier.run_once()
    with platform.database.session() as s:
        from infrasight.storage.models import AlarmRecord

        alarm = s.scalars(select(AlarmRecord).where(AlarmRecord.key == "settle-upper")).one()
        raised = alarm.raised_at
    # severity 2: first reminder 4 h after the raise, then every 12 h
    steps = [
        [
            e.step
            for e in platform.notifier.sweep(raised + timedelta(hours=h))
            if e.subject_type == "alarm"
        ]
        for h in (3, 4, 5, 16, 16.5)
    ]
    assert steps == [[], [1], [], [2], []]
    ack = client.post(
        f"{API}/alarms/{alarm.id}/acknowledge",
        json={"note": "seen"},
        headers=tenant.headers(Role.ENGINEER),
    )
    assert ack.status_code == 200, ack.text
    assert [
        e
        for e in platform.notifier.sweep(raised + timedelta(hours=40))
        if e.subject_type == "alarm"
    ] == []
    assert _count(platform, SlaEscalation) >= 2


# -- CLI -----------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("INFRASIGHT_DATABASE_URL", settings.database_url)
    return settings.data_dir


def test_cli_subscribe_send_list_and_bad_input(
    cli_env: Path, platform: Platform, tenant: Tenant, site: Site, receiver: WebhookReceiver
) -> None:
    runner = CliRunner()
    bad = runner.invoke(
        cli, ["notify", "subscribe", "--channel", "webhook", "--target", "gopher://x"]
    )
    assert bad.exit_code == 2 and "http:// or https://" in bad.output
    bad_kind = runner.invoke(
        cli,
        ["notify", "subscribe", "--channel", "webhook", "--target", receiver.url, "--kind", "nope"],
    )
    assert bad_kind.exit_code == 2 and "event_kinds" in bad_kind.output
    made = runner.invoke(
        cli,
        [
            "notify",
            "subscribe",
            "--channel",
            "webhook",
            "--target",
            receiver.url,
            "--kind",
            "hazard.opened",
        ],
    )
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    assert created["secret"].startswith("whsec_")
    listed = runner.invoke(cli, ["notify", "subscriptions"])
    assert listed.exit_code == 0, listed.output
    with platform.database.session() as session:
        stored = session.get_one(NotificationSubscription, created["id"])
        assert (stored.target, stored.event_kinds) == (receiver.url, ["hazard.opened"])
    assert created["secret"] not in listed.output
    _hazard(platform, tenant, site)
    sent = runner.invoke(cli, ["notify", "send"])
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.stdout) == {"attempts": 1, "delivered": 1, "failed": 0}
    verify(
        receiver.received[0].headers["X-InfraSight-Signature"],
        receiver.received[0].body,
        created["secret"],
        now=time.time(),
    )
    log = runner.invoke(cli, ["notify", "deliveries", "--status", "delivered"])
    assert log.exit_code == 0, log.output
    with platform.database.session() as session:
        statuses = session.scalars(select(NotificationDelivery.status)).all()
    assert statuses == ["delivered"]
    rotated = runner.invoke(cli, ["notify", "rotate", str(created["id"]), "--grace-hours", "900"])
    assert rotated.exit_code == 2 and "grace_hours" in rotated.output
    retry = runner.invoke(cli, ["notify", "retry", "999"])
    assert retry.exit_code == 1 and "not found" in retry.output
    swept = runner.invoke(cli, ["notify", "sweep"])
    assert swept.exit_code == 0, swept.output
    gone = runner.invoke(cli, ["notify", "unsubscribe", str(created["id"])])
    assert gone.exit_code == 0
    assert _count(platform, NotificationDelivery) == 0


def test_a_rising_risk_band_is_an_escalation_a_falling_one_is_not(
    client: TestClient, platform: Platform, tenant: Tenant, site: Site, receiver: WebhookReceiver
) -> None:
    _subscribe(client, tenant, receiver.url, event_kinds=["hazard.escalated"])
    hazard_id = _hazard(platform, tenant, site, band="medium")
    for band in ("high", "medium", "very high"):
        with platform.database.transaction() as s:
            s.get_one(Hazard, hazard_id).risk_band = band
    platform.notifier.run_once()
    got = [(r.document["data"]["risk_band"], r.document["severity"]) for r in receiver.received]
    assert got == [("high", 3), ("very high", 4)]
    assert receiver.received[0].document["data"]["note"] == "risk medium -> high"


def test_every_user_may_subscribe_their_own_e_mail_only(
    client: TestClient, platform: Platform, tenant: Tenant
) -> None:
    """Personal subscriptions: a viewer or an inspector subscribes their own address, sees and
    changes only that; another address or a webhook needs an engineer; crew members act only on
    their work orders (nothing written on a refusal)."""
    url = f"{API}/notifications/subscriptions"
    engineers = _subscribe(client, tenant, "http://x.example/")[0]
    mine: dict[Role, int] = {}
    for role in (Role.VIEWER, Role.INSPECTOR):
        h = tenant.headers(role)
        me = client.get(f"{API}/users/me", headers=h)
        assert me.status_code == 200, me.text
        email = me.json()["email"]
        other = client.post(
            url, json={"channel": "email", "target": "someone@else.example"}, headers=h
        )
        assert other.status_code == 403 and "own e-mail address" in other.json()["detail"]
        made = client.post(
            url,
            json={"channel": "email", "target": email.upper(), "event_kinds": ["hazard.opened"]},
            headers=h,
        )
        assert made.status_code == 201, made.text
        mine[role] = int(made.json()["id"])
        listed = client.get(url, headers=h).json()
        assert [s["id"] for s in listed] == [mine[role]]
        assert client.get(f"{url}/{engineers}", headers=h).status_code == 404
        moved = client.patch(
            f"{url}/{mine[role]}", json={"target": "someone@else.example"}, headers=h
        )
        assert moved.status_code == 403
        quiet = client.patch(f"{url}/{mine[role]}", json={"min_severity": 3}, headers=h)
        assert quiet.status_code == 200 and quiet.json()["min_severity"] == 3
    crew = tenant.headers(Role.CREW)
    crew_email = platform_email(platform, "crew@%")
    refused = client.post(url, json={"channel": "email", "target": crew_email}, headers=crew)
    assert refused.status_code == 403
    assert _count(platform, NotificationSubscription) == 3
    everyone = client.get(url, headers=tenant.headers(Role.ENGINEER)).json()
    assert sorted(s["id"] for s in everyone) == sorted([engineers, *mine.values()])
    viewer, inspector = tenant.headers(Role.VIEWER), tenant.headers(Role.INSPECTOR)
    assert client.delete(f"{url}/{mine[Role.VIEWER]}", headers=inspector).status_code == 404
    assert client.delete(f"{url}/{mine[Role.VIEWER]}", headers=viewer).status_code == 204
    assert _count(platform, NotificationSubscription) == 2


def platform_email(platform: Platform, pattern: str) -> str:
    with platform.database.session() as s:
        return str(s.scalars(select(User.email).where(User.email.like(pattern))).one())
