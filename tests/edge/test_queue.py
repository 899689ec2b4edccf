"""The durable queue: idempotent puts, size and age bounds with drop order, kill -9 safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from infrasight.core.errors import InvalidInputError
from infrasight.edge.items import EdgeReading, Priority, iso_time, parse_csv, parse_items
from infrasight.edge.queue import EdgeQueue, QueueFullError


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _readings(channel: str, start: int, count: int, priority: Priority = Priority.ROUTINE):
    return [
        EdgeReading(
            channel=channel,
            ts_us=(start + i) * 1_000_000,
            value=float(start + i),
            priority=priority,
        )
        for i in range(count)
    ]


def test_put_is_idempotent_by_channel_and_time(tmp_path: Path) -> None:
    queue = EdgeQueue(tmp_path / "q.db")
    assert queue.put(_readings("A", 0, 5)) == 5
    assert queue.put(_readings("A", 3, 5)) == 3  # 3 and 4 were queued already
    assert queue.stats().depth == 8
    queue.close()


def test_size_bound_drops_oldest_routine_first_then_alarms(tmp_path: Path) -> None:
    queue = EdgeQueue(tmp_path / "q.db", max_items=10)
    queue.put(_readings("ALARM", 0, 3, Priority.ALARM))
    queue.put(_readings("R", 0, 6))
    queue.put(_readings("R", 100, 4))  # 13 items: the 3 oldest routine ones go
    kept = {(item.reading.channel, item.reading.ts_us // 1_000_000) for item in queue.backfill(99)}
    assert kept == {("ALARM", 0), ("ALARM", 1), ("ALARM", 2)} | {
        ("R", t) for t in (3, 4, 5, 100, 101, 102, 103)
    }
    queue.put(
        _readings("ALARM", 50, 9, Priority.ALARM)
    )  # 19: every routine one, then alarms 0 and 1
    left = queue.backfill(99)
    assert [(i.reading.channel, i.reading.ts_us // 1_000_000) for i in left][:2] == [
        ("ALARM", 2),
        ("ALARM", 50),
    ]
    stats = queue.stats()
    assert (stats.depth, stats.alarm_depth) == (10, 10)
    assert (stats.dropped_routine, stats.dropped_alarm) == (10, 2)
    queue.close()


def test_age_bound_applies_to_routine_readings(tmp_path: Path) -> None:
    clock = FakeClock()
    queue = EdgeQueue(tmp_path / "q.db", max_age_s=3600, clock=clock)
    queue.put(_readings("R", 0, 4) + _readings("ALARM", 0, 2, Priority.ALARM))
    clock.now += 3601
    queue.put(_readings("R", 10, 1))
    stats = queue.stats()
    assert (stats.depth, stats.alarm_depth, stats.dropped_routine) == (3, 2, 4)
    assert stats.oldest_age_s == pytest.approx(3601)
    queue.close()


def test_live_items_and_backfill_order(tmp_path: Path) -> None:
    clock = FakeClock()
    queue = EdgeQueue(tmp_path / "q.db", clock=clock)
    queue.put(_readings("R", 0, 3))
    clock.now += 60
    queue.put(_readings("R", 60, 2))
    queue.put(_readings("ALARM", 1, 1, Priority.ALARM))
    live = [i.reading.ts_us // 1_000_000 for i in queue.live(10, window_s=10)]
    assert sorted(live) == [1, 60, 61]
    backfill = [(i.reading.channel, i.reading.ts_us // 1_000_000) for i in queue.backfill(3)]
    assert backfill == [("ALARM", 1), ("R", 0), ("R", 1)]
    queue.ack([item.id for item in queue.backfill(3)])
    assert queue.stats().depth == 3
    assert queue.stats().sent == 3
    queue.close()


def test_live_since_a_slow_pass_and_backfill_before_the_window(tmp_path: Path) -> None:
    clock = FakeClock()
    queue = EdgeQueue(tmp_path / "q.db", clock=clock)
    queue.put(_readings("R", 0, 3))  # the backlog
    clock.now += 30
    queue.put(_readings("R", 30, 2))  # queued while the live sender's last send was slow
    clock.now += 30
    queue.put(_readings("R", 60, 2))  # just now
    ts = [i.reading.ts_us // 1_000_000 for i in queue.live(10, window_s=10)]
    assert ts == [61, 60]  # newest first, within the window
    since = clock.now - 35  # the slow pass began before the middle items came
    ts = [i.reading.ts_us // 1_000_000 for i in queue.live(10, window_s=10, since=since)]
    assert ts == [61, 60, 31, 30]
    assert [i.reading.ts_us // 1_000_000 for i in queue.live(3, 10, since=since)] == [61, 60, 31]
    before = [i.reading.ts_us // 1_000_000 for i in queue.backfill(10, before=clock.now - 10)]
    assert before == [0, 1, 2, 30, 31]  # the backfill sender leaves the window alone
    queue.ack([item.id for item in queue.live(10, window_s=10, since=since)])
    assert queue.live(10, window_s=10, since=since) == []
    queue.close()


_PRODUCER = """
import sys
from pathlib import Path
from infrasight.edge.items import EdgeReading
from infrasight.edge.queue import EdgeQueue, QueueFullError
queue = EdgeQueue(Path(sys.argv[1]))
i = 0
while True:
    queue.put([EdgeReading(channel="K", ts_us=(i * 10 + j) * 1000, value=1.0) for j in range(10)])
    print(i, flush=True)  # acknowledged to the producer only after the commit returned
    i += 1
"""


def test_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    process = subprocess.Popen(
        [sys.executable, "-c", _PRODUCER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    acknowledged = -1
    for line in process.stdout:
        acknowledged = int(line)
        if acknowledged >= 40:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    for line in process.stdout:  # acks printed before the kill landed
        acknowledged = int(line)
    process.stdout.close()
    queue = EdgeQueue(path)
    depth = queue.stats().depth
    queue.close()
    assert depth >= (acknowledged + 1) * 10
    assert depth % 10 == 0  # whole batches only: a put is atomic


def test_parsing_names_the_bad_field() -> None:
    readings = parse_items(
        {
            "readings": [
                {"channel": "A", "time": "2024-05-01T12:00:00.25Z", "value": 2, "priority": "alarm"}
            ]
        }
    )
    assert readings[0].priority is Priority.ALARM
    assert iso_time(readings[0].ts_us) == "2024-05-01T12:00:00.250000Z"
    with pytest.raises(InvalidInputError) as caught:
        parse_items({"readings": [{"channel": "A", "time": "yesterday", "value": 1}]})
    assert caught.value.field == "readings[0].time"
    with pytest.raises(InvalidInputError) as caught:
        parse_items({"readings": [{"channel": "A", "time": "2024-05-01", "value": float("nan")}]})
    assert caught.value.field == "readings[0].value"
    with pytest.raises(InvalidInputError) as caught:
        parse_csv("channel,time,value\nA,2024-05-01T00:00:00Z,x\n")
    assert caught.value.field == "CSV row 1"
    assert parse_csv("A,2024-05-01T00:00:00Z,0.5,mm\n")[0].unit == "mm"


def test_byte_limit_drops_oldest_routine_first_and_keeps_alarms(tmp_path: Path) -> None:
    queue = EdgeQueue(tmp_path / "q.db", max_bytes=256 * 1024)
    queue.put(_readings("ALARM", 0, 200, Priority.ALARM))
    for start in range(0, 20_000, 500):  # far more than 256 KiB of routine readings
        queue.put(_readings("A", start, 500))
    stats = queue.stats()
    assert queue.used_bytes() <= 256 * 1024
    assert (tmp_path / "q.db").stat().st_size <= 256 * 1024
    assert stats.dropped_alarm == 0
    assert stats.alarm_depth == 200
    assert stats.dropped_routine > 10_000
    routine = [
        item.reading.ts_us for item in queue.backfill(100_000) if item.reading.channel == "A"
    ]
    kept = len(routine)
    assert kept + stats.dropped_routine == 20_000
    # the kept routine readings are the newest, in order
    assert routine == [(20_000 - kept + i) * 1_000_000 for i in range(kept)]


def test_byte_limit_reached_by_alarms_only_drops_the_oldest_alarms(tmp_path: Path) -> None:
    queue = EdgeQueue(tmp_path / "q.db", max_bytes=128 * 1024)
    for start in range(0, 10_000, 500):
        queue.put(_readings("ALARM", start, 500, Priority.ALARM))
    stats = queue.stats()
    assert stats.dropped_alarm > 0
    assert stats.depth + stats.dropped_alarm == 10_000
    newest = queue.backfill(100_000)[-1].reading.ts_us
    assert newest == 9_999 * 1_000_000


def test_a_batch_larger_than_the_limit_is_refused_and_not_queued(tmp_path: Path) -> None:
    queue = EdgeQueue(tmp_path / "q.db", max_bytes=64 * 1024)
    with pytest.raises(QueueFullError):
        queue.put(_readings("A", 0, 20_000))
    assert queue.stats().depth == 0
    assert queue.put(_readings("A", 0, 10)) == 10  # still usable
