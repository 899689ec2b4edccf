"""Accounts through HTTP: login and logout, passwords, expiring tokens, the lock-out guard,
reactivation, e-mail privacy across organisations and rate limits on failed authentication."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from infrasight.api.app import create_app
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.auth import hash_token
from infrasight.storage.models import ApiToken, AuditEvent, Device, User
from tests.conftest import Site, Tenant

PASSWORD = "correct horse battery"
LOGIN = "/api/v1/auth/login"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _me(client: TestClient, tenant: Tenant, role: Role = Role.ADMIN) -> dict[str, object]:
    me: dict[str, object] = client.get("/api/v1/users/me", headers=tenant.headers(role)).json()
    return me


def _user_with_password(client: TestClient, tenant: Tenant, email: str, role: str) -> int:
    created = client.post(
        "/api/v1/users",
        json={"email": email, "role": role, "password": PASSWORD},
        headers=tenant.headers(),
    )
    assert created.status_code == 201, created.text
    user_id: int = created.json()["id"]
    return user_id


def _audit_actions(platform: Platform, user_id: int) -> list[str]:
    with platform.database.session() as session:
        rows = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_id == user_id).order_by(AuditEvent.id)
        )
        return list(rows)


# --- login, session cookie, logout -------------------------------------------------------------


def test_login_returns_a_session_token_and_cookie(
    client: TestClient, tenant: Tenant, platform: Platform
) -> None:
    user_id = _user_with_password(client, tenant, "eve@alpha.example", "engineer")
    before = datetime.now(UTC)
    answer = client.post(LOGIN, json={"email": " Eve@Alpha.example ", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token"].startswith("iss_") and body["token_type"] == "bearer"
    assert body["user_id"] == user_id and body["role"] == "engineer"
    assert body["organization"] == "Alpha Rail"
    assert client.get("/api/v1/users/me", headers=_bearer(body["token"])).json()["has_password"]
    assert _me(client, tenant)["has_password"] is False
    lifetime = datetime.fromisoformat(body["expires_at"]) - before
    assert timedelta(hours=11, minutes=59) < lifetime <= timedelta(hours=12, seconds=5)
    cookie = answer.headers["set-cookie"]
    assert "infrasight_session=" in cookie and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower() and "Max-Age=43200" in cookie
    # The bearer header works, and so does the cookie alone (a same-origin web page).
    assert client.get("/api/v1/users/me", headers=_bearer(body["token"])).json()["id"] == user_id
    assert client.get("/api/v1/users/me").json()["id"] == user_id
    assert "login" in _audit_actions(platform, user_id)

    logout = client.post("/api/v1/auth/logout")
    assert logout.status_code == 204
    assert 'infrasight_session=""' in logout.headers["set-cookie"]
    client.cookies.clear()
    gone = client.get("/api/v1/users/me", headers=_bearer(body["token"]))
    assert gone.status_code == 401 and "logged out" in gone.json()["detail"]
    assert _audit_actions(platform, user_id)[-1] == "logout"


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("eve@alpha.example", "wrong password!"),
        ("nobody@alpha.example", PASSWORD),
        ("admin@alpha-rail.example", PASSWORD),  # a user without a password
    ],
)
def test_wrong_credentials_are_one_answer(
    client: TestClient, tenant: Tenant, email: str, password: str
) -> None:
    _user_with_password(client, tenant, "eve@alpha.example", "viewer")
    answer = client.post(LOGIN, json={"email": email, "password": password})
    assert answer.status_code == 401
    assert answer.json()["detail"] == "wrong e-mail or password"
    assert "set-cookie" not in answer.headers


def test_login_forgets_sessions_that_ended_long_ago(
    client: TestClient, tenant: Tenant, platform: Platform
) -> None:
    user_id = _user_with_password(client, tenant, "eve@alpha.example", "viewer")
    login = {"email": "eve@alpha.example", "password": PASSWORD}
    old, recent = (client.post(LOGIN, json=login).json()["token"] for _ in range(2))
    ended = {old: timedelta(days=31), recent: timedelta(days=29)}
    with platform.database.transaction() as session:
        for token, ago in ended.items():
            session.execute(
                update(ApiToken)
                .where(ApiToken.token_hash == hash_token(token))
                .values(expires_at=datetime.now(UTC) - ago)
            )
    client.post(LOGIN, json=login)
    with platform.database.session() as session:
        kept = session.scalars(select(ApiToken.token_hash).where(ApiToken.user_id == user_id)).all()
    assert hash_token(old) not in kept and hash_token(recent) in kept and len(kept) == 3


def test_deactivated_user_cannot_log_in(client: TestClient, tenant: Tenant) -> None:
    user_id = _user_with_password(client, tenant, "eve@alpha.example", "viewer")
    patched = client.patch(
        f"/api/v1/users/{user_id}", json={"is_active": False}, headers=tenant.headers()
    )
    assert patched.status_code == 200
    answer = client.post(LOGIN, json={"email": "eve@alpha.example", "password": PASSWORD})
    assert answer.status_code == 401 and answer.json()["detail"] == "user is deactivated"


def test_cookie_refused_on_a_cross_origin_change(client: TestClient, tenant: Tenant) -> None:
    _user_with_password(client, tenant, "eve@alpha.example", "admin")
    assert client.post(LOGIN, json={"email": "eve@alpha.example", "password": PASSWORD}).is_success
    body = {"email": "mallory@alpha.example", "role": "admin"}
    forged = client.post("/api/v1/users", json=body, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403 and "same origin" in forged.json()["detail"]
    same = client.post("/api/v1/users", json=body, headers={"Origin": "http://testserver"})
    assert same.status_code == 201


def test_same_email_in_two_organisations_logs_into_the_one_whose_password_matches(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    alpha = client.post(
        "/api/v1/users",
        json={"email": "sam@consult.example", "role": "viewer", "password": PASSWORD},
        headers=tenant.headers(),
    )
    beta = client.post(
        "/api/v1/users",
        json={"email": "sam@consult.example", "role": "engineer", "password": PASSWORD + "!"},
        headers=other_tenant.headers(),
    )
    assert alpha.status_code == beta.status_code == 201
    into_beta = client.post(
        LOGIN, json={"email": "sam@consult.example", "password": PASSWORD + "!"}
    )
    assert into_beta.json()["organization"] == "Beta Tunnels"
    assert into_beta.json()["role"] == "engineer"
    # Same password in both: the caller names the organisation.
    client.put(
        f"/api/v1/users/{beta.json()['id']}/password",
        json={"new_password": PASSWORD},
        headers=other_tenant.headers(),
    )
    ambiguous = client.post(LOGIN, json={"email": "sam@consult.example", "password": PASSWORD})
    assert ambiguous.status_code == 422 and ambiguous.json()["field"] == "organization"
    named = client.post(
        LOGIN,
        json={"email": "sam@consult.example", "password": PASSWORD, "organization": "Alpha Rail"},
    )
    assert named.status_code == 200 and named.json()["organization"] == "Alpha Rail"


# --- passwords ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 12 characters"),
        ("aaaaaaaaaaaaaaaa", "at least 5 different characters"),
        ("my-name-is-eve-smith!", "must not contain the e-mail address"),
    ],
)
def test_weak_passwords_are_refused(
    client: TestClient, tenant: Tenant, platform: Platform, password: str, message: str
) -> None:
    answer = client.post(
        "/api/v1/users",
        json={"email": "eve-smith@alpha.example", "role": "viewer", "password": password},
        headers=tenant.headers(),
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "password" and message in answer.json()["detail"]
    with platform.database.session() as session:
        assert session.scalars(select(User).where(User.email.like("eve-smith%"))).first() is None


def test_change_own_password(client: TestClient, tenant: Tenant, platform: Platform) -> None:
    user_id = _user_with_password(client, tenant, "eve@alpha.example", "viewer")
    first = client.post(LOGIN, json={"email": "eve@alpha.example", "password": PASSWORD}).json()
    second = client.post(LOGIN, json={"email": "eve@alpha.example", "password": PASSWORD}).json()
    client.cookies.clear()
    url = f"/api/v1/users/{user_id}/password"
    new = "a much better passphrase"
    missing = client.put(url, json={"new_password": new}, headers=_bearer(first["token"]))
    assert missing.status_code == 422 and missing.json()["field"] == "old_password"
    wrong = client.put(
        url,
        json={"new_password": new, "old_password": "not it at all"},
        headers=_bearer(first["token"]),
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "old_password"
    weak = client.put(
        url,
        json={"new_password": "short", "old_password": PASSWORD},
        headers=_bearer(first["token"]),
    )
    assert weak.status_code == 422 and weak.json()["field"] == "new_password"
    ok = client.put(
        url, json={"new_password": new, "old_password": PASSWORD}, headers=_bearer(first["token"])
    )
    assert ok.status_code == 204
    # The session that changed it lives on; the other one ended.
    assert client.get("/api/v1/users/me", headers=_bearer(first["token"])).status_code == 200
    assert client.get("/api/v1/users/me", headers=_bearer(second["token"])).status_code == 401
    old = client.post(LOGIN, json={"email": "eve@alpha.example", "password": PASSWORD})
    assert old.status_code == 401
    assert client.post(LOGIN, json={"email": "eve@alpha.example", "password": new}).is_success
    assert "set_password" in _audit_actions(platform, user_id)


def test_admin_sets_anothers_password_viewer_cannot(client: TestClient, tenant: Tenant) -> None:
    viewer_id = _me(client, tenant, Role.VIEWER)["id"]
    engineer_id = _me(client, tenant, Role.ENGINEER)["id"]
    body = {"new_password": PASSWORD}
    denied = client.put(
        f"/api/v1/users/{engineer_id}/password", json=body, headers=tenant.headers(Role.VIEWER)
    )
    assert denied.status_code == 403
    # A user without a password sets a first one with the token alone.
    own = client.put(
        f"/api/v1/users/{viewer_id}/password", json=body, headers=tenant.headers(Role.VIEWER)
    )
    assert own.status_code == 204
    by_admin = client.put(
        f"/api/v1/users/{engineer_id}/password", json=body, headers=tenant.headers()
    )
    assert by_admin.status_code == 204
    login = client.post(LOGIN, json={"email": "engineer@alpha-rail.example", "password": PASSWORD})
    assert login.json()["role"] == "engineer"


# --- API tokens: expiry, listing, owner revocation ---------------------------------------------


def test_api_tokens_expire_and_show_expiry_and_last_use(
    client: TestClient, tenant: Tenant, platform: Platform
) -> None:
    """Regression: tokens never expired."""
    me = _me(client, tenant, Role.VIEWER)
    url = f"/api/v1/users/{me['id']}/tokens"
    issued = client.post(
        url, json={"label": "script", "expires_in_days": 7}, headers=tenant.headers(Role.VIEWER)
    )
    assert issued.status_code == 201
    token = issued.json()
    lifetime = datetime.fromisoformat(token["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=6, hours=23) < lifetime <= timedelta(days=7)
    default = client.post(url, headers=tenant.headers(Role.VIEWER)).json()
    lifetime = datetime.fromisoformat(default["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=89, hours=23) < lifetime <= timedelta(days=90)
    too_long = client.post(url, json={"expires_in_days": 366}, headers=tenant.headers(Role.VIEWER))
    assert too_long.status_code == 422 and too_long.json()["field"] == "expires_in_days"

    assert client.get("/api/v1/users/me", headers=_bearer(token["token"])).status_code == 200
    listing = client.get(url, headers=tenant.headers(Role.VIEWER)).json()
    assert listing["total"] == 3
    by_id = {item["id"]: item for item in listing["items"]}
    assert by_id[token["id"]]["label"] == "script" and by_id[token["id"]]["kind"] == "api"
    assert by_id[token["id"]]["last_used_at"] is not None
    assert by_id[default["id"]]["last_used_at"] is None
    assert all("token" not in item and "token_hash" not in item for item in listing["items"])

    with platform.database.transaction() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == token["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = client.get("/api/v1/users/me", headers=_bearer(token["token"]))
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"] and "issue a new one" in expired.json()["detail"]


def test_owner_revokes_one_token(client: TestClient, tenant: Tenant) -> None:
    me = _me(client, tenant, Role.INSPECTOR)
    url = f"/api/v1/users/{me['id']}/tokens"
    extra = client.post(url, headers=tenant.headers(Role.INSPECTOR)).json()
    revoked = client.delete(f"{url}/{extra['id']}", headers=tenant.headers(Role.INSPECTOR))
    assert revoked.status_code == 204
    answer = client.get("/api/v1/users/me", headers=_bearer(extra["token"]))
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]
    assert client.get("/api/v1/users/me", headers=tenant.headers(Role.INSPECTOR)).is_success
    # Another user's token, or another user's listing, is not the inspector's business.
    admin = _me(client, tenant)
    other = client.get(
        f"/api/v1/users/{admin['id']}/tokens", headers=tenant.headers(Role.INSPECTOR)
    )
    assert other.status_code == 403
    missing = client.delete(f"{url}/999999", headers=tenant.headers(Role.INSPECTOR))
    assert missing.status_code == 404


# --- lock-out guard, reactivation, e-mail privacy (regressions of issue 11, item 8) -------------


def test_last_admin_cannot_revoke_their_only_token(client: TestClient, tenant: Tenant) -> None:
    """Regression: an admin revoked their own only token and locked the organisation out."""
    admin = _me(client, tenant)
    answer = client.delete(f"/api/v1/users/{admin['id']}/tokens", headers=tenant.headers())
    assert answer.status_code == 409
    assert "last admin who can sign in" in answer.json()["detail"]
    assert "set a password" in answer.json()["detail"]
    assert client.get("/api/v1/users/me", headers=tenant.headers()).status_code == 200
    listing = client.get(f"/api/v1/users/{admin['id']}/tokens", headers=tenant.headers()).json()
    token_id = listing["items"][0]["id"]
    one = client.delete(f"/api/v1/users/{admin['id']}/tokens/{token_id}", headers=tenant.headers())
    assert one.status_code == 409
    # With a password the admin can always log in again, so revoking is allowed.
    client.put(
        f"/api/v1/users/{admin['id']}/password",
        json={"new_password": PASSWORD},
        headers=tenant.headers(),
    )
    assert (
        client.delete(f"/api/v1/users/{admin['id']}/tokens", headers=tenant.headers()).status_code
        == 204
    )
    assert client.get("/api/v1/users/me", headers=tenant.headers()).status_code == 401


def test_last_admin_cannot_demote_or_deactivate_themselves(
    client: TestClient, tenant: Tenant
) -> None:
    admin = _me(client, tenant)
    for change in ({"role": "engineer"}, {"is_active": False}):
        answer = client.patch(f"/api/v1/users/{admin['id']}", json=change, headers=tenant.headers())
        assert answer.status_code == 409
        assert "you are the last active admin" in answer.json()["detail"]
    # Once there is a second admin, stepping down is fine.
    engineer = _me(client, tenant, Role.ENGINEER)
    client.patch(
        f"/api/v1/users/{engineer['id']}", json={"role": "admin"}, headers=tenant.headers()
    )
    stepped = client.patch(
        f"/api/v1/users/{admin['id']}", json={"role": "engineer"}, headers=tenant.headers()
    )
    assert stepped.status_code == 200 and stepped.json()["role"] == "engineer"


def test_reactivation_does_not_revive_old_tokens(
    client: TestClient, tenant: Tenant, platform: Platform
) -> None:
    """Regression: reactivating a user revived the tokens they had before."""
    engineer = _me(client, tenant, Role.ENGINEER)
    url = f"/api/v1/users/{engineer['id']}"
    assert client.patch(url, json={"is_active": False}, headers=tenant.headers()).is_success
    assert client.get("/api/v1/users/me", headers=tenant.headers(Role.ENGINEER)).status_code == 401
    assert client.patch(url, json={"is_active": True}, headers=tenant.headers()).is_success
    answer = client.get("/api/v1/users/me", headers=tenant.headers(Role.ENGINEER))
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]
    fresh = client.post(f"{url}/tokens", headers=tenant.headers()).json()
    assert client.get("/api/v1/users/me", headers=_bearer(fresh["token"])).is_success
    with platform.database.session() as session:
        details = session.scalars(
            select(AuditEvent.details).where(
                AuditEvent.entity_id == engineer["id"], AuditEvent.action == "update"
            )
        ).all()
    assert [d["is_active"] for d in details] == [False, True]


def test_creating_a_user_reveals_nothing_about_other_organisations(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    """Regression: POST /users answered 409 for an e-mail of another organisation."""
    elsewhere = client.post(
        "/api/v1/users",
        json={"email": "admin@beta-tunnels.example", "role": "viewer"},
        headers=tenant.headers(),
    )
    new = client.post(
        "/api/v1/users",
        json={"email": "brand-new@nowhere.example", "role": "viewer"},
        headers=tenant.headers(),
    )
    assert elsewhere.status_code == new.status_code == 201
    assert set(elsewhere.json()) == set(new.json())
    # The two accounts are separate: Beta's admin is untouched and still sees only Beta.
    beta_me = client.get("/api/v1/users/me", headers=other_tenant.headers()).json()
    assert beta_me["organization"] == "Beta Tunnels" and beta_me["role"] == "admin"
    alpha_copy = client.get("/api/v1/users/me", headers=_bearer(elsewhere.json()["token"])).json()
    assert alpha_copy["organization"] == "Alpha Rail" and alpha_copy["role"] == "viewer"


# --- rate limits ---------------------------------------------------------------------------------


@pytest.fixture(params=["database", "memory"])
def strict_client(request: pytest.FixtureRequest, settings: Settings) -> Iterator[TestClient]:
    """A client of an app that allows 3 failures a minute, with either limiter."""
    strict = settings.model_copy(update={"auth_failures": 3, "auth_limiter": request.param})
    wired = Platform.create(strict, workers=0)
    with TestClient(create_app(platform=wired)) as http:
        yield http
    wired.close()


def test_failed_logins_are_rate_limited(strict_client: TestClient, platform: Platform) -> None:
    from tests.conftest import make_tenant

    tenant = make_tenant(platform, "Gamma Metro")
    client = strict_client
    _user_with_password(client, tenant, "eve@gamma.example", "viewer")
    wrong = {"email": "eve@gamma.example", "password": "not the password"}
    statuses = [client.post(LOGIN, json=wrong).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    blocked = client.post(LOGIN, json={"email": "eve@gamma.example", "password": PASSWORD})
    assert blocked.status_code == 429  # even the right password: the client learns nothing
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    assert "too many failed" in blocked.json()["detail"]


def test_bad_tokens_are_rate_limited(strict_client: TestClient, platform: Platform) -> None:
    from tests.conftest import make_tenant

    tenant = make_tenant(platform, "Gamma Metro")
    client = strict_client
    statuses = [
        client.get("/api/v1/assets", headers=_bearer(f"isu_guess{i}")).status_code for i in range(4)
    ]
    assert statuses == [401, 401, 429, 429]
    assert int(client.get("/api/v1/assets", headers=_bearer("isd_x")).headers["retry-after"]) >= 1
    # A valid token still works from the same address.
    assert client.get("/api/v1/assets", headers=tenant.headers()).status_code == 200
    ingest = client.post(
        "/api/v1/ingest/readings", json={"readings": []}, headers=_bearer("isd_nope")
    )
    assert ingest.status_code == 429


# --- device tokens -------------------------------------------------------------------------------


def test_device_tokens_never_expire_by_default(client: TestClient, site: Site) -> None:
    device = client.get(f"/api/v1/devices/{site.device_id}", headers=site.device_headers)
    assert device.status_code == 403  # devices only ingest; but their token is accepted
    body = {"readings": [{"channel": "VD-SETTLE", "time": "2024-05-01T00:00:00Z", "value": 1.0}]}
    ingest = client.post("/api/v1/ingest/readings", json=body, headers=site.device_headers)
    assert ingest.status_code == 200 and ingest.json()["accepted"] == 1


def test_device_tokens_expire_when_configured(settings: Settings, platform: Platform) -> None:
    from tests.conftest import make_site, make_tenant

    expiring = settings.model_copy(update={"device_token_days": 30})
    wired = Platform.create(expiring, workers=0)
    try:
        with TestClient(create_app(platform=wired)) as client:
            tenant = make_tenant(platform, "Delta Rail")
            site = make_site(client, tenant)
            read = client.get(f"/api/v1/devices/{site.device_id}", headers=tenant.headers())
            lifetime = datetime.fromisoformat(read.json()["token_expires_at"]) - datetime.now(UTC)
            assert timedelta(days=29, hours=23) < lifetime <= timedelta(days=30)
            with platform.database.transaction() as session:
                session.execute(
                    update(Device)
                    .where(Device.id == site.device_id)
                    .values(token_expires_at=datetime.now(UTC) - timedelta(seconds=1))
                )
            body = {"readings": [{"channel": "VD-SETTLE", "time": "2024-05-01T00:00Z", "value": 1}]}
            expired = client.post("/api/v1/ingest/readings", json=body, headers=site.device_headers)
            assert expired.status_code == 401
            assert "device token expired" in expired.json()["detail"]
            assert f"/devices/{site.device_id}/token" in expired.json()["detail"]
            rotated = client.post(
                f"/api/v1/devices/{site.device_id}/token", headers=tenant.headers(Role.ENGINEER)
            ).json()
            assert rotated["token_expires_at"] is not None
            again = client.post(
                "/api/v1/ingest/readings", json=body, headers=_bearer(rotated["token"])
            )
            assert again.status_code == 200
    finally:
        wired.close()


def test_a_boolean_is_not_a_number_in_any_request_body(client: TestClient, tenant: Tenant) -> None:
    """Regression (fuzzing, ST201): ``{"expires_in_days": true}`` issued a one-day token."""
    me = _me(client, tenant, Role.VIEWER)
    url = f"/api/v1/users/{me['id']}/tokens"
    before = client.get(url, headers=tenant.headers(Role.VIEWER)).json()["total"]
    answer = client.post(url, json={"expires_in_days": True}, headers=tenant.headers(Role.VIEWER))
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": "expires_in_days: expected a number, not a boolean",
        "field": "expires_in_days",
    }
    listing = client.get(url, headers=tenant.headers(Role.VIEWER)).json()
    assert listing["total"] == before  # nothing was issued
    asset = client.post(
        "/api/v1/assets",
        json={"name": "B", "kind": "bridge", "criticality": False},
        headers=tenant.headers(Role.ADMIN),
    )
    assert asset.status_code == 422 and asset.json()["field"] == "criticality"


def test_a_number_is_not_a_date_time_in_a_request_body(client: TestClient, tenant: Tenant) -> None:
    """Regression (fuzzing, ST201): ``{"due_at": 2923846140}`` moved a work order's due date."""
    from infrasight.api.routes.common import RequestModel

    class Body(RequestModel):
        due_at: datetime | None = None

    with pytest.raises(ValueError, match="ISO-8601"):
        Body.model_validate({"due_at": 2923846140})
    assert Body.model_validate({"due_at": "2026-12-01T00:00:00Z"}).due_at == datetime(
        2026, 12, 1, tzinfo=UTC
    )
