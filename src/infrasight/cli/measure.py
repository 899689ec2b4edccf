"""`infrasight measure ...` commands: crack quantification and displacement tracking."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import cv2
import numpy as np
import typer
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from infrasight.cli.i18n import cli_locale, error_text, say, word
from infrasight.locales import N_
from infrasight.locales.errors import error_translator, localise_message
from infrasight.measure import (
    BoardSpec,
    CameraCalibration,
    MeasurementInputError,
    Scale,
    calibrate_scale,
    calibrate_scale_from_board,
    detect_markers,
    quantify_cracks,
    undistort,
)
from infrasight.measure.frames import iter_frames, read_image
from infrasight.measure.segment import segment_dark_cracks
from infrasight.measure.tracking import Region, track_displacement

EXIT_BAD_INPUT = 2
#: The columns of the tables, msgids of the ``cli`` catalogue.
_CRACK_COLUMNS = (
    "#",
    N_("length"),
    N_("max width"),
    N_("mean width"),
    N_("p95 width"),
    N_("pattern"),
    N_("reliable"),
)
_TRACK_COLUMNS = (N_("image"), "x", "y", N_("dx px"), N_("dy px"), N_("score"), N_("reliable"))
#: The crack pattern the ``evidence`` catalogue does not name (the others are its words).
_CRACK_PATTERNS = (N_("branching"),)
#: Why a tracked point is not reliable (the measure library's codes), by their names.
_TRACK_REASONS = (
    N_("region left the frame"),
    N_("low correlation"),
    N_("did not converge"),
    N_("saturated region"),
    N_("blank region (no texture)"),
    N_("no fixed reference region could be tracked"),
)
err_console = Console(stderr=True)


def bad_input(message: str) -> NoReturn:
    """Print ``message`` (English, as raised) to stderr in the CLI's language and exit with code
    2."""
    said = localise_message(message, error_translator(cli_locale()), record=False)
    typer.echo(f"{say('error:')} {said}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def emit_json(data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to stdout."""
    typer.echo(json.dumps(data, indent=2, allow_nan=False))


def load_colour(path: Path) -> NDArray[np.uint8]:
    """Read an image as RGB uint8 (grey files become 3 equal channels)."""
    if not path.is_file():
        bad_input(f"image file not found: {path}")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        bad_input(f"not a readable image: {path}")
    return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), np.uint8)


def load_mask(path: Path) -> NDArray[np.bool_]:
    """Read a mask image (non-zero = crack)."""
    if not path.is_file():
        bad_input(f"mask file not found: {path}")
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        bad_input(f"not a readable mask image: {path}")
    return np.asarray(img > 127, np.bool_)


def load_camera(path: Path | None) -> CameraCalibration | None:
    """Read a camera calibration JSON written by ``calibrate camera --output``."""
    if path is None:
        return None
    if not path.is_file():
        bad_input(f"camera calibration file not found: {path}")
    try:
        return CameraCalibration.from_json(path.read_text())
    except MeasurementInputError as err:
        bad_input(f"{path}: {err}")


def undistorted(image: NDArray[Any], camera: CameraCalibration | None) -> NDArray[Any]:
    """``image`` with the lens distortion of ``camera`` removed (unchanged without one)."""
    if camera is None:
        return image
    try:
        return np.asarray(undistort(image, camera))
    except MeasurementInputError as err:
        bad_input(error_text(err))


def resolve_scale(
    image: NDArray[np.generic],
    *,
    mm_per_px: float | None,
    marker_mm: float | None,
    dictionary: str,
    board: str | None = None,
) -> tuple[Scale | None, dict[str, Any] | None]:
    """A scale from ``--mm-per-px``, ``--marker-mm`` or ``--board`` (at most one), plus its
    JSON record."""
    given = [
        o
        for o, v in (("--mm-per-px", mm_per_px), ("--marker-mm", marker_mm), ("--board", board))
        if v is not None
    ]
    if len(given) > 1:
        bad_input(f"give only one of {', '.join(given)}, not both")
    try:
        if mm_per_px is not None:
            s = Scale.from_mm_per_px(mm_per_px)
            return s, s.to_dict()
        if marker_mm is not None:
            cal = calibrate_scale(image, marker_mm=marker_mm, dictionary=dictionary)
            return cal.scale, cal.to_dict()
        if board is not None:
            bcal = calibrate_scale_from_board(image, board=BoardSpec.parse(board))
            return bcal.scale, bcal.to_dict()
    except MeasurementInputError as err:
        bad_input(error_text(err))
    return None, None


app = typer.Typer(
    help="Millimetre measurement: crack quantification and displacement tracking.",
    no_args_is_help=True,
)


@app.command("crack")
def crack(
    image: Annotated[Path, typer.Argument(help="Capture with the crack(s).")],
    mask: Annotated[
        Path | None,
        typer.Option(help="Crack mask (non-zero = crack); default: segment the image."),
    ] = None,
    segmentation: Annotated[
        str,
        typer.Option(
            help="Without --mask: 'model' (the shipped crack model, as the platform) or "
            "'classical' (dark-line filter)."
        ),
    ] = "model",
    mm_per_px: Annotated[
        float | None, typer.Option("--mm-per-px", help="Known scale of the surface, mm per px.")
    ] = None,
    marker_mm: Annotated[
        float | None,
        typer.Option("--marker-mm", help="Side of an ArUco marker in the image, mm (homography)."),
    ] = None,
    dictionary: Annotated[str, typer.Option(help="Marker dictionary.")] = "DICT_4X4_50",
    board: Annotated[
        str | None, typer.Option(help="ChArUco board on the surface: 7x5:30:22[:DICT].")
    ] = None,
    axis_deg: Annotated[
        float, typer.Option("--axis-deg", help="Element axis direction in the image, degrees.")
    ] = 0.0,
    floor_ratio: Annotated[
        float | None,
        typer.Option(help="Crack interior / surface luminance; default: measured."),
    ] = None,
    link_gap: Annotated[
        float,
        typer.Option(
            help="With --mask or classical: mask pieces closer than this (px) are one crack "
            "(the model path joins pieces within 4 px, as the platform)."
        ),
    ] = 0.0,
    profile: Annotated[bool, typer.Option(help="Include the width profile in the JSON.")] = False,
    camera: Annotated[
        Path | None,
        typer.Option(help="Camera calibration JSON (calibrate camera --output): undistort first."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Measure the length, width profile, orientation and pattern of each crack."""
    if segmentation not in ("model", "classical"):
        bad_input(f"--segmentation must be model or classical, got {segmentation!r}")
    cam = load_camera(camera)
    rgb = undistorted(load_colour(image), cam)
    scale, scale_record = resolve_scale(
        rgb, mm_per_px=mm_per_px, marker_mm=marker_mm, dictionary=dictionary, board=board
    )
    if mask is None and segmentation == "model":
        if floor_ratio is not None and not 0.0 <= floor_ratio < 1.0:
            bad_input(f"--floor-ratio must be in [0, 1), got {floor_ratio}")
        records = _model_cracks(
            rgb,
            scale=scale,
            axis_deg=axis_deg,
            dictionary=dictionary,
            floor_ratio=floor_ratio,
            profile=profile,
        )
        mask_source = "model"
    else:
        records = _mask_cracks(
            rgb,
            mask,
            cam,
            scale=scale,
            axis_deg=axis_deg,
            dictionary=dictionary,
            floor_ratio=floor_ratio,
            link_gap=link_gap,
            profile=profile,
        )
        mask_source = "given" if mask is not None else "classical"
    if as_json:
        emit_json(
            {
                "image": str(image),
                "mask_source": mask_source,
                "scale": scale_record,
                "cracks": records,
            }
        )
        return
    unit = "mm" if scale is not None else "px"
    table = Table(
        title=say(
            "{name}: {count} crack(s), unit {unit}", name=image.name, count=len(records), unit=unit
        )
    )
    for col in _CRACK_COLUMNS:
        table.add_column(word(col))
    for i, q in enumerate(records):
        if "error" in q:
            reason = localise_message(str(q["error"]), error_translator(cli_locale()), record=False)
            table.add_row(str(i + 1), "-", "-", "-", "-", "-", say("no: {reason}", reason=reason))
            continue
        table.add_row(
            str(i + 1),
            f"{q['length']['value']:.2f} ± {q['length']['std']:.2f}",
            f"{q['width_max']['value']:.3f} ± {q['width_max']['std']:.3f}",
            f"{q['width_mean']['value']:.3f} ± {q['width_mean']['std']:.3f}",
            f"{q['width_p95']['value']:.3f}",
            word(q["pattern"]),
            say("yes") if q["reliable"] else say("no"),
        )
    Console().print(table)


def _model_cracks(
    rgb: NDArray[np.uint8],
    *,
    scale: Scale | None,
    axis_deg: float,
    dictionary: str,
    floor_ratio: float | None,
    profile: bool,
) -> list[dict[str, Any]]:
    """Segment with the shipped model and measure each crack as the platform does."""
    from infrasight.services.crack_analysis import marker_exclusion, measure_segmentation
    from infrasight.vision.cracks import default_segmenter

    segmented = default_segmenter().segment(rgb)
    measured = measure_segmentation(
        rgb,
        segmented,
        scale=scale,
        axis_deg=axis_deg,
        exclude=marker_exclusion(rgb, dictionary),
        crack_floor_ratio=floor_ratio,
        include_profile=profile,
    )
    records = []
    for instance, figures in measured:
        records.append(
            {
                "bbox": list(instance.bbox),
                "pixel_count": instance.pixel_count,
                "confidence": instance.mean_confidence,
                "model_version": segmented.model_version,
                **figures,
            }
        )
    records.sort(key=lambda r: -float(r["length"]["value"]) if "length" in r else 0.0)
    return records


def _mask_cracks(
    rgb: NDArray[np.uint8],
    mask: Path | None,
    cam: CameraCalibration | None,
    *,
    scale: Scale | None,
    axis_deg: float,
    dictionary: str,
    floor_ratio: float | None,
    link_gap: float,
    profile: bool,
) -> list[dict[str, Any]]:
    """Measure the cracks of a given mask, or of the classical dark-line mask."""
    if mask is not None:
        m = undistorted(load_mask(mask).astype(np.uint8), cam) > 0
    else:
        m = segment_dark_cracks(rgb)
        # a marker's black squares are dark too: blank it (with its quiet zone) out of the mask
        for marker in detect_markers(rgb, dictionary=dictionary):
            c = marker.corners_px
            centre = c.mean(axis=0)
            quad = np.round(centre + 1.7 * (c - centre)).astype(np.int32)
            blank = np.zeros(m.shape, np.uint8)
            cv2.fillConvexPoly(blank, quad, 1)
            m = m & (blank == 0)
        if not m.any():
            return []  # no dark line: no crack found
    try:
        results = quantify_cracks(
            m,
            rgb,
            scale=scale,
            element_axis_deg=axis_deg,
            crack_floor_ratio=floor_ratio,
            link_gap_px=link_gap,
        )
    except MeasurementInputError as err:
        bad_input(error_text(err))
    return [q.to_dict(include_profile=profile) for q in results]


def _parse_regions(values: list[str] | None) -> list[Region]:
    out = []
    for v in values or []:
        try:
            out.append(Region.parse(v))
        except MeasurementInputError as err:
            bad_input(error_text(err))
    return out


@app.command("displacement")
def displacement(
    reference: Annotated[Path, typer.Argument(help="Reference frame.")],
    images: Annotated[
        list[str], typer.Argument(help="Frames: image files, video files or rtsp:// URLs.")
    ],
    roi: Annotated[
        list[str] | None, typer.Option("--roi", help="Region X,Y,W,H to track (repeatable).")
    ] = None,
    grid: Annotated[int | None, typer.Option(help="Dense grid step, px.")] = None,
    subset: Annotated[int | None, typer.Option(help="Subset size for --grid, px.")] = None,
    ref_roi: Annotated[
        list[str] | None,
        typer.Option("--ref-roi", help="Fixed region X,Y,W,H for shake removal (repeatable)."),
    ] = None,
    shape: Annotated[
        str | None,
        typer.Option(
            help="Subset shape: translation or affine "
            "[default: translation for --roi, affine for --grid]."
        ),
    ] = None,
    search: Annotated[int, typer.Option(help="Integer search radius, px.")] = 16,
    min_score: Annotated[float, typer.Option(help="ZNCC below this is unreliable.")] = 0.8,
    mm_per_px: Annotated[float | None, typer.Option("--mm-per-px", help="Scale, mm/px.")] = None,
    marker_mm: Annotated[
        float | None, typer.Option("--marker-mm", help="Marker side in the reference, mm.")
    ] = None,
    dictionary: Annotated[str, typer.Option(help="Marker dictionary.")] = "DICT_4X4_50",
    board: Annotated[
        str | None, typer.Option(help="ChArUco board in the reference: 7x5:30:22[:DICT].")
    ] = None,
    max_frames: Annotated[int | None, typer.Option(help="Frames to read per video/stream.")] = None,
    details: Annotated[
        bool, typer.Option(help="With --json: add reliable/reason per point and shake per frame.")
    ] = False,
    camera: Annotated[
        Path | None,
        typer.Option(help="Camera calibration JSON (calibrate camera --output): undistort first."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Track regions (or a dense grid) of REFERENCE through the frames, to sub-pixel accuracy."""
    rois = _parse_regions(roi)
    if bool(rois) == (grid is not None):
        bad_input("give either --roi X,Y,W,H (one or more) or --grid STEP --subset SIZE")
    if grid is not None and subset is None:
        bad_input("--grid needs --subset SIZE")
    if shape is not None and shape not in ("translation", "affine"):
        bad_input(f"--shape must be translation or affine, got {shape!r}")
    cam = load_camera(camera)
    try:
        ref = undistorted(read_image(reference), cam)
    except MeasurementInputError as err:
        bad_input(error_text(err))
    scale, _ = resolve_scale(
        ref, mm_per_px=mm_per_px, marker_mm=marker_mm, dictionary=dictionary, board=board
    )
    streams = [
        s
        for s in images
        if s.lower().startswith(("rtsp://", "rtsps://", "rtmp://", "http://", "https://"))
    ]
    if streams and max_frames is None:
        bad_input(f"a live stream never ends: give --max-frames N for {streams[0]}")
    labels: list[str] = []
    frames: list[Any] = []
    try:
        for label, frame in iter_frames(images, max_frames=max_frames):
            labels.append(label)
            frames.append(undistorted(frame, cam))
        if not frames:
            bad_input("no frames could be read")
        with Progress(console=err_console, transient=True, disable=len(frames) < 3) as bar:
            task = bar.add_task(say("tracking"), total=len(frames))
            result = track_displacement(
                ref,
                frames,
                rois=rois or None,
                grid=grid,
                subset=subset or 31,
                reference_regions=_parse_regions(ref_roi),
                labels=labels,
                shape=None if shape is None else ("affine" if shape == "affine" else "translation"),
                search_radius=search,
                min_score=min_score,
                scale=scale,
                progress=lambda _k: bar.advance(task),
            )
    except MeasurementInputError as err:
        bad_input(error_text(err))
    if as_json:
        emit_json(result.to_json_dict(details=details))
        return
    table = Table(
        title=say(
            "{points} point(s) x {frames} frame(s)",
            points=len(result.points_px),
            frames=len(labels),
        )
    )
    for col in _TRACK_COLUMNS:
        table.add_column(word(col))
    for k, label in enumerate(result.labels):
        for j, (x, y) in enumerate(result.points_px[:50]):
            dx, dy = result.dx[k, j], result.dy[k, j]
            table.add_row(
                Path(label).name,
                f"{x:.1f}",
                f"{y:.1f}",
                "-" if not np.isfinite(dx) else f"{dx:+.4f}",
                "-" if not np.isfinite(dy) else f"{dy:+.4f}",
                f"{result.score[k, j]:.3f}",
                say("yes") if result.reliable[k, j] else word(result.reasons[k][j]),
            )
    Console().print(table)
