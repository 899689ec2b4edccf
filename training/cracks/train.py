"""Train CrackNet-Lite on the training splits; keep the checkpoint that scores best on validation.

``python -m training.cracks.train --datasets ../shared/datasets --out runs/cracks``

Device-agnostic (CUDA when available, else CPU) and seeded: crop choice and augmentation of item
``i`` in epoch ``e`` depend only on ``(seed, e, i)``, so the data stream is the same whatever the
number of loader workers. Model selection and threshold calibration use only validation data:
pixel-exact F1 on the held-out DeepCrack stems, under the constraint that at most 0.1 % of the
pixels of the held-out crack-free walls are marked as crack.

Writes ``<out>/last.pt`` (resumable), ``<out>/best.pt`` and ``<out>/log.jsonl``.

Presets: ``--preset cpu`` (default; what ``make train-cracks`` runs) is sized for 2 CPU cores:
27,500 steps of 8 crops of 256x256 under bf16 autocast with channels-last tensors, 4 h 11 min
on a 2-core AMD EPYC, 8.9 h on a 2-core Intel Xeon with AVX512-BF16 but no AMX (both measured);
``--preset cpu-short`` stops at 14,250 steps (half of that; see the model card for the figures
of each). ``--preset cpu-finetune --init-onnx FILE`` fine-tunes exported weights (the shipped
1.0.0 model) on the whole mix for 2,000 steps of the same crops. ``--preset shipped`` is the
recipe of the 1.0.0 weights (9,500 steps of 24 crops of 320x320; about 18 minutes on one H100);
``--preset gpu`` the same crops for 14,000 steps. When ``UAV75-trainval`` is present its 50
training images join the mix (planking as hard negatives, centrelines as lines with an ignore
band) and selection maximises the mean of DeepCrack F1 and the UAV75 validation centreline IoU
(4 px).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from training.cracks.augment import augment
from training.cracks.data import Sample, load_splits
from training.cracks.losses import aux_target, bce_dice
from training.cracks.model import DEFAULT_WIDTHS, CrackNetLite, count_parameters
from training.cracks.warm_start import freeze_batch_norm, load_folded_onnx

MEAN = 127.5  # input normalisation: (rgb - MEAN) / STD, on 0-255 values
STD = 63.75
SOURCE_WEIGHTS = {  # relative sampling weight of one image of each source
    "deepcrack": 1.0,
    "cfd": 1.0,
    "cracksc": 0.8,
    "khanh": 0.8,
    "khanh_wall": 1.0,
    "masonry": 0.8,
    # Drone images of concrete bridges with formwork planking: the domain InfraSight watches,
    # and the only labelled hard negatives of that kind (50 images among ~1,000).
    "uav75": 3.0,
}
PRESETS: dict[str, dict[str, Any]] = {
    # The recipe of the 1.0.0 weights (GPU): 9,500 steps of 24 crops of 320x320.
    "shipped": {
        "epochs": 95,
        "steps_per_epoch": 100,
        "batch_size": 24,
        "crop": 320,
        "lr": 3e-3,
        "workers": 2,
    },
    # Sized for 2 CPU cores with bf16 (AVX512-BF16): batches of 8 crops of 256x256, the size at
    # which a step costs the least per pixel there; 27,500 steps, 4 h 11 min measured (AMD EPYC).
    "cpu": {
        "epochs": 110,
        "steps_per_epoch": 250,
        "batch_size": 8,
        "crop": 256,
        "lr": 2.5e-3,
        "workers": 1,
    },
}
# GPU recipe with the bridge drone images (UAV75) in the mix: longer than "shipped" because the
# training set grew and the selection weighs UAV75 too. Not yet run (see the model card).
PRESETS["gpu"] = {**PRESETS["shipped"], "epochs": 140}
# The same at half length (14,250 steps, about 2 hours); scores lower (see the model card).
PRESETS["cpu-short"] = {**PRESETS["cpu"], "epochs": 57}
# Fine-tuning of the shipped 1.0.0 weights (``--init-onnx``) on the whole mix, UAV75 included:
# 2,000 steps of the CPU crops at a lower peak rate, batch norms frozen (see warm_start.py).
PRESETS["cpu-finetune"] = {**PRESETS["cpu"], "epochs": 8, "lr": 1e-3}
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.025), 3)
MAX_WALL_FP = 0.001


class CropStream(Dataset[tuple[np.ndarray, np.ndarray]]):
    """Random crops of the training samples; item ``g`` is seeded by ``(seed, g)`` alone."""

    def __init__(
        self,
        samples: list[Sample],
        *,
        crop: int,
        seed: int,
        source_weights: dict[str, float] | None = None,
    ) -> None:
        self.samples = samples
        self.crop = crop
        self.seed = seed
        weights = SOURCE_WEIGHTS if source_weights is None else source_weights
        w = np.array([weights[s.source] for s in samples], np.float64)
        self.p = w / w.sum()

    def __len__(self) -> int:
        return 2**40

    def __getitem__(self, g: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, g])
        s = self.samples[int(rng.choice(len(self.samples), p=self.p))]
        img, lab = augment(s.image, s.label, rng, crop=self.crop)
        return np.ascontiguousarray(img.transpose(2, 0, 1)), lab


def _worker_init(_: int) -> None:
    # One thread per loader worker: OpenCV/torch thread pools in every worker oversubscribe cores.
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


class _From(torch.utils.data.Sampler[int]):
    def __init__(self, start: int) -> None:
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, 2**40))

    def __len__(self) -> int:
        return 2**40 - self.start


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> normalised float32."""
    return (images.float() - MEAN) / STD


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up then cosine decay to 1 % of ``base``."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t))))


@torch.no_grad()
def predict(
    model: torch.nn.Module, samples: list[Sample], device: torch.device
) -> list[np.ndarray]:
    """Probability maps (float32 HxW) for whole images (sizes must be multiples of 16 or padded)."""
    model.eval()
    out = []
    for s in samples:
        h, w = s.label.shape
        ph, pw = (-h) % 16, (-w) % 16
        img = np.pad(s.image, ((0, ph), (0, pw), (0, 0)), mode="reflect")
        x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].to(device)
        x = to_input(x).contiguous(memory_format=torch.channels_last)
        # bf16 on CUDA (as the shipped weights were validated); fp32 on CPU, as ONNX Runtime runs.
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            y = model(x)
        out.append(torch.sigmoid(y.float())[0, 0, :h, :w].cpu().numpy())
    return out


def pixel_counts(probs: list[np.ndarray], samples: list[Sample]) -> np.ndarray:
    """(T, 3) summed TP, FP, FN per threshold in THRESHOLDS (ignore pixels excluded)."""
    c = np.zeros((len(THRESHOLDS), 3), np.int64)
    for p, s in zip(probs, samples, strict=True):
        valid = s.label != 255
        gt = s.label == 1
        for k, t in enumerate(THRESHOLDS):
            pr = (p >= t) & valid
            tp = int(np.count_nonzero(pr & gt))
            c[k] += (tp, int(np.count_nonzero(pr)) - tp, int(np.count_nonzero(gt)) - tp)
    return c


def centreline_ious(probs: list[np.ndarray], samples: list[Sample]) -> np.ndarray:
    """(T,) pooled centreline IoU (4 px tolerance) per threshold in THRESHOLDS.

    The truth is the crack core of each label (``label == 1``), skeletonised by the metric.
    """
    from infrasight.vision.metrics import CentrelineCounts, centreline_counts

    out = np.zeros(len(THRESHOLDS))
    for k, t in enumerate(THRESHOLDS):
        c = CentrelineCounts(tp=0, fp=0, fn=0)
        for p, s in zip(probs, samples, strict=True):
            c = c + centreline_counts(p >= t, s.label == 1, tolerance=4.0)
        out[k] = c.iou
    return out


def selection_score(f1: np.ndarray, uav_iou: np.ndarray | None) -> np.ndarray:
    """What model selection and threshold calibration maximise, per threshold.

    DeepCrack pixel-exact F1 alone when no UAV75 validation images are there, else the mean of
    that F1 and the UAV75 centreline IoU, so a model that marks formwork joints or misses
    hairline cracks on bridge drone images is not kept however well it scores on DeepCrack.
    """
    return f1 if uav_iou is None else 0.5 * (f1 + uav_iou)


def validate(
    model: torch.nn.Module,
    splits: dict[str, list[Sample]],
    device: torch.device,
    *,
    min_f1: float | None = None,
) -> dict[str, Any]:
    """Validation scores per threshold and the calibrated threshold.

    DeepCrack pixel-exact F1, UAV75 centreline IoU (when present) and the wall false-positive
    rate; the threshold maximises :func:`selection_score` with at most ``MAX_WALL_FP`` of the
    held-out wall pixels marked and, when ``min_f1`` is given and some threshold reaches it, a
    DeepCrack F1 of at least ``min_f1``.
    """
    dc = pixel_counts(predict(model, splits["val_deepcrack"], device), splits["val_deepcrack"])
    tp, fp, fn = dc[:, 0], dc[:, 1], dc[:, 2]
    prec = tp / np.maximum(tp + fp, 1)
    rec = tp / np.maximum(tp + fn, 1)
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-12)
    walls = splits["val_walls"]
    wall_probs = predict(model, walls, device)
    npx = sum(p.size for p in wall_probs)
    wall_fp = np.array([sum(int((p >= t).sum()) for p in wall_probs) / npx for t in THRESHOLDS])
    uav = splits.get("val_uav75") or []
    uav_iou = centreline_ious(predict(model, uav, device), uav) if uav else None
    score = selection_score(f1, uav_iou)
    ok = wall_fp <= MAX_WALL_FP
    if min_f1 is not None and (ok & (f1 >= min_f1)).any():
        ok &= f1 >= min_f1
    k = int(np.argmax(np.where(ok, score, -1.0))) if ok.any() else len(THRESHOLDS) - 1
    extra = {} if uav_iou is None else {"uav75_iou": float(uav_iou[k])}
    return {
        "score": float(score[k]),
        **extra,
        "threshold": float(THRESHOLDS[k]),
        "f1": float(f1[k]),
        "precision": float(prec[k]),
        "recall": float(rec[k]),
        "iou": float(tp[k] / max(tp[k] + fp[k] + fn[k], 1)),
        "wall_fp": float(wall_fp[k]),
        "best_unconstrained_f1": float(f1.max()),
    }


def _jsonable(args: argparse.Namespace) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}


def save_atomically(obj: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file then rename: a run killed mid-save keeps the old file."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, step: int, decay: float) -> None:
    """Exponential moving average of the weights (the decay ramps up over the first steps);
    the batch-norm statistics are copied."""
    d = min(decay, (1 + step) / (10 + step))
    for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
        pe.mul_(d).add_(pm.detach(), alpha=1 - d)
    for be, bm in zip(ema.buffers(), model.buffers(), strict=True):
        be.copy_(bm)


def end_epoch(
    rec: dict[str, Any],
    log: Any,
    args: argparse.Namespace,
    *,
    model: torch.nn.Module,
    ema: torch.nn.Module,
    opt: torch.optim.Optimizer,
    best: float,
) -> None:
    """Print and log the epoch's record, and save the resumable ``last.pt``."""
    print(json.dumps(rec), flush=True)
    log.write(json.dumps(rec) + "\n")
    log.flush()
    state = {
        "model": model.state_dict(),
        "ema": ema.state_dict(),
        "opt": opt.state_dict(),
        "epoch": rec["epoch"],
        "best": best,
        "args": _jsonable(args),
    }
    save_atomically(state, args.out / "last.pt")


def use_bf16(precision: str, device: torch.device) -> bool:
    """Whether training steps run under bf16 autocast (see ``--precision``)."""
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return True
    # Without native bf16 the CPU emulates it and is slower than fp32.
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def pick_device(name: str) -> torch.device:
    """``auto`` -> CUDA if available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def main(argv: list[str] | None = None) -> None:
    """Train and validate; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--out", type=Path, default=Path("runs/cracks"))
    ap.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="cpu",
        help="defaults of epochs, steps per epoch, batch, crop, lr and workers: 'cpu' (2 CPU"
        " cores, 4.2-8.9 h by CPU), 'cpu-short' (half), 'cpu-finetune' (with --init-onnx),"
        " 'shipped' (the 1.0.0 weights, GPU) or 'gpu' (with the UAV75 bridge images, GPU)",
    )
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--steps-per-epoch", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--crop", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--ema", type=float, default=0.998)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default="auto",
        help="autocast precision of training steps; auto: bf16 on CUDA and on CPUs with native"
        " bf16 (AVX512-BF16/AMX), else fp32",
    )
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--val-every", type=int, default=4, help="validate every N epochs")
    ap.add_argument("--resume", type=Path, default=None, help="a last.pt to continue from")
    ap.add_argument(
        "--init-onnx",
        type=Path,
        default=None,
        help="start from these exported weights (e.g. the shipped model) instead of a random"
        " initialisation; batch norms stay frozen",
    )
    ap.add_argument(
        "--time-limit-min", type=float, default=0.0, help="stop (resumably) after this long"
    )
    ap.add_argument(
        "--budget-min",
        type=float,
        default=0.0,
        help="set --epochs from the speed measured over the first 2 epochs to fit this budget",
    )
    args = ap.parse_args(argv)
    for key, value in PRESETS[args.preset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    t_start = time.time()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed % 2**32)
    device = pick_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    splits = load_splits(args.datasets)
    print(
        f"device {device}; train {len(splits['train'])} images; "
        f"val deepcrack {len(splits['val_deepcrack'])}, walls {len(splits['val_walls'])}, "
        f"uav75 {len(splits.get('val_uav75', []))}",
        flush=True,
    )

    model = CrackNetLite(DEFAULT_WIDTHS).to(device, memory_format=torch.channels_last)
    ema = CrackNetLite(DEFAULT_WIDTHS).to(device, memory_format=torch.channels_last)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    if args.init_onnx is not None:
        n_conv = load_folded_onnx(model, args.init_onnx)
        ema.load_state_dict(model.state_dict())
        print(f"initialised from {args.init_onnx} ({n_conv} convolutions)", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    start_epoch, best = 0, -1.0
    if args.resume is not None:
        ck = torch.load(args.resume, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        start_epoch, best = ck["epoch"], ck["best"]
        args.epochs = ck["args"]["epochs"]
        if ck["args"].get("init_onnx"):
            args.init_onnx = Path(ck["args"]["init_onnx"])  # keeps the batch norms frozen
        print(f"resumed at epoch {start_epoch} (best {best:.4f})", flush=True)
    print(f"parameters {count_parameters(model)}", flush=True)

    stream = CropStream(splits["train"], crop=args.crop, seed=args.seed)
    per_epoch = args.steps_per_epoch * args.batch_size
    loader = DataLoader(
        stream,
        batch_size=args.batch_size,
        sampler=_From(start_epoch * per_epoch),
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
        worker_init_fn=_worker_init,
        prefetch_factor=4 if args.workers else None,
    )
    batches = iter(loader)
    log = (args.out / "log.jsonl").open("a")
    use_amp = use_bf16(args.precision, device)
    print(f"precision {'bf16 autocast' if use_amp else 'fp32'}, channels-last", flush=True)
    epoch = start_epoch
    if args.init_onnx is not None and args.resume is None:
        # The starting point's figures, in the same pipeline, for the log and the model card.
        start = validate(ema, splits, device)
        rec0 = {"epoch": 0, **{f"val_{k}": v for k, v in start.items()}}
        print(json.dumps(rec0), flush=True)
        log.write(json.dumps(rec0) + "\n")
        log.flush()
    while epoch < args.epochs:
        total = args.epochs * args.steps_per_epoch
        warmup = min(2 * args.steps_per_epoch, total // 10)
        model.train()
        if args.init_onnx is not None:
            freeze_batch_norm(model)
        t0, losses, skipped = time.time(), [], []
        for i in range(args.steps_per_epoch):
            img, lab = next(batches)
            step = epoch * args.steps_per_epoch + i
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, warmup, args.lr)
            x = to_input(img.to(device, non_blocking=True)).contiguous(
                memory_format=torch.channels_last
            )
            y = lab.to(device, non_blocking=True)
            saved_stats = [b.clone() for b in model.buffers()]  # batch-norm running statistics
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits, aux = model.forward_train(x)
            loss = bce_dice(logits, y) + 0.4 * bce_dice(aux, aux_target(y, 4))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            if not torch.isfinite(grad_norm):
                # A non-finite loss or gradient (a rare bf16 event) would poison every weight:
                # skip the step, undo its running-statistics update, and record it.
                with torch.no_grad():
                    for b, saved in zip(model.buffers(), saved_stats, strict=True):
                        b.copy_(saved)
                skipped.append(step)
                continue
            opt.step()
            update_ema(ema, model, step, args.ema)
            losses.append(loss.detach())
        epoch += 1
        epoch_s = time.time() - t0
        if args.budget_min and epoch == 2 and args.resume is None:
            # Fix the schedule length from the measured speed (recorded in the checkpoints).
            t_val = time.time()
            validate(ema, splits, device)
            val_s = time.time() - t_val
            per = epoch_s + val_s / max(1, args.val_every)
            args.epochs = max(4, int((args.budget_min * 60 - (time.time() - t_start)) / per) + 2)
            print(f"budget {args.budget_min} min -> {args.epochs} epochs", flush=True)
        rec: dict[str, Any] = {
            "epoch": epoch,
            "loss": float(torch.stack(losses).mean()) if losses else float("nan"),
            "skipped_steps": skipped,
            "lr": opt.param_groups[0]["lr"],
            "epoch_s": round(epoch_s, 2),
        }
        if epoch % args.val_every == 0 or epoch == args.epochs:
            v = validate(ema, splits, device)
            rec.update({f"val_{k}": v[k] for k in v})
            if v["score"] > best:
                best = v["score"]
                save_atomically(
                    {
                        "model": ema.state_dict(),
                        "widths": list(DEFAULT_WIDTHS),
                        "epoch": epoch,
                        "val": v,
                        "mean": MEAN,
                        "std": STD,
                        "args": _jsonable(args),
                    },
                    args.out / "best.pt",
                )
                rec["saved_best"] = True
        end_epoch(rec, log, args, model=model, ema=ema, opt=opt, best=best)
        if args.time_limit_min and time.time() - t_start > args.time_limit_min * 60:
            print(f"time limit reached after epoch {epoch}; resume with --resume", flush=True)
            break
    log.close()


if __name__ == "__main__":
    main()
