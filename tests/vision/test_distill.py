"""CrackNet-Half, the student of ``training/cracks/distill.py``: its shapes, the layers it takes
from the teacher, the distillation loss and steps, its export and warm start. Generated data; the
public datasets are not needed. Skipped where PyTorch is not installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.vision.synth import cracked

torch = pytest.importorskip("torch")

from training.cracks.distill import (  # noqa: E402
    COPIED,
    PRESETS,
    distillation_loss,
    freeze_batch_norm_of_copied,
    load_student_weights,
    selection_rank,
    set_copied_trainable,
    student_from,
    student_weights,
)
from training.cracks.distill import main as distill_main  # noqa: E402
from training.cracks.model import (  # noqa: E402
    ARCHITECTURES,
    CrackNetHalf,
    CrackNetHalfRefined,
    CrackNetLite,
    build_model,
)

WIDTHS = (8, 8, 16, 16, 24)


def test_half_model_answers_every_pixel_without_full_resolution_layers() -> None:
    net = CrackNetHalf(WIDTHS).eval()
    logits, aux, feats = net.forward_parts(torch.zeros(2, 3, 64, 96))
    assert tuple(logits.shape) == (2, 1, 64, 96)
    assert tuple(aux.shape) == (2, 1, 16, 24) and tuple(feats.shape) == (2, 8, 32, 48)
    # the pixel shuffle: the 4 pixels of a 2x2 block come from the head's 4 channels
    with torch.no_grad():
        net.head[1].weight.zero_()
        net.head[1].bias.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        out = net(torch.zeros(1, 3, 32, 32))
    assert out[0, 0, :2, :2].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert out[0, 0, 30:, 30:].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    # no module of the inference path runs at full resolution: every convolution has stride 2
    # or sees 1/2-resolution input (a 1x1 input change moves at most its 2x2 block's neighbourhood)
    assert not any(
        isinstance(m, torch.nn.Conv2d) and m.in_channels == 3 and m.stride == (1, 1)
        for m in net.modules()
    )


def test_architectures_are_named_and_unknown_names_are_refused() -> None:
    assert set(ARCHITECTURES) == {"CrackNet-Lite", "CrackNet-Half", "CrackNet-Half-Refined"}
    assert isinstance(build_model("CrackNet-Half", WIDTHS), CrackNetHalf)
    assert isinstance(build_model("CrackNet-Lite", WIDTHS), CrackNetLite)
    with pytest.raises(ValueError, match="unknown architecture 'UNet'; known: CrackNet-Lite"):
        build_model("UNet")


def test_the_student_starts_with_the_teachers_middle_layers() -> None:
    torch.manual_seed(3)
    teacher = CrackNetLite(WIDTHS)
    student = student_from(teacher)
    for name in COPIED:
        mine, theirs = getattr(student, name).state_dict(), getattr(teacher, name).state_dict()
        assert all(torch.equal(mine[k], theirs[k]) for k in theirs)
    # the stem and the head are the student's own
    assert student.stem[0].weight.shape == (8, 3, 4, 4)


def _batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    from training.cracks.train import to_input

    img, truth, _ = cracked(64, 64, seed=seed)
    x = to_input(torch.from_numpy(img.transpose(2, 0, 1).copy())[None].repeat(4, 1, 1, 1))
    return x, torch.from_numpy(truth.astype(np.uint8))[None].repeat(4, 1, 1)


def test_adaptation_trains_the_new_layers_to_the_teachers_features() -> None:
    torch.manual_seed(0)
    teacher = CrackNetLite(WIDTHS).eval()
    student = student_from(teacher).train()
    freeze_batch_norm_of_copied(student)
    set_copied_trainable(student, False)
    copied_before = {k: v.clone() for k, v in student.s3.state_dict().items()}
    stem_before = student.stem[0].weight.detach().clone()
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=3e-3)
    x, y = _batch(2)
    with torch.no_grad():
        t_out = teacher.forward_parts(x)
    feature_losses = []
    for _ in range(30):
        loss, parts = distillation_loss(
            student.forward_parts(x), t_out, y, kd_weight=1.0, feature_weight=1.0
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        feature_losses.append(parts["feature"])
    assert feature_losses[-1] < 0.5 * feature_losses[0]
    assert not torch.equal(student.stem[0].weight, stem_before)
    assert all(torch.equal(student.s3.state_dict()[k], v) for k, v in copied_before.items())
    set_copied_trainable(student, True)
    assert all(p.requires_grad for p in student.parameters())


def test_distillation_loss_parts() -> None:
    torch.manual_seed(1)
    teacher = CrackNetLite(WIDTHS).eval()
    student = student_from(teacher).eval()
    x, y = _batch(4)
    with torch.no_grad():
        s_out, t_out = student.forward_parts(x), teacher.forward_parts(x)
        full, parts = distillation_loss(s_out, t_out, y, kd_weight=0.5, feature_weight=2.0)
        no_feat, _ = distillation_loss(s_out, t_out, y, kd_weight=0.5, feature_weight=0.0)
    assert float(full) == pytest.approx(
        parts["label"] + 0.5 * parts["kd"] + 2.0 * parts["feature"], rel=1e-5
    )
    assert float(full - no_feat) == pytest.approx(2.0 * parts["feature"], rel=1e-4)
    # a student that already gives the teacher's features has no feature loss
    _, same = distillation_loss((s_out[0], s_out[1], t_out[2]), t_out, y, kd_weight=1.0,
                                feature_weight=1.0)  # fmt: skip
    assert same["feature"] == 0.0
    knobs = {"epochs", "steps_per_epoch", "batch_size", "crop", "lr", "adapt_steps", "workers"}
    late = {"late_from_epoch", "late_kd_weight", "late_uav75_weight"}
    continuation = {"copied_lr_scale", "init", "architecture", "out"}  # from an earlier run
    assert all(knobs | late <= set(p) <= knobs | late | continuation for p in PRESETS.values())
    assert PRESETS["cpu-distill-continue"]["adapt_steps"] == 0


def test_a_checkpoint_below_the_f1_floor_loses_to_one_above_it() -> None:
    below = {"score": 0.78, "f1": 0.862}  # more UAV75 IoU, DeepCrack F1 under the floor
    above = {"score": 0.75, "f1": 0.881}
    assert selection_rank(above, 0.88) > selection_rank(below, 0.88)
    assert selection_rank(below, 0.85) > selection_rank(above, 0.85)


@pytest.mark.parametrize(
    ("architecture", "convolutions"), [("CrackNet-Half", 54), ("CrackNet-Half-Refined", 56)]
)
def test_half_export_runs_in_the_segmenter_and_warm_starts_exactly(
    tmp_path: Path, architecture: str, convolutions: int
) -> None:
    import onnxruntime as ort
    from training.cracks.export import export
    from training.cracks.warm_start import load_folded_onnx

    from infrasight.vision.cracks import CrackSegmenter

    torch.manual_seed(5)
    net = build_model(architecture, WIDTHS)
    with torch.no_grad():  # non-trivial statistics, so folding really changes the weights
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
        if isinstance(net, CrackNetHalfRefined):  # a refinement that is not the identity
            torch.nn.init.normal_(net.refine[2].weight, std=0.1)
    ck = {"model": net.state_dict(), "architecture": architecture, "widths": list(WIDTHS),
          "epoch": 2, "val": {"threshold": 0.6}, "mean": 127.5, "std": 63.75,
          "args": {"preset": "cpu-distill"}}  # fmt: skip
    torch.save(ck, tmp_path / "best.pt")
    meta = export(tmp_path / "best.pt", tmp_path / "h.onnx")
    assert meta["architecture"] == f"{architecture} widths [8, 8, 16, 16, 24]"
    assert meta["tiling"] == {"large_parallel_tile": 768}
    assert meta["version"].startswith("1.0.0+cpu-distill.")

    x = np.random.default_rng(0).normal(size=(1, 3, 48, 64)).astype(np.float32)
    (onnx_prob,) = ort.InferenceSession(str(tmp_path / "h.onnx")).run(None, {"image": x})
    with torch.no_grad():
        torch_prob = torch.sigmoid(net.eval()(torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(onnx_prob, torch_prob, atol=1e-5)

    warm = build_model(architecture, WIDTHS)
    assert load_folded_onnx(warm, tmp_path / "h.onnx") == convolutions
    with torch.no_grad():
        again = torch.sigmoid(warm.eval()(torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(again, onnx_prob, atol=1e-5)

    seg = CrackSegmenter(tmp_path / "h.onnx")
    assert seg.segment(np.zeros((40, 56, 3), np.uint8)).probability.shape == (40, 56)
    assert seg.threshold == 0.6


def test_a_continued_run_starts_from_the_earlier_students_averaged_weights(
    tmp_path: Path,
) -> None:
    torch.manual_seed(6)
    raw, averaged = CrackNetHalf(WIDTHS), CrackNetHalf(WIDTHS)
    torch.save({"model": raw.state_dict(), "ema": averaged.state_dict()}, tmp_path / "last.pt")
    weights = student_weights(tmp_path / "last.pt", torch.device("cpu"))
    assert torch.equal(weights["stem.0.weight"], averaged.state_dict()["stem.0.weight"])
    assert not torch.equal(weights["stem.0.weight"], raw.state_dict()["stem.0.weight"])
    # a best.pt holds the averaged weights as "model"
    torch.save({"model": averaged.state_dict(), "architecture": "CrackNet-Half"},
               tmp_path / "best.pt")  # fmt: skip
    assert torch.equal(
        student_weights(tmp_path / "best.pt", torch.device("cpu"))["head.1.bias"],
        averaged.state_dict()["head.1.bias"],
    )
    torch.save({"model": CrackNetLite(WIDTHS).state_dict(), "architecture": "CrackNet-Lite"},
               tmp_path / "lite.pt")  # fmt: skip
    with pytest.raises(SystemExit, match="holds a CrackNet-Lite, not a CrackNet-Half"):
        student_weights(tmp_path / "lite.pt", torch.device("cpu"))
    with pytest.raises(SystemExit, match="--init checkpoint not found"):
        student_weights(tmp_path / "missing.pt", torch.device("cpu"))
    # a continued run never writes over the checkpoint it starts from
    with pytest.raises(SystemExit, match=r"is this run's own last\.pt: choose another --out"):
        distill_main(["--init", str(tmp_path / "last.pt"), "--out", str(tmp_path)])
    assert (tmp_path / "last.pt").is_file() and not (tmp_path / "log.jsonl").exists()


def test_a_refined_student_starts_as_the_student_it_is_loaded_from() -> None:
    torch.manual_seed(7)
    half = CrackNetHalf(WIDTHS).eval()
    refined = CrackNetHalfRefined(WIDTHS).eval()
    load_student_weights(refined, half.state_dict())
    x, _ = _batch(8)
    with torch.no_grad():
        assert torch.equal(refined(x), half(x))
        # with weights, the refinement adds its correction of the logits and the image
        torch.nn.init.normal_(refined.refine[2].weight, std=0.5)
        refinement = refined.refine(torch.cat([half(x), x], dim=1))
        assert torch.allclose(refined(x), half(x) + refinement)
        assert not torch.equal(refined(x), half(x))
    # weights of another network are refused, naming what does not fit
    with pytest.raises(SystemExit, match="do not fit CrackNetHalfRefined"):
        load_student_weights(refined, CrackNetLite(WIDTHS).state_dict())
