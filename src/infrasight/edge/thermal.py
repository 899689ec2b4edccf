"""The terminal's CPU temperature, where Linux exposes it (``/sys/class/thermal``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["cpu_temperature_c"]

THERMAL_ROOT = Path("/sys/class/thermal")


def cpu_temperature_c(root: Path = THERMAL_ROOT) -> float | None:
    """Hottest thermal zone in degrees Celsius, or None where none is readable.

    Parameters
    ----------
    root
        The sysfs thermal folder (``thermal_zone*/temp`` hold millidegrees Celsius).
    """
    readings = []
    for zone in sorted(root.glob("thermal_zone*/temp")):
        try:
            readings.append(int(zone.read_text().strip()) / 1000.0)
        except (OSError, ValueError):
            continue
    return max(readings) if readings else None
