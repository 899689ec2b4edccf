"""Web page benchmark: page loads and chart zooms in Debian's Chromium, beside plain HTTP.

Serves ``infrasight serve`` (one uvicorn process) on a seeded database, logs in through the login
page with Playwright driving ``/usr/bin/chromium``, then times, over ``--runs`` loads each, the
overview and an asset page with its chart until the network is idle, and a chart zoom (ECharts
dataZoom to the last tenth) until the re-queried data is drawn. Baselines in the same run: the
same pages' HTML over plain HTTP (server render only) and the readings endpoint's JSON.

Data: ``--data-dir`` names a seeded data folder (e.g. ``./data`` after ``make demo``); without it
the demo is seeded into a temporary folder (90 days; about a minute, not timed). ``--smoke``
seeds a one-asset site with a week of 10-minute data instead and loads each page 3 times
(seconds). ``INFRASIGHT_DATABASE_URL`` of the environment is ignored (SQLite in the data folder)
unless ``--database-url`` is given. ``--datasets`` is accepted for uniformity; no dataset is used.

Concurrent users (``--users 50``, the issue's figure): that many browsers log in through the
login page in Chromium (each its own browser context, so its own web session); then as many
simulated users, HTTP clients with those cookies, arrive within one think time and each loads,
``--rounds`` times, the overview and then the asset page, pausing a think time (uniform 0.5-1.5
x ``--think`` seconds) after each page. A page load is what a browser does for it: the page's
HTML (NiceGUI renders on the server, with the page's data), then at once every ``/_nicegui/``
script and stylesheet the HTML names that this user has not fetched yet (a cold cache on the
first round) and the page's socket.io connection (Engine.IO 4 over a WebSocket, NiceGUI's
implicit handshake) up to the server's connect answer; the socket stays open, answering pings,
until the user leaves the page. Rendering and the forecast update that arrives over the socket
later are not simulated. The 1-user baseline is the same procedure with one user, in the same
run; the server's CPU time per page load (``/proc``) is printed too.

Usage: python benchmarks/web.py [--smoke] [--runs 20] [--users 50] [--rounds 5] [--think 5]
[--data-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from rich.console import Console

from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.accounts import create_user, ensure_organization
from infrasight.services.auth import Principal
from infrasight.services.ingest import ReadingColumns, ingest_readings
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import Asset, Channel, Element

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SMOKE_EMAIL = "bench@bench.example"
SMOKE_PASSWORD = "viaduct-load-test-7"
ZOOM_JS = """() => new Promise((resolve) => {
  const host = document.querySelector('.nicegui-echart');
  const chart = getElement(host.id.slice(1)).chart;
  const caption = document.querySelector('[data-zoom-caption]') || host.nextElementSibling;
  const before = caption.textContent;
  const t0 = performance.now();
  const observer = new MutationObserver(() => {
    if (caption.textContent !== before) {
      observer.disconnect();
      requestAnimationFrame(() => resolve(performance.now() - t0));
    }
  });
  observer.observe(caption, {childList: true, subtree: true, characterData: true});
  // the last tenth of the readings (the axis runs on to the forecast's horizon), as
  // percentages of the whole axis; the first call remembers the readings' extent
  const option = chart.getOption();
  const data = option.series[0].data;
  window.__readings = window.__readings || [data[0][0], data[data.length - 1][0]];
  const [first, last] = window.__readings;
  const lo = option.xAxis[0].min, hi = option.xAxis[0].max;
  const from = first + (0.9 + 0.01 * Math.random()) * (last - first);
  chart.dispatchAction({
    type: 'dataZoom', start: 100 * (from - lo) / (hi - lo), end: 100 * (last - lo) / (hi - lo)
  });
})"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed_smoke(settings: Settings) -> tuple[str, str]:
    """One asset with one channel and a week of 10-minute readings; returns the login."""
    platform = Platform.create(settings, workers=0)
    try:
        with platform.database.transaction() as session:
            org, _ = ensure_organization(session, "Bench")
            user, _ = create_user(session, org, SMOKE_EMAIL, Role.ENGINEER, password=SMOKE_PASSWORD)
            asset = Asset(
                organization_id=org.id,
                name="Bench bridge",
                kind="bridge",
                latitude=22.3,
                longitude=114.2,
            )
            session.add(asset)
            session.flush()
            element = Element(asset_id=asset.id, name="Span", kind="span")
            session.add(element)
            session.flush()
            session.add(
                Channel(
                    organization_id=org.id,
                    key="BENCH-STRAIN",
                    quantity="strain",
                    unit="µε",
                    element_id=element.id,
                )
            )
            session.flush()
            caller = Principal(
                organization_id=org.id, name=user.email, role=Role.ENGINEER, user_id=user.id
            )
            start = datetime.now(UTC) - timedelta(days=7)
            count = 7 * 144
            batch = ReadingColumns(
                channels=["BENCH-STRAIN"] * count,
                times=[(start + timedelta(minutes=10 * i)).isoformat() for i in range(count)],
                values=[100.0 + (i % 144) * 0.1 for i in range(count)],
                units=[None] * count,
            )
            ingest_readings(session, caller, batch, future_tolerance_s=600)
    finally:
        platform.close()
    return SMOKE_EMAIL, SMOKE_PASSWORD


def _seed_demo(settings: Settings) -> tuple[str, str]:
    from infrasight.demo.seed import DEMO_ADMIN_EMAIL, DEMO_PASSWORD, seed_demo

    platform = Platform.create(settings, workers=0)
    try:
        seed_demo(platform, days=90, seed=7, console=Console(stderr=True))
        platform.jobs.run_pending()
    finally:
        platform.close()
    return DEMO_ADMIN_EMAIL, DEMO_PASSWORD


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 1),
        "p95_ms": round(_p(values, 0.95), 1),
        "n": len(values),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small site, 3 loads per page")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--users", type=int, default=None, help="concurrent users (50; smoke 5)")
    parser.add_argument("--rounds", type=int, default=None, help="page pairs per user (5; smoke 2)")
    parser.add_argument(
        "--think", type=float, default=None, help="mean think time between a user's pages, s (5)"
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="a seeded data folder")
    parser.add_argument("--database-url", default="", help="PostgreSQL instead of SQLite")
    parser.add_argument("--email", default=None)
    parser.add_argument("--password", default=None)
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    runs = 3 if args.smoke else args.runs
    users = args.users if args.users is not None else (5 if args.smoke else 50)
    rounds = args.rounds if args.rounds is not None else (2 if args.smoke else 5)
    args.think = args.think if args.think is not None else (1.0 if args.smoke else 5.0)
    with tempfile.TemporaryDirectory(prefix="infrasight-web-bench-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        settings = Settings(data_dir=data_dir, database_url=args.database_url, worker_threads=0)
        if args.data_dir is None:
            upgrade(settings)
            email, password = _seed_smoke(settings) if args.smoke else _seed_demo(settings)
        else:
            from infrasight.demo.seed import DEMO_ADMIN_EMAIL, DEMO_PASSWORD

            email, password = DEMO_ADMIN_EMAIL, DEMO_PASSWORD
        email, password = args.email or email, args.password or password
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "INFRASIGHT_DATA_DIR": str(data_dir),
            "INFRASIGHT_DATABASE_URL": args.database_url,
            "INFRASIGHT_WEB": "true",
            "INFRASIGHT_WORKER_THREADS": "0",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from infrasight.cli.app import main; main()",
                "serve",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            results = _measure(
                sync_playwright,
                base,
                email,
                password,
                runs,
                users,
                rounds,
                args.think,
                server.pid,
            )
        finally:
            server.terminate()
            server.wait(timeout=20)
    results["data"] = (
        "smoke site (1 channel, 7 days)" if args.smoke else str(args.data_dir or "demo, 90 days")
    )
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"web pages on {results['data']}, {runs} loads each (Chromium)")
    print(f"simulated users: {users} x {rounds} rounds, mean think time {args.think} s")
    print(f"{'what':<60}{'p50 ms':>10}{'p95 ms':>10}{'n':>6}")
    for name, figures in results["timings"].items():
        print(f"{name:<60}{figures['p50_ms']:>10}{figures['p95_ms']:>10}{figures['n']:>6}")
    for name, value in results["server_cpu"].items():
        print(f"{name:<60}{value:>10}")
    return 0


def _log_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


_STATIC = re.compile(r'(?:src|href)="(/_nicegui/[^"]+\.(?:js|css|mjs))"')
_CLIENT = re.compile(r"""['"]client_id['"]: ?['"]([^'"]+)['"], ?['"]next_message_id['"]: ?(\d+)""")


class _Socket:
    """A page's socket.io connection as NiceGUI's page script opens it (Engine.IO 4 over a
    WebSocket, implicit handshake): open, connect, answer pings until closed."""

    def __init__(self, http: aiohttp.ClientSession, html: str) -> None:
        found = _CLIENT.search(html)
        if found is None:
            raise RuntimeError("the page names no NiceGUI client id")
        self.query = {
            "client_id": found.group(1),
            "next_message_id": found.group(2),
            "implicit_handshake": "true",
            "document_id": str(uuid.uuid4()),
            "tab_id": str(uuid.uuid4()),
            "EIO": "4",
            "transport": "websocket",
        }
        self.http = http
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        """Open the socket; returns when the server accepted the handshake ("40")."""
        self.ws = await self.http.ws_connect("/_nicegui_ws/socket.io/", params=self.query)
        opened = await self.ws.receive_str()
        if not opened.startswith("0"):
            raise RuntimeError(f"unexpected Engine.IO open packet {opened[:40]!r}")
        await self.ws.send_str("40")
        while True:
            message = await self.ws.receive_str()
            if message.startswith("40"):
                break
            if message.startswith("44"):
                raise RuntimeError(f"socket.io connection refused: {message[:80]}")
            if message == "2":
                await self.ws.send_str("3")
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            if message.data == "2":  # Engine.IO ping
                await self.ws.send_str("3")

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await self.reader


async def _load(http: aiohttp.ClientSession, path: str, fetched: set[str]) -> _Socket:
    """One page load: the HTML, the scripts and styles it names that ``fetched`` lacks, and the
    page's socket up to the accepted handshake (returned open)."""
    async with http.get(path) as answer:
        answer.raise_for_status()
        html = await answer.text()
    assets = [a for a in dict.fromkeys(_STATIC.findall(html)) if a not in fetched]

    async def fetch(address: str) -> None:
        async with http.get(address) as got:
            got.raise_for_status()
            await got.read()

    socket = _Socket(http, html)
    await asyncio.gather(*(fetch(a) for a in assets), socket.connect())
    fetched.update(assets)
    return socket


async def _user(
    base: str,
    cookies: dict[str, str],
    paths: dict[str, str],
    rounds: int,
    start: asyncio.Event,
    think_s: float,
    seed: int,
) -> dict[str, list[float]]:
    """One simulated user: ``rounds`` times the overview then the asset page, with a think time
    between page loads (see the module docstring for what a load is); the milliseconds of
    each load by page."""
    rng = random.Random(seed)
    out: dict[str, list[float]] = {}
    fetched: set[str] = set()
    # a browser's connections per host; idle ones are dropped before the server's keep-alive
    # timeout (uvicorn: 5 s) closes them under a request (a browser retries such a request)
    connector = aiohttp.TCPConnector(limit=6, keepalive_timeout=2.0)
    timeout = aiohttp.ClientTimeout(total=120.0)
    async with aiohttp.ClientSession(
        base_url=base, cookies=cookies, connector=connector, timeout=timeout
    ) as http:
        await start.wait()
        await asyncio.sleep(rng.uniform(0.0, think_s))  # users do not arrive in lockstep
        socket: _Socket | None = None
        for _ in range(rounds):
            for name, path in paths.items():
                if socket is not None:  # leaving the previous page closes its socket
                    await socket.close()
                    socket = None
                t0 = time.perf_counter()
                try:
                    socket = await _load(http, path, fetched)
                except (aiohttp.ClientError, RuntimeError, TimeoutError) as error:
                    out.setdefault(f"{name}: failed", []).append(0.0)
                    print(f"{name}: {type(error).__name__}: {error}", file=sys.stderr)
                else:
                    out.setdefault(name, []).append((time.perf_counter() - t0) * 1e3)
                await asyncio.sleep(rng.uniform(0.5 * think_s, 1.5 * think_s))
        if socket is not None:
            await socket.close()
    return out


async def _crowd(
    base: str, jars: list[dict[str, str]], paths: dict[str, str], rounds: int, think_s: float
) -> dict[str, list[float]]:
    start = asyncio.Event()
    tasks = [
        asyncio.ensure_future(_user(base, jar, paths, rounds, start, think_s, seed))
        for seed, jar in enumerate(jars)
    ]
    await asyncio.sleep(0.5)  # every client ready, then all start
    start.set()
    merged: dict[str, list[float]] = {}
    for result in await asyncio.gather(*tasks):
        for name, values in result.items():
            merged.setdefault(name, []).extend(values)
    return merged


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process ``pid`` has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(
    sync_playwright: Any,
    base: str,
    email: str,
    password: str,
    runs: int,
    users: int = 0,
    rounds: int = 0,
    think_s: float = 0.0,
    server_pid: int | None = None,
) -> dict[str, Any]:
    timings: dict[str, list[float]] = {}
    jars: list[dict[str, str]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        _log_in(page, base, email, password)
        asset_link = page.locator("a[href^='/assets/']").first.get_attribute("href")
        pages = {"overview /": f"{base}/", f"asset {asset_link}": f"{base}{asset_link}"}
        for name, url in pages.items():
            for _ in range(runs):
                t0 = time.perf_counter()
                page.goto(url, wait_until="domcontentloaded")
                marker = "canvas" if name.startswith("asset") else "a[href^='/assets/']"
                page.locator(marker).first.wait_for()
                rendered = time.perf_counter()
                page.wait_for_load_state("networkidle")  # no request for 500 ms (included)
                idle = time.perf_counter()
                timings.setdefault(f"page {name}: rendered", []).append((rendered - t0) * 1e3)
                timings.setdefault(f"page {name}: network idle", []).append((idle - t0) * 1e3)
        page.goto(pages[f"asset {asset_link}"], wait_until="networkidle")
        page.locator("[data-forecast]").first.wait_for(timeout=120_000)  # the fit has arrived
        for _ in range(runs):
            timings.setdefault("chart zoom: re-query and redraw", []).append(
                float(page.evaluate(ZOOM_JS))
            )
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        for _ in range(users):  # each simulated user: a browser of its own, logged in
            context = browser.new_context()
            _log_in(context.new_page(), base, email, password)
            jars.append({c["name"]: c["value"] for c in context.cookies()})
            context.close()
        browser.close()
    cpu: dict[str, float] = {}
    if users:
        paths = {"overview /": "/", f"asset {asset_link}": str(asset_link)}
        for label, crowd in (("1 user (baseline)", jars[:1]), (f"{users} users", jars)):
            before = _cpu_s(server_pid) if server_pid else 0.0
            loads = asyncio.run(_crowd(base, crowd, paths, rounds, think_s))
            for name, values in loads.items():
                timings[f"{label}: {name} load"] = values
            if server_pid:
                count = sum(len(v) for v in loads.values())
                cpu[f"{label}: server CPU ms per page load"] = round(
                    (_cpu_s(server_pid) - before) * 1e3 / max(count, 1), 1
                )
    with httpx.Client(base_url=base, cookies=cookies) as http:
        login = http.post("/api/v1/auth/login", json={"email": email, "password": password})
        token = login.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        asset_id = int(str(asset_link).split("/")[2].split("?")[0])
        channels = http.get(f"/api/v1/channels?asset_id={asset_id}", headers=headers).json()
        channel_id = channels["items"][0]["id"]
        for name, url in pages.items():
            before = _cpu_s(server_pid) if server_pid else 0.0
            for _ in range(runs):
                t0 = time.perf_counter()
                http.get(url)
                timings.setdefault(f"baseline: HTML of {name} (plain HTTP)", []).append(
                    (time.perf_counter() - t0) * 1e3
                )
            if server_pid:
                cpu[f"server CPU ms per HTML of {name}"] = round(
                    (_cpu_s(server_pid) - before) * 1e3 / runs, 1
                )
        for _ in range(runs):
            t0 = time.perf_counter()
            http.get(f"/api/v1/channels/{channel_id}/readings?max_points=500", headers=headers)
            timings.setdefault("baseline: readings JSON, 500 buckets", []).append(
                (time.perf_counter() - t0) * 1e3
            )
    return {"timings": {k: _summary(v) for k, v in timings.items()}, "server_cpu": cpu}


if __name__ == "__main__":
    raise SystemExit(main())
