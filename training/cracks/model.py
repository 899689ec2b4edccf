"""CrackNet-Lite: a compact U-Net with depthwise-separable convolutions and full-resolution output.

Encoder: a plain 3x3 stem at full resolution, then four stride-2 stages of depthwise-separable
residual blocks (the last with dilations 1, 2, 4 for context along long cracks). Decoder: bilinear
upsampling, concatenation with the skip, one separable block per level, and a 1x1 head at full
resolution giving one logit per pixel. Inputs must be padded to a multiple of 16 (the inference
library does that). About 0.66 M parameters.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

DEFAULT_WIDTHS = (16, 32, 64, 128, 256)


class ConvBNAct(nn.Sequential):
    """Plain ``k x k`` convolution, batch norm, ReLU."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class SepConv(nn.Module):
    """Depthwise 3x3 (optionally strided or dilated) + pointwise 1x1, BN after each, ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 3, stride, dilation, dilation, groups=cin, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn2(self.pw(self.act(self.bn1(self.dw(x))))))


class ResSep(nn.Module):
    """Residual block of two separable convolutions."""

    def __init__(self, c: int, dilation: int = 1) -> None:
        super().__init__()
        self.a = SepConv(c, c, dilation=dilation)
        self.b = SepConv(c, c, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x))


class Stage(nn.Sequential):
    """Downsample by 2 then ``n`` residual blocks."""

    def __init__(self, cin: int, cout: int, dilations: tuple[int, ...]) -> None:
        super().__init__(SepConv(cin, cout, stride=2), *[ResSep(cout, d) for d in dilations])


class Up(nn.Module):
    """Bilinear x2 upsampling, concatenation with the skip, one separable conv + a 3x3 refine."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.fuse = SepConv(cin + cskip, cout)
        self.refine = SepConv(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = functional.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.refine(self.fuse(torch.cat([x, skip], dim=1)))


class _SegmentationNet(nn.Module):
    """What both architectures share: :meth:`forward_parts` gives the full-resolution logits,
    the 1/4-resolution auxiliary logits and the 1/2-resolution features."""

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-resolution logits and 1/4-resolution auxiliary logits."""
        logits, aux, _ = self.forward_parts(x)
        return logits, aux

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_train(x)[0]


class CrackNetLite(_SegmentationNet):
    """Compact crack U-Net: ``(N, 3, H, W)`` normalised RGB -> ``(N, 1, H, W)`` logits."""

    def __init__(self, widths: tuple[int, ...] = DEFAULT_WIDTHS) -> None:
        super().__init__()
        w0, w1, w2, w3, w4 = widths
        self.widths = tuple(widths)
        self.stem = nn.Sequential(ConvBNAct(3, w0), ConvBNAct(w0, w0))
        self.s1 = Stage(w0, w1, (1,))
        self.s2 = Stage(w1, w2, (1, 1))
        self.s3 = Stage(w2, w3, (1, 2))
        self.s4 = Stage(w3, w4, (1, 2, 4))
        self.u3 = Up(w4, w3, w3)
        self.u2 = Up(w3, w2, w2)
        self.u1 = Up(w2, w1, w1)
        self.u0 = Up(w1, w0, w0)
        self.head = nn.Conv2d(w0, 1, 1)
        self.aux = nn.Conv2d(w2, 1, 1)  # deep supervision at 1/4 (training only)

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Full-resolution logits, 1/4-resolution auxiliary logits and the 1/2-resolution
        features ``x1`` (what :class:`CrackNetHalf`'s stem learns to reproduce)."""
        x0 = self.stem(x)
        x1 = self.s1(x0)
        x2 = self.s2(x1)
        x3 = self.s3(x2)
        x4 = self.s4(x3)
        d3 = self.u3(x4, x3)
        d2 = self.u2(d3, x2)
        d1 = self.u1(d2, x1)
        d0 = self.u0(d1, x0)
        return self.head(d0), self.aux(d2), x1


class CrackNetHalf(_SegmentationNet):
    """CrackNet-Lite without full-resolution layers: ``(N, 3, H, W)`` -> ``(N, 1, H, W)`` logits.

    On a CPU the full-resolution layers of :class:`CrackNetLite` (its stem and last decoder
    level) cost about 40 % of the time for 2 % of the arithmetic: every one reads and writes
    16-48 channels of the whole image. Here a 4x4 stride-2 convolution reads the image once
    (each output sees all 4 pixels of its 2x2 block and their neighbours, so no pixel is
    dropped) and produces the 1/2-resolution features that CrackNet-Lite's first stage makes;
    the decoder stops at 1/2 resolution, and the head predicts the 4 pixels of each 2x2 block
    (a pixel shuffle), so a 1-px crack still gets a 1-px answer. Stages 2-4 and the decoder
    levels 3-1 are CrackNet-Lite's, so a student can start from the teacher's weights
    (``distill.py``). Modules are registered in execution order (``warm_start.py`` relies on
    it).
    """

    def __init__(self, widths: tuple[int, ...] = DEFAULT_WIDTHS) -> None:
        super().__init__()
        _, w1, w2, w3, w4 = widths
        self.widths = tuple(widths)
        self.stem = nn.Sequential(
            nn.Conv2d(3, w1, 4, 2, 1, bias=False),
            nn.BatchNorm2d(w1),
            nn.ReLU(inplace=True),
            ResSep(w1),
        )
        self.s2 = Stage(w1, w2, (1, 1))
        self.s3 = Stage(w2, w3, (1, 2))
        self.s4 = Stage(w3, w4, (1, 2, 4))
        self.u3 = Up(w4, w3, w3)
        self.u2 = Up(w3, w2, w2)
        self.u1 = Up(w2, w1, w1)
        self.head = nn.Sequential(SepConv(w1, w1), nn.Conv2d(w1, 4, 1), nn.PixelShuffle(2))
        self.aux = nn.Conv2d(w2, 1, 1)  # deep supervision at 1/4 (training only)

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Full-resolution logits, 1/4-resolution auxiliary logits and the stem's features."""
        x1 = self.stem(x)
        x2 = self.s2(x1)
        x3 = self.s3(x2)
        x4 = self.s4(x3)
        d3 = self.u3(x4, x3)
        d2 = self.u2(d3, x2)
        d1 = self.u1(d2, x1)
        return self.head(d1), self.aux(d2), x1

    def adopt(self, teacher: CrackNetLite) -> None:
        """Copy the teacher's stages 2-4 and decoder levels 3-1 (same widths)."""
        for name in ("s2", "s3", "s4", "u3", "u2", "u1"):
            getattr(self, name).load_state_dict(getattr(teacher, name).state_dict())


class CrackNetHalfRefined(CrackNetHalf):
    """CrackNet-Half plus a small full-resolution refinement of its logits by the image.

    The pixel-shuffle head decides the 4 pixels of a 2x2 block from 1/2-resolution features, so
    the student's crack borders are softer than its teacher's: on the DeepCrack held-out images
    it marks 13 % more false pixels and misses 7 % more. Here two 3x3 convolutions at full
    resolution (logits and RGB in, ``refine_channels`` between, one logit out) add a correction
    to those logits, where the image itself shows the border. The last convolution starts at
    zero, so the network starts as the CrackNet-Half it is initialised from.
    """

    def __init__(self, widths: tuple[int, ...] = DEFAULT_WIDTHS, refine_channels: int = 8) -> None:
        super().__init__(widths)
        self.refine = nn.Sequential(
            nn.Conv2d(4, refine_channels, 3, 1, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(refine_channels, 1, 3, 1, 1),
        )
        nn.init.zeros_(self.refine[2].weight)
        nn.init.zeros_(self.refine[2].bias)

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """As :meth:`CrackNetHalf.forward_parts`, the logits refined at full resolution."""
        coarse, aux, x1 = super().forward_parts(x)
        return coarse + self.refine(torch.cat([coarse, x], dim=1)), aux, x1


CrackModel = CrackNetLite | CrackNetHalf
# Architecture names as checkpoints and model cards record them.
ARCHITECTURES: dict[str, type[CrackNetLite] | type[CrackNetHalf]] = {
    "CrackNet-Lite": CrackNetLite,
    "CrackNet-Half": CrackNetHalf,
    "CrackNet-Half-Refined": CrackNetHalfRefined,
}


def build_model(architecture: str, widths: tuple[int, ...] = DEFAULT_WIDTHS) -> CrackModel:
    """A fresh network of a named architecture (see :data:`ARCHITECTURES`)."""
    try:
        cls = ARCHITECTURES[architecture]
    except KeyError:
        raise ValueError(
            f"unknown architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}"
        ) from None
    return cls(widths)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
