"""`infrasight cracks ...` commands: detect cracks in images, evaluate against masks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
import typer
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from infrasight.cli.i18n import error_text, say, word
from infrasight.locales import N_
from infrasight.vision.cracks import CrackSegmenter, overlay
from infrasight.vision.errors import VisionInputError
from infrasight.vision.imageio import IMAGE_SUFFIXES, load_image, load_mask
from infrasight.vision.metrics import PixelCounts, pixel_counts, sweep

app = typer.Typer(
    help="Crack segmentation: detect cracks in images and evaluate against masks.",
    no_args_is_help=True,
)
_err = Console(stderr=True, soft_wrap=True)

ThresholdOpt = Annotated[
    float | None,
    typer.Option(
        "--threshold", min=0.01, max=0.99, help="Decision threshold (default: the calibrated one)."
    ),
]


def _fail(message: str) -> typer.Exit:
    _err.print(f"[bold red]{say('error:')}[/] {message}", highlight=False)
    return typer.Exit(code=2)


def _images_in(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(
                sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            )
        elif p.is_file():
            files.append(p)
        else:
            raise _fail(f"{p}: no such file or directory")
    if not files:
        raise _fail("no image files found in the given inputs")
    stems: dict[str, Path] = {}
    for f in files:
        if f.stem in stems and stems[f.stem] != f:
            raise _fail(f"two inputs share the stem {f.stem!r}: {stems[f.stem]} and {f}")
        stems[f.stem] = f
    return list(stems.values())


#: The figures of ``cracks eval`` by their names (msgids of the ``cli`` catalogue; the keys of
#: the ``--json`` output stay as they are).
_FIGURES = (
    N_("images"),
    N_("threshold"),
    N_("precision"),
    N_("recall"),
    N_("f1"),
    N_("iou"),
    N_("tolerance_px"),
    N_("ods_f1"),
    N_("ods_threshold"),
    N_("ois_f1"),
    N_("model_version"),
)


@app.command()
def detect(
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders of images.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (created if missing).")],
    threshold: ThresholdOpt = None,
) -> None:
    """Segment cracks: write <stem>.mask.png (0/255), <stem>.overlay.jpg and <stem>.json."""
    files = _images_in(inputs)
    out.mkdir(parents=True, exist_ok=True)
    seg = CrackSegmenter(threshold=threshold)
    failures = 0
    with Progress(console=_err, transient=True) as progress:
        task = progress.add_task(say("detecting cracks"), total=len(files))
        for f in files:
            try:
                image = load_image(f)
                result = seg.segment(image)
            except VisionInputError as err:
                _err.print(f"[bold red]{say('error:')}[/] {error_text(err)}", highlight=False)
                failures += 1
                progress.advance(task)
                continue
            cv2.imwrite(str(out / f"{f.stem}.mask.png"), result.mask.astype(np.uint8) * 255)
            ov = overlay(image, result)
            cv2.imwrite(str(out / f"{f.stem}.overlay.jpg"), ov[:, :, ::-1])
            doc = {"image": str(f), **result.to_dict()}
            (out / f"{f.stem}.json").write_text(json.dumps(doc, indent=1) + "\n")
            progress.advance(task)
    typer.echo(
        say(
            "{done} of {count} images segmented into {out}",
            done=len(files) - failures,
            count=len(files),
            out=out,
        )
    )
    if failures:
        raise typer.Exit(code=2)


def _pairs(images: Path, masks: Path) -> list[tuple[Path, Path]]:
    for d, name in ((images, "--images"), (masks, "--masks")):
        if not d.is_dir():
            raise _fail(f"{name} {d}: not a directory")
    mask_by_stem: dict[str, Path] = {}
    for m in sorted(masks.iterdir()):
        if m.is_file() and m.suffix.lower() in IMAGE_SUFFIXES:
            if m.stem in mask_by_stem:
                raise _fail(f"two masks share the stem {m.stem!r} in {masks}")
            mask_by_stem[m.stem] = m
    pairs = [
        (f, mask_by_stem[f.stem])
        for f in sorted(images.iterdir())
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and f.stem in mask_by_stem
    ]
    if not pairs:
        raise _fail(f"no image in {images} has a mask with the same stem in {masks}")
    return pairs


@app.command("eval")
def evaluate(
    images: Annotated[Path, typer.Option("--images", help="Folder of images.")],
    masks: Annotated[
        Path, typer.Option("--masks", help="Folder of ground-truth masks (same stems).")
    ],
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", min=0.0, max=50.0, help="ODS/OIS matching tolerance, px."),
    ] = 2.0,
    threshold: ThresholdOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Pixel-exact P/R/F1/IoU summed over the set, and ODS/OIS F1 with a matching tolerance."""
    pairs = _pairs(images, masks)
    seg = CrackSegmenter(threshold=threshold)
    counts = [PixelCounts(tp=0, fp=0, fn=0)]

    def scored(progress: Progress) -> Iterator[tuple[NDArray[np.float32], NDArray[np.bool_]]]:
        # One image at a time: memory does not grow with the size of the set.
        task = progress.add_task(say("evaluating"), total=len(pairs))
        for img_path, mask_path in pairs:
            try:
                image = load_image(img_path)
                truth = load_mask(mask_path)
                if truth.shape != image.shape[:2]:
                    raise VisionInputError(
                        f"{mask_path}: mask is {truth.shape[1]}x{truth.shape[0]} px but the image "
                        f"is {image.shape[1]}x{image.shape[0]} px"
                    )
                result = seg.segment(image)
            except VisionInputError as err:
                raise _fail(str(err)) from err
            counts[0] = counts[0] + pixel_counts(result.mask, truth)
            yield result.probability, truth
            progress.advance(task)

    with Progress(console=_err, transient=True) as progress:
        sw = sweep(scored(progress), tolerance=tolerance)
    px = counts[0].scores()
    figures = {
        "images": len(pairs),
        "threshold": seg.threshold,
        "precision": round(px.precision, 4),
        "recall": round(px.recall, 4),
        "f1": round(px.f1, 4),
        "iou": round(px.iou, 4),
        "tolerance_px": tolerance,
        "ods_f1": round(sw.ods_f1, 4),
        "ods_threshold": sw.ods_threshold,
        "ois_f1": round(sw.ois_f1, 4),
        "model_version": seg.model_version,
    }
    if as_json:
        typer.echo(json.dumps(figures))
        return
    table = Table(title=say("crack segmentation on {count} images", count=len(pairs)))
    table.add_column(say("metric"))
    table.add_column(say("value"), justify="right")
    for k, v in figures.items():
        table.add_row(word(k), str(v))
    Console().print(table)


@app.command("export-reviews")
def export_reviews_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder to write images/ and masks/ into")],
    org: Annotated[str | None, typer.Option(help="Organisation (needed if several)")] = None,
) -> None:
    """Write the detections inspectors reviewed as an images/masks training set.

    Masks: 255 confirmed crack, 0 background (rejected detections included), 128 not reviewed.
    """
    from infrasight.cli.common import exits_cleanly, load_settings, open_platform
    from infrasight.cli.platform_cmds import organization_principal
    from infrasight.services.defect_reviews import export_reviews

    @exits_cleanly
    def run() -> None:
        settings = load_settings()
        with open_platform() as platform, platform.database.session() as session:
            caller = organization_principal(session, org)
            summary = export_reviews(
                session,
                platform.blobs,
                caller.organization_id,
                out,
                max_pixels=settings.max_image_pixels,
            )
        _err.print(
            say(
                "wrote {images} images to {out}: {confirmed} confirmed, {rejected} rejected, "
                "{unreviewed} not reviewed",
                images=summary.images,
                out=out,
                confirmed=summary.confirmed,
                rejected=summary.rejected,
                unreviewed=summary.unreviewed,
            ),
            highlight=False,
        )
        typer.echo(
            json.dumps(
                {
                    "images": summary.images,
                    "confirmed": summary.confirmed,
                    "rejected": summary.rejected,
                    "unreviewed": summary.unreviewed,
                }
            )
        )

    run()
