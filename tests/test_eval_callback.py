"""`CompositionalEvalCallback` during a short fit: runs every N epochs and at the end, logs `eval/<bench>/<subset>`."""

from __future__ import annotations

import json

import lightning as L
import pytest
import torch
from _eval_helpers import build_sugarcrepe, build_winoground
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.data import DataLoader, TensorDataset

from ahnpl_lightning.evaluation import CompositionalEvalCallback
from ahnpl_lightning.model import create_model_and_transforms


class StandIn(L.LightningModule):
    """The attributes the callback relies on (`model`, `preprocess_val`, `tokenizer`) and a trivial loss."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        bundle = create_model_and_transforms("AHNPL-Tiny-64", pretrained=None)
        self.model, self.preprocess_val, self.tokenizer = bundle.model, bundle.preprocess_val, bundle.tokenizer

    def training_step(self, batch, batch_idx):
        return self.model.encode_image(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.model.parameters(), lr=1e-3)


def test_callback_logs_eval_tags_during_fit(tmp_path):
    build_sugarcrepe(tmp_path / "data")
    build_winoground(tmp_path / "data")
    cb = CompositionalEvalCallback(["sugarcrepe", "winoground", "valse"], str(tmp_path / "data"), every_n_epochs=2,
                                   batch_size=4, limit={"winoground": 2})
    logger = TensorBoardLogger(str(tmp_path), name="tb", version=0)
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=3, limit_train_batches=1, logger=logger,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, default_root_dir=str(tmp_path), callbacks=[cb])
    data = DataLoader(TensorDataset(torch.rand(2, 3, 64, 64)), batch_size=2)
    module = StandIn()
    trainer.fit(module, data)

    # epoch index 1 (every 2nd epoch), then the end of fit (step 3 differs from step 2; current_epoch is 3 by then)
    assert [(h["epoch"], h["global_step"]) for h in cb.history] == [(1, 2), (3, 3)]
    assert set(cb.history[0]["benchmarks"]) == {"sugarcrepe", "winoground"}  # valse absent: skipped
    assert cb.history[0]["benchmarks"]["winoground"]["subsets"]["text"]["count"] == 2  # limit applied
    assert module.model.training
    expected = {"eval/sugarcrepe/replace_obj", "eval/sugarcrepe/replace", "eval/sugarcrepe/replace_obj@held_out",
                "eval/winoground/group", "eval/winoground/Object/text"}
    assert expected <= set(trainer.callback_metrics)
    last = cb.history[-1]["benchmarks"]["sugarcrepe"]["summary"]["replace"]["accuracy"]
    events = EventAccumulator(str(tmp_path / "tb" / "version_0"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert expected <= tags
    steps = [e.step for e in events.Scalars("eval/sugarcrepe/replace")]
    assert len(steps) == 2 and steps[-1] == 3
    assert events.Scalars("eval/sugarcrepe/replace")[-1].value == pytest.approx(last)
    saved = sorted((tmp_path / "tb" / "version_0" / "eval").glob("*.json"))
    assert [p.name for p in saved] == ["epoch=1-step=2.json", "epoch=3-step=3.json"]
    assert json.loads(saved[-1].read_text())["benchmarks"] == cb.history[-1]["benchmarks"]


def test_callback_rejects_unknown_benchmark():
    with pytest.raises(ValueError, match="unknown benchmark"):
        CompositionalEvalCallback(["nope"], "/data")
