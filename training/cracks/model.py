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


class CrackNetLite(nn.Module):
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

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-resolution logits and 1/4-resolution auxiliary logits."""
        x0 = self.stem(x)
        x1 = self.s1(x0)
        x2 = self.s2(x1)
        x3 = self.s3(x2)
        x4 = self.s4(x3)
        d3 = self.u3(x4, x3)
        d2 = self.u2(d3, x2)
        d1 = self.u1(d2, x1)
        d0 = self.u0(d1, x0)
        return self.head(d0), self.aux(d2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_train(x)[0]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
