"""PDF reports through the HTTP API and the CLI: a durable job, a blob, contents read back."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from typer.testing import CliRunner

from infrasight.cli.app import app
from infrasight.core.domain import Role
from infrasight.platform import Platform
from tests.conftest import Site, Tenant
from tests.helpers import upload_crack_capture

T0 = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture
def observed(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> dict[str, object]:
    """A site with 30 days of settlement readings and an analysed capture with a crack."""
    rng = np.random.default_rng(3)
    days = np.arange(0, 30, 0.25)
    items = [
        {"channel": "VD-SETTLE", "time": (T0 + timedelta(days=float(d))).isoformat(), "value": v}
        for d, v in zip(days, (0.05 * days + rng.normal(0, 0.02, days.size)).tolist(), strict=True)
    ]
    response = client.post(
        "/api/v1/ingest/readings", json={"readings": items}, headers=site.device_headers
    )
    assert response.status_code == 200, response.text
    capture, _scene = upload_crack_capture(
        client,
        tenant.headers(Role.INSPECTOR),
        site.asset_id,
        element_id=site.element_id,
        time=T0 + timedelta(days=5),
    )
    assert capture.status_code == 201, capture.text
    platform.jobs.run_pending()
    defects = client.get(
        f"/api/v1/captures/{capture.json()['id']}/defects", headers=tenant.headers(Role.VIEWER)
    ).json()
    assert defects
    return {"defects": defects}


def request(client: TestClient, tenant: Tenant, asset_id: int, **body: object) -> object:
    payload = {"start": T0.isoformat(), "end": (T0 + timedelta(days=30)).isoformat(), **body}
    return client.post(
        f"/api/v1/assets/{asset_id}/reports", json=payload, headers=tenant.headers(Role.INSPECTOR)
    )


@pytest.mark.parametrize(
    ("language", "heading"),
    [("en", "Inspection report"), ("zh-Hant", "巡查報告"), ("zh-Hans", "巡检报告")],
)
def test_report_job_renders_a_pdf_with_the_measurements(
    platform: Platform,
    client: TestClient,
    tenant: Tenant,
    site: Site,
    observed: dict[str, object],
    language: str,
    heading: str,
) -> None:
    created = request(client, tenant, site.asset_id, language=language)
    assert created.status_code == 202, created.text
    report = created.json()
    assert report["status"] == "queued" and report["sha256"] is None
    viewer = tenant.headers(Role.VIEWER)
    early = client.get(f"/api/v1/reports/{report['id']}/pdf", headers=viewer)
    assert early.status_code == 409
    assert platform.jobs.run_pending() == 1
    done = client.get(f"/api/v1/reports/{report['id']}", headers=viewer).json()
    assert done["status"] == "succeeded" and done["pages"] >= 2 and done["missing_glyphs"] == ""
    pdf = client.get(f"/api/v1/reports/{report['id']}/pdf", headers=viewer)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert len(pdf.content) == done["size_bytes"]
    reader = PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) == done["pages"]
    text = " ".join(p.extract_text() for p in reader.pages).replace("\n", " ")
    assert heading in text and "VD viaduct" in text and "VD-SETTLE" in text
    defect = max(observed["defects"], key=lambda d: d["geometry"]["pixel_count"])  # type: ignore[index]
    length = defect["measurements"]["length"]["value"]
    width = defect["measurements"]["width_max"]["value"]
    assert f"D{defect['id']}" in text
    assert f"{length:.2f} ±" in text and f"{width:.2f} ±" in text
    listed = client.get("/api/v1/reports", params={"asset_id": site.asset_id}, headers=viewer)
    assert [r["id"] for r in listed.json()["items"]] == [report["id"]]
    # the job ran once; running again changes nothing (idempotent)
    assert platform.jobs.run_pending() == 0


def test_bad_report_requests_name_the_field(
    platform: Platform, client: TestClient, tenant: Tenant, other_tenant: Tenant, site: Site
) -> None:
    bad_language = request(client, tenant, site.asset_id, language="fr")
    assert bad_language.status_code == 422 and bad_language.json()["field"] == "language"
    reversed_period = request(
        client,
        tenant,
        site.asset_id,
        start=T0.isoformat(),
        end=(T0 - timedelta(days=1)).isoformat(),
    )
    assert reversed_period.status_code == 422 and reversed_period.json()["field"] == "end"
    not_a_time = request(client, tenant, site.asset_id, start=12345)
    assert not_a_time.status_code == 422 and not_a_time.json()["field"] == "start"
    assert request(client, other_tenant, site.asset_id).status_code == 404
    viewer = client.post(
        f"/api/v1/assets/{site.asset_id}/reports",
        json={"start": T0.isoformat(), "end": (T0 + timedelta(days=1)).isoformat()},
        headers=tenant.headers(Role.VIEWER),
    )
    assert viewer.status_code == 403
    listed = client.get("/api/v1/reports", headers=tenant.headers(Role.VIEWER)).json()
    assert listed["total"] == 0  # nothing written by refused requests
    assert platform.jobs.run_pending() == 0
    good = request(client, tenant, site.asset_id)
    assert (
        client.get(
            f"/api/v1/reports/{good.json()['id']}", headers=other_tenant.headers(Role.VIEWER)
        ).status_code
        == 404
    )


runner = CliRunner()


def test_cli_writes_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("INFRASIGHT_DATABASE_URL", raising=False)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    created = runner.invoke(app, ["admin", "create", "--org", "Ops", "--email", "ops@ops.example"])
    assert created.exit_code == 0, created.output
    from infrasight.core.settings import Settings
    from infrasight.storage.db import Database
    from infrasight.storage.models import Asset

    database = Database(Settings())
    with database.transaction() as session:
        session.add(Asset(organization_id=1, name="Tsing Ma", kind="bridge"))
    database.dispose()
    out = tmp_path / "r.pdf"
    args = ["report", "Tsing Ma", "--from", "2026-01-01", "--to", "2026-02-01", "--out", str(out)]
    result = runner.invoke(app, [*args, "--lang", "zh-Hant"])
    assert result.exit_code == 0, result.output
    text = " ".join(p.extract_text() for p in PdfReader(out).pages)
    assert "巡查報告" in text and "Tsing Ma" in text and "本期影像未發現缺陷。" in text
    bad = runner.invoke(app, [*args, "--lang", "xx"])
    assert bad.exit_code == 2 and "language" in bad.output
    bad_time = runner.invoke(
        app, ["report", "Tsing Ma", "--from", "soon", "--to", "2026-02-01", "--out", str(out)]
    )
    assert bad_time.exit_code == 2
    missing = runner.invoke(app, [*args[:1], "Nope", *args[2:]])
    assert missing.exit_code == 1 and "not found" in missing.output
