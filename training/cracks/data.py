"""Crack datasets: read each public set with its own mask convention, split, and pack.

Every sample becomes an RGB ``uint8`` image and a label map in one convention:
``0`` background, ``1`` crack, ``255`` ignore (excluded from the loss and from nothing else).

Splits (fixed in the repository, never tuned on test data):

* ``train``: DeepCrack-train minus ``splits/deepcrack_val.txt``; CFD 001-072 except 042; CrackSC;
  Khanh-subset except its CFD test images (073-118) and the held-out crack-free walls; Masonry;
  the 50 UAV75 training images (when the folder is there).
* ``val_deepcrack``: the 60 held-out DeepCrack-train stems (pixel-exact scoring).
* ``val_uav75``: the 10 official UAV75 validation images (``splits/uav75_val.txt``; centreline IoU
  with a 4 px tolerance).
* ``val_cfd``: CFD 073-118 (scored with a 2-px tolerance).
* ``val_walls``: the held-out crack-free walls (``splits/khanh_val_walls.txt``).
* ``walls_all``: all 36 crack-free Khanh walls (false-positive figure; partly seen in training).

Run ``python -m training.cracks.data --datasets ../shared/datasets --out .dsets/cracks`` to write a
compact re-encoded copy (JPEG images, PNG labels) that training can read instead of the originals.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

SPLITS_DIR = Path(__file__).with_name("splits")
IGNORE = 255
PACKED_MARKER = "PACKED.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """One image with its label map (0 background, 1 crack, 255 ignore)."""

    source: str
    stem: str
    image: NDArray[np.uint8]
    label: NDArray[np.uint8]

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3:
            raise ValueError(
                f"{self.source}/{self.stem}: image must be HxWx3, got {self.image.shape}"
            )
        if self.label.shape != self.image.shape[:2]:
            shapes = f"label {self.label.shape} != image {self.image.shape[:2]}"
            raise ValueError(f"{self.source}/{self.stem}: {shapes}")


def read_list(name: str) -> list[str]:
    """Read a committed split list (one stem per line, ``#`` comments)."""
    lines = (SPLITS_DIR / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _read_rgb(path: Path) -> NDArray[np.uint8]:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot decode image {path}")
    return np.ascontiguousarray(img[:, :, ::-1])


def _read_binary_mask(path: Path, *, threshold: int = 127) -> NDArray[np.uint8]:
    # cv2 reads 1-bit PNGs as 0/255 grey; RGB masks are reduced to grey.
    m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if m is None:
        raise ValueError(f"cannot decode mask {path}")
    return (m > threshold).astype(np.uint8)


def _ignore_ring(pos: NDArray[np.uint8], radius: int) -> NDArray[np.uint8]:
    """Mark a ``radius``-px ring around positives as ignore (annotation offset tolerance)."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    ring = (cv2.dilate(pos, k) > 0) & (pos == 0)
    out = pos.copy()
    out[ring] = IGNORE
    return out


def _wide_to_core(pos: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Khanh masks are ~3x too wide: keep a 3-px core along the skeleton, ignore the rest."""
    from skimage.morphology import skeletonize

    if not pos.any():
        return pos.copy()
    skel = skeletonize(pos > 0).astype(np.uint8)
    core = cv2.dilate(skel, np.ones((3, 3), np.uint8)) & pos
    out = np.where(pos > 0, IGNORE, 0).astype(np.uint8)
    out[core > 0] = 1
    return out


def centreline_label(
    mask_channel0: NDArray[np.uint8], *, core_radius: int = 1, ignore_radius: int = 4
) -> NDArray[np.uint8]:
    """Label map of a UAV75 mask: centrelines as lines, formwork planking as hard negatives.

    UAV75 draws cracks as 1-3 px centre lines (255) and formwork planking area-wise (204). The
    crack label is the centreline thickened to ``2 * core_radius + 1`` px; pixels up to
    ``ignore_radius`` px from it are ignored, so a correct prediction that is wider than the
    drawn line is not punished (the metric, centreline IoU with 4 px tolerance, does not punish
    it either). Planking pixels stay background (0) even inside the ignore band: they are the
    hard negatives the model must learn to reject.
    """
    crack = (mask_channel0 == 255).astype(np.uint8)
    plank = mask_channel0 == 204
    if not crack.any():
        return np.zeros_like(crack)
    from skimage.morphology import skeletonize

    skel = skeletonize(crack > 0).astype(np.uint8) | crack
    k_core = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * core_radius + 1,) * 2)
    k_ign = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ignore_radius + 1,) * 2)
    core = cv2.dilate(skel, k_core) > 0
    band = (cv2.dilate(skel, k_ign) > 0) & ~core & ~plank
    out = np.zeros_like(crack)
    out[band] = IGNORE
    out[core] = 1
    return out


def _read_uav75_mask(path: Path) -> NDArray[np.uint8]:
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError(f"cannot decode mask {path}")
    # OpenCV reads RGB(A) as BGR(A): the file's channel 0 is index 2.
    return np.asarray(raw[..., 2] if raw.ndim == 3 else raw, np.uint8)


def _pairs(folder: Path) -> list[tuple[str, Path, Path]]:
    masks = {p.stem: p for p in (folder / "masks").iterdir() if p.is_file()}
    out = []
    for img in sorted((folder / "images").iterdir()):
        stem = img.stem
        if stem in masks:
            out.append((stem, img, masks[stem]))
    return out


def _cfd_number(stem: str) -> int:
    return int(stem.split("_")[-1])


def load_raw(datasets: Path) -> dict[str, list[Sample]]:
    """Read the public sets under ``datasets/cracks`` into the fixed splits."""
    root = datasets / "cracks"
    if not root.is_dir():
        raise FileNotFoundError(f"no crack datasets at {root}")
    dc_val = set(read_list("deepcrack_val.txt"))
    wall_val = set(read_list("khanh_val_walls.txt"))
    splits: dict[str, list[Sample]] = {
        k: [] for k in ("train", "val_deepcrack", "val_cfd", "val_walls", "walls_all", "val_uav75")
    }

    for stem, ip, mp in _pairs(root / "DeepCrack-train"):
        s = Sample(source="deepcrack", stem=stem, image=_read_rgb(ip), label=_read_binary_mask(mp))
        splits["val_deepcrack" if stem in dc_val else "train"].append(s)
    for stem, ip, mp in _pairs(root / "CFD"):
        n = int(stem)
        pos = _read_binary_mask(mp)
        if n >= 73:
            splits["val_cfd"].append(
                Sample(source="cfd", stem=stem, image=_read_rgb(ip), label=pos)
            )
        elif n != 42:
            lab = _ignore_ring(pos, 1)
            splits["train"].append(Sample(source="cfd", stem=stem, image=_read_rgb(ip), label=lab))
    for stem, ip, mp in _pairs(root / "CrackSC"):
        splits["train"].append(
            Sample(source="cracksc", stem=stem, image=_read_rgb(ip), label=_read_binary_mask(mp))
        )
    for stem, ip, mp in _pairs(root / "Khanh-subset"):
        if stem.startswith("CFD_") and _cfd_number(stem) >= 73:
            continue  # CFD test images resized into this set: never train on them
        img = _read_rgb(ip)
        pos = _read_binary_mask(mp)
        if stem.startswith("noncrack_"):
            s = Sample(source="khanh_wall", stem=stem, image=img, label=pos)
            splits["walls_all"].append(s)
            if stem in wall_val:
                splits["val_walls"].append(s)
                continue
            splits["train"].append(s)
        else:
            splits["train"].append(
                Sample(source="khanh", stem=stem, image=img, label=_wide_to_core(pos))
            )
    for stem, ip, mp in _pairs(root / "Masonry"):
        splits["train"].append(
            Sample(source="masonry", stem=stem, image=_read_rgb(ip), label=_read_binary_mask(mp))
        )
    uav = root / "UAV75-trainval"
    if uav.is_dir():
        uav_val = set(read_list("uav75_val.txt"))
        for stem, ip, mp in _pairs(uav):
            lab = centreline_label(_read_uav75_mask(mp))
            s = Sample(source="uav75", stem=stem, image=_read_rgb(ip), label=lab)
            splits["val_uav75" if stem in uav_val else "train"].append(s)
    return splits


def pack(splits: dict[str, list[Sample]], out: Path, *, quality: int = 92) -> None:
    """Write a compact copy: ``<split>/<source>__<stem>.jpg`` + ``.png`` label, and an index."""
    index: dict[str, list[list[str]]] = {}
    for name, samples in splits.items():
        if name == "walls_all":
            continue  # rebuilt from train + val_walls on load
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        index[name] = []
        for s in samples:
            base = f"{s.source}__{s.stem}"
            cv2.imwrite(
                str(d / f"{base}.jpg"), s.image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality]
            )
            cv2.imwrite(str(d / f"{base}.png"), s.label, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            index[name].append([s.source, s.stem])
    (out / PACKED_MARKER).write_text(json.dumps(index, indent=1))


def load_packed(root: Path) -> dict[str, list[Sample]]:
    """Read a copy written by :func:`pack`."""
    index = json.loads((root / PACKED_MARKER).read_text())
    splits: dict[str, list[Sample]] = {}
    for name, entries in index.items():
        splits[name] = []
        for source, stem in entries:
            base = str(root / name / f"{source}__{stem}")
            lab = cv2.imread(base + ".png", cv2.IMREAD_UNCHANGED)
            if lab is None:
                raise ValueError(f"cannot decode label {base}.png")
            img = _read_rgb(Path(base + ".jpg"))
            splits[name].append(Sample(source=source, stem=stem, image=img, label=lab))
    walls = [s for s in splits["train"] + splits["val_walls"] if s.source == "khanh_wall"]
    splits["walls_all"] = sorted(walls, key=lambda s: s.stem)
    return splits


def load_splits(path: Path) -> dict[str, list[Sample]]:
    """Load either the public datasets folder (``<path>/cracks/...``) or a packed copy."""
    if (path / PACKED_MARKER).is_file():
        return load_packed(path)
    return load_raw(path)


def main(argv: list[str] | None = None) -> None:
    """Pack the crack datasets into a compact folder for carrying to a training machine."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--quality", type=int, default=85)
    args = ap.parse_args(argv)
    splits = load_raw(args.datasets)
    pack(splits, args.out, quality=args.quality)
    for k, v in splits.items():
        print(f"{k}: {len(v)} samples")


if __name__ == "__main__":
    main()
