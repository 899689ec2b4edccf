"""The agent's cameras end to end against the real API: a watched folder of generated crack
images analysed on the terminal with the packaged ONNX model, a video file as a VideoCapture
source, a displacement camera, and camera status in heartbeats."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.edge.agent import EdgeAgent
from infrasight.edge.config import EdgeConfig
from infrasight.platform import Platform
from infrasight.synthetic.crack_geometry import polyline_length
from infrasight.synthetic.crack_scene import render_crack_scene
from infrasight.synthetic.speckle import speckle_field, speckle_image
from tests.conftest import Site, Tenant
from tests.edge.netfaults import TcpProxy
from tests.edge.test_agent import _stored

BASE_S = 1_714_564_800.0
MM_PER_PX = 0.2


def _wait(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def _write(path: Path, rgb: np.ndarray, mtime: float) -> None:
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    os.utime(path, (mtime, mtime))


def _agent(
    tmp_path: Path, link: TcpProxy, site: Site, cameras: list[dict[str, object]]
) -> EdgeAgent:
    config = EdgeConfig.model_validate(
        {
            "server_url": f"http://127.0.0.1:{link.port}",
            "token": site.device_token,
            "queue_path": tmp_path / "edge" / "queue.db",
            "listen_port": None,
            "poll_s": 0.05,
            "heartbeat_s": 0.2,
            "backoff_min_s": 0.05,
            "backoff_max_s": 0.2,
            "request_timeout_s": 10.0,
            "cameras": cameras,
        }
    )
    return EdgeAgent(config, seed=1)


def test_folder_camera_sends_measured_cracks_that_appear_as_a_capture(
    tmp_path: Path,
    link: TcpProxy,
    client: TestClient,
    platform: Platform,
    tenant: Tenant,
    site: Site,
) -> None:
    folder = tmp_path / "cam"
    folder.mkdir()
    scene = render_crack_scene(
        width=384, height=384, seed=3, n_cracks=1, width_range_px=(3, 6), branch_probability=0.0
    )
    truth_mm = polyline_length(scene.cracks[0].centreline) * MM_PER_PX
    _write(folder / "0001-crack.png", scene.image, BASE_S)
    clean = np.full((384, 384, 3), 150, np.uint8)
    clean += np.random.default_rng(4).integers(0, 6, clean.shape, dtype=np.uint8)
    _write(folder / "0002-clean.png", clean, BASE_S + 10)
    agent = _agent(
        tmp_path,
        link,
        site,
        [
            {
                "name": "pier-2",
                "source": str(folder),
                "interval_s": 30.0,  # both files are there at the first scan
                "mm_per_px": MM_PER_PX,
                "element_id": site.element_id,
                "send_original": "cracks",
            }
        ],
    )
    link.set_up(False)  # the link is down while the camera works: the defects wait in the queue
    agent.start()
    try:
        _wait(lambda: len(list((folder / "done").glob("*.png"))) == 2)
        assert agent.queue.stats().capture_depth == 1  # the clean frame is not sent
        link.set_up(True)
        _wait(lambda: agent.queue.stats().captures_sent == 1)
        _wait(lambda: agent.health()["cameras"]["pier-2"]["frames"] == 2)  # type: ignore[index]
        camera = agent.health()["cameras"]["pier-2"]  # type: ignore[index]
        assert camera["state"] == "ok" and camera["last_cracks"] == 0
        agent.beat()
    finally:
        agent.stop()
    h = tenant.headers(Role.VIEWER)
    (capture,) = client.get(
        "/api/v1/captures", params={"asset_id": site.asset_id}, headers=h
    ).json()["items"]
    assert (capture["element_id"], capture["device_id"]) == (site.element_id, site.device_id)
    assert capture["time"].startswith("2024-05-01T12:00:00")
    original = client.get(f"/api/v1/captures/{capture['id']}/original", headers=h).content
    assert original == (folder / "done" / "0001-crack.png").read_bytes()
    (defect,) = client.get(f"/api/v1/captures/{capture['id']}/defects", headers=h).json()
    assert defect["kind"] == "crack"
    assert defect["confidence"] > 0.5
    length = defect["measurements"]["length"]
    assert length["unit"] == "mm"
    assert length["value"] == pytest.approx(truth_mm, rel=0.08)
    assert platform.blobs.get(defect["geometry"]["thumbnail_sha256"])[:2] == b"\xff\xd8"
    status = client.get(f"/api/v1/devices/{site.device_id}/status", headers=h).json()
    assert status["health"]["cameras"]["pier-2"]["state"] == "ok"
    assert status["health"]["captures_sent"] == 1


def test_video_source_status_goes_from_ok_to_no_frames_and_degrades_the_device(
    tmp_path: Path, link: TcpProxy, client: TestClient, tenant: Tenant, site: Site
) -> None:
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (64, 48))
    for value in (60, 90):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    agent = _agent(
        tmp_path,
        link,
        site,
        [
            {"name": "rtsp-1", "source": str(clip), "interval_s": 0.1, "analysis": "none"},
            {"name": "usb-9", "source": "/nonexistent/camera-folder", "interval_s": 0.1},
        ],
    )
    agent.start()
    try:
        _wait(lambda: agent.health()["cameras"]["rtsp-1"]["frames"] == 2)  # type: ignore[index]
        _wait(lambda: agent.health()["cameras"]["rtsp-1"]["state"] == "no_frames")  # type: ignore[index]
        cameras = agent.health()["cameras"]
        assert cameras["usb-9"]["state"] == "error"  # type: ignore[index]
        assert "does not exist" in cameras["usb-9"]["error"]  # type: ignore[index]
        agent.beat()
    finally:
        agent.stop()
    status = client.get(
        f"/api/v1/devices/{site.device_id}/status", headers=tenant.headers(Role.VIEWER)
    ).json()
    assert status["state"] == "degraded"
    assert "camera rtsp-1: no frames" in status["reasons"]
    assert any(r.startswith("camera usb-9: error") for r in status["reasons"])


def test_displacement_camera_sends_readings_for_its_channel(
    tmp_path: Path, link: TcpProxy, platform: Platform, site: Site
) -> None:
    folder = tmp_path / "target"
    folder.mkdir()
    spectrum = speckle_field(160, 160, seed=11, speckle_px=4.0)
    moves_px = [0.0, 1.0, 2.5, 4.0]
    for k, dy in enumerate(moves_px):
        grey = speckle_image(spectrum, shift=(0.0, dy))
        _write(folder / f"{k:04d}.png", np.repeat(grey[..., None], 3, axis=2), BASE_S + 60 * k)
    agent = _agent(
        tmp_path,
        link,
        site,
        [
            {
                "name": "target-cam",
                "source": str(folder),
                "interval_s": 0.1,
                "analysis": "displacement",
                "displacement": {
                    "roi": [50, 50, 60, 60],
                    "mm_per_px": 0.5,
                    "channel_dy": "VD-SETTLE",
                },
            }
        ],
    )
    agent.start()
    try:
        _wait(lambda: len(_stored(platform, site.settlement_channel_id)) == len(moves_px))
    finally:
        agent.stop()
    stored = _stored(platform, site.settlement_channel_id)
    assert [ts for ts, _ in stored] == [int((BASE_S + 60 * k) * 1e6) for k in range(4)]
    assert [v for _, v in stored] == pytest.approx([0.5 * dy for dy in moves_px], abs=0.03)
