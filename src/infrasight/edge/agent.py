"""The agent: producers fill the durable queue; two senders drain it upstream.

Live items (queued in the last ``live_window_s``) have a sender of their own, so live data
never waits behind a backfill batch; the other sender sends the backlog, oldest first with
alarm readings ahead of routine ones, and the captures. A failed send is retried with exponential
back-off and full jitter; a batch the server rejects is split until the bad readings are found
and moved to the dead-letter table, so one bad reading never blocks the queue.

The server's part of the configuration (intervals, alarm thresholds, cameras:
:mod:`infrasight.edge.remote`) is pulled every ``config_poll_s`` and applied without a restart;
the last version applied is cached beside the queue, so a terminal that restarts while the
server is unreachable keeps running it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import orjson

from infrasight.core.errors import InvalidInputError
from infrasight.edge.camera_runner import CameraRunner
from infrasight.edge.config import EdgeConfig
from infrasight.edge.items import EdgeReading, Priority, parse_csv
from infrasight.edge.queue import EdgeQueue, QueuedItem, QueueFullError
from infrasight.edge.remote import RemoteConfig, parse_remote_config
from infrasight.edge.thermal import cpu_temperature_c
from infrasight.edge.upstream import (
    HttpUpstream,
    Upstream,
    UpstreamRejectedError,
    UpstreamUnavailableError,
)

__all__ = ["EdgeAgent", "status_path"]

_LOGGER = logging.getLogger(__name__)
#: Captures sent per round of the sender (between two batches of readings).
CAPTURES_PER_ROUND = 4


def _default_upstream(config: EdgeConfig) -> Upstream:
    http = HttpUpstream(config.server_url, config.token, timeout_s=config.request_timeout_s)
    if config.transport == "http":
        return http
    from infrasight.edge.mqtt_upstream import MqttUpstream

    assert config.mqtt_url is not None and config.mqtt_topic is not None  # validated
    return MqttUpstream(
        http,
        broker_url=config.mqtt_url,
        topic_prefix=config.mqtt_topic,
        token=config.token,
        client_id=f"edge-{config.mqtt_topic.replace('/', '-')}-{os.getpid()}",
        timeout_s=config.request_timeout_s,
        max_capture_bytes=config.mqtt_max_capture_bytes,
    )


def status_path(queue_path: Path) -> Path:
    """The file where a running agent keeps its latest health (cameras included)."""
    return queue_path.with_name(queue_path.name + ".status.json")


class EdgeAgent:
    """Store-and-forward for one terminal.

    Parameters
    ----------
    config
        The validated configuration.
    upstream
        Where batches go (defaults to the server's HTTP ingest API).
    clock
        The terminal's clock (epoch seconds); injectable to test a clock that is off.
    seed
        Seed of the back-off jitter.
    """

    def __init__(
        self,
        config: EdgeConfig,
        *,
        upstream: Upstream | None = None,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
    ) -> None:
        self.local_config = config
        self.config = config
        self.remote = RemoteConfig()
        self.config_version = 0
        self.clock = clock
        self.queue = EdgeQueue(
            config.queue_path,
            max_items=config.max_items,
            max_age_s=config.max_age_s,
            max_bytes=config.max_bytes,
            clock=clock,
        )
        self.upstream = upstream or _default_upstream(config)
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self.wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.failures = 0
        self.clock_offset_s: float | None = None
        self.connected = False
        self._reconfigured = threading.Event()
        self._live_since: float | None = None
        self._load_cached_config()
        self.cameras = CameraRunner(self, stop=self._stop)

    # -- running ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the sender, the heartbeat and the folder watcher threads."""
        targets: list[tuple[str, Callable[[], None]]] = [
            ("edge-live", self._live_loop),
            ("edge-sender", self._send_loop),
            ("edge-heartbeat", self._heartbeat_loop),
            ("edge-config", self._config_loop),
        ]
        if self.config.watch_dir is not None:
            targets.append(("edge-folder", self._watch_loop))
        targets.append(("edge-cameras", self.cameras.run))
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the threads and close the queue (nothing queued is lost)."""
        self._stop.set()
        self.wake.set()
        self._reconfigured.set()
        for thread in self._threads:
            thread.join(timeout=self.config.request_timeout_s + 5)
        self.cameras.close()
        close = getattr(self.upstream, "close", None)
        if callable(close):
            close()
        self.queue.close()

    def backoff_s(self, failures: int) -> float:
        """Delay after ``failures`` consecutive failed sends: exponential, full jitter."""
        ceiling = min(self.config.backoff_max_s, self.config.backoff_min_s * 2 ** (failures - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    def _live_loop(self) -> None:
        """Send what producers queued in the last ``live_window_s`` as soon as it comes."""
        failures = 0
        while not self._stop.is_set():
            self.wake.clear()
            try:
                sent = self.send_live()
            except UpstreamUnavailableError as err:
                failures += 1
                _LOGGER.debug("live batch not delivered: %s", err)
                self._stop.wait(self.backoff_s(failures))
                continue
            except Exception:
                _LOGGER.exception("edge live sender failed; retrying")
                self._stop.wait(self.config.backoff_max_s)
                continue
            failures = 0
            if sent == 0:
                self.wake.wait(self.config.poll_s)

    def send_live(self) -> int:
        """Send one batch of live items, newest first; return how many were sent.

        Live: queued in the last ``live_window_s`` or since the last pass of the live sender
        that left nothing behind began, so items that arrived while a slow send was under way
        are not left to the backfill (oldest first) to find.
        """
        started = self.clock()
        size = self.config.batch_size
        live = self.queue.live(size, self.config.live_window_s, since=self._live_since)
        sent = self._deliver(live) if live else 0
        if len(live) < size:
            self._live_since = started
        return sent

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.send_backlog()
            except UpstreamUnavailableError as err:
                self.failures += 1
                self.connected = False
                delay = self.backoff_s(self.failures)
                _LOGGER.info("upstream unavailable (%s); retry in %.1f s", err, delay)
                self._stop.wait(delay)
                continue
            except Exception:
                _LOGGER.exception("edge sender failed; retrying")
                self._stop.wait(self.config.backoff_max_s)
                continue
            self.failures = 0
            self.connected = True
            if sent == 0:
                self._stop.wait(self.config.poll_s)

    def send_backlog(self) -> int:
        """Send one batch of items older than the live window, then a few captures."""
        backfill = self.queue.backfill(
            self.config.batch_size, before=self.clock() - self.config.live_window_s
        )
        sent = self._deliver(backfill) if backfill else 0
        return sent + self._send_captures()

    def _send_captures(self) -> int:
        sent = 0
        for capture in self.queue.captures(CAPTURES_PER_ROUND):
            try:
                self.upstream.send_capture(capture.body)
            except UpstreamRejectedError as err:
                _LOGGER.warning("capture %s rejected: %s", capture.key, err.detail)
                self.queue.bury_capture(capture, err.detail)
            else:
                self.queue.ack_capture(capture.id)
            sent += 1
        return sent

    def send_once(self) -> int:
        """Send one live batch, one backfill batch, then a few captures; return how many left."""
        size = self.config.batch_size
        sent = 0
        live = self.queue.live(size, self.config.live_window_s)
        if live:
            sent += self._deliver(live)
        backfill = self.queue.backfill(size)
        if backfill:
            sent += self._deliver(backfill)
        return sent + self._send_captures()

    def _deliver(self, items: list[QueuedItem]) -> int:
        ordered = sorted(items, key=lambda item: (item.reading.channel, item.reading.ts_us))
        try:
            self.upstream.send([item.reading for item in ordered])
        except UpstreamRejectedError as err:
            if len(ordered) == 1:
                _LOGGER.warning("reading %s rejected: %s", ordered[0].reading.key, err.detail)
                self.queue.bury(ordered[0], err.detail)
                return 1
            half = len(ordered) // 2
            return self._deliver(ordered[:half]) + self._deliver(ordered[half:])
        self.queue.ack([item.id for item in ordered])
        return len(ordered)

    # -- health -----------------------------------------------------------------------------

    def health(self) -> dict[str, object]:
        """Queue figures, disk free and link state, as sent in heartbeats and shown by status."""
        stats = asdict(self.queue.stats())
        try:
            disk_free = shutil.disk_usage(self.config.queue_path.resolve().parent).free
        except OSError:
            disk_free = None
        return {
            **stats,
            "queue_depth": stats.pop("depth"),
            "disk_free_bytes": disk_free,
            "connected": self.connected,
            "consecutive_failures": self.failures,
            "clock_offset_s": self.clock_offset_s,
            "config_version": self.config_version,
            "cpu_temp_c": cpu_temperature_c(),
            "cameras": self.cameras.health(),
        }

    def beat(self) -> None:
        """Send one heartbeat (:class:`UpstreamUnavailableError` when the server is down)."""
        self.clock_offset_s = self.upstream.heartbeat(
            self.config.heartbeat_s, self.health(), device_time=self.clock()
        )

    def write_status(self) -> None:
        """Write the health beside the queue (read by ``infrasight edge status``)."""
        path = status_path(self.local_config.queue_path)
        partial = path.with_suffix(".tmp")
        partial.write_bytes(orjson.dumps({"written_at": time.time(), "health": self.health()}))
        os.replace(partial, path)

    def _heartbeat_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.write_status()
            except OSError as err:
                _LOGGER.warning("status file not written: %s", err)
            try:
                self.beat()
            except (UpstreamUnavailableError, UpstreamRejectedError) as err:
                _LOGGER.info("heartbeat not delivered: %s", err)
            self._reconfigured.wait(self.config.heartbeat_s)
            self._reconfigured.clear()

    # -- configuration pulled from the server ----------------------------------------------

    @property
    def _config_cache(self) -> Path:
        path = self.local_config.queue_path
        return path.with_name(path.name + ".config.json")

    def _load_cached_config(self) -> None:
        try:
            cached = orjson.loads(self._config_cache.read_bytes())
            self.apply_config(int(cached["version"]), cached["config"], persist=False)
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError, InvalidInputError) as err:
            _LOGGER.warning("cached configuration %s ignored: %s", self._config_cache, err)

    def apply_config(self, version: int, document: object, *, persist: bool = True) -> bool:
        """Run configuration ``version`` from now on; return whether it changed anything.

        Raises
        ------
        InvalidInputError
            When the document is not a valid :class:`RemoteConfig` (the running one is kept).
        """
        if version == self.config_version:
            return False
        remote = parse_remote_config(document, field="config")
        self.config = self.local_config.model_copy(update=remote.local_overrides())
        self.queue.max_items = self.config.max_items
        self.queue.max_age_s = self.config.max_age_s
        if self.queue.max_bytes != self.config.max_bytes:
            self.queue.max_bytes = self.config.max_bytes
        self.remote = remote
        self.config_version = version
        if persist:
            partial = self._config_cache.with_suffix(".tmp")
            partial.write_bytes(orjson.dumps({"version": version, "config": document}))
            os.replace(partial, self._config_cache)
        self._reconfigured.set()
        self.wake.set()
        _LOGGER.info("configuration version %d applied", version)
        return True

    def pull_config(self) -> bool:
        """Fetch the server's configuration and apply it when its version is new."""
        version, document = self.upstream.fetch_config()
        return self.apply_config(version, document)

    def _config_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.pull_config()
            except (UpstreamUnavailableError, UpstreamRejectedError) as err:
                _LOGGER.info("configuration not pulled: %s", err)
            except InvalidInputError as err:
                _LOGGER.warning("configuration refused, the running one kept: %s", err)
            self._stop.wait(self.config.config_poll_s)

    # -- inputs -----------------------------------------------------------------------------

    def accept(self, readings: Sequence[EdgeReading]) -> int:
        """Queue producers' readings durably, marking those beyond a threshold as alarms."""
        thresholds = self.remote.thresholds
        if thresholds:
            readings = [
                dataclasses.replace(reading, priority=Priority.ALARM)
                if reading.channel in thresholds
                and thresholds[reading.channel].breached(reading.value)
                else reading
                for reading in readings
            ]
        added = self.queue.put(readings)
        if added:
            self.wake.set()
        return added

    def scan_folder(self) -> int:
        """Queue every settled CSV file of ``watch_dir``; move it to done/ (or rejected/)."""
        folder = self.config.watch_dir
        if folder is None:
            return 0
        queued = 0
        for path in sorted(folder.glob("*.csv")):
            try:
                if time.time() - path.stat().st_mtime < self.config.poll_s:
                    continue  # still being written
                readings = parse_csv(path.read_text(encoding="utf-8-sig"))
            except (OSError, UnicodeDecodeError, InvalidInputError) as err:
                self._set_aside(path, "rejected", str(err))
                continue
            try:
                queued += self.accept(readings)
            except QueueFullError as err:
                _LOGGER.warning("datalogger file %s kept for later: %s", path.name, err)
                break
            self._set_aside(path, "done", None)
        return queued

    @staticmethod
    def _set_aside(path: Path, where: str, error: str | None) -> None:
        target = path.parent / where
        target.mkdir(exist_ok=True)
        if error is not None:
            _LOGGER.warning("datalogger file %s rejected: %s", path.name, error)
            (target / (path.name + ".error")).write_text(error + "\n")
        path.replace(target / path.name)

    def _watch_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan_folder()
            except Exception:
                _LOGGER.exception("scanning %s failed", self.config.watch_dir)
            self._stop.wait(self.config.poll_s)
