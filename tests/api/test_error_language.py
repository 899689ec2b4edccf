"""Error answers in the caller's language: every route of the API is called wrongly (unknown
ids, an empty JSON body, a conflicting delete) in zh-Hans and zh-Hant, and no ``detail`` may hold
a run of English words (the sweep of ``test_no_english_in_chinese`` for errors). The English
answer stays as it was and the machine-readable ``field`` and status are the same in every
language."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Site, Tenant

API = "/api/v1"
#: An English word: an error detail holds no names of people's making outside quotes, only
#: ids, codes and field names (the leading field; identifiers holding -, _, =, /, digits).
WORD = re.compile(r"[A-Za-z]{3,}")
CODE = re.compile(r"^[\w.\[\]]+: |\S*[-_=/.\d]\S*")
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
CJK = re.compile(r"[\u4e00-\u9fff]")
MISSING = 999_999
#: Routes that would end the caller's session or rotate its credentials when called.
SKIP = ("/auth/logout", "/token")


def _calls(client: TestClient, site: Site) -> list[tuple[str, str]]:
    real = {"asset_id": site.asset_id}
    calls = []
    for path, operations in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        if not path.startswith(API) or any(path.endswith(s) for s in SKIP):
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: str(real.get(m.group(1), MISSING)), path)
        calls += [(method, url) for method in operations if method != "head"]
    return sorted(calls)


def _english(text: str) -> list[str]:
    runs = [m.group(0) for m in WORD.finditer(CODE.sub(" ", QUOTED.sub("", text)))]
    return runs if CJK.search(text) else [text, *runs]


def test_every_error_answer_is_in_the_callers_language(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    h = tenant.headers()
    found, checked = [], 0
    for method, url in _calls(client, site):
        body: dict[str, object] | None = {} if method in ("post", "put", "patch") else None
        english = client.request(method, url, json=body, headers=h)
        if not 400 <= english.status_code < 500 or english.status_code == 401:
            continue
        for locale in ("zh-Hans", "zh-Hant"):
            got = client.request(method, url, json=body, headers={**h, "Accept-Language": locale})
            assert got.status_code == english.status_code, (method, url, locale)
            assert got.json()["field"] == english.json()["field"], (method, url, locale)
            detail = got.json()["detail"]
            checked += 1
            found += [
                f"{locale} {method.upper()} {url}: {run!r} in {detail!r}"
                for run in _english(detail)
            ]
    assert checked >= 150, checked
    assert found == [], "\n".join(found)


def test_known_errors_read_in_each_language(client: TestClient, tenant: Tenant, site: Site) -> None:
    h = tenant.headers()
    element = f"{API}/elements/{MISSING}"
    english = client.get(element, headers=h)
    assert english.status_code == 404
    assert english.json()["detail"] == f"element {MISSING} not found"
    hans = client.get(element, headers={**h, "Accept-Language": "zh-Hans"}).json()["detail"]
    hant = client.get(element, headers={**h, "Accept-Language": "zh-Hant"}).json()["detail"]
    assert hans == f"未找到构件 {MISSING}" and hant == f"找不到構件 {MISSING}"
    # a conflict names what is in the way, in words of the catalogue
    gone = client.delete(
        f"{API}/assets/{site.asset_id}", headers={**h, "Accept-Language": "zh-Hans"}
    )
    assert gone.status_code == 409
    assert gone.json()["detail"] == f"资产 {site.asset_id} 仍有设备；请先删除"
    # request validation: the field stays as sent, pydantic's words are translated
    bad = client.post(
        f"{API}/assets",
        json={"name": "x", "kind": "bridge", "latitude": "north"},
        headers={**h, "Accept-Language": "zh-Hant"},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "latitude", bad.json()
    assert bad.json()["detail"].startswith("latitude: 輸入應為有效數字"), bad.json()


def test_the_analytics_errors_read_in_each_language(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    """Errors the analytics raise (an image the vision library cannot read, a forecast with
    too little data from the signals library) reach the caller in its language."""
    h = tenant.headers()
    forecast = f"{API}/channels/{site.settlement_channel_id}/forecast"
    items = [{"channel": "VD-SETTLE", "time": "2026-01-01T00:00:00Z", "value": 1.0}]
    client.post(f"{API}/ingest/readings", json={"readings": items}, headers=site.device_headers)
    calls = {
        "image": lambda headers: client.post(
            f"{API}/captures",
            files={"file": ("bad.png", b"this is not an image at all", "image/png")},
            data={"asset_id": str(site.asset_id)},
            headers=headers,
        ),
        "forecast": lambda headers: client.get(forecast, headers=headers),
    }
    found = []
    for key, call in calls.items():
        english = call(h)
        assert english.status_code == 422, (key, english.text)
        assert _english(english.json()["detail"]), key  # English words in English
        for locale in ("zh-Hans", "zh-Hant"):
            got = call({**h, "Accept-Language": locale})
            assert got.status_code == 422 and got.json()["field"] == english.json()["field"]
            detail = got.json()["detail"]
            # format names (JPEG, PNG) are written as they are
            found += [
                f"{locale} {key}: {w!r} in {detail!r}" for w in _english(detail) if not w.isupper()
            ]
    assert found == [], "\n".join(found)
