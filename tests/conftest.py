"""Test defaults: CPU, one thread per op, no network, a fresh seed; long tests are marked `slow`."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
import torch

# The real annotation samples (copied into the repository, see tests/fixtures/README.md), so a clone runs every test.
FIXTURE_DATA = Path(__file__).resolve().parent / "fixtures" / "data"
SHARED_DATA = FIXTURE_DATA  # old name, kept for test modules that import it

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


def small_ahnpl_config(directory) -> str:
    """configs/ahnpl.yaml with its evaluation callback pointed at a tiny world export under `directory`."""
    from pathlib import Path

    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "ahnpl.yaml").read_text())
    for callback in config["trainer"]["callbacks"]:
        if callback["class_path"].endswith("CompositionalEvalCallback"):
            callback["init_args"].update(
                data_root=str(Path(directory) / "world_eval"), world_export_size=8,
                benchmarks=["sugarcrepe", "winoground"], batch_size=64,
            )
    path = Path(directory) / "ahnpl_small.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture
def ahnpl_config(tmp_path) -> str:
    """Path to the default config with a tiny evaluation set (see `small_ahnpl_config`)."""
    return small_ahnpl_config(tmp_path)
