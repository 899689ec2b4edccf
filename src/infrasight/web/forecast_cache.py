"""Forecasts the asset page draws, computed once per channel state and shared by browsers.

Fitting the forecast endpoint's trend models takes seconds (every candidate model and a
rolling-origin backtest), so the asset page draws the readings at once and adds the band when
the fit arrives. The fit runs in a worker thread, once per (channel, last reading, history,
horizon): browsers asking for the same one while it runs wait for that run, and later page
loads take the stored answer until a new reading moves the last-reading time. Only the page
that already read the channel as the caller asks, so the cache never widens access.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from nicegui import run

from infrasight.api.routes.forecasts import ChannelForecast

__all__ = ["ForecastCache", "ForecastKey"]

#: (channel id, end of its readings, history days, horizon days)
ForecastKey = tuple[int, datetime, float, float]


@dataclass(slots=True)
class ForecastCache:
    """Answers (None: no forecast for that state) by key, the newest ``size`` kept."""

    size: int = 256
    _done: OrderedDict[ForecastKey, ChannelForecast | None] = field(default_factory=OrderedDict)
    _running: dict[ForecastKey, asyncio.Task[ChannelForecast | None]] = field(default_factory=dict)

    def peek(self, key: ForecastKey) -> tuple[bool, ChannelForecast | None]:
        """(whether ``key`` is stored, its answer)."""
        if key in self._done:
            self._done.move_to_end(key)
            return True, self._done[key]
        return False, None

    async def get(
        self, key: ForecastKey, compute: Callable[[], ChannelForecast | None]
    ) -> ChannelForecast | None:
        """The stored answer, or ``compute()``'s in a worker thread (one run per key)."""
        stored, answer = self.peek(key)
        if stored:
            return answer
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(run.io_bound(compute))
            self._running[key] = task
            task.add_done_callback(lambda done: self._finish(key, done))
        return await asyncio.shield(task)

    def _finish(self, key: ForecastKey, task: asyncio.Task[ChannelForecast | None]) -> None:
        self._running.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return
        self._done[key] = task.result()
        while len(self._done) > self.size:
            self._done.popitem(last=False)
