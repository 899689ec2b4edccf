"""Footprint of the edge agent on one core: RSS and CPU idle, and analysing one camera.

Runs the real agent (``python -m infrasight.edge run`` in a subprocess, pinned to core 0 with
``taskset -c 0`` when available) against a stub server in this process that acknowledges
everything (so sending is included, the server's own cost is not). Two runs in the same process:

- baseline: the agent idle (no camera; heartbeats and configuration polls only);
- camera: one watched-folder camera analysed on the terminal (the packaged ONNX crack model,
  measurements, thumbnails, the capture queued and sent) at one frame every ``--interval-s``
  seconds; a generated crack image (``infrasight.synthetic``) of ``--frame`` size is dropped
  into the folder each interval.

Reported: resident memory (MB, now and peak), CPU (% of one core) over the measuring window,
CPU seconds per frame and frames analysed. The first frame (model loading) is left out of the
window and reported on its own.

Usage: python benchmarks/edge_footprint.py [--smoke] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import orjson

from infrasight.synthetic.crack_scene import render_crack_scene


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class _Sink(BaseHTTPRequestHandler):
    """The server's device API, answering as if everything was stored."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def _answer(self, document: object, status: HTTPStatus = HTTPStatus.OK) -> None:
        body = orjson.dumps(document)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer({"version": 0, "config": {}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.endswith("/devices/captures"):
            self._answer({"capture_id": 1, "duplicate": False, "defects": 0}, HTTPStatus.CREATED)
        elif self.path.endswith("/devices/heartbeat"):
            self._answer({"clock_offset_s": 0.0})
        else:
            count = len(orjson.loads(body).get("readings", [])) if body else 0
            self._answer({"accepted": count, "duplicates": 0})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory_mb(pid: int) -> tuple[float, float]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            values[line.split(":")[0]] = int(line.split()[1]) / 1024
    return round(values["VmRSS"], 1), round(values["VmHWM"], 1)


class _Agent:
    def __init__(self, folder: Path, server_port: int, cameras: list[dict[str, object]]) -> None:
        self.folder = folder
        self.port = _free_port()
        folder.mkdir(parents=True, exist_ok=True)
        lines = [
            f'server_url = "http://127.0.0.1:{server_port}"',
            'token = "isd_footprint"',
            f"queue_path = {json.dumps(str(folder / 'queue.db'))}",
            f"listen_port = {self.port}",
            "heartbeat_s = 60",
            "config_poll_s = 60",
        ]
        for camera in cameras:
            lines.append("[[cameras]]")
            lines.extend(f"{k} = {json.dumps(v)}" for k, v in camera.items())
        self.config = folder / "edge.toml"
        self.config.write_text("\n".join(lines) + "\n")
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        self.pinned = bool(pin)
        log = (folder / "agent.log").open("ab")
        self.process = subprocess.Popen(
            [*pin, sys.executable, "-m", "infrasight.edge", "run", "--config", str(self.config)],
            stdout=log,
            stderr=log,
            env={k: v for k, v in os.environ.items() if k != "INFRASIGHT_DATABASE_URL"},
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                self.status()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError((folder / "agent.log").read_text()[-2000:]) from None
                time.sleep(0.1)

    def status(self) -> dict[str, object]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=10) as r:
            answer: dict[str, object] = orjson.loads(r.read())
            return answer

    def frames(self, name: str) -> int:
        cameras = self.status()["cameras"]
        assert isinstance(cameras, dict)
        return int(cameras.get(name, {}).get("analysed", 0))

    def stop(self) -> None:
        """SIGTERM; the agent finishes the frame it is analysing first."""
        self.process.terminate()
        try:
            self.process.wait(300)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _window(agent: _Agent, seconds: float) -> dict[str, float]:
    pid = agent.process.pid
    before, began = _cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    used, elapsed = _cpu_s(pid) - before, time.monotonic() - began
    rss, peak = _memory_mb(pid)
    return {
        "rss_mb": rss,
        "peak_rss_mb": peak,
        "cpu_percent": round(100 * used / elapsed, 2),
        "cpu_s": round(used, 3),
        "window_s": round(elapsed, 1),
    }


def _images(width: int, height: int, count: int) -> list[bytes]:
    out = []
    for seed in range(count):
        scene = render_crack_scene(width=width, height=height, seed=100 + seed)
        ok, data = cv2.imencode(".jpg", scene.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        assert ok
        out.append(data.tobytes())
    return out


def run(args: argparse.Namespace) -> dict[str, object]:
    smoke = args.smoke
    interval = args.interval_s if args.interval_s is not None else (2.0 if smoke else 10.0)
    window = args.window_s if args.window_s is not None else (8.0 if smoke else 120.0)
    frame = args.frame or ("640x480" if smoke else "1920x1080")
    width, height = (int(v) for v in frame.lower().split("x"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    results: dict[str, object] = {
        "mode": "smoke" if smoke else "full",
        "frame": f"{width}x{height}",
        "interval_s": interval,
    }
    _say(f"rendering {width}x{height} crack images")
    images = _images(width, height, 3)
    with tempfile.TemporaryDirectory(prefix="edge-footprint-") as tmp:
        root = Path(tmp)
        _say("baseline: the agent idle")
        idle = _Agent(root / "idle", server.server_address[1], [])
        try:
            time.sleep(3.0)
            results["pinned_to_core_0"] = idle.pinned
            results["idle"] = _window(idle, min(window, 30.0))
        finally:
            idle.stop()

        _say(f"camera: one frame every {interval:g} s")
        folder = root / "cam"
        folder.mkdir()
        camera = {
            "name": "cam-1",
            "source": str(folder),
            "interval_s": interval,
            "mm_per_px": 0.2,
            "send_original": "cracks",
        }
        agent = _Agent(root / "camera", server.server_address[1], [camera])
        stop = threading.Event()

        def feed() -> None:
            index = 0
            while not stop.is_set():
                path = folder / f"frame-{index:05d}.jpg"
                partial = folder / f".frame-{index:05d}.part"
                partial.write_bytes(images[index % len(images)])
                os.utime(partial, (time.time() - 5, time.time() - 5))
                partial.replace(path)
                index += 1
                stop.wait(interval)

        feeder = threading.Thread(target=feed, daemon=True)
        try:
            began = time.monotonic()
            cpu0 = _cpu_s(agent.process.pid)
            feeder.start()
            while agent.frames("cam-1") < 1:  # analysed (the model loads at the first)
                if time.monotonic() - began > 300:
                    raise RuntimeError("no frame analysed in 300 s")
                time.sleep(0.1)
            results["first_frame"] = {
                "seconds": round(time.monotonic() - began, 2),
                "cpu_s": round(_cpu_s(agent.process.pid) - cpu0, 2),
            }
            time.sleep(interval / 2)
            frames_before = agent.frames("cam-1")
            measured = _window(agent, window)
            frames = agent.frames("cam-1") - frames_before
            measured["frames"] = frames
            measured["cpu_s_per_frame"] = round(measured["cpu_s"] / max(1, frames), 3)
            status = agent.status()
            measured["captures_sent"] = float(status.get("captures_sent", 0))  # type: ignore[arg-type]
            results["camera"] = measured
        finally:
            stop.set()
            agent.stop()
    server.shutdown()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="seconds, not minutes")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    parser.add_argument("--interval-s", type=float, default=None, help="s between frames (10)")
    parser.add_argument("--window-s", type=float, default=None, help="measuring window (120 s)")
    parser.add_argument("--frame", default=None, help="frame size WxH (1920x1080; smoke 640x480)")
    parser.add_argument(
        "--datasets", default="../shared/datasets", help="unused: the benchmark generates its data"
    )
    args = parser.parse_args()
    results = run(args)
    print(json.dumps(results, indent=2))
    if not args.json:
        idle, camera = results["idle"], results["camera"]
        assert isinstance(idle, dict) and isinstance(camera, dict)
        print(
            f"idle (baseline): {idle['rss_mb']} MB, {idle['cpu_percent']} % of a core; "
            f"one camera at 1 frame/{results['interval_s']} s: {camera['rss_mb']} MB "
            f"(peak {camera['peak_rss_mb']}), {camera['cpu_percent']} % of a core, "
            f"{camera['cpu_s_per_frame']} CPU s per frame"
        )


if __name__ == "__main__":
    main()
