"""PDF report benchmark: a 20-page report with 50 defect pictures, beside a 1-picture report.

Generates the content of one asset in memory (no database): ``--defects`` defects (default 50),
each with a 480 x 360 JPEG crop of a rendered concrete surface with cracks (the size the report
assembler writes), measurements with their uncertainty, 16 channel charts of 90 days with
alarm levels and a forecast band, 24 hazards with ranked causes and recommended actions, and 80 work
orders. It then renders the report (Typst through the ``typst`` wheel, the bundled or Debian's
Noto CJK fonts) in English and Traditional Chinese, ``--runs`` times each, and prints the time,
the page count and the PDF size. The first render of the process (which loads Typst and the CJK
fonts) is timed apart. Baseline in the same run: the demo-sized report with one
defect picture, one chart and one hazard. The goal of issue 15 is under 10 s for 20 pages and
50 pictures.

``--smoke`` renders 10 defects once per language (seconds). ``--datasets`` is accepted for
uniformity; no dataset is used. No database is opened, so ``INFRASIGHT_DATABASE_URL`` plays no
part.

Usage: python benchmarks/reports.py [--smoke] [--runs 3] [--defects 50] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

from infrasight.reports.assemble import (
    ChartContent,
    ConditionRow,
    DefectRow,
    HazardContent,
    ReportContent,
    WorkOrderRow,
)
from infrasight.reports.render import render_report
from infrasight.synthetic.crack_scene import render_crack_scene

START = datetime(2026, 9, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
MECHANISMS = (
    "Settlement / support movement",
    "Corrosion of reinforcement",
    "Shear distress",
    "Drying shrinkage",
)
ACTIONS = (
    ("Jacking of the superstructure and underpinning of the support", "FHWA-NHI-10-016"),
    ("Patch repair with the cover restored", "EN 1504-9 principle 3"),
    ("Epoxy injection of dormant cracks", "ACI 224.1R-07 §3.2"),
)


def _crop(seed: int) -> bytes:
    scene = render_crack_scene(width=480, height=360, seed=seed, mm_per_px=0.25)
    out = io.BytesIO()
    Image.fromarray(scene.image).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def _chart(index: int, rng: np.random.Generator) -> ChartContent:
    times = np.linspace(START.timestamp(), END.timestamp(), 360, endpoint=False)
    values = 1.0 + 0.01 * np.arange(times.size) + rng.normal(0, 0.05, times.size)
    grid = np.linspace(times[-1], times[-1] + 30 * 86400, 20)
    return ChartContent(
        key=f"VD-P{index}-SETTLE",
        quantity="settlement",
        unit="mm",
        times_s=tuple(times.tolist()),
        mean=tuple(values.tolist()),
        minimum=tuple((values - 0.1).tolist()),
        maximum=tuple((values + 0.1).tolist()),
        levels=(("amber", 1, 4.0), ("red", 2, 6.0)),
        forecast_times_s=tuple(grid.tolist()),
        forecast_median=tuple(np.linspace(values[-1], values[-1] + 0.3, 20).tolist()),
        forecast_lower=tuple(np.linspace(values[-1], values[-1] + 0.1, 20).tolist()),
        forecast_upper=tuple(np.linspace(values[-1], values[-1] + 0.5, 20).tolist()),
        forecast_kind="linear",
        last_value=float(values[-1]),
        alarms=index % 3,
    )


def make_content(n_defects: int, n_charts: int, n_hazards: int, n_orders: int) -> ReportContent:
    """Seeded report content of one viaduct (``n_defects`` defects with pictures...)."""
    rng = np.random.default_rng(15)
    defects = tuple(
        DefectRow(
            id=100 + i,
            kind="crack",
            element=f"Pier {1 + i % 6}",
            capture_id=10 + i // 5,
            time=START + timedelta(days=i),
            unit="mm",
            length=float(rng.uniform(40, 600)),
            length_std=float(rng.uniform(0.5, 3.0)),
            width_max=float(rng.uniform(0.05, 1.5)),
            width_max_std=float(rng.uniform(0.01, 0.05)),
            confidence=float(rng.uniform(0.6, 0.99)),
            verdict=("confirmed", "rejected", None)[i % 3],
            crop_jpeg=_crop(i),
            crop_mm_per_px=0.25,
            crop_width_px=480,
        )
        for i in range(n_defects)
    )
    hazards = tuple(
        HazardContent(
            id=1 + i,
            mechanism=MECHANISMS[i % len(MECHANISMS)],
            element=f"Pier {1 + i % 6}",
            status="open",
            risk=16 - i,
            likelihood=4,
            consequence=4 - i % 2,
            band="high",
            confidence=0.8,
            causes=((MECHANISMS[i % len(MECHANISMS)], 0.8, 3, 0), ("Sensor fault", 0.1, 1, 2)),
            recommendations=tuple(
                (rank, name, 30 * rank, source)
                for rank, (name, source) in enumerate(ACTIONS, start=1)
            ),
        )
        for i in range(n_hazards)
    )
    orders = tuple(
        WorkOrderRow(
            id=1 + i,
            title=f"Repair of crack group {i + 1}",
            status=("assigned", "in_progress", "closed")[i % 3],
            due_at=END - timedelta(days=i),
            assignee="crew@alpha.example",
            hazard_id=1 + i % max(n_hazards, 1),
            verification=("pending", "verifying", "verified")[i % 3],
            verified_at=END - timedelta(days=1) if i % 3 == 2 else None,
        )
        for i in range(n_orders)
    )
    return ReportContent(
        asset_id=1,
        asset_name="九龍高架橋 Kowloon Viaduct",
        asset_kind="bridge",
        governing_standard="aashto-mbei",
        organization="Alpha Rail",
        period_start=START,
        period_end=END,
        condition=(
            ConditionRow(
                standard="aashto-mbei", rating=3, label="CS3 Poor", clause="MBEI 4.2", elements=6
            ),
        ),
        defects=defects,
        charts=tuple(_chart(i, rng) for i in range(n_charts)),
        hazards=hazards,
        work_orders=orders,
        active_alarms=3,
    )


def _time(content: ReportContent, language: str, runs: int) -> dict[str, Any]:
    seconds, pages, size = [], 0, 0
    for _ in range(runs):
        began = time.perf_counter()
        rendered = render_report(content, language)
        seconds.append(time.perf_counter() - began)
        pages, size = rendered.pages, len(rendered.pdf)
    return {
        "language": language,
        "defects": len(content.defects),
        "pages": pages,
        "pdf_bytes": size,
        "median_s": statistics.median(seconds),
        "max_s": max(seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="10 defects, one run (seconds)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--defects", type=int, default=50)
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    console = Console()
    runs = 1 if args.smoke else args.runs
    n_defects = 10 if args.smoke else args.defects
    built = time.perf_counter()
    baseline = make_content(1, 1, 1, 1)
    large = make_content(n_defects, 16, 24, 80)
    console.print(
        f"content generated in {time.perf_counter() - built:.1f} s (not timed); "
        f"no dataset used ({args.datasets} not read)"
    )
    began = time.perf_counter()
    render_report(baseline, "zh-Hant")  # the first render loads Typst and the CJK fonts
    cold_s = time.perf_counter() - began
    rows = []
    for language in ("en", "zh-Hant"):
        rows.append({"report": "baseline (1 picture)", **_time(baseline, language, runs)})
        rows.append({"report": f"{n_defects} pictures", **_time(large, language, runs)})
    if args.json:
        print(json.dumps({"first_render_s": cold_s, "reports": rows}, indent=2))
        return
    console.print(f"first render in the process (Typst and fonts loaded): {cold_s:.2f} s")
    table = Table(title=f"PDF report render, warm ({runs} run(s) each; goal: 50 pictures < 10 s)")
    for column in ("report", "language", "pages", "PDF size", "median", "max"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["report"],
            r["language"],
            str(r["pages"]),
            f"{r['pdf_bytes'] / 1e6:.2f} MB",
            f"{r['median_s']:.2f} s",
            f"{r['max_s']:.2f} s",
        )
    console.print(table)


if __name__ == "__main__":
    main()
