"""Vision analytics: crack segmentation on ONNX Runtime, image loading, segmentation metrics.

Pure: imports numpy, OpenCV, SciPy, scikit-image and onnxruntime only.
"""

from infrasight.vision.cracks import CrackSegmentation, CrackSegmenter, default_segmenter, overlay
from infrasight.vision.errors import (
    ImageDecodeError,
    ImageTooLargeError,
    ModelLoadError,
    VisionInputError,
)
from infrasight.vision.imageio import load_image, load_mask, to_rgb8
from infrasight.vision.instances import CrackInstance

__all__ = [
    "CrackInstance",
    "CrackSegmentation",
    "CrackSegmenter",
    "ImageDecodeError",
    "ImageTooLargeError",
    "ModelLoadError",
    "VisionInputError",
    "default_segmenter",
    "load_image",
    "load_mask",
    "overlay",
    "to_rgb8",
]
