"""The cameras of a terminal: grab frames on each camera's interval, analyse them on the
terminal, queue what is to be sent, and keep each camera's status for heartbeats.

Each camera has a thread of its own, so a stream that hangs or a slow frame of one camera does
not hold the others' frames back; crack analysis, CPU-bound and the memory-heavy part, runs for
one frame at a time across cameras (a small terminal has one or two cores). A supervisor
re-reads the camera list every second, so a configuration pulled from the server adds, changes
or removes cameras (and their threads) without a restart.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from infrasight.edge.queue import QueueFullError
from infrasight.edge.remote import CameraSource

if TYPE_CHECKING:  # numpy, Pillow and OpenCV load only when a camera is configured
    from infrasight.edge.agent import EdgeAgent
    from infrasight.edge.analysis import CrackAnalyser, DisplacementTracker
    from infrasight.edge.cameras import CameraStatus, Frame, FrameSource

__all__ = ["CameraRunner"]

_LOGGER = logging.getLogger(__name__)
#: Longest sleep between two rounds, s (a camera added by the server starts within it).
MAX_WAIT_S = 1.0


@dataclass(slots=True, kw_only=True)
class _Camera:
    config: CameraSource
    source: FrameSource
    status: CameraStatus
    next_due: float = 0.0
    tracker: DisplacementTracker | None = field(default=None)
    thread: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def retire(self) -> None:
        """Stop the camera; its thread closes the source (at once when it has none)."""
        self.stop.set()
        if self.thread is None:
            self.source.close()


class CameraRunner:
    """Runs the agent's cameras.

    Parameters
    ----------
    agent
        The agent whose queue receives the captures and readings.
    stop
        Set to end :meth:`run`.
    analyser
        The crack analyser (default: the packaged ONNX model, loaded at the first frame).
    """

    def __init__(
        self,
        agent: EdgeAgent,
        *,
        stop: threading.Event,
        analyser: CrackAnalyser | None = None,
    ) -> None:
        self._agent = agent
        self._stop = stop
        self._analyser = analyser
        self._cameras: dict[str, _Camera] = {}
        self._lock = threading.Lock()
        self._analysing = threading.Lock()  # one crack analysis at a time
        self._closed = False

    @property
    def analyser(self) -> CrackAnalyser:
        from infrasight.edge.analysis import CrackAnalyser

        if self._analyser is None:
            self._analyser = CrackAnalyser(
                original_max_bytes=self._agent.config.send_original_max_bytes,
                bounded_memory=self._agent.config.crack_bounded_memory,
            )
        return self._analyser

    def configured(self) -> list[CameraSource]:
        """The enabled cameras: the server's list when it sets one, else the local file's."""
        agent = self._agent
        remote = agent.remote
        cameras = remote.cameras if "cameras" in remote.model_fields_set else agent.config.cameras
        return [camera for camera in cameras if camera.enabled]

    def _sync(self, now: float) -> None:
        wanted = {camera.name: camera for camera in self.configured()}
        if not wanted and not self._cameras:
            return
        from infrasight.edge.analysis import DisplacementTracker
        from infrasight.edge.cameras import CameraStatus, open_source

        with self._lock:
            if self._closed:
                return
            for name in list(self._cameras):
                if name not in wanted or self._cameras[name].config != wanted[name]:
                    self._cameras.pop(name).retire()
            for name, camera in wanted.items():
                if name in self._cameras:
                    continue
                tracker = None
                if camera.displacement is not None and camera.analysis == "displacement":
                    path = self._agent.local_config.queue_path
                    tracker = DisplacementTracker(
                        camera.displacement, path.with_name(f"{path.name}.{name}.reference.png")
                    )
                self._cameras[name] = _Camera(
                    config=camera,
                    source=open_source(camera.source, settle_s=min(1.0, camera.interval_s)),
                    status=CameraStatus(started_at=now, interval_s=camera.interval_s),
                    tracker=tracker,
                )

    def tick(self) -> int:
        """Serve every camera that is due; return how many frames were handled."""
        now = time.time()
        self._sync(now)
        with self._lock:
            due = [c for c in self._cameras.values() if c.next_due <= now]
        handled = 0
        for camera in due:
            camera.next_due = now + camera.config.interval_s
            handled += self._serve(camera)
        return handled

    def _serve(self, camera: _Camera) -> int:
        from infrasight.edge.analysis import TargetLostError
        from infrasight.edge.cameras import SourceError

        status = camera.status
        try:
            frames = camera.source.grab()
        except SourceError as err:
            status.error = str(err)
            return 0
        except Exception as err:  # an OpenCV or file-system failure: report it, keep running
            _LOGGER.exception("camera %s failed", camera.config.name)
            status.error = f"{type(err).__name__}: {err}"
            return 0
        status.error = None
        handled = 0
        for frame in frames:
            if self._stop.is_set() or camera.stop.is_set():
                break  # the rest stays in the folder for the next run
            status.frames += 1
            status.last_frame_at = time.time()
            try:
                self._analyse(camera, frame)
            except (QueueFullError, sqlite3.Error) as err:
                # not queued: the frame stays in its folder and is analysed again later
                _LOGGER.warning("camera %s: frame kept for later: %s", camera.config.name, err)
                break
            except TargetLostError as err:
                status.analysis_errors += 1
                status.analysis_error = str(err)
            except Exception as err:
                _LOGGER.exception(
                    "camera %s: analysis of %s failed", camera.config.name, frame.label
                )
                status.analysis_errors += 1
                status.analysis_error = f"{type(err).__name__}: {err}"
            status.analysed += 1
            camera.source.done(frame)
            handled += 1
        return handled

    def _analyse(self, camera: _Camera, frame: Frame) -> None:
        if camera.tracker is not None:
            self._agent.accept(camera.tracker.readings(frame))
            camera.status.analysis_error = None
            return
        with self._analysing:
            item = self.analyser.analyse(camera.config, frame)
        camera.status.analysis_error = None
        camera.status.last_cracks = 0 if item is None else item.cracks
        if item is None:
            return
        self._agent.queue.put_capture(
            item.key, item.camera, item.ts_us, item.body, cracks=item.cracks
        )
        self._agent.wake.set()

    def run(self) -> None:
        """Keep one thread per configured camera until the agent stops."""
        while not self._stop.is_set():
            try:
                self._sync(time.time())
                with self._lock:
                    for camera in self._cameras.values():
                        if camera.thread is None:
                            camera.thread = threading.Thread(
                                target=self._camera_loop,
                                args=(camera,),
                                name=f"edge-camera-{camera.config.name}",
                                daemon=True,
                            )
                            camera.thread.start()
            except Exception:
                _LOGGER.exception("camera supervisor failed")
            self._stop.wait(MAX_WAIT_S)

    def _camera_loop(self, camera: _Camera) -> None:
        """Serve one camera on its interval until it is removed or the agent stops."""
        try:
            while not (self._stop.is_set() or camera.stop.is_set()):
                now = time.time()
                if camera.next_due <= now:
                    camera.next_due = now + camera.config.interval_s
                    try:
                        self._serve(camera)
                    except Exception:
                        _LOGGER.exception("camera %s failed", camera.config.name)
                wait = camera.next_due - time.time()
                camera.stop.wait(max(0.01, min(MAX_WAIT_S, wait)))
        finally:
            camera.source.close()

    def health(self) -> dict[str, object]:
        """Each camera's status (``state``: ok, no_frames or error), by name."""
        now = time.time()
        with self._lock:
            return {name: c.status.to_dict(now) for name, c in sorted(self._cameras.items())}

    def close(self) -> None:
        """Stop every camera and wait for its thread (a frame being analysed is finished)."""
        with self._lock:
            self._closed = True
            cameras = list(self._cameras.values())
            self._cameras.clear()
        for camera in cameras:
            camera.retire()
        for camera in cameras:
            if camera.thread is not None:
                camera.thread.join()
