"""A run resumed from a mid-epoch checkpoint equals the uninterrupted run on the CPU (weights and margin state).

What makes it exact: the data order is resumable (`EpochSampler`), and every random thing a sample does (the random
crop, NegCLIP's draws) is seeded by (seed, epoch, sample index) instead of drawing from global generators whose state
a checkpoint does not hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Callback, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint

from ahnpl_lightning.data.datamodule import AHNPLDataModule
from ahnpl_lightning.data.sources import NegCLIPSource, WorldSource
from ahnpl_lightning.module import AHNPLModule
from tests._data_fixtures import negclip_fixture


class Interrupt(Callback):
    """Stop a run after `step` optimizer steps, as a crash or a pre-empted job would (same config, same schedule)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: Trainer, *args: Any) -> None:
        if trainer.global_step >= self.step:
            trainer.should_stop = True


def _fit(root: Path, source: Any, steps: int = 9, stop_at: int | None = None,
         ckpt_path: str | None = None) -> AHNPLModule:
    """A 9-step fit (6 batches per epoch, so it crosses into epoch 1), optionally stopped after `stop_at` steps with a
    checkpoint there."""
    seed_everything(3)
    module = AHNPLModule(lr=2e-3, warmup_steps=2)
    data = AHNPLDataModule(source, batch_size=4, num_workers=0, seed=3)
    callbacks: list[Callback] = []
    if stop_at is not None:
        callbacks = [Interrupt(stop_at), ModelCheckpoint(dirpath=root / "ckpt", every_n_train_steps=stop_at,
                                                         save_top_k=-1, filename="{step}")]
    trainer = Trainer(accelerator="cpu", devices=1, max_steps=steps, limit_val_batches=0, logger=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(root),
                      enable_checkpointing=bool(callbacks), callbacks=callbacks)
    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    assert trainer.global_step == (stop_at or steps)
    return module


def _compare(resumed: AHNPLModule, reference: AHNPLModule) -> None:
    state, expected = resumed.state_dict(), reference.state_dict()
    assert state.keys() == expected.keys()
    margin = [key for key in state if key.startswith("loss.")]
    assert margin, "no margin state in the module"
    for key, value in expected.items():
        torch.testing.assert_close(state[key], value, atol=1e-6, rtol=0, msg=key)


@pytest.mark.parametrize("name", ["world", "negclip"])
def test_resume_mid_epoch_equals_the_uninterrupted_run(tmp_path: Path, name: str) -> None:
    if name == "world":
        def source() -> Any:
            return WorldSource(train_size=24, val_size=0)
    else:  # NegCLIP rows with random hard-caption and image-negative draws
        (tmp_path / "data").mkdir()
        fx = negclip_fixture(tmp_path / "data", rows=24, missing_every=1000)

        def source() -> Any:
            return NegCLIPSource(str(fx["annotations"]), str(fx["image_root"]), negatives="source",
                                 image_negatives=1)
    reference = _fit(tmp_path / "ref", source())
    interrupted = _fit(tmp_path / "a", source(), stop_at=4)  # mid-epoch 0
    with pytest.raises(AssertionError):  # the comparison can tell runs apart: 4 steps are not 9
        _compare(interrupted, reference)
    resumed = _fit(tmp_path / "b", source(), ckpt_path=str(tmp_path / "a" / "ckpt" / "step=4.ckpt"))
    _compare(resumed, reference)


def test_augmentation_is_random_per_epoch_and_fixed_per_sample_and_epoch() -> None:
    """The crop differs between epochs (so resuming must restore it) and is the same for a (seed, epoch, index)."""
    data = AHNPLDataModule(WorldSource(train_size=8, val_size=0), batch_size=4, seed=1)
    data.setup("fit")
    dataset = data.train_set
    assert dataset is not None
    torch.manual_seed(123)
    first = dataset[(5, 0)]["images"]
    torch.manual_seed(456)  # the global generator does not matter
    assert torch.equal(dataset[(5, 0)]["images"], first)
    assert not torch.equal(dataset[(5, 1)]["images"], first)
