"""No English sentence in a Chinese answer: the demo (30 days: alarms, hazards, a crack repair
verified and closed, a gauge repair that failed verification, a settlement repair in progress)
read through every GET endpoint of the API in zh-Hans and zh-Hant.

A run of three or more English words (``[A-Za-z]{3,}( [A-Za-z]{3,}){2,}``) fails the test unless
it is in what people wrote or named (asset, element, channel and user names and descriptions, a
person's note), a bibliographic citation, an identifier or reference, or the machine-readable
copy of a sentence (``message``: its key and parameters, for integrators)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from infrasight.demo.seed import seed_demo
from infrasight.platform import Platform

API = "/api/v1"
RUN = re.compile(r"[A-Za-z]{3,}(?: [A-Za-z]{3,}){2,}")
#: In a short label (an evidence test, a rule summary) even two lowercase English words fail
#: ("time to limit"): a label has no names in it, only codes and numbers.
LABEL_RUN = re.compile(r"(?<![\w-])[a-z]{3,}(?: [a-z]{2,})+")
LABELS = frozenset({"test", "summary", "why_none"})
#: Fields holding what people wrote or named, citations, identifiers and references.
AS_WRITTEN = frozenset(
    {
        "name",
        "description",
        "governing_standard",
        "citation",
        "source",
        "sources",
        "key",
        "ref",
        "email",
        "filename",
        "actor",
        "author",
        "body",
        "created_by",
        "decided_by",
        "uploaded_by",
        "acknowledged_by",
        "model_version",
        "definition",
        "choice_reason",
    }
)
#: Machine-readable copies of sentences (key and parameters).
NOT_READ = frozenset(
    {
        "message",
        "test_message",
        "note_message",
        "title_message",
        "label_message",
        "clause_message",
        "event_message",
        "risk_basis_message",
        "note_messages",
        "details",
    }
)
#: Records kept as they were written (the audit trail, notification payloads as sent).
RECORDS = ("/audit", "/notifications/events")


def _person_wrote(item: dict[str, Any]) -> bool:
    """A note a person wrote: stored without a phrase, by someone other than the system."""
    return "message" in item and item["message"] is None and item.get("actor") != "system"


def _english(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in AS_WRITTEN or k in NOT_READ or (k == "note" and _person_wrote(value)):
                continue
            yield from _english(v, f"{where}.{k}")
    elif isinstance(value, list):
        for v in value:
            yield from _english(v, f"{where}[]")
    elif isinstance(value, str):
        label = where.rsplit(".", 1)[-1].rstrip("[]") in LABELS
        for found in [*RUN.finditer(value), *(LABEL_RUN.finditer(value) if label else [])]:
            yield where, f"{found.group(0)!r} in {value[:200]!r}"


def _items(body: Any) -> list[dict[str, Any]]:
    return list(body["items"] if isinstance(body, dict) and "items" in body else body)


def _ids(client: TestClient, h: dict[str, str]) -> dict[str, list[int]]:
    ids = {
        "asset_id": [a["id"] for a in _items(client.get(f"{API}/assets", headers=h).json())],
        "hazard_id": [x["id"] for x in client.get(f"{API}/hazards", headers=h).json()],
        "work_order_id": [x["id"] for x in client.get(f"{API}/work-orders", headers=h).json()],
        "alarm_id": [x["id"] for x in _items(client.get(f"{API}/alarms", headers=h).json())],
        "capture_id": [x["id"] for x in _items(client.get(f"{API}/captures", headers=h).json())],
        "rule_id": [x["id"] for x in _items(client.get(f"{API}/rules", headers=h).json())],
    }
    ids["defect_id"] = [
        d["id"]
        for c in ids["capture_id"]
        for d in client.get(f"{API}/captures/{c}/defects", headers=h).json()
    ]
    return ids


@pytest.mark.slow
def test_the_demo_reads_without_english_sentences_in_chinese(
    platform: Platform, client: TestClient
) -> None:
    outcome = seed_demo(platform, days=30, seed=7, console=Console(quiet=True))
    h = {"Authorization": f"Bearer {outcome.token}"}
    ids = _ids(client, h)
    assert len(ids["hazard_id"]) >= 4 and len(ids["work_order_id"]) == 3 and ids["alarm_id"], ids
    paths = [
        p
        for p, ops in client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        if "get" in ops and not p.endswith(RECORDS)
    ]
    read, found = 0, []
    for path in sorted(paths):
        names = re.findall(r"\{(\w+)\}", path)
        if any(not ids.get(n) for n in names):
            continue  # nothing of that kind in the demo (records, devices' own pages...)
        for values in zip(*(ids[n] for n in names), strict=False) if names else [()]:
            url = path.format(**dict(zip(names, values, strict=True)))
            for locale in ("zh-Hans", "zh-Hant"):
                got = client.get(url, headers={**h, "Accept-Language": locale})
                if got.status_code != 200 or "json" not in got.headers["content-type"]:
                    continue
                read += 1
                found += [f"{locale} {path}{where}: {text}" for where, text in _english(got.json())]
    assert read >= 60, read
    assert found == [], "\n".join(found)
    # what people read in those answers, in Chinese (known answers of the demo)
    zh = {**h, "Accept-Language": "zh-Hans"}
    titles = {w["title"] for w in client.get(f"{API}/work-orders", headers=zh).json()}
    assert "开槽并以柔性密封胶封闭（干缩）" in titles, titles
    events = [
        e["note"]
        for w in ids["work_order_id"]
        for e in client.get(f"{API}/work-orders/{w}", headers=zh).json()["events"]
    ]
    assert any(
        n.startswith("已核实（复检），由 engineer@demo.infrasight.example 签署验收") for n in events
    )
    assert any(n.startswith("验证未通过：channel:VD-S2-STRAIN-02：") for n in events), events
