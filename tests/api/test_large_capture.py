"""A large capture is analysed with bounded memory (measured in a fresh process)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from infrasight.services.analysis import _image_quality

_ANALYSE = """
import json, resource, sys
from datetime import UTC, datetime
from pathlib import Path
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.services.accounts import ensure_organization
from infrasight.services.auth import Principal
from infrasight.services.captures import CaptureRequest, store_capture
from infrasight.storage.migrate import upgrade
from infrasight.storage.models import Asset, CaptureAnalysis, Defect, Job

def peak_mb():  # VmHWM: unlike getrusage's maxrss, not inherited from the parent process
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

data_dir, png = Path(sys.argv[1]), Path(sys.argv[2])
settings = Settings(data_dir=data_dir, database_url="", worker_threads=0)
upgrade(settings)
platform = Platform.create(settings, workers=0)
with platform.database.transaction() as session:
    org, _ = ensure_organization(session, "Large")
    asset = Asset(organization_id=org.id, name="Big", kind="bridge")
    session.add(asset)
    session.flush()
    caller = Principal(organization_id=org.id, name="test", role=Role.ENGINEER)
    stored = store_capture(
        session, blobs=platform.blobs, jobs=platform.jobs, caller=caller, data=png.read_bytes(),
        request=CaptureRequest(asset_id=asset.id, time=datetime.now(UTC), mm_per_px=0.1),
        max_pixels=settings.max_image_pixels,
    )
platform.jobs.run_pending()
with platform.database.session() as session:
    job = session.get(Job, stored.job_id)
    analyses = {a.model_name: a.summary for a in session.query(CaptureAnalysis)}
    defects = session.query(Defect).count()
print(json.dumps({
    "status": job.status, "error": job.error, "analyses": analyses, "defects": defects,
    "peak_mb": peak_mb(),
}))
"""


def _large_png(height: int, width: int) -> bytes:
    image = np.full((height, width, 3), 150, np.uint8)
    points = np.array([[width // 10, height // 2], [width // 2, height // 2 + 40]], np.int32)
    cv2.polylines(image, [points.reshape(-1, 1, 2)], False, (40, 40, 40), 3, cv2.LINE_AA)
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


def test_a_20_megapixel_capture_is_analysed_in_bounded_memory(tmp_path: Path) -> None:
    png = tmp_path / "large.png"
    png.write_bytes(_large_png(4000, 5000))
    assert png.stat().st_size < 200_000  # small on disk, 60 MB of pixels
    run = subprocess.run(
        [sys.executable, "-c", _ANALYSE, str(tmp_path / "data"), str(png)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["status"] == "succeeded", result["error"]
    quality = result["analyses"]["image-quality"]
    assert 0.55 < quality["mean_brightness"] < 0.6  # grey 150/255 with one dark line
    cracks = result["analyses"]["crack-segmentation"]
    assert cracks["cracks"] == result["defects"] >= 1
    # before the tiles: full-frame float64/float32 copies and 1024 px tiles, 1.2 GB at 20 MP
    assert result["peak_mb"] < 900, result["peak_mb"]


def test_image_quality_in_strips_equals_the_whole_image() -> None:
    rng = np.random.default_rng(0)
    for image in (
        rng.integers(0, 256, (1300, 700, 3), dtype=np.uint8),
        rng.integers(0, 65536, (515, 90), dtype=np.uint16),
        rng.integers(0, 256, (513, 40), dtype=np.uint8),
    ):
        scale = 65535.0 if image.dtype == np.uint16 else 255.0
        grey = image if image.ndim == 2 else image.mean(axis=2)
        grey = grey.astype(np.float32) / np.float32(scale)
        strips = _image_quality(image)
        assert abs(strips["mean_brightness"] - float(grey.mean())) < 1e-6
        assert abs(strips["contrast_std"] - float(grey.std())) < 1e-6
        laplacian = cv2.Laplacian(grey, cv2.CV_32F)
        assert abs(strips["sharpness_laplacian_var"] - float(laplacian.var())) < 1e-5 * max(
            1.0, float(laplacian.var())
        )
        assert strips["saturated_fraction"] == float((grey >= 0.999).mean())
