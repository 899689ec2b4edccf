"""Peak memory of the analysis of one large capture (100 megapixels), beside decoding it alone.

The capture is a small PNG (a grey surface with a few dark cracks drawn on it, 10,000 x 10,000 px
by default: a few tens of KB that decode to 300 MB of pixels). Each figure comes from a fresh
subprocess that reads its own peak resident set size (``VmHWM``, which unlike
``getrusage`` does not start from the parent's peak):

* imports: the platform imported, nothing done (the floor of every process);
* decode: the capture decoded to pixels, as every analysis starts (the baseline);
* analyse: the whole ``analyse_capture`` job (image quality, crack segmentation in tiles, crack
  instances and measurements, the mask stored), run by the job runner on a SQLite database,
  right after the analysis of an ordinary 1-megapixel capture in the same process (as a server
  would: the model's working memory from that image's large tiles is still held).

The budget is a peak under 1.5 GB for 100 megapixels.

Usage: python benchmarks/large_capture.py [--megapixels 100] [--smoke] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BUDGET_MB = 1536.0


def _peak_mb() -> float:
    """This process's peak resident set size in MB (VmHWM: not inherited from the parent)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def make_png(path: Path, side: int, seed: int = 3) -> None:
    """A ``side`` x ``side`` RGB PNG: grey surface, a few dark random-walk cracks."""
    import cv2
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    image = np.full((side, side, 3), 150, np.uint8)
    for _ in range(max(2, side // 1000)):
        x, y = rng.uniform(0.1, 0.9, 2) * side
        angle = rng.uniform(0, 2 * math.pi)
        points = []
        for _ in range(300):
            angle += rng.normal(0, 0.2)
            x += 6 * math.cos(angle)
            y += 6 * math.sin(angle)
            points.append((x, y))
        line = np.round(np.array(points)).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(image, [line], False, (40, 40, 40), 3, cv2.LINE_AA)
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG", optimize=True)
    path.write_bytes(out.getvalue())


def child(mode: str, png: Path) -> dict[str, float]:
    """Run one measurement in this (fresh) process."""
    from infrasight.core.domain import Role
    from infrasight.core.settings import Settings
    from infrasight.platform import Platform
    from infrasight.services.accounts import create_user, ensure_organization
    from infrasight.services.auth import Principal
    from infrasight.services.captures import CaptureRequest, store_capture
    from infrasight.services.images import decode_image
    from infrasight.storage.migrate import upgrade
    from infrasight.storage.models import Asset, Job

    data = png.read_bytes()
    began = time.perf_counter()
    figures: dict[str, float] = {}
    if mode == "decode":
        pixels = decode_image(data, max_pixels=200_000_000)
        figures["pixels"] = float(pixels.shape[0] * pixels.shape[1])
    elif mode == "analyse":
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp), database_url="", worker_threads=0)
            upgrade(settings)
            platform = Platform.create(settings, workers=0)
            warm_up = png.with_name("ordinary.png")
            make_png(warm_up, 1000)
            job_id = 0
            for image in (warm_up.read_bytes(), data):
                with platform.database.transaction() as session:
                    org, _ = ensure_organization(session, "Large")
                    if image is not data:
                        create_user(session, org, "large@bench.example", Role.ENGINEER)
                    name = "Big bridge" if image is data else "Small bridge"
                    asset = Asset(organization_id=org.id, name=name, kind="bridge")
                    session.add(asset)
                    session.flush()
                    caller = Principal(organization_id=org.id, name="bench", role=Role.ENGINEER)
                    stored = store_capture(
                        session,
                        blobs=platform.blobs,
                        jobs=platform.jobs,
                        caller=caller,
                        data=image,
                        request=CaptureRequest(
                            asset_id=asset.id, time=datetime.now(UTC), mm_per_px=0.1
                        ),
                        max_pixels=settings.max_image_pixels,
                    )
                    job_id = stored.job_id
                began = time.perf_counter()
                platform.jobs.run_pending()
            with platform.database.session() as session:
                job = session.get(Job, job_id)
                assert job is not None
                if job.status != "succeeded":
                    raise RuntimeError(f"analysis failed: {job.error}")
                figures["cracks"] = float(job.result.get("cracks", 0))
            platform.close()
    figures["seconds"] = time.perf_counter() - began
    figures["peak_rss_mb"] = _peak_mb()
    return figures


def _measure(mode: str, png: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(png)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, default=100.0)
    parser.add_argument("--smoke", action="store_true", help="4 megapixels (seconds)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PNG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    megapixels = 4.0 if args.smoke else args.megapixels
    side = round(math.sqrt(megapixels * 1e6))
    with tempfile.TemporaryDirectory(prefix="infrasight-large-") as tmp:
        png = Path(tmp) / "large.png"
        make_png(png, side)
        size_kb = png.stat().st_size / 1024
        imports = _measure("imports", png)
        decode = _measure("decode", png)
        analyse = _measure("analyse", png)
    result = {
        "side_px": side,
        "megapixels": side * side / 1e6,
        "png_kb": round(size_kb, 1),
        "imports_peak_rss_mb": round(imports["peak_rss_mb"], 1),
        "decode_peak_rss_mb": round(decode["peak_rss_mb"], 1),
        "analyse_peak_rss_mb": round(analyse["peak_rss_mb"], 1),
        "analyse_seconds": round(analyse["seconds"], 1),
        "cracks": int(analyse["cracks"]),
        "budget_mb": BUDGET_MB,
        "within_budget": analyse["peak_rss_mb"] < BUDGET_MB,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"large capture: {side} x {side} px ({result['megapixels']:.0f} MP), "
        f"PNG of {size_kb:.0f} KB, {result['cracks']} cracks found"
    )
    print("  peak RSS (fresh process each)        MB")
    print(f"  imports only                   {result['imports_peak_rss_mb']:>8.0f}")
    print(f"  decode (baseline)              {result['decode_peak_rss_mb']:>8.0f}")
    print(
        f"  analyse_capture job (warm)     {result['analyse_peak_rss_mb']:>8.0f}"
        f"   ({result['analyse_seconds']:.0f} s; budget {BUDGET_MB:.0f} MB: "
        f"{'within' if result['within_budget'] else 'OVER'})"
    )


if __name__ == "__main__":
    main()
