"""Start training from exported ONNX weights (batch norm folded into the convolutions).

The exporter folds each batch norm into the convolution before it, so an exported model has one
weight and one bias per convolution and no batch-norm statistics. :func:`load_folded_onnx` puts
them back into a :class:`CrackNetLite` or :class:`CrackNetHalf`: each convolution takes the
folded weight, and the batch norm after it becomes the identity plus the folded bias (scale 1,
running mean 0, running variance ``1 - eps``). In evaluation mode the network then computes
exactly what the ONNX file does. Fine-tuning keeps the batch norms in evaluation mode (see
``freeze_batch_norm``): their statistics stay those of the original run, and their scale and
shift remain trainable.

The convolutions of the ONNX graph are matched to the model's in execution order, which is the
order in which both architectures register them (the auxiliary head, used in training only,
is not in the graph and keeps its fresh initialisation). Every shape is checked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from training.cracks.graph_rewrite import conv_weights
from training.cracks.model import CrackModel


def _onnx_convolutions(path: Path) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(weight, bias) of each convolution of the network, in graph (execution) order; the
    branches of a rewritten graph (``graph_rewrite.py``) joined again."""
    return conv_weights(onnx.load(str(path)).graph)


def _model_convolutions(model: CrackModel) -> list[tuple[nn.Conv2d, nn.BatchNorm2d | None]]:
    """Each convolution of the inference path with the batch norm that follows it (if any)."""
    pairs: list[tuple[nn.Conv2d, nn.BatchNorm2d | None]] = []
    modules = [(name, m) for name, m in model.named_modules() if not name.startswith("aux")]
    for k, (_, module) in enumerate(modules):
        if not isinstance(module, nn.Conv2d):
            continue
        following = modules[k + 1][1] if k + 1 < len(modules) else None
        bn = following if isinstance(following, nn.BatchNorm2d) else None
        pairs.append((module, bn))
    return pairs


@torch.no_grad()
def load_folded_onnx(model: CrackModel, path: Path) -> int:
    """Load the folded weights of ``path`` into ``model``; return the number of convolutions.

    Raises
    ------
    ValueError
        When the graph's convolutions do not match the model's in number or shape (another
        architecture or widths).
    """
    source = _onnx_convolutions(path)
    target = _model_convolutions(model)
    if len(source) != len(target):
        raise ValueError(
            f"{path}: {len(source)} convolutions in the ONNX graph, {len(target)} in the model"
        )
    for k, ((weight, bias), (conv, bn)) in enumerate(zip(source, target, strict=True)):
        if tuple(weight.shape) != tuple(conv.weight.shape):
            raise ValueError(
                f"{path}: convolution {k} has shape {weight.shape}, the model's "
                f"{tuple(conv.weight.shape)}"
            )
        conv.weight.copy_(torch.tensor(weight))
        b = np.zeros(weight.shape[0], np.float32) if bias is None else bias
        if bn is None:
            if conv.bias is None:
                raise ValueError(f"{path}: convolution {k} has a bias the model cannot hold")
            conv.bias.copy_(torch.tensor(b))
            continue
        bn.weight.fill_(1.0)
        bn.bias.copy_(torch.tensor(b))
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0 - bn.eps)
    return len(source)


def freeze_batch_norm(model: nn.Module) -> None:
    """Put every batch norm in evaluation mode (statistics fixed; scale and shift trainable)."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()
