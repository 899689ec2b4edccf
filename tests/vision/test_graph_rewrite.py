"""The crack model's graph rewrite for ONNX Runtime's CPU kernels (``training/cracks/
graph_rewrite.py``) and the packaged model it produced.

The rewrite needs the ``onnx`` package (the ``[train]`` extra); without it those tests skip. The
packaged model's tests need only ONNX Runtime.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from infrasight.vision import CrackSegmenter
from tests.vision.synth import cracked

START = Path(__file__).parents[2] / "training" / "cracks" / "start"
EXPORTED = START / "crack-segmentation-1.0.0.onnx"  # as the exporter wrote it, not rewritten


def _packaged(name: str) -> bytes:
    return (resources.files("infrasight.vision") / "models" / name).read_bytes()


def _normalised(rgb: np.ndarray) -> np.ndarray:
    x = (rgb.astype(np.float32) - 127.5) / 63.75
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def test_rewrite_keeps_the_output_and_the_weights() -> None:
    onnx = pytest.importorskip("onnx")
    import onnxruntime as ort
    from training.cracks.graph_rewrite import check_same_output, conv_weights, rewrite

    before = onnx.load(str(EXPORTED))
    after = onnx.load(str(EXPORTED))
    assert rewrite(after) == {"upsampling_fixed": 4, "concat_blocks_split": 4}
    ops = [n.op_type for n in after.graph.node]
    assert "Shape" not in ops and "Concat" not in ops and ops.count("Resize") == 4
    assert ops.count("Add") == 8 + 4  # the residual sums and one per split block
    # the same probabilities on a generated cracked image (a multiple of 16, as segment() pads)
    img, truth, _ = cracked(208, 336, seed=4, width_px=3)
    runs = []
    for model in (before, after):
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        (p,) = sess.run(None, {"image": _normalised(img)})
        runs.append(p[0, 0])
    assert np.abs(runs[0] - runs[1]).max() <= 1e-5
    assert (runs[1][truth] > 0.5).mean() > 0.9  # a real crack map, not two empty ones
    assert check_same_output(before, after) <= 1e-5
    # warm starts read the weights per original convolution: joined again, bit for bit
    old, new = conv_weights(before.graph), conv_weights(after.graph)
    assert len(old) == len(new) == 59
    for (w0, b0), (w1, b1) in zip(old, new, strict=True):
        assert np.array_equal(w0, w1)
        assert (b0 is None and b1 is None) or np.array_equal(b0, b1)


def test_rewrite_of_a_rewritten_graph_changes_nothing() -> None:
    onnx = pytest.importorskip("onnx")
    from training.cracks.graph_rewrite import rewrite

    model = onnx.load_from_string(_packaged("crack-segmentation.onnx"))
    nodes = len(model.graph.node)
    assert rewrite(model) == {"upsampling_fixed": 0, "concat_blocks_split": 0}
    assert len(model.graph.node) == nodes


def test_check_same_output_refuses_a_different_graph() -> None:
    onnx = pytest.importorskip("onnx")
    from training.cracks.graph_rewrite import check_same_output

    other_weights = onnx.load_from_string(_packaged("crack-segmentation.onnx"))
    with pytest.raises(ValueError, match="differs by"):
        check_same_output(onnx.load(str(EXPORTED)), other_weights)


def test_rewrite_cli_writes_a_checked_model() -> None:
    pytest.importorskip("onnx")
    from training.cracks.graph_rewrite import main

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.onnx"
        main(["--in", str(EXPORTED), "--out", str(out)])
        out.with_suffix(".json").write_bytes(EXPORTED.with_suffix(".json").read_bytes())
        img, truth, _ = cracked(160, 224, seed=2)
        assert CrackSegmenter(out).segment(img).mask[truth].mean() > 0.9


def test_packaged_model_matches_its_card() -> None:
    meta = json.loads(_packaged("crack-segmentation.json"))
    data = _packaged("crack-segmentation.onnx")
    assert hashlib.sha256(data).hexdigest() == meta["sha256"]
    assert len(data) <= 20_000_000
    assert meta["version"] == "1.1.1"


def test_packaged_model_keeps_the_blocked_layout_through_the_decoder() -> None:
    """No layout reorders and no concatenation in a profiled run of the packaged model (the
    exported graph of 1.1.0 had 4 input reorders and 12 concatenations per run)."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(tmp) / "profile")
        sess = ort.InferenceSession(
            _packaged("crack-segmentation.onnx"), opts, providers=["CPUExecutionProvider"]
        )
        img, _, _ = cracked(96, 128, seed=1)
        sess.run(None, {"image": _normalised(img)})
        events = json.loads(Path(sess.end_profiling()).read_text())
    ops = {
        e["args"]["op_name"]
        for e in events
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")
    }
    if "ReorderOutput" not in ops:  # a CPU without the blocked kernels (e.g. no AVX2): no reorders
        pytest.skip("ONNX Runtime does not use its NCHWc layout on this CPU")
    assert "ReorderInput" not in ops
    assert "Concat" not in ops and "Resize" not in ops and "Shape" not in ops
    assert "Upsample" in ops  # the upsampling runs in the blocked layout
