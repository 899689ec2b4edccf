"""PNG charts for `infrasight signals`: stabilisation diagram, forecast (optional extra plot).

matplotlib is imported lazily, so the CLI works without it; asking for a chart without it
fails with an error that names the extra to install.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from infrasight.signals.errors import InputDataError

if TYPE_CHECKING:
    from infrasight.signals.forecast import Forecast
    from infrasight.signals.modal import ModalResult

__all__ = ["forecast_chart", "stabilisation_diagram"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as err:
        raise InputDataError(
            "--plot needs matplotlib: install the optional extra with "
            "pip install 'infrasight[plot]'"
        ) from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _check_png(path: Path) -> None:
    if path.suffix.lower() != ".png":
        raise InputDataError(f"--plot must name a .png file, got {path.name!r}")
    if not path.parent.is_dir():
        raise InputDataError(f"--plot: folder {str(path.parent)!r} does not exist")


def stabilisation_diagram(res: ModalResult, path: Path, *, title: str = "") -> None:
    """Poles per model order (unstable grey, stable coloured) with the identified modes."""
    _check_png(path)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 6), dpi=110)
    d = res.diagram
    if d.size:
        st = d[:, 3] > 0
        ax.scatter(d[~st, 1], d[~st, 0], s=6, c="0.75", marker="x", label="pole")
        ax.scatter(d[st, 1], d[st, 0], s=9, c="tab:blue", label="stable pole")
    for k, m in enumerate(res.modes):
        label = "mode" if k == 0 else None
        ax.axvline(m.frequency_hz, color="tab:red", lw=1.0, alpha=0.8, label=label)
        if m.frequency_ci_hz is not None:
            ax.axvspan(*m.frequency_ci_hz, color="tab:red", alpha=0.15)
        zeta = "" if np.isnan(m.damping_ratio) else f", {100 * m.damping_ratio:.2f} %"
        ax.annotate(
            f"{m.frequency_hz:.3f} Hz{zeta}",
            (m.frequency_hz, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -4),
            textcoords="offset points",
            fontsize=7,
            rotation=90,
            va="top",
            ha="left",
            color="tab:red",
            bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7},
        )
    ax.set_xlabel("frequency [Hz]")
    ax.set_ylabel("model order")
    ax.set_title(title or f"stabilisation diagram ({res.method}, {len(res.modes)} modes)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def forecast_chart(
    times_s: np.ndarray,
    values: np.ndarray,
    fitted: Forecast,
    projected: Forecast,
    path: Path,
    *,
    limit: float | None = None,
    title: str = "",
) -> None:
    """Readings, the fitted trend over them and the projection with its interval."""
    _check_png(path)
    plt = _pyplot()
    day = 86_400.0
    t_end = float(times_s[-1])
    fig, ax = plt.subplots(figsize=(10, 5), dpi=110)
    ax.plot((times_s - t_end) / day, values, ".", ms=2, color="0.45", label="readings")
    ax.plot((fitted.times - t_end) / day, fitted.median, color="tab:blue", lw=1.5, label="fit")
    x = (projected.times - t_end) / day
    ax.plot(x, projected.median, color="tab:blue", lw=1.5, ls="--", label="forecast")
    ax.fill_between(
        x,
        projected.lower,
        projected.upper,
        color="tab:blue",
        alpha=0.2,
        label=f"{100 * projected.level:.0f} % interval",
    )
    if limit is not None:
        ax.axhline(limit, color="tab:red", lw=1.0, label=f"limit {limit:g}")
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.set_xlabel("days from the last reading")
    ax.set_ylabel("value")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
