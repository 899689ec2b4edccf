"""Distil crack model 1.1.1 into CrackNet-Half, its faster student (no full-resolution layers).

``python -m training.cracks.distill --datasets ../shared/datasets --out runs/cracks-half``

The teacher is an exported CrackNet-Lite (default: model 1.1.1, kept in ``start/``), loaded with
``warm_start.load_folded_onnx`` and frozen. The student (:class:`~training.cracks.model.
CrackNetHalf`) starts with the teacher's stages 2-4 and decoder levels 3-1; its stem (a 4x4
stride-2 convolution and one residual block) and its pixel-shuffle head are new.

- **Adaptation** (the first ``--adapt-steps`` steps): the copied layers are frozen; the stem
  learns to reproduce the teacher's 1/2-resolution features (mean squared error), and the head
  the labels and the teacher's probabilities. The copied decoder then works on the stem's output
  from the start.
- **Fine-tuning** (the rest): every weight trains on the labels (``bce_dice`` with the
  auxiliary 1/4-resolution output, as ``train.py``) plus the teacher's probabilities
  (binary cross-entropy with soft targets, ``--kd-weight``); the copied layers at
  ``--copied-lr-scale`` of the learning rate, their folded batch norms frozen.

Crops, augmentations, the data mix, validation, model selection and threshold calibration are
``train.py``'s (seeded by ``(seed, step)``; validation data only). Writes ``<out>/last.pt``
(resumable), ``<out>/best.pt`` (for ``export.py``) and ``<out>/log.jsonl``.

Presets: ``cpu-distill`` (2 CPU cores: 11 epochs of 250 steps of 8 crops of 256x256) and
``gpu-distill`` (24 crops of 320x320, 40 epochs of 100 steps). Two continue from the weights of
a ``cpu-distill`` run (``--init``, default ``runs/cracks-half/last.pt``; no adaptation, a fresh
schedule): ``cpu-distill-continue`` (same network) and ``cpu-refine``
(:class:`~training.cracks.model.CrackNetHalfRefined`, whose full-resolution refinement starts as
the identity). ``--architecture`` chooses the student of any preset.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional
from torch.utils.data import DataLoader

from training.cracks.data import Sample, load_splits
from training.cracks.losses import aux_target, bce_dice
from training.cracks.model import (
    ARCHITECTURES,
    DEFAULT_WIDTHS,
    CrackNetHalf,
    CrackNetLite,
    count_parameters,
)
from training.cracks.train import (
    MEAN,
    SOURCE_WEIGHTS,
    STD,
    CropStream,
    _From,
    _jsonable,
    _worker_init,
    end_epoch,
    lr_at,
    pick_device,
    save_atomically,
    to_input,
    update_ema,
    use_bf16,
    validate,
)
from training.cracks.warm_start import freeze_batch_norm, load_folded_onnx

# The teacher: model 1.1.1 (CrackNet-Lite, the shipped model), kept for reproduction.
TEACHER = Path("training/cracks/start/crack-segmentation-1.1.1.onnx")
COPIED = ("s2", "s3", "s4", "u3", "u2", "u1")
PRESETS: dict[str, dict[str, Any]] = {
    "cpu-distill": {
        "epochs": 11,
        "steps_per_epoch": 250,
        "batch_size": 8,
        "crop": 256,
        "lr": 2e-3,
        "adapt_steps": 400,
        "workers": 1,
        # From this epoch on, the teacher weighs more and the UAV75 drone images less: by
        # epoch 4 of the first run the student had passed its teacher on UAV75 (IoU 0.695
        # against 0.629) and fallen behind it on DeepCrack (F1 0.862 against 0.880), the
        # trade-off that 1.1.0's fine-tune showed too.
        "late_from_epoch": 4,
        "late_kd_weight": 3.0,
        "late_uav75_weight": 1.5,
    },
    # A second run from the first's weights (``--init``): no adaptation, a fresh cosine
    # schedule at a lower rate, the late phase's teacher weight throughout and the UAV75 drone
    # images back at the weight of the other sources. After the first run the student led its
    # teacher on UAV75 (IoU 0.672 against 0.629) and trailed it on DeepCrack (F1 0.868 against
    # 0.881, with no threshold above 0.871).
    "cpu-distill-continue": {
        "epochs": 10,
        "steps_per_epoch": 250,
        "batch_size": 8,
        "crop": 256,
        "lr": 6e-4,
        "adapt_steps": 0,
        "workers": 1,
        "late_from_epoch": 0,
        "late_kd_weight": 3.0,
        "late_uav75_weight": 1.0,
        "copied_lr_scale": 0.5,
        "init": Path("runs/cracks-half/last.pt"),
        "out": Path("runs/cracks-half2"),
    },
    "gpu-distill": {
        "epochs": 40,
        "steps_per_epoch": 100,
        "batch_size": 24,
        "crop": 320,
        "lr": 3e-3,
        "adapt_steps": 400,
        "workers": 2,
        "late_from_epoch": 15,
        "late_kd_weight": 3.0,
        "late_uav75_weight": 1.5,
    },
}
# The refined student (a full-resolution correction of the logits by the image, see
# CrackNetHalfRefined) from the first run's weights: the refinement starts as the identity.
PRESETS["cpu-refine"] = {
    **PRESETS["cpu-distill-continue"],
    "architecture": "CrackNet-Half-Refined",
    "epochs": 4,
    "out": Path("runs/cracks-refine"),
}
# What a preset that does not say gets (the first run's settings).
PRESET_DEFAULTS: dict[str, Any] = {
    "architecture": "CrackNet-Half",
    "copied_lr_scale": 0.3,
    "out": Path("runs/cracks-half"),
}
THRESHOLD_RULE = (
    "maximises the mean of pixel-exact F1 on the held-out DeepCrack validation stems and the "
    "centreline IoU (4 px) on the UAV75 validation images, subject to at most 0.1% crack pixels "
    "on the held-out crack-free walls and a DeepCrack F1 of at least {min_f1}"
)


def load_teacher(path: Path, device: torch.device) -> CrackNetLite:
    """The exported CrackNet-Lite at ``path``, frozen, in evaluation mode."""
    teacher = CrackNetLite(DEFAULT_WIDTHS)
    load_folded_onnx(teacher, path)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher.to(device, memory_format=torch.channels_last)


def teacher_name(path: Path) -> str:
    """``<file name> <version>``, the version from the JSON beside the teacher (if any)."""
    meta = path.with_suffix(".json")
    version = json.loads(meta.read_text()).get("version", "?") if meta.is_file() else "?"
    return f"{path.name} {version}"


STUDENTS = tuple(n for n, cls in ARCHITECTURES.items() if issubclass(cls, CrackNetHalf))


def student_from(teacher: CrackNetLite, architecture: str = "CrackNet-Half") -> CrackNetHalf:
    """A student (one of :data:`STUDENTS`) with the teacher's copied layers (see :data:`COPIED`)."""
    student = ARCHITECTURES[architecture](teacher.widths)
    assert isinstance(student, CrackNetHalf)
    student.adopt(teacher)
    return student


def set_copied_trainable(student: CrackNetHalf, trainable: bool) -> None:
    """Freeze (adaptation) or unfreeze (fine-tuning) the layers copied from the teacher."""
    for name in COPIED:
        for p in getattr(student, name).parameters():
            p.requires_grad_(trainable)


def distillation_loss(
    student_out: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    teacher_out: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    label: torch.Tensor,
    *,
    kd_weight: float,
    feature_weight: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Labels (full and 1/4 resolution) + teacher probabilities + stem features.

    Parameters
    ----------
    student_out, teacher_out : ``(logits, aux logits, 1/2-resolution features)``
    label : (N, H, W) uint8 with 0 background, 1 crack, 255 ignore
    """
    logits, aux, feats = student_out
    t_logits, _, t_feats = teacher_out
    lab = bce_dice(logits, label) + 0.4 * bce_dice(aux, aux_target(label, 4))
    kd = functional.binary_cross_entropy_with_logits(
        logits.float(), torch.sigmoid(t_logits.float())
    )
    feat = functional.mse_loss(feats.float(), t_feats.float())
    total = lab + kd_weight * kd + feature_weight * feat
    return total, {
        "label": float(lab.detach()),
        "kd": float(kd.detach()),
        "feature": float(feat.detach()),
    }


def _optimizer(student: CrackNetHalf, lr: float, copied_scale: float, wd: float) -> Any:
    copied = [p for n in COPIED for p in getattr(student, n).parameters()]
    ids = {id(p) for p in copied}
    new = [p for p in student.parameters() if id(p) not in ids]
    return torch.optim.AdamW(
        [{"params": new, "scale": 1.0}, {"params": copied, "scale": copied_scale}],
        lr=lr,
        weight_decay=wd,
    )


def main(argv: list[str] | None = None) -> None:
    """Distil and validate; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--teacher", type=Path, default=TEACHER, help="exported CrackNet-Lite")
    ap.add_argument("--out", type=Path, default=None, help="default: the preset's")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="cpu-distill")
    ap.add_argument("--architecture", choices=STUDENTS, default=None, help="default: the preset's")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--steps-per-epoch", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--crop", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--adapt-steps", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--copied-lr-scale", type=float, default=None, help="default: the preset's")
    ap.add_argument("--kd-weight", type=float, default=1.0)
    ap.add_argument("--late-from-epoch", type=int, default=None, help="see PRESETS")
    ap.add_argument("--late-kd-weight", type=float, default=None)
    ap.add_argument("--late-uav75-weight", type=float, default=None)
    ap.add_argument("--feature-weight", type=float, default=1.0, help="during adaptation")
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument("--min-f1", type=float, default=0.88, help="see train.validate")
    ap.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--val-every", type=int, default=2, help="validate every N epochs")
    ap.add_argument("--resume", type=Path, default=None, help="a last.pt to continue from")
    ap.add_argument(
        "--init", type=Path, default=None, help="start from this student checkpoint's weights"
    )
    ap.add_argument("--time-limit-min", type=float, default=0.0)
    args = ap.parse_args(argv)
    for key, value in {**PRESET_DEFAULTS, **PRESETS[args.preset]}.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    own_last = (args.out / "last.pt").resolve()
    if args.init is not None and args.resume is None and args.init.resolve() == own_last:
        raise SystemExit(f"--init {args.init} is this run's own last.pt: choose another --out")
    if not args.teacher.is_file():
        raise SystemExit(f"teacher model not found: {args.teacher}")

    t_start = time.time()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed % 2**32)
    device = pick_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    splits = load_splits(args.datasets)
    teacher = load_teacher(args.teacher, device)
    student = student_from(teacher, args.architecture).to(device, memory_format=torch.channels_last)
    if args.init is not None and args.resume is None:
        load_student_weights(student, student_weights(args.init, device))
        print(f"student starts from {args.init}", flush=True)
    ema = student_from(teacher, args.architecture).to(device, memory_format=torch.channels_last)
    ema.load_state_dict(student.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = _optimizer(student, args.lr, args.copied_lr_scale, args.weight_decay)
    start_epoch, best = 0, -1.0
    if args.resume is not None:
        ck = torch.load(args.resume, map_location=device, weights_only=False)
        student.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        start_epoch, best = ck["epoch"], ck["best"]
        print(f"resumed at epoch {start_epoch} (best {best:.4f})", flush=True)
    print(
        f"device {device}; train {len(splits['train'])} images; teacher {args.teacher}; "
        f"student {args.architecture}, {count_parameters(student)} parameters",
        flush=True,
    )
    batches = _batches(splits["train"], args, start_epoch)
    use_amp = use_bf16(args.precision, device)
    log = (args.out / "log.jsonl").open("a")
    total = args.epochs * args.steps_per_epoch
    warmup = min(args.steps_per_epoch, total // 10)
    epoch = start_epoch
    while epoch < args.epochs:
        if epoch == args.late_from_epoch:
            if epoch > start_epoch:  # else the batches above are already the late phase's
                batches = _batches(splits["train"], args, epoch)
            print(f"epoch {epoch + 1} on: {late_settings(args)}", flush=True)
        kd_weight = args.late_kd_weight if epoch >= args.late_from_epoch else args.kd_weight
        student.train()
        freeze_batch_norm_of_copied(student)
        t0, parts = time.time(), []
        for i in range(args.steps_per_epoch):
            step = epoch * args.steps_per_epoch + i
            adapting = step < args.adapt_steps
            set_copied_trainable(student, not adapting)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, warmup, args.lr) * g["scale"]
            img, lab = next(batches)
            x = to_input(img.to(device)).contiguous(memory_format=torch.channels_last)
            y = lab.to(device)
            with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=use_amp):
                t_out = teacher.forward_parts(x)
            with torch.autocast(device.type, torch.bfloat16, enabled=use_amp):
                s_out = student.forward_parts(x)
            loss, part = distillation_loss(
                s_out,
                t_out,
                y,
                kd_weight=kd_weight,
                feature_weight=args.feature_weight if adapting else 0.0,
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(student.parameters(), 5.0)
            if not torch.isfinite(grad_norm):
                continue
            opt.step()
            update_ema(ema, student, step, args.ema)
            parts.append(part)
        epoch += 1
        rec: dict[str, Any] = {
            "epoch": epoch,
            **{k: round(float(np.mean([p[k] for p in parts])), 5) for k in parts[0]},
            "lr": opt.param_groups[0]["lr"],
            "epoch_s": round(time.time() - t0, 1),
        }
        if epoch % args.val_every == 0 or epoch == args.epochs:
            v = validate(ema, splits, device, min_f1=args.min_f1)
            rec.update({f"val_{k}": v[k] for k in v})
            if selection_rank(v, args.min_f1) > best:
                best = selection_rank(v, args.min_f1)
                save_atomically(
                    {
                        "model": ema.state_dict(),
                        "architecture": args.architecture,
                        "widths": list(teacher.widths),
                        "epoch": epoch,
                        "val": v,
                        "mean": MEAN,
                        "std": STD,
                        "args": _jsonable(args),
                        "threshold_rule": THRESHOLD_RULE.format(min_f1=args.min_f1),
                        "teacher": teacher_name(args.teacher),
                    },
                    args.out / "best.pt",
                )
                rec["saved_best"] = True
        end_epoch(rec, log, args, model=student, ema=ema, opt=opt, best=best)
        if args.time_limit_min and time.time() - t_start > args.time_limit_min * 60:
            print(f"time limit reached after epoch {epoch}; resume with --resume", flush=True)
            break
    log.close()


def student_weights(path: Path, device: torch.device) -> dict[str, torch.Tensor]:
    """The averaged (EMA) student weights of a ``last.pt`` or ``best.pt`` of an earlier run."""
    if not path.is_file():
        raise SystemExit(f"--init checkpoint not found: {path}")
    ck = torch.load(path, map_location=device, weights_only=False)
    if ck.get("architecture", "CrackNet-Half") not in STUDENTS:
        raise SystemExit(f"--init {path} holds a {ck['architecture']}, not a CrackNet-Half")
    weights: dict[str, torch.Tensor] = ck["ema"] if "ema" in ck else ck["model"]
    return weights


def load_student_weights(student: CrackNetHalf, weights: dict[str, torch.Tensor]) -> None:
    """Load an earlier student's weights; a refined student may lack only its refinement
    (which then starts as the identity, see :class:`~training.cracks.model.CrackNetHalfRefined`)."""
    missing, unexpected = student.load_state_dict(weights, strict=False)
    if unexpected or any(not k.startswith("refine.") for k in missing):
        raise SystemExit(
            f"--init weights do not fit {type(student).__name__}: missing {missing}, "
            f"unexpected {unexpected}"
        )


def selection_rank(val: dict[str, Any], min_f1: float) -> float:
    """What the kept checkpoint maximises: the selection score, and before it (plus 1) whether
    the DeepCrack F1 reaches ``min_f1`` (a score bought with F1 below the floor loses)."""
    return float(val["score"]) + (1.0 if val["f1"] >= min_f1 else 0.0)


def late_settings(args: argparse.Namespace) -> str:
    """The settings that change at ``--late-from-epoch``, in words."""
    return (
        f"teacher weight {args.late_kd_weight} (was {args.kd_weight}), UAV75 sampling weight "
        f"{args.late_uav75_weight} (was {SOURCE_WEIGHTS['uav75']})"
    )


def _batches(train: list[Sample], args: argparse.Namespace, epoch: int) -> Iterator[Any]:
    """Training batches from ``epoch`` on (the sampling weights of that epoch's phase)."""
    weights = dict(SOURCE_WEIGHTS)
    if epoch >= args.late_from_epoch:
        weights["uav75"] = args.late_uav75_weight
    stream = CropStream(train, crop=args.crop, seed=args.seed, source_weights=weights)
    loader = DataLoader(
        stream,
        batch_size=args.batch_size,
        sampler=_From(epoch * args.steps_per_epoch * args.batch_size),
        num_workers=args.workers,
        drop_last=True,
        worker_init_fn=_worker_init,
        prefetch_factor=4 if args.workers else None,
    )
    return iter(loader)


def freeze_batch_norm_of_copied(student: CrackNetHalf) -> None:
    """The copied layers' batch norms hold folded weights: keep them in evaluation mode."""
    for name in COPIED:
        freeze_batch_norm(getattr(student, name))


if __name__ == "__main__":
    main()
