"""Training code for InfraSight's models (needs the optional ``[train]`` extra: PyTorch, onnx)."""
