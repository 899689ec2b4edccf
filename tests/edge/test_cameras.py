"""Camera inputs of the agent without a server: folder and VideoCapture sources, status, the
displacement tracker on a generated moving target, and captures in the durable queue."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import orjson
import pytest
from pydantic import ValidationError

from infrasight.edge.analysis import (
    CaptureItem,
    CrackAnalyser,
    DisplacementTracker,
    TargetLostError,
    frame_key,
)
from infrasight.edge.cameras import CameraStatus, FolderSource, Frame, VideoSource, open_source
from infrasight.edge.items import EdgeReading
from infrasight.edge.queue import EdgeQueue
from infrasight.edge.remote import CameraSource, DisplacementSettings
from infrasight.synthetic.speckle import speckle_field, speckle_image

BASE_S = 1_714_564_800.0


def _png(path: Path, pixels: np.ndarray, mtime: float) -> None:
    ok = cv2.imwrite(str(path), np.ascontiguousarray(pixels[..., ::-1]))
    assert ok
    os.utime(path, (mtime, mtime))


def _noise(seed: int, size: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)


def test_folder_source_gives_settled_images_oldest_first_once(tmp_path: Path) -> None:
    folder = tmp_path / "cam"
    folder.mkdir()
    _png(folder / "b.png", _noise(1), BASE_S + 20)
    _png(folder / "a.png", _noise(2), BASE_S + 10)
    (folder / "broken.jpg").write_bytes(b"not an image")
    os.utime(folder / "broken.jpg", (BASE_S, BASE_S))
    (folder / "notes.txt").write_text("ignored")
    source = FolderSource(folder, settle_s=1.0)
    frames = source.grab()
    assert [f.label for f in frames] == ["a.png", "b.png"]
    assert frames[0].taken_at == BASE_S + 10
    assert np.array_equal(frames[0].pixels, _noise(2))  # RGB, as written
    assert frames[0].encoded == (folder / "a.png").read_bytes()
    assert (folder / "rejected" / "broken.jpg").exists()
    for frame in frames:
        source.done(frame)
    assert source.grab() == []
    assert sorted(p.name for p in (folder / "done").iterdir()) == ["a.png", "b.png"]


def test_folder_source_skips_a_file_still_being_written(tmp_path: Path) -> None:
    _png(tmp_path / "new.png", _noise(3), 0.0)
    os.utime(tmp_path / "new.png")  # now
    assert FolderSource(tmp_path, settle_s=30.0).grab() == []


def test_missing_folder_is_an_error() -> None:
    source = open_source("/nonexistent/camera/folder")
    assert isinstance(source, FolderSource)
    with pytest.raises(Exception, match="does not exist"):
        source.grab()


def test_video_file_is_read_one_frame_per_grab(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (64, 48))
    for value in (40, 120, 200):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    source = open_source(str(path))
    assert isinstance(source, VideoSource)
    means = []
    for _ in range(3):
        (frame,) = source.grab()
        assert frame.pixels.shape == (48, 64, 3)
        means.append(float(frame.pixels.mean()))
    assert means == pytest.approx([40, 120, 200], abs=3)
    assert source.grab() == []  # end of the file: no frame (the status will say so)
    source.close()


def test_unopenable_stream_is_an_error() -> None:
    with pytest.raises(Exception, match="cannot open"):
        VideoSource(str(Path("/nonexistent/clip.avi"))).grab()


def test_camera_status_states() -> None:
    status = CameraStatus(started_at=100.0, interval_s=10.0)
    assert status.state(110.0) == "ok"
    assert status.state(131.0) == "no_frames"  # three intervals without a frame
    status.last_frame_at = 130.0
    status.frames = 1
    assert status.to_dict(135.0)["state"] == "ok"
    assert status.to_dict(135.0)["last_frame_age_s"] == 5.0
    status.error = "cannot open rtsp://cam"
    assert status.to_dict(135.0)["state"] == "error"


def test_camera_configuration_is_validated() -> None:
    with pytest.raises(ValidationError, match="needs a displacement section"):
        CameraSource(name="cam", source="usb:0", analysis="displacement")
    with pytest.raises(ValidationError, match="channel_dx or channel_dy"):
        DisplacementSettings(roi=(10, 10, 20, 20), mm_per_px=0.5)
    with pytest.raises(ValidationError, match=">= 5x5"):
        DisplacementSettings(roi=(10, 10, 2, 20), mm_per_px=0.5, channel_dx="DX")
    with pytest.raises(ValidationError, match="name"):
        CameraSource(name="cam 1/..", source="usb:0")


def _target(shift_px: tuple[float, float]) -> np.ndarray:
    grey = speckle_image(speckle_field(160, 160, seed=11, speckle_px=4.0), shift=shift_px)
    return np.repeat(grey[..., None], 3, axis=2)


def test_displacement_tracker_measures_a_moving_target(tmp_path: Path) -> None:
    settings = DisplacementSettings(
        roi=(50, 50, 60, 60), mm_per_px=0.5, channel_dx="CAM-DX", channel_dy="CAM-DY"
    )
    reference = tmp_path / "ref.png"
    tracker = DisplacementTracker(settings, reference)
    moves = [(0.0, 0.0), (0.4, 1.5), (-1.2, 3.0), (2.0, 4.5)]
    got = []
    for k, shift in enumerate(moves):
        frame = Frame(pixels=_target(shift), taken_at=BASE_S + k, label=f"f{k}")
        got.append(tracker.readings(frame))
    assert reference.exists()  # the first frame is the reference, kept on disk
    assert got[0] == [
        EdgeReading(channel="CAM-DX", ts_us=int(BASE_S * 1e6), value=0.0, unit="mm"),
        EdgeReading(channel="CAM-DY", ts_us=int(BASE_S * 1e6), value=0.0, unit="mm"),
    ]
    for (dx, dy), readings in zip(moves[1:], got[1:], strict=True):
        assert [r.channel for r in readings] == ["CAM-DX", "CAM-DY"]
        assert readings[0].value == pytest.approx(dx * 0.5, abs=0.03)
        assert readings[1].value == pytest.approx(dy * 0.5, abs=0.03)
    # a restarted agent measures from the same reference
    again = DisplacementTracker(settings, reference)
    (dx_reading, dy_reading) = again.readings(
        Frame(pixels=_target((1.0, -2.0)), taken_at=BASE_S + 9, label="f9")
    )
    assert (dx_reading.value, dy_reading.value) == pytest.approx((0.5, -1.0), abs=0.03)


def test_displacement_tracker_reports_a_lost_target(tmp_path: Path) -> None:
    settings = DisplacementSettings(roi=(50, 50, 60, 60), mm_per_px=0.5, channel_dy="CAM-DY")
    tracker = DisplacementTracker(settings, tmp_path / "ref.png")
    tracker.readings(Frame(pixels=_target((0.0, 0.0)), taken_at=BASE_S, label="ref"))
    covered = np.full((160, 160, 3), 128, np.uint8)  # the target is hidden (fog, a cover)
    with pytest.raises(TargetLostError, match="not found reliably"):
        tracker.readings(Frame(pixels=covered, taken_at=BASE_S + 1, label="fog"))


def test_frame_key_is_the_same_for_the_same_frame() -> None:
    a = Frame(pixels=_noise(1), taken_at=1.0, label="a", encoded=b"abc")
    b = Frame(pixels=_noise(2), taken_at=2.0, label="b", encoded=b"abc")
    c = Frame(pixels=_noise(1), taken_at=1.0, label="a")
    assert frame_key("cam", a) == frame_key("cam", b)
    assert frame_key("cam", a) != frame_key("cam", c)
    assert frame_key("cam", a).startswith("cam:")


class _NoCracks:
    model_version = "test-0"

    def segment(self, pixels: np.ndarray) -> object:
        from infrasight.vision.cracks import CrackSegmentation

        mask = np.zeros(pixels.shape[:2], bool)
        return CrackSegmentation(
            probability=mask.astype(np.float32),
            mask=mask,
            instances=(),
            threshold=0.5,
            model_version=self.model_version,
        )


@pytest.mark.parametrize(
    ("send_original", "expected"), [("cracks", None), ("never", None), ("always", "original")]
)
def test_a_frame_without_cracks_is_sent_only_when_always_asked(
    send_original: str, expected: str | None
) -> None:
    camera = CameraSource(name="cam", source="usb:0", send_original=send_original)  # type: ignore[arg-type]
    frame = Frame(pixels=_noise(5, 128), taken_at=BASE_S, label="f")
    item = CrackAnalyser(_NoCracks()).analyse(camera, frame)
    if expected is None:
        assert item is None
        return
    assert isinstance(item, CaptureItem)
    body = orjson.loads(item.body)
    assert (body["image_kind"], body["defects"], body["model_version"]) == (
        "original",
        [],
        "test-0",
    )
    assert item.cracks == 0


def test_captures_queue_durably_and_drop_after_routine_readings(tmp_path: Path) -> None:
    queue = EdgeQueue(tmp_path / "q.db")
    assert queue.put_capture("cam:1", "cam", 1, b"{}", cracks=2)
    assert not queue.put_capture("cam:1", "cam", 1, b"{}", cracks=2)  # same key: once
    assert queue.put_capture("cam:2", "cam", 2, b"{}", cracks=0)
    queue.put([EdgeReading(channel="A", ts_us=i, value=1.0) for i in range(3)])
    queue.close()
    queue = EdgeQueue(tmp_path / "q.db")  # reopened: nothing lost
    assert [c.key for c in queue.captures(10)] == ["cam:1", "cam:2"]
    assert queue.stats().capture_depth == 2
    queue._drop_for_space()  # full disk: routine readings go first
    assert queue.stats().depth == 2 and queue.stats().capture_depth == 2
    queue._drop_for_space()
    queue._drop_for_space()
    assert queue.stats().depth == 0
    queue._drop_for_space()  # then a capture without cracks
    assert [c.key for c in queue.captures(10)] == ["cam:1"]
    (kept,) = queue.captures(10)
    queue.ack_capture(kept.id)
    stats = queue.stats()
    assert (stats.capture_depth, stats.captures_sent, stats.dropped_captures) == (0, 1, 1)
    queue.close()


def test_cameras_set_by_the_server_replace_the_local_list_without_restart(
    tmp_path: Path,
) -> None:
    from infrasight.edge.agent import EdgeAgent
    from infrasight.edge.config import EdgeConfig

    config = EdgeConfig(
        server_url="http://127.0.0.1:9",
        token="isd_x",
        queue_path=tmp_path / "q.db",
        cameras=[CameraSource(name="local-1", source=str(tmp_path / "a"))],
    )
    agent = EdgeAgent(config)
    try:
        assert [c.name for c in agent.cameras.configured()] == ["local-1"]
        agent.apply_config(
            1,
            {
                "cameras": [
                    {"name": "server-1", "source": str(tmp_path / "b"), "interval_s": 5},
                    {"name": "off", "source": "usb:0", "enabled": False},
                ]
            },
        )
        assert [c.name for c in agent.cameras.configured()] == ["server-1"]
        agent.cameras.tick()
        assert list(agent.health()["cameras"]) == ["server-1"]  # type: ignore[call-overload]
        agent.apply_config(2, {"heartbeat_s": 5})  # no cameras key: the local list again
        agent.cameras.tick()
        assert list(agent.health()["cameras"]) == ["local-1"]  # type: ignore[call-overload]
    finally:
        agent.stop()


def test_a_frame_that_could_not_be_queued_stays_in_its_folder(tmp_path: Path) -> None:
    from infrasight.edge.agent import EdgeAgent
    from infrasight.edge.config import EdgeConfig

    folder = tmp_path / "cam"
    folder.mkdir()
    _png(folder / "f.png", _noise(7), BASE_S)
    camera = CameraSource(
        name="c", source=str(folder), analysis="none", send_original="always", interval_s=60
    )
    agent = EdgeAgent(
        EdgeConfig(
            server_url="http://127.0.0.1:9",
            token="isd_x",
            queue_path=tmp_path / "q.db",
            cameras=[camera],
        )
    )
    agent.queue.close()  # the agent is stopping: its queue is closed under the camera thread
    assert agent.cameras.tick() == 0
    assert (folder / "f.png").exists()  # not moved to done/: analysed again at the next start
    again = EdgeAgent(agent.local_config)
    try:
        assert again.cameras.tick() == 1
        assert (folder / "done" / "f.png").exists()
        (queued,) = again.queue.captures(10)
        assert orjson.loads(queued.body)["image"]  # the original, base64
    finally:
        again.stop()


class _HangingSource:
    """A stream whose grab blocks until released (a camera that stopped answering)."""

    def __init__(self) -> None:
        import threading

        self.entered = threading.Event()
        self.release = threading.Event()
        self.closed = False

    def grab(self) -> list[Frame]:
        self.entered.set()
        self.release.wait(30)
        return []

    def done(self, frame: Frame) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_a_hanging_camera_does_not_hold_back_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    import infrasight.edge.cameras as cameras_module
    from infrasight.edge.agent import EdgeAgent
    from infrasight.edge.config import EdgeConfig

    hanging = _HangingSource()
    real_open = cameras_module.open_source

    def fake_open(source: str, **kwargs: float) -> object:
        return hanging if source == "usb:9" else real_open(source, **kwargs)

    monkeypatch.setattr(cameras_module, "open_source", fake_open)
    folder = tmp_path / "cam"
    folder.mkdir()
    agent = EdgeAgent(
        EdgeConfig(
            server_url="http://127.0.0.1:9",
            token="isd_x",
            queue_path=tmp_path / "q.db",
            cameras=[
                CameraSource(name="stuck", source="usb:9", analysis="none", interval_s=1),
                CameraSource(
                    name="folder",
                    source=str(folder),
                    analysis="none",
                    send_original="always",
                    interval_s=0.1,
                ),
            ],
        )
    )
    supervisor = threading.Thread(target=agent.cameras.run, daemon=True)
    supervisor.start()
    try:
        assert hanging.entered.wait(10)  # the stuck camera's thread is blocked in grab
        _png(folder / "f.png", _noise(8), time.time() - 5)
        deadline = time.monotonic() + 20
        while agent.queue.stats().capture_depth == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert agent.queue.stats().capture_depth == 1  # served while the other one hangs
        assert not hanging.release.is_set()
        names = {t.name for t in threading.enumerate()}
        assert {"edge-camera-stuck", "edge-camera-folder"} <= names
    finally:
        hanging.release.set()
        agent.stop()
        supervisor.join(10)
    assert hanging.closed  # its thread closed the source on the way out
    assert not any(t.name.startswith("edge-camera-") for t in threading.enumerate())
