"""A private Mosquitto broker on a free port, for tests and benchmarks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["find_mosquitto", "free_port", "mosquitto"]


def find_mosquitto() -> str | None:
    """Path of the ``mosquitto`` binary (Debian puts it in /usr/sbin), or None."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def mosquitto(folder: Path, port: int | None = None) -> Iterator[int]:
    """Run a broker with a generated config; yield its port; stop it afterwards."""
    binary = find_mosquitto()
    if binary is None:
        raise RuntimeError("mosquitto is not installed (apt-get install -y mosquitto)")
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 100000\nlog_dest stderr\nlog_type error\n"
    )
    with (folder / "mosquitto.log").open("ab") as log:
        process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "mosquitto did not start: " + (folder / "mosquitto.log").read_text()
                    ) from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)
