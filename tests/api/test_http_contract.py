"""The HTTP contract: one error shape, correct Allow, security headers, and an OpenAPI document
(with locally served Swagger UI and ReDoc) an integrator can use."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from infrasight.core.domain import Role
from tests.conftest import Site, Tenant


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "field"}, body
    assert isinstance(body["detail"], str) and body["detail"]
    return dict(body)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("get", "/api/v1/assets/abc", {}, "asset_id"),
        ("get", "/api/v1/assets", {"params": {"limit": "many"}}, "limit"),
        ("get", "/api/v1/assets", {"params": {"limit": 0}}, "limit"),
        ("get", "/api/v1/assets", {"params": {"kind": "castle"}}, "kind"),
        ("post", "/api/v1/assets", {"json": {"name": "X", "kind": 3}}, "kind"),
        ("post", "/api/v1/assets", {"json": {"kind": "bridge"}}, "name"),
        ("post", "/api/v1/assets", {"content": b"not json"}, None),
        ("post", "/api/v1/captures", {"data": {"asset_id": "x"}}, None),
        ("post", "/api/v1/records", {"files": {"file": ("r.csv", b"1\n")}}, None),
    ],
)
def test_validation_errors_have_the_one_shape(
    client: TestClient,
    tenant: Tenant,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    field: str | None,
) -> None:
    response = client.request(method.upper(), path, headers=tenant.headers(), **kwargs)
    body = _error(response, 422)
    if field is not None:
        assert body["field"] == field
        assert body["detail"].startswith(f"{field}: ")


def test_form_field_errors_name_the_field(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/api/v1/records",
        data={"asset_id": "1", "start_time": "2024-05-01T00:00:00Z", "sample_rate_hz": "-1"},
        files={"file": ("r.csv", b"1\n2\n")},
        headers=tenant.headers(),
    )
    assert _error(response, 422)["field"] == "sample_rate_hz"


def test_nested_body_errors_name_the_path(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/api/v1/channels",
        json={"key": "K", "quantity": "strain", "unit": "µε", "element_id": "x"},
        headers=tenant.headers(),
    )
    assert _error(response, 422)["field"] == "element_id"


def test_unknown_route_is_404_in_the_same_shape(client: TestClient, tenant: Tenant) -> None:
    body = _error(client.get("/api/v1/nothing-here", headers=tenant.headers()), 404)
    assert body["field"] is None
    _error(client.get("/nowhere"), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/assets/1", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("DELETE", "/api/v1/assets", {"GET", "HEAD", "POST"}),
        ("POST", "/api/v1/alarms/1", {"GET", "HEAD"}),
        ("PATCH", "/healthz", {"GET", "HEAD"}),
    ],
)
def test_405_lists_every_method_of_the_path(
    client: TestClient, tenant: Tenant, method: str, path: str, allowed: set[str]
) -> None:
    response = client.request(method, path, headers=tenant.headers())
    _error(response, 405)
    assert set(response.headers["allow"].split(", ")) == allowed
    for other in allowed - {"HEAD"}:
        answer = client.request(other, path, headers=tenant.headers())
        assert answer.status_code != 405, (other, answer.text)


def test_head_is_answered_where_get_is(client: TestClient, tenant: Tenant) -> None:
    response = client.head("/api/v1/assets", headers=tenant.headers())
    assert response.status_code == 200


def test_security_headers_on_api_and_docs(client: TestClient, tenant: Tenant) -> None:
    for response in (
        client.get("/api/v1/assets", headers=tenant.headers()),
        client.get("/api/v1/assets"),
        client.get("/docs"),
        client.get("/healthz"),
    ):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "default-src 'self'" in csp
        assert not re.search(r"https?://", csp)
        assert "server" not in headers
    assert client.get("/api/v1/assets", headers=tenant.headers()).headers["cache-control"] == (
        "no-store"
    )


def test_serve_hides_the_server_banner(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import uvicorn

    from infrasight.cli.app import app as cli

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("INFRASIGHT_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert seen["server_header"] is False
    assert seen["port"] == 8123


def test_docs_are_served_from_package_files(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', html.text)
        assert sources, html.text
        for source in sources:
            assert not re.match(r"(https?:)?//", source), (page, source)
            asset = client.get(source)
            assert asset.status_code == 200, source
            assert len(asset.content) > 1000 or source.endswith(".png")
        assert "fonts.googleapis" not in html.text
        assert "cdn" not in html.text.lower()


_ERRORS_EXPECTED = {"401", "403", "422"}


def test_every_operation_is_described_with_its_errors(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert document["security"] == [{"bearerAuth": []}]
    error_ref = "#/components/schemas/ErrorBody"
    assert set(document["components"]["schemas"]["ErrorBody"]["properties"]) == {
        "detail",
        "field",
    }
    problems: list[str] = []
    count = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            count += 1
            name = f"{method.upper()} {path}"
            if not operation.get("description", "").strip():
                problems.append(f"{name}: no description")
            responses = operation["responses"]
            public = operation.get("security") == []
            expected = set() if public else {"401", "403", "429"}
            if "{" in path:
                expected.add("404")
            if operation.get("parameters") or operation.get("requestBody"):
                expected.add("422")
            if "requestBody" in operation:
                expected.add("413")
            if method in ("post", "put", "patch", "delete"):
                expected.add("409")
            for code in sorted(expected - set(responses)):
                problems.append(f"{name}: {code} not documented")
            for code, response in responses.items():
                if code.startswith("4"):
                    schema = response["content"]["application/json"]["schema"]
                    if schema != {"$ref": error_ref}:
                        problems.append(f"{name}: {code} without the error schema")
    assert count >= 60
    assert not problems, "\n".join(problems)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_uploads_and_raw_bodies_document_415(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/captures", "/api/v1/records", "/api/v1/ingest/readings"):
        assert "415" in paths[path]["post"]["responses"], path
    assert "415" not in paths["/api/v1/assets"]["post"]["responses"]


@pytest.mark.parametrize(
    ("path", "media"),
    [
        ("/api/v1/ingest/readings", "application/json"),
        ("/api/v1/ingest/readings", "text/csv"),
        ("/api/v1/assets", "application/json"),
        ("/api/v1/rules", "application/json"),
    ],
)
def test_main_request_bodies_have_examples(client: TestClient, path: str, media: str) -> None:
    document = client.get("/openapi.json").json()
    content = document["paths"][path]["post"]["requestBody"]["content"][media]
    schema = content.get("schema", {})
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert content.get("example") or content.get("examples") or schema.get("examples"), path


def test_asset_example_is_accepted(client: TestClient, tenant: Tenant) -> None:
    document = client.get("/openapi.json").json()
    example = document["components"]["schemas"]["AssetCreate"]["examples"][0]
    response = client.post("/api/v1/assets", json=example, headers=tenant.headers(Role.ENGINEER))
    assert response.status_code == 201, response.text


def test_ingest_example_is_accepted(client: TestClient, tenant: Tenant, site: Site) -> None:
    document = client.get("/openapi.json").json()
    content = document["paths"]["/api/v1/ingest/readings"]["post"]["requestBody"]["content"]
    example = content["application/json"]["example"]
    assert example["readings"][0]["channel"]
