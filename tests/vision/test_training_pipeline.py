"""The training pipeline's data handling (numpy only) and, where PyTorch is installed, its model
and loss. Uses generated samples; the public datasets are not needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from training.cracks.augment import augment, photometric
from training.cracks.data import IGNORE, Sample, _ignore_ring, _wide_to_core, read_list

from tests.vision.synth import cracked


def test_committed_splits_are_fixed() -> None:
    dc = read_list("deepcrack_val.txt")
    walls = read_list("khanh_val_walls.txt")
    assert len(dc) == 60 and len(set(dc)) == 60
    assert len(walls) == 13 and all(w.startswith("noncrack_") for w in walls)


def test_wide_khanh_masks_keep_a_three_pixel_core_and_ignore_the_rest() -> None:
    wide = np.zeros((40, 60), np.uint8)
    wide[14:23, 5:55] = 1  # a 9-px wide drawn crack
    lab = _wide_to_core(wide)
    assert set(np.unique(lab)) == {0, 1, IGNORE}
    col = lab[:, 30]
    assert (col == 1).sum() == 3 and (col == IGNORE).sum() == 6
    assert (lab[wide == 0] == 0).all()


def test_ignore_ring_surrounds_thin_annotations() -> None:
    pos = np.zeros((20, 20), np.uint8)
    pos[10, 2:18] = 1
    lab = _ignore_ring(pos, 1)
    assert (lab[10, 2:18] == 1).all() and (lab[9, 5] == IGNORE) and (lab[11, 5] == IGNORE)
    assert lab[7, 5] == 0


def test_augment_is_seeded_and_keeps_label_semantics() -> None:
    img, truth, _ = cracked(200, 240, seed=3)
    s = Sample(source="t", stem="a", image=img, label=truth.astype(np.uint8))
    a1 = augment(s.image, s.label, np.random.default_rng(5), crop=128)
    a2 = augment(s.image, s.label, np.random.default_rng(5), crop=128)
    np.testing.assert_array_equal(a1[0], a2[0])
    np.testing.assert_array_equal(a1[1], a2[1])
    for k in range(20):
        im, lab = augment(s.image, s.label, np.random.default_rng(k), crop=128)
        assert im.shape == (128, 128, 3) and im.dtype == np.uint8
        assert set(np.unique(lab)) <= {0, 1, IGNORE}
        # crack labels sit on dark pixels: mean brightness of crack pixels is below background
        if (lab == 1).sum() > 30 and (lab == 0).sum() > 30:
            grey = im.mean(axis=2)
            assert grey[lab == 1].mean() < grey[lab == 0].mean()


def test_photometric_changes_values_not_shape() -> None:
    img, _, _ = cracked(64, 64, seed=1)
    outs = [photometric(img, np.random.default_rng(k)) for k in range(10)]
    assert all(o.shape == img.shape and o.dtype == np.uint8 for o in outs)
    assert any(not np.array_equal(o, img) for o in outs)


def test_model_shapes_and_ignore_aware_loss() -> None:
    torch = pytest.importorskip("torch")
    from training.cracks.losses import aux_target, bce_dice
    from training.cracks.model import CrackNetLite, count_parameters

    net = CrackNetLite()
    assert 300_000 < count_parameters(net) < 3_000_000
    out, aux = net.forward_train(torch.zeros(2, 3, 64, 96))
    assert tuple(out.shape) == (2, 1, 64, 96) and tuple(aux.shape) == (2, 1, 16, 24)
    logits = torch.zeros(1, 1, 8, 8)
    lab = torch.zeros(1, 8, 8, dtype=torch.uint8)
    lab[0, 2, :] = 1
    base = float(bce_dice(logits, lab))
    lab2 = lab.clone()
    lab2[0, 5, :] = IGNORE  # ignored pixels leave the loss unchanged whatever the logits say
    logits2 = logits.clone()
    logits2[0, 0, 5, :] = 9.0
    assert float(bce_dice(logits2, lab2)) == pytest.approx(base, rel=0.05)
    assert aux_target(lab, 4).tolist() == [[[1, 1], [0, 0]]]


def test_presets_set_every_schedule_knob_and_precision_follows_the_hardware() -> None:
    torch = pytest.importorskip("torch")
    from training.cracks.train import PRESETS, lr_at, use_bf16

    knobs = {"epochs", "steps_per_epoch", "batch_size", "crop", "lr", "workers"}
    assert all(set(p) == knobs for p in PRESETS.values())
    cpu = torch.device("cpu")
    assert use_bf16("fp32", cpu) is False and use_bf16("bf16", cpu) is True
    assert use_bf16("auto", cpu) == bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    # warm-up then cosine decay to 1 % of the base rate
    assert lr_at(0, 1000, 100, 1.0) == pytest.approx(0.01)
    assert lr_at(99, 1000, 100, 1.0) == pytest.approx(1.0)
    assert lr_at(1000, 1000, 100, 1.0) == pytest.approx(0.01)


def test_bf16_channels_last_training_steps_learn_a_synthetic_crack() -> None:
    torch = pytest.importorskip("torch")
    from training.cracks.losses import bce_dice
    from training.cracks.model import CrackNetLite
    from training.cracks.train import to_input

    torch.manual_seed(0)
    img, truth, _ = cracked(64, 64, seed=2)
    x = to_input(torch.from_numpy(img.transpose(2, 0, 1).copy())[None].repeat(4, 1, 1, 1))
    x = x.contiguous(memory_format=torch.channels_last)
    lab = torch.from_numpy(truth.astype(np.uint8))[None].repeat(4, 1, 1)
    net = CrackNetLite().to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = bce_dice(net(x), lab)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    # the head's gradient under bf16 agrees with fp32 (deeper layers are noise-dominated at init)
    net.zero_grad()
    bce_dice(net(x), lab).backward()
    g32 = net.head.weight.grad.flatten().clone()
    net.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bce_dice(net(x), lab).backward()
    g16 = net.head.weight.grad.flatten()
    assert float(torch.nn.functional.cosine_similarity(g32, g16, dim=0)) > 0.98
    assert losses[-1] < 0.6 * losses[0]


def test_export_versions_retrained_weights_by_preset_and_digest(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from training.cracks.export import export
    from training.cracks.model import CrackNetLite

    from infrasight.vision.cracks import CrackSegmenter

    widths = (8, 8, 16, 16, 24)
    net = CrackNetLite(widths)
    ck = {
        "model": net.state_dict(),
        "widths": list(widths),
        "epoch": 3,
        "val": {"threshold": 0.625, "f1": 0.5},
        "mean": 127.5,
        "std": 63.75,
        "args": {"preset": "cpu-short"},
    }
    torch.save(ck, tmp_path / "best.pt")
    meta = export(tmp_path / "best.pt", tmp_path / "m.onnx")
    assert meta["version"] == f"1.0.0+cpu-short.{meta['sha256'][:8]}"
    assert meta["threshold"] == 0.625 and meta["trained_epochs"] == 3
    seg = CrackSegmenter(tmp_path / "m.onnx")
    assert seg.model_version == meta["version"] and seg.threshold == 0.625
    assert seg.segment(np.zeros((40, 56, 3), np.uint8)).probability.shape == (40, 56)
    named = export(tmp_path / "best.pt", tmp_path / "n.onnx", version="2.0.0", threshold=0.7)
    assert named["version"] == "2.0.0" and named["threshold"] == 0.7


def test_uav75_centreline_labels_keep_planking_as_hard_negatives() -> None:
    from training.cracks.data import centreline_label

    ch0 = np.zeros((40, 60), np.uint8)
    ch0[20, 5:55] = 255  # a 1-px crack centreline
    ch0[23:26, :] = 204  # a formwork joint 3 px below it
    lab = centreline_label(ch0, core_radius=1, ignore_radius=4)
    col = lab[:, 30]
    assert (col[19:22] == 1).all() and (col == 1).sum() == 3  # a 3-px crack core
    assert (col[16:19] == IGNORE).all() and (col[22] == IGNORE)  # band around the line
    assert (col[23:26] == 0).all()  # planking stays background inside the band
    assert (col[:15] == 0).all() and (col[27:] == 0).all()
    assert (centreline_label(np.full((8, 8), 204, np.uint8)) == 0).all()
    assert read_list("uav75_val.txt")[0] == "DSC00551" and len(read_list("uav75_val.txt")) == 10


def test_field_augmentations_rain_haze_glare_change_pixels_not_labels() -> None:
    from training.cracks.augment import _glare, _haze, _rain

    img, _, _ = cracked(96, 128, seed=2)
    f = img.astype(np.float32)
    for fn in (_rain, _haze, _glare):
        out = fn(f.copy(), np.random.default_rng(1))
        assert out.shape == f.shape
        assert float(np.abs(out - f).mean()) > 0.5
    hazy = _haze(f.copy(), np.random.default_rng(4))
    assert np.ptp(hazy) < np.ptp(f)  # haze lowers contrast


def test_selection_weighs_uav75_iou_when_present() -> None:
    pytest.importorskip("torch")
    from training.cracks.train import THRESHOLDS, centreline_ious, selection_score

    f1 = np.array([0.8, 0.9])
    np.testing.assert_allclose(selection_score(f1, None), f1)
    np.testing.assert_allclose(selection_score(f1, np.array([0.6, 0.2])), [0.7, 0.55])
    lab = np.zeros((32, 32), np.uint8)
    lab[15:18, 2:30] = 1
    s = Sample(source="uav75", stem="x", image=np.zeros((32, 32, 3), np.uint8), label=lab)
    prob = np.zeros((32, 32), np.float32)
    prob[14:19, 2:30] = 0.5  # wider than the label, at the right place
    ious = centreline_ious([prob], [s])
    assert ious.shape == THRESHOLDS.shape
    assert ious[THRESHOLDS <= 0.5].min() == pytest.approx(1.0)
    assert ious[THRESHOLDS > 0.5].max() == 0.0


def test_warm_start_from_exported_onnx_reproduces_it_and_keeps_statistics(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    import onnxruntime as ort
    from training.cracks.export import export
    from training.cracks.model import CrackNetLite
    from training.cracks.warm_start import freeze_batch_norm, load_folded_onnx

    widths = (8, 8, 16, 16, 24)
    torch.manual_seed(1)
    net = CrackNetLite(widths)
    with torch.no_grad():  # non-trivial statistics, so folding really changes the weights
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    ck = {"model": net.state_dict(), "widths": list(widths), "epoch": 1, "val": {},
          "mean": 127.5, "std": 63.75, "args": {"preset": "cpu"}}  # fmt: skip
    torch.save(ck, tmp_path / "best.pt")
    export(tmp_path / "best.pt", tmp_path / "m.onnx")

    warm = CrackNetLite(widths)
    assert load_folded_onnx(warm, tmp_path / "m.onnx") == 59
    x = np.random.default_rng(0).normal(size=(1, 3, 48, 64)).astype(np.float32)
    (expected,) = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"image": x})
    with torch.no_grad():
        got = torch.sigmoid(warm.eval()(torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)

    # fine-tuning mode: the network trains, the batch-norm statistics stay fixed
    warm.train()
    freeze_batch_norm(warm)
    before = [b.clone() for b in warm.buffers()]
    warm(torch.from_numpy(x) * 3.0 + 1.0)
    assert all(torch.equal(a, b) for a, b in zip(before, warm.buffers(), strict=True))
    assert warm.head.training and all(
        not m.training for m in warm.modules() if isinstance(m, torch.nn.BatchNorm2d)
    )

    with pytest.raises(ValueError, match="convolution 0 has shape"):
        load_folded_onnx(CrackNetLite((16, 32, 64, 128, 256)), tmp_path / "m.onnx")


def test_interpolation_walks_from_the_start_to_the_fine_tune() -> None:
    torch = pytest.importorskip("torch")
    from training.cracks.interpolate import interpolate, pick

    start = {"w": torch.zeros(2, 3), "steps": torch.tensor(0)}
    tuned = {"w": torch.full((2, 3), 4.0), "steps": torch.tensor(7), "aux.w": torch.ones(1)}
    assert torch.equal(interpolate(start, tuned, 0.0)["w"], start["w"])
    assert torch.equal(interpolate(start, tuned, 1.0)["w"], tuned["w"])
    mid = interpolate(start, tuned, 0.3)
    np.testing.assert_allclose(mid["w"].numpy(), 1.2, rtol=1e-6)
    assert int(mid["steps"]) == 7  # integer buffers come from the fine-tune
    assert torch.equal(mid["aux.w"], tuned["aux.w"])  # absent from the start: the fine-tune's
    with pytest.raises(ValueError, match=r"w: shape \(2, 3\) vs \(3, 2\)"):
        interpolate(start, {"w": torch.zeros(3, 2)}, 0.5)
    rows = [
        {"alpha": 0.2, "score": 0.72, "f1": 0.881},
        {"alpha": 0.3, "score": 0.75, "f1": 0.880},
        {"alpha": 0.5, "score": 0.80, "f1": 0.876},
    ]
    assert pick(rows, None)["alpha"] == 0.5
    assert pick(rows, 0.88)["alpha"] == 0.3  # the best score among those keeping the F1 floor
    assert pick(rows, 0.95)["alpha"] == 0.5  # none keeps it: the best score


def test_validation_threshold_respects_an_f1_floor() -> None:
    torch = pytest.importorskip("torch")
    from training.cracks.train import validate

    class Lines(torch.nn.Module):
        """Red-lit image: a crack row at probability 0.6 with a 1-px halo at 0.4 each side.
        Green-lit too (the drone image): two faint hairlines at 0.4. Dark wall: ~0.0025."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            low, high, none = float(np.log(0.4 / 0.6)), float(np.log(0.6 / 0.4)), -6.0
            out = torch.full((x.shape[0], 1, x.shape[2], x.shape[3]), none)
            red = (x[:, :1, 16:17] > 0).float()  # lit where the crack is
            green = (x[:, 1:2, 16:17] > 0).float()
            out[:, :, 15:18] = red * low + (1 - red) * none
            out[:, :, 16:17] = red * high + (1 - red) * none
            for row in (28, 40):
                out[:, :, row : row + 1] = green * low + (1 - green) * none
            return out

    dc_label = np.zeros((48, 48), np.uint8)
    dc_label[16, :] = 1
    uav_label = dc_label.copy()
    uav_label[[28, 40], :] = 1
    dc_image = np.zeros((48, 48, 3), np.uint8)
    dc_image[..., 0] = 255
    uav_image = dc_image.copy()
    uav_image[..., 1] = 255
    wall = np.zeros((48, 48, 3), np.uint8)
    splits = {
        "val_deepcrack": [Sample(source="deepcrack", stem="a", image=dc_image, label=dc_label)],
        "val_walls": [Sample(source="khanh_wall", stem="w", image=wall, label=dc_label * 0)],
        "val_uav75": [Sample(source="uav75", stem="u", image=uav_image, label=uav_label)],
    }
    # at <= 0.4 the drone image's hairlines are found (IoU 1) but the halo halves DeepCrack F1;
    # above, F1 is 1 and IoU 1/3: the mean prefers the low threshold, the floor the high one
    free = validate(Lines(), splits, torch.device("cpu"))
    floored = validate(Lines(), splits, torch.device("cpu"), min_f1=0.99)
    assert free["threshold"] <= 0.4 and free["f1"] == pytest.approx(0.5)
    assert free["uav75_iou"] == pytest.approx(1.0)
    assert 0.4 < floored["threshold"] < 0.6 and floored["f1"] == pytest.approx(1.0)
    assert floored["uav75_iou"] == pytest.approx(1 / 3)
