"""Test defaults: CPU, one thread per op, no network, a fresh seed; long tests are marked `slow`."""

from __future__ import annotations

import os
import warnings

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
warnings.filterwarnings("ignore", message=".*does not have many workers.*")


@pytest.fixture
def tiny_trainer_kwargs(tmp_path) -> dict:
    """Trainer settings for few-step fits on CPU."""
    return {
        "accelerator": "cpu",
        "devices": 1,
        "max_steps": 3,
        "limit_val_batches": 1,
        "num_sanity_val_steps": 0,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": str(tmp_path),
        "logger": False,
        "enable_checkpointing": False,
    }
