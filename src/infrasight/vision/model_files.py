"""The packaged crack-segmentation model: ONNX bytes and its metadata (threshold, normalisation)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from infrasight.vision.errors import ModelLoadError

__all__ = ["MODEL_NAME", "ModelInfo", "load_model_info", "read_model_bytes"]

MODEL_NAME = "crack-segmentation"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelInfo:
    """Metadata written by the training export beside the ONNX file."""

    version: str
    threshold: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    multiple_of: int
    large_parallel_tile: int | None = None
    """Tile side in px at which two tiles in flight need about the working memory of one
    768-px tile of the first models (``tiling.large_parallel_tile``; None: not stated)."""

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ModelLoadError(f"model threshold must be in (0, 1), got {self.threshold}")
        if self.multiple_of < 1 or min(self.std) <= 0:
            raise ModelLoadError("model metadata has invalid normalisation or size multiple")
        side = self.large_parallel_tile
        if side is not None and (side < 64 or side % self.multiple_of):
            raise ModelLoadError(
                f"model metadata tiling.large_parallel_tile must be a multiple of "
                f"{self.multiple_of} and >= 64, got {side}"
            )


def _packaged(name: str) -> bytes:
    try:
        return (resources.files("infrasight.vision") / "models" / name).read_bytes()
    except (FileNotFoundError, OSError) as err:
        raise ModelLoadError(
            f"packaged model file {name} is missing: reinstall infrasight"
        ) from err


def read_model_bytes(path: Path | None = None) -> bytes:
    """The ONNX model: ``path`` if given, else the packaged one."""
    if path is None:
        return _packaged(f"{MODEL_NAME}.onnx")
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise ModelLoadError(f"cannot read model {path}: {err}") from err


def load_model_info(path: Path | None = None) -> ModelInfo:
    """Metadata of the packaged model, or of ``path`` (its ``.json`` sibling)."""
    try:
        raw = (
            _packaged(f"{MODEL_NAME}.json")
            if path is None
            else Path(path).with_suffix(".json").read_bytes()
        )
        meta: dict[str, Any] = json.loads(raw)
        inp = meta["input"]
        side = meta.get("tiling", {}).get("large_parallel_tile")
        return ModelInfo(
            version=str(meta["version"]),
            threshold=float(meta["threshold"]),
            mean=(float(inp["mean"][0]), float(inp["mean"][1]), float(inp["mean"][2])),
            std=(float(inp["std"][0]), float(inp["std"][1]), float(inp["std"][2])),
            multiple_of=int(inp["multiple_of"]),
            large_parallel_tile=None if side is None else int(side),
        )
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        raise ModelLoadError(f"cannot read model metadata: {err}") from err
