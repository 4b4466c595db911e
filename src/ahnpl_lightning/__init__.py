"""ahnpl-lightning: Adaptive Hard Negative Perturbation Learning (AHNPL) for open_clip models, on PyTorch Lightning."""

__version__ = "0.1.0"
