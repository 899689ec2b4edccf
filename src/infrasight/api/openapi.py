"""The OpenAPI document an integrator needs: a bearer scheme, every error an operation can
answer (with the one error schema), and Swagger UI / ReDoc served from a package's files."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from infrasight.api.errors import ErrorBody

__all__ = ["BEARER_SCHEME", "document_errors", "install_docs", "install_openapi"]

BEARER_SCHEME = "bearerAuth"
DOCS_STATIC = "/docs-static"

_WHEN: dict[int, str] = {
    401: "Missing, malformed, unknown, expired or revoked bearer token",
    403: "The caller's role does not allow this (or a device acting for another)",
    404: "No such object in the caller's organisation",
    409: "Clashes with the current state (a duplicate name, dependent data)",
    413: "The body (or a batch, or an image) is larger than the configured limit",
    415: "The body's content type is not accepted",
    422: "Bad input; `field` names the parameter or body field",
    429: "Too many failed authentications from this client; retry after `Retry-After` s",
}

_BODY_METHODS = frozenset({"post", "put", "patch", "delete"})
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def _codes_for(path: str, method: str, operation: dict[str, Any], public: bool) -> list[int]:
    codes: list[int] = [] if public else [401, 403, 429]
    if "{" in path:
        codes.append(404)
    body = operation.get("requestBody")
    if body is not None or operation.get("parameters"):
        codes.append(422)
    if method in _BODY_METHODS:
        codes.append(409)
    if body is not None:
        codes.append(413)
        if set(body.get("content", {})) != {"application/json"}:
            codes.append(415)  # multipart uploads and raw (JSON or CSV) bodies
    return codes


def document_errors(schema: dict[str, Any], *, public_paths: frozenset[str]) -> None:
    """Declare every error answer an operation can give, each with the :class:`ErrorBody`
    schema (replacing FastAPI's own validation-error schema, which the API never sends)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorBody"] = ErrorBody.model_json_schema()
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _codes_for(path, method, operation, path in public_paths):
                responses[str(code)] = {
                    "description": _WHEN[code],
                    "content": {"application/json": {"schema": _ERROR_REF}},
                }
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def install_openapi(app: FastAPI, *, public_paths: frozenset[str]) -> None:
    """Replace ``app.openapi`` with one that declares the bearer scheme (the Authorize button)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        document_errors(schema, public_paths=public_paths)
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})[BEARER_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "A user's or a device's token: `Authorization: Bearer <token>`",
        }
        schema["security"] = [{BEARER_SCHEME: []}]
        for path, operations in schema.get("paths", {}).items():
            if path in public_paths:
                for operation in operations.values():
                    operation["security"] = []
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _static_dir() -> Path:
    """Swagger UI and ReDoc as shipped by the ``fastapi-offline`` package."""
    return Path(str(resources.files("fastapi_offline") / "static"))


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI) and ``/redoc`` from local files; no CDN is contacted."""
    app.mount(DOCS_STATIC, StaticFiles(directory=_static_dir()), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_STATIC}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            redoc_js_url=f"{DOCS_STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_STATIC}/favicon.png",
            with_google_fonts=False,
        )
