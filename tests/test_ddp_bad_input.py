"""Bad input under DDP: two forked CPU processes (gloo) fitting a tiny NegCLIP-style source with unreadable images.

Before: one unreadable image on one rank gave the ranks unequal batches, and the loss's gathers either aborted
("Received data size doesn't match expected size") or silently paired the wrong rows; a rank whose whole batch was
unreadable skipped the step and left the others waiting; the skip budget failed one rank and left the other in a
collective. Now every rank runs every step on an equally sized batch (unreadable samples are blank rows, marked in
`sample_mask`), and every data-health decision is taken on counts summed over the ranks.

Each run writes, per rank, what that rank saw (`RankProbe`); a gloo timeout turns any hang into a failure.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.strategies import DDPStrategy

from ahnpl_lightning.data.datamodule import AHNPLDataModule
from ahnpl_lightning.data.errors import TrainingDataError
from ahnpl_lightning.data.sampler import EpochSampler
from ahnpl_lightning.data.sources import NegCLIPSource
from ahnpl_lightning.module import AHNPLModule
from tests._data_fixtures import make_image, unreadable_image

ROWS, BATCH, WORLD, SEED = 16, 4, 2, 0  # 2 ranks x 2 batches of 4 per epoch
HEADER = "\ttitle\tfilepath\tneg_caption\tneg_image"
COLLECTIVE_TIMEOUT = timedelta(seconds=120)  # a rank left waiting fails the test instead of hanging it


def shard(rank: int, epoch: int = 0) -> list[int]:
    """The training rows rank `rank` reads in `epoch`, in order (the DataModule's own sampler)."""
    return EpochSampler(ROWS, shuffle=True, seed=SEED, rank=rank, world_size=WORLD).shard(epoch)


def negclip_tsv(root: Path, unreadable: set[int]) -> Path:
    """A NegCLIP TSV of ROWS rows (each with one hard caption and neg_image rows), the images in `unreadable`
    written as bytes that are not an image."""
    lines = [HEADER]
    for k in range(ROWS):
        image = root / "images" / f"{k}.jpg"
        unreadable_image(image) if k in unreadable else make_image(image, k)
        negs = [(k + 1) % ROWS, (k + 2) % ROWS, (k + 3) % ROWS]
        lines.append(f"{k}\ta red cube number {k}.\timages/{k}.jpg\t['a cube red number {k}.']\t{negs}")
    path = root / "train.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


class RankProbe(pl.Callback):
    """Writes what each rank saw: its validation metrics, skip counts and step."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _write(self, trainer: pl.Trainer, name: str, payload: dict[str, Any]) -> None:
        if torch.distributed.is_initialized():  # a rank, not the launching parent
            (self.folder / f"{name}-rank{trainer.global_rank}.json").write_text(json.dumps(payload))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        self._write(trainer, "val", metrics)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        data = trainer.datamodule
        self._write(trainer, "end", {"skipped": dict(data.skipped), "global_step": trainer.global_step})



class ProbedDataModule(AHNPLDataModule):
    """Records, per rank, the `TrainingDataError` that rank raises (the forked ranks' own exception hooks never run:
    the launcher reports only the first failure and terminates the others), then lets every rank record before any
    exits. A rank that does not fail never records, and the gloo timeout ends the other's wait."""

    probe: Path

    def fail(self, reason: str) -> None:
        try:
            super().fail(reason)
        except TrainingDataError as exc:
            record = {"type": type(exc).__name__, "message": str(exc)}
            (self.probe / f"error-rank{self._rank()[0]}.json").write_text(json.dumps(record))
            torch.distributed.barrier()
            raise


def fit(tmp_path: Path, unreadable: set[int], max_skip_fraction: float = 0.5) -> dict[str, Any]:
    """A 2-process fit (one epoch, validation on the same rows) and what each rank wrote."""
    annotations = negclip_tsv(tmp_path, unreadable)
    source = NegCLIPSource(str(annotations), str(tmp_path), val_annotations=str(annotations), negatives="source",
                           image_negatives=1, negative_draw="first")
    data = ProbedDataModule(source, batch_size=BATCH, num_workers=0, seed=SEED, max_skip_fraction=max_skip_fraction)
    module = AHNPLModule(lr=1e-3, warmup_steps=1)
    probe = tmp_path / "probe"
    probe.mkdir()
    data.probe = probe
    trainer = pl.Trainer(
        accelerator="cpu", devices=WORLD, strategy=DDPStrategy(start_method="fork", timeout=COLLECTIVE_TIMEOUT),
        max_epochs=1, num_sanity_val_steps=0, enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=False, log_every_n_steps=1, default_root_dir=str(tmp_path),
        logger=TensorBoardLogger(str(tmp_path / "logs"), name="run"), callbacks=[RankProbe(probe)],
    )
    error: BaseException | None = None
    try:
        trainer.fit(module, datamodule=data)
    except Exception as exc:  # noqa: BLE001 - a failing rank surfaces here; the test decides
        error = exc
    out: dict[str, Any] = {"error": error, "logs": tmp_path / "logs"}
    for path in probe.glob("*.json"):
        out[path.stem] = json.loads(path.read_text())
    return out


def logged(logs: Path) -> dict[str, float]:
    from ahnpl_lightning.analysis import read_scalars

    folder = next(p.parent for p in logs.rglob("events.out.tfevents.*"))
    return read_scalars(folder).groupby("tag")["value"].max().to_dict()


def expected_skips(bad: set[int], rank: int) -> dict[str, int]:
    """What rank `rank` must count: its unreadable training and validation rows (validation takes rows rank,
    rank + 2, ... in order), and the readable ones whose NegCLIP image negative (the next row's image) is unreadable."""
    counts: Counter[str] = Counter()
    for k in [*shard(rank), *range(rank, ROWS, WORLD)]:
        if k in bad:
            counts["unreadable_image"] += 1
        elif (k + 1) % ROWS in bad:
            counts["neg_image_unreadable"] += 1
    return dict(counts)


@pytest.mark.parametrize("case", ["images_on_one_rank", "whole_batch_of_one_rank", "images_on_both_ranks",
                                  "all_validation_of_one_rank"])
def test_fit_with_unreadable_images_finishes_counts_them_and_syncs_validation(tmp_path: Path, case: str) -> None:
    rank0, rank1 = shard(0), shard(1)
    bad = {"images_on_one_rank": {rank1[0], rank1[BATCH + 1]}, "whole_batch_of_one_rank": set(rank1[:BATCH]),
           "images_on_both_ranks": {rank0[1], rank1[2], rank1[3]},
           "all_validation_of_one_rank": set(range(1, ROWS, WORLD))}[case]  # rank 1 validates on blank rows only
    run = fit(tmp_path, bad)
    assert run["error"] is None, run.get("error-rank0") or run.get("error-rank1") or run["error"]
    # both ranks ran every step (a rank with a blank batch too) and counted what they met
    assert run["end-rank0"]["global_step"] == run["end-rank1"]["global_step"] == ROWS // (BATCH * WORLD)
    for rank in range(WORLD):
        assert run[f"end-rank{rank}"]["skipped"] == expected_skips(bad, rank), rank
    # every rank holds the same synced validation metrics, all finite (blank rows count for nothing)
    val0, val1 = run["val-rank0"], run["val-rank1"]
    assert {"val/loss", "val/acc_i2t", "val/acc_hard_negative"} <= set(val0)
    assert val0 == pytest.approx(val1, abs=1e-6) and all(math.isfinite(v) for v in val0.values())
    # the logged counts are the run's (summed over the ranks), not rank 0's
    scalars = logged(run["logs"])
    for kind in ("unreadable_image", "neg_image_unreadable"):
        total = sum(expected_skips(bad, rank).get(kind, 0) for rank in range(WORLD))
        assert scalars.get(f"data/skipped_{kind}", 0) == total, kind


def test_skip_budget_fails_every_rank_alike(tmp_path: Path) -> None:
    """Every image of rank 1 unreadable, rank 0 clean: 8 of the epoch's 16 samples, over max_skip_fraction 0.4.
    Decided on rank 1's own counts, rank 1 would fail alone at its first batch and rank 0 would wait forever."""
    run = fit(tmp_path, set(shard(1)), max_skip_fraction=0.4)
    assert run["error"] is not None
    for rank in range(WORLD):
        error = run[f"error-rank{rank}"]
        assert error["type"] == "TrainingDataError", error
        assert "8 training samples of epoch 0 were skipped, more than max_skip_fraction = 0.4 of its 16" in (
            error["message"])
        assert "unreadable_image: 8, e.g. train.tsv:line" in error["message"]  # the run's count, with locations
    assert run["error-rank0"]["message"] == run["error-rank1"]["message"]


def test_no_optimizer_step_fails_every_rank_alike(tmp_path: Path) -> None:
    """Every image unreadable, skipping allowed (max_skip_fraction 1): both ranks run their blank batches, and both
    fail at the epoch end because nothing was trained."""
    run = fit(tmp_path, set(range(ROWS)), max_skip_fraction=1.0)
    assert run["error"] is not None
    for rank in range(WORLD):
        error = run[f"error-rank{rank}"]
        assert error["type"] == "TrainingDataError", error
        assert "epoch 0 processed 16 samples but completed no optimizer step" in error["message"]
        assert "unreadable_image: 32, e.g. train.tsv:line" in error["message"]  # training + validation, both ranks
    assert "end-rank0" not in run and "end-rank1" not in run


# ------------------------------------------------------------------------------------------ the command line, 2 ranks
# (about 15 s each on 2 shared cores)
def cli_fit(tmp_path: Path, bad: set[int], *extra: str) -> Any:
    """`lightning fit -c configs/ahnpl.yaml -c configs/data/negclip.yaml -c configs/trainer/ddp_cpu.yaml` on the tiny
    TSV, in its own session, killed after a timeout (`benchmarks.ddp.run_cli`)."""
    from benchmarks import ddp

    annotations = negclip_tsv(tmp_path, bad)
    src = "--data.init_args.source.init_args."
    args = ["fit", "-c", str(ddp.BASE), "-c", str(ddp.ROOT / "configs" / "data" / "negclip.yaml"), "-c",
            str(ddp.DDP_CPU), "--trainer.max_epochs=1", "--trainer.num_sanity_val_steps=0", "--trainer.callbacks=[]",
            "--trainer.enable_progress_bar=false", f"--trainer.default_root_dir={tmp_path / 'runs'}",
            f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}", "--data.init_args.num_workers=0",
            f"--data.init_args.batch_size={BATCH}", f"{src}annotations={annotations}", f"{src}image_root={tmp_path}",
            f"{src}val_annotations={annotations}", f"{src}negatives=source", f"{src}image_negatives=1",
            f"{src}negative_draw=first", *extra]
    return ddp.run_cli(args, tmp_path, timeout=300)


def test_cli_two_process_fit_with_unreadable_images_exits_zero(tmp_path: Path) -> None:
    bad = {shard(0)[1], *shard(1)[:BATCH]}  # one image of rank 0, the whole first batch of rank 1
    run = cli_fit(tmp_path, bad)
    assert run.ok, run.tail()
    assert "Starting with 2 processes" in run.output and "skipped a bad sample (unreadable_image)" in run.output
    scalars = logged(tmp_path / "logs")
    assert scalars["data/skipped_unreadable_image"] == 2 * len(bad)  # training + validation, summed over ranks
    assert math.isfinite(scalars["val/loss"]) and "val/acc_hard_negative" in scalars


def test_cli_two_process_fit_over_the_skip_budget_fails_on_both_ranks(tmp_path: Path) -> None:
    run = cli_fit(tmp_path, set(shard(1)), "--data.init_args.max_skip_fraction=0.4")
    assert run.returncode == 1, run.tail()  # not None: no rank was left waiting until the timeout
    message = "error: 8 training samples of epoch 0 were skipped, more than max_skip_fraction = 0.4 of its 16"
    assert run.output.count(message) == WORLD, run.tail()  # each rank says why, and neither with a traceback
    assert "Traceback" not in run.output
