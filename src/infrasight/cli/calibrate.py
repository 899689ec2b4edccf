"""`infrasight calibrate ...` commands: camera intrinsics and marker scale."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
import typer
from rich.console import Console

from infrasight.cli.i18n import error_text, say
from infrasight.cli.measure import (
    bad_input,
    emit_json,
    load_camera,
    load_colour,
    undistorted,
)
from infrasight.measure import (
    BoardScaleCalibration,
    BoardSpec,
    MeasurementInputError,
    ScaleCalibration,
    calibrate_camera,
    calibrate_scale,
    calibrate_scale_from_board,
    rectify,
)
from infrasight.measure.frames import read_image

app = typer.Typer(
    help="Camera and scale calibration from markers and ChArUco boards.", no_args_is_help=True
)


@app.command("camera")
def camera(
    images: Annotated[list[Path], typer.Argument(help="ChArUco board views (at least 4).")],
    board: Annotated[
        str,
        typer.Option(help="Board: SQUARESxSQUARES:SQUARE_MM:MARKER_MM[:DICT], e.g. 7x5:30:22."),
    ],
    output: Annotated[
        Path | None, typer.Option(help="Write the calibration JSON (store it per device).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Estimate camera intrinsics and lens distortion from ChArUco views."""
    try:
        spec = BoardSpec.parse(board)
        frames = [read_image(p) for p in images]
        cal = calibrate_camera(frames, board=spec)
    except MeasurementInputError as err:
        bad_input(error_text(err))
    if output is not None:
        output.write_text(cal.to_json())
    if as_json:
        emit_json(cal.to_dict())
        return
    Console().print(
        say(
            "fx {fx} px, fy {fy} px, centre ({cx}, {cy}), k1 {k1}, RMS {rms} px from {views} views",
            fx=f"{cal.fx:.2f}",
            fy=f"{cal.fy:.2f}",
            cx=f"{cal.camera_matrix[0, 2]:.1f}",
            cy=f"{cal.camera_matrix[1, 2]:.1f}",
            k1=f"{cal.dist_coeffs[0]:+.4f}",
            rms=f"{cal.rms_px:.3f}",
            views=cal.n_views,
        )
    )


@app.command("scale")
def scale(
    image: Annotated[Path, typer.Argument(help="Capture showing a marker or ChArUco board.")],
    marker_mm: Annotated[
        float | None, typer.Option("--marker-mm", help="Marker side length, mm.")
    ] = None,
    board: Annotated[
        str | None,
        typer.Option(help="ChArUco board on the surface instead: 7x5:30:22[:DICT_5X5_100]."),
    ] = None,
    dictionary: Annotated[str, typer.Option(help="Marker dictionary.")] = "DICT_4X4_50",
    marker_id: Annotated[int | None, typer.Option(help="Use this marker id.")] = None,
    rectified: Annotated[
        Path | None, typer.Option(help="Write the image rectified to the surface plane here.")
    ] = None,
    camera: Annotated[
        Path | None,
        typer.Option(help="Camera calibration JSON (calibrate camera --output): undistort first."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compute the image-to-surface homography and mm/px (with uncertainty) from a marker."""
    if (marker_mm is None) == (board is None):
        bad_input("give either --marker-mm L (a marker) or --board SPEC (a ChArUco board)")
    rgb = undistorted(load_colour(image), load_camera(camera))
    try:
        cal: ScaleCalibration | BoardScaleCalibration
        if board is not None:
            cal = calibrate_scale_from_board(rgb, board=BoardSpec.parse(board))
        else:
            assert marker_mm is not None
            cal = calibrate_scale(
                rgb, marker_mm=marker_mm, dictionary=dictionary, marker_id=marker_id
            )
        if rectified is not None:
            out = rectify(rgb, cal.scale)
            bgr = cv2.cvtColor(np.asarray(out.image, np.uint8), cv2.COLOR_RGB2BGR)
            if not cv2.imwrite(str(rectified), bgr):
                bad_input(f"cannot write {rectified}")
    except MeasurementInputError as err:
        bad_input(error_text(err))
    if as_json:
        emit_json(cal.to_dict())
        return
    if isinstance(cal, BoardScaleCalibration):
        Console().print(
            say(
                "board ({corners} corners, fit RMS {rms} px): {scale} mm/px at the board, "
                "length uncertainty {uncertainty} %",
                corners=cal.n_corners,
                rms=f"{cal.residual_px:.3f}",
                scale=f"{cal.mm_per_px:.5f}",
                uncertainty=f"{100 * cal.scale.relative_std:.3f}",
            )
        )
        return
    Console().print(
        say(
            "marker {marker}: {scale} ± {std} mm/px at the marker, length uncertainty "
            "{uncertainty} % near it, viewing angle at the marker about {tilt} deg",
            marker=cal.marker.marker_id,
            scale=f"{cal.mm_per_px:.5f}",
            std=f"{cal.mm_per_px_std:.5f}",
            uncertainty=f"{100 * cal.scale.relative_std:.3f}",
            tilt=f"{cal.tilt_deg:.1f}",
        )
    )
