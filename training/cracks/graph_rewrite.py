"""Rewrite the exported crack-model graph for ONNX Runtime's CPU kernels; the weights stay.

``python -m training.cracks.graph_rewrite --in MODEL.onnx --out MODEL.onnx``

The TorchScript exporter writes each 2x bilinear upsampling of the decoder as a ``Resize`` whose
output size is computed at run time from the skip tensor's ``Shape``. ONNX Runtime cannot tell
that size in advance, so it leaves its blocked ``NCHWc`` layout around every upsampling and
reorders the tensors in and out (a quarter of the run time on a 2-core CPU). Two rewrites:

1. **Fixed upsampling.** The input is a multiple of 16 and every encoder stage halves it, so each
   skip tensor is exactly twice its decoder input: ``Resize`` gets the constant scales
   ``(1, 1, 2, 2)``, which computes the same bilinear weights (``half_pixel``: the scale is
   out/in either way), and the shape arithmetic feeding it is dropped.
2. **No channel concatenation.** Each decoder block concatenates the upsampled tensor with the
   skip tensor and runs a depthwise 3x3 convolution, ReLU and a 1x1 convolution. A depthwise
   convolution works channel by channel and a 1x1 convolution is a sum over input channels, so
   ``pw(relu(dw(concat(a, b)))) == pw_a(relu(dw_a(a))) + pw_b(relu(dw_b(b)))``: the concatenated
   tensor (the largest of the run, 48 channels at full size) is never written. The split nodes
   are named ``<block>/split/{dw,pw}{0,1}`` so that :func:`conv_weights` can join them again
   (warm starts read the weights per convolution of the original network).

Both change only the order of floating-point sums: :func:`check_same_output` runs the two graphs
on ONNX Runtime and compares their probabilities (max abs difference ~2e-7).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = [
    "check_same_output",
    "conv_weights",
    "fix_upsampling",
    "prune",
    "rewrite",
    "split_concat_blocks",
]

SCALES_2X = "resize_scales_2x"
SPLIT = "/split/"


def fix_upsampling(model: onnx.ModelProto) -> int:
    """Give every run-time-sized ``Resize`` the constant scales (1, 1, 2, 2); return how many.

    Only for graphs whose every ``Resize`` doubles height and width (CrackNet-Lite's decoder on
    inputs that are multiples of 16); :func:`check_same_output` verifies it.
    """
    graph = model.graph
    constant = {i.name for i in graph.initializer}
    changed = 0
    for node in graph.node:
        if node.op_type != "Resize" or len(node.input) < 4 or node.input[3] in constant:
            continue
        node.input[:] = [node.input[0], "", SCALES_2X]
        changed += 1
    if changed and SCALES_2X not in constant:
        graph.initializer.append(
            numpy_helper.from_array(np.array([1.0, 1.0, 2.0, 2.0], np.float32), SCALES_2X)
        )
    return changed


def _initializers(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    """The graph's constant tensors by name, including the ``Identity`` aliases by which the
    exporter shares one initializer between equal tensors (e.g. the zero biases of freshly
    initialised batch norms)."""
    tensors = {i.name: i for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in tensors:
            tensors[node.output[0]] = tensors[node.input[0]]
    return tensors


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    out: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            out.setdefault(name, []).append(node)
    return out


def _only(consumers: dict[str, list[onnx.NodeProto]], name: str, op: str) -> onnx.NodeProto | None:
    nodes = consumers.get(name, [])
    return nodes[0] if len(nodes) == 1 and nodes[0].op_type == op else None


def _attrs(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _channels(model: onnx.ModelProto) -> dict[str, int]:
    """Channel count of every tensor whose shape inference knows it."""
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    out: dict[str, int] = {}
    for vi in [*g.value_info, *g.input, *g.output]:
        dims = vi.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].HasField("dim_value"):
            out[vi.name] = dims[1].dim_value
    return out


def split_concat_blocks(model: onnx.ModelProto) -> int:
    """Replace each ``Concat -> depthwise Conv -> Relu -> 1x1 Conv`` by two branches and an
    ``Add``; return the number of blocks rewritten (the ``Relu`` after the 1x1 stays)."""
    graph = model.graph
    consumers = _consumers(graph)
    weights = _initializers(graph)
    channels = _channels(model)
    replaced: dict[str, list[onnx.NodeProto]] = {}  # concat name -> nodes in its place
    dropped: set[str] = set()
    for cat in graph.node:
        if cat.op_type != "Concat" or _attrs(cat).get("axis") != 1 or len(cat.input) != 2:
            continue
        dw = _only(consumers, cat.output[0], "Conv")
        act = _only(consumers, dw.output[0], "Relu") if dw is not None else None
        pw = _only(consumers, act.output[0], "Conv") if act is not None else None
        if dw is None or act is None or pw is None or len(dw.input) < 3 or len(pw.input) < 3:
            continue
        sizes = [channels.get(name) for name in cat.input]
        w_dw = numpy_helper.to_array(weights[dw.input[1]])
        w_pw = numpy_helper.to_array(weights[pw.input[1]])
        if (
            None in sizes
            or _attrs(dw).get("group") != w_dw.shape[0]
            or w_dw.shape[1] != 1
            or w_pw.shape[2:] != (1, 1)
            or _attrs(pw).get("group", 1) != 1
        ):
            continue
        b_dw = numpy_helper.to_array(weights[dw.input[2]])
        prefix = cat.name.rsplit("/", 1)[0] + SPLIT
        nodes: list[onnx.NodeProto] = []
        branches: list[str] = []
        start = 0
        for k, (source, size) in enumerate(zip(cat.input, sizes, strict=True)):
            assert size is not None
            part = slice(start, start + size)
            start += size
            new = {
                f"{prefix}dw{k}.weight": w_dw[part],
                f"{prefix}dw{k}.bias": b_dw[part],
                f"{prefix}pw{k}.weight": np.ascontiguousarray(w_pw[:, part]),
            }
            graph.initializer.extend(numpy_helper.from_array(v, n) for n, v in new.items())
            dw_attrs = {**_attrs(dw), "group": size}
            names = [f"{prefix}dw{k}", f"{prefix}act{k}", f"{prefix}pw{k}"]
            pw_inputs = [names[1], f"{prefix}pw{k}.weight"]
            if k == 0:  # the 1x1 bias once, on the first branch
                pw_inputs.append(pw.input[2])
            nodes += [
                helper.make_node(
                    "Conv",
                    [source, f"{prefix}dw{k}.weight", f"{prefix}dw{k}.bias"],
                    [names[0]],
                    name=names[0],
                    **dw_attrs,  # type: ignore[arg-type]
                ),
                helper.make_node("Relu", [names[0]], [names[1]], name=names[1]),
                helper.make_node("Conv", pw_inputs, [names[2]], name=names[2], **_attrs(pw)),  # type: ignore[arg-type]
            ]
            branches.append(names[2])
        nodes.append(helper.make_node("Add", branches, [pw.output[0]], name=f"{prefix}sum"))
        replaced[cat.name] = nodes
        dropped.update({dw.name, act.name, pw.name})
    if replaced:
        order: list[onnx.NodeProto] = []
        for node in graph.node:
            if node.name in replaced:
                order += replaced[node.name]
            elif node.name not in dropped:
                order.append(node)
        del graph.node[:]
        graph.node.extend(order)
    return len(replaced)


def prune(model: onnx.ModelProto) -> None:
    """Drop the nodes and initializers no graph output depends on."""
    graph = model.graph
    needed = {o.name for o in graph.output}
    kept: list[onnx.NodeProto] = []
    for node in reversed(list(graph.node)):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    kept.reverse()
    del graph.node[:]
    graph.node.extend(kept)
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def rewrite(model: onnx.ModelProto) -> dict[str, int]:
    """Both rewrites and the pruning, in place; the counts of what changed."""
    fixed = fix_upsampling(model)
    split = split_concat_blocks(model)
    prune(model)
    onnx.checker.check_model(model)
    return {"upsampling_fixed": fixed, "concat_blocks_split": split}


def conv_weights(graph: onnx.GraphProto) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """``(weight, bias)`` of each convolution of the exported network, in execution order.

    The branches written by :func:`split_concat_blocks` are joined again (depthwise weights and
    biases along the output channels, 1x1 weights along the input channels), so a rewritten
    graph gives the same list as the graph the exporter wrote.
    """
    inits = {name: numpy_helper.to_array(t) for name, t in _initializers(graph).items()}
    convs: list[tuple[np.ndarray, np.ndarray | None]] = []
    split: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        weight = inits[node.input[1]]
        bias = inits[node.input[2]] if len(node.input) > 2 and node.input[2] else None
        if SPLIT not in node.name:
            convs.append((weight, bias))
            continue
        block, part = node.name.rsplit(SPLIT, 1)
        split[f"{block}{part}"] = (weight, bias)
        if part == "pw1":  # both branches seen: the original depthwise then 1x1 convolution
            (dw0, db0), (dw1, db1) = split[f"{block}dw0"], split[f"{block}dw1"]
            (pw0, pb0), (pw1, _) = split[f"{block}pw0"], split[f"{block}pw1"]
            assert db0 is not None and db1 is not None
            convs.append((np.concatenate([dw0, dw1]), np.concatenate([db0, db1])))
            convs.append((np.concatenate([pw0, pw1], axis=1), pb0))
    return convs


def check_same_output(
    before: onnx.ModelProto,
    after: onnx.ModelProto,
    *,
    sizes: tuple[tuple[int, int], ...] = ((384, 544), (208, 176)),
    tolerance: float = 1e-5,
    seed: int = 0,
) -> float:
    """Largest absolute difference of the two graphs' outputs on random inputs of ``sizes``.

    Raises
    ------
    ValueError
        When it exceeds ``tolerance``.
    """
    import onnxruntime as ort

    def session(m: onnx.ModelProto) -> ort.InferenceSession:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        return ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])

    a, b = session(before), session(after)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for h, w in sizes:
        x = rng.normal(0.0, 1.0, (1, 3, h, w)).astype(np.float32)
        name = a.get_inputs()[0].name
        (pa,), (pb,) = a.run(None, {name: x}), b.run(None, {name: x})
        worst = max(worst, float(np.abs(pa - pb).max()))
    if worst > tolerance:
        raise ValueError(f"rewritten graph differs by {worst:.3g} (tolerance {tolerance:g})")
    return worst


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: rewrite, check on random inputs, save."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--in", dest="source", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    before = onnx.load(str(args.source))
    after = onnx.load(str(args.source))
    counts = rewrite(after)
    worst = check_same_output(before, after)
    onnx.save(after, str(args.out))
    print(f"wrote {args.out}: {counts}, max |difference| {worst:.2g}")


if __name__ == "__main__":
    main()
