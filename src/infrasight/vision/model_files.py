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

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ModelLoadError(f"model threshold must be in (0, 1), got {self.threshold}")
        if self.multiple_of < 1 or min(self.std) <= 0:
            raise ModelLoadError("model metadata has invalid normalisation or size multiple")


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
        return ModelInfo(
            version=str(meta["version"]),
            threshold=float(meta["threshold"]),
            mean=(float(inp["mean"][0]), float(inp["mean"][1]), float(inp["mean"][2])),
            std=(float(inp["std"][0]), float(inp["std"][1]), float(inp["std"][2])),
            multiple_of=int(inp["multiple_of"]),
        )
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        raise ModelLoadError(f"cannot read model metadata: {err}") from err
