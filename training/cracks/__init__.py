"""Crack-segmentation training: data, augmentation, model, losses, training loop and ONNX export.

Run ``python -m training.cracks.train --datasets ../shared/datasets --out runs/cracks`` then
``python -m training.cracks.export --checkpoint runs/cracks/best.pt --out <model.onnx>``.
"""
