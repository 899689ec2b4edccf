"""PNG chart of a scored series: readings on top, anomaly score below (extra ``plot``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from infrasight.signals.anomaly import RECOMMENDED_THRESHOLD
from infrasight.signals.errors import SignalsError

__all__ = ["PlotExtraMissingError", "plot_scores", "require_matplotlib"]


class PlotExtraMissingError(SignalsError):
    """matplotlib is not installed."""


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` (Agg backend), or a clear error naming the extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise PlotExtraMissingError(
            "--plot needs matplotlib: pip install 'infrasight[plot]'"
        ) from err
    return plt


def plot_scores(
    path: Path,
    times_s: NDArray[np.float64],
    values: NDArray[np.float64],
    scores: NDArray[np.float64],
    *,
    title: str,
) -> None:
    """Write ``path`` (PNG): the series with alarm readings marked, and the score with the
    recommended threshold.

    Parameters
    ----------
    path : Path
        Output PNG file.
    times_s : ndarray, shape (n,)
        Reading times in seconds (UTC epoch or relative).
    values, scores : ndarray, shape (n,)
        Readings (unit of the file) and anomaly scores in [0, 1].
    title : str
        Chart title.
    """
    plt = require_matplotlib()
    t = times_s.astype("datetime64[s]") if times_s.size and times_s[0] > 1e8 else times_s
    alarm = scores >= RECOMMENDED_THRESHOLD
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(12, 6), height_ratios=(3, 1.4))
    ax1.plot(t, values, lw=0.7, color="tab:blue", label="reading")
    ax1.scatter(t[alarm], values[alarm], s=30, color="tab:red", zorder=3, label="alarm")
    ax1.set_title(title)
    ax1.legend(loc="upper left")
    ax2.plot(t, scores, lw=0.7, color="tab:gray")
    ax2.axhline(RECOMMENDED_THRESHOLD, color="tab:red", ls="--", lw=0.8, label="threshold")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_ylabel("anomaly score")
    ax2.legend(loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
