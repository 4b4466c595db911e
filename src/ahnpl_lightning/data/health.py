"""A run that trains on nothing must not look like a success: skip budget, skip logging, and the no-step check.

`AHNPLDataModule` counts every skipped sample by kind (with example locations) and fails fast once an epoch's skips
exceed `max_skip_fraction` of its samples. `DataHealthCheck` (installed by `AHNPLModule.configure_callbacks`) adds
what only the loop can see: the share skipped among the samples an epoch actually saw (an epoch cut short by
`max_steps`), an epoch or a run that processed batches but completed no optimizer step, and skip counts written to
the loggers even when no batch succeeded (the module logs them only from successful steps).

Under DDP every decision is taken on counts summed over the ranks (a small collective on the host: `sum_over_ranks`),
so a run that must fail fails on every rank at the same point with the same message, and none is left waiting in a
collective for a rank that has gone; the skip counts logged are the run's, not rank 0's.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.distributed as dist
from lightning.pytorch import Callback, LightningModule, Trainer
from typing_extensions import override

from ahnpl_lightning.images import LEGACY_PROBLEM_NAMES

__all__ = ["DataHealthCheck", "SkipCounts", "distributed", "gather_objects", "host_group", "log_skip_counts",
           "skip_summary", "sum_over_ranks"]

_HOST_GROUP: list[Any] = [None, None]  # (the default group it was made for, the gloo group)


def distributed() -> bool:
    """Whether this process is one of several ranks."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def host_group() -> Any:
    """The process group for small host-side collectives (counts, messages), so they never touch an accelerator:
    the default group when its backend takes CPU tensors (gloo), else a gloo group made once per default group.
    Making it is itself a collective: call it on every rank at the same point (`AHNPLDataModule.setup` does)."""
    if "gloo" in str(dist.get_backend()).lower():
        return None
    world = dist.group.WORLD
    if _HOST_GROUP[0] is not world:
        _HOST_GROUP[:] = [world, dist.new_group(backend="gloo")]
    return _HOST_GROUP[1]


def sum_over_ranks(values: Sequence[int]) -> list[int]:
    """Element-wise sums of host integers over the ranks (the values themselves in one process). A collective under
    DDP: every rank must call it at the same point."""
    if not distributed():
        return [int(value) for value in values]
    tensor = torch.tensor([int(value) for value in values], dtype=torch.int64)
    dist.all_reduce(tensor, group=host_group())
    return [int(value) for value in tensor.tolist()]


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's `obj` (picklable), in rank order (`[obj]` in one process). A collective under DDP."""
    if not distributed():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj, group=host_group())
    return out


class SkipCounts(Counter):
    """Skip counts per kind; pre-0.2 kind names (`corrupt_image`) still read, with a `DeprecationWarning`."""

    def _alias(self, key: object) -> object:
        if key in LEGACY_PROBLEM_NAMES:
            warnings.warn(f"skip kind {key!r} is now called {LEGACY_PROBLEM_NAMES[key]!r}",  # type: ignore[index]
                          DeprecationWarning, stacklevel=3)
            return LEGACY_PROBLEM_NAMES[key]  # type: ignore[index]
        return key

    def __getitem__(self, key: object) -> int:
        return super().__getitem__(self._alias(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._alias(key))

    def get(self, key: object, default: Any = None) -> Any:
        return super().get(self._alias(key), default)


def skip_summary(counts: Mapping[str, int], examples: Mapping[str, list[str]], shown: int = 3) -> str:
    """One line per kind: count and the first example locations."""
    lines = []
    for kind, count in sorted(counts.items()):
        seen = examples.get(kind, [])[:shown]
        lines.append(f"  {kind}: {count}" + (f", e.g. {'; '.join(seen)}" if seen else ""))
    return "\n".join(lines)


def log_skip_counts(trainer: Trainer, counts: Mapping[str, int]) -> None:
    """Write `data/skipped_<kind>` to every logger now, at the current global step (works with no successful step)."""
    if not counts or not trainer.is_global_zero:
        return
    metrics = {f"data/skipped_{kind}": float(count) for kind, count in counts.items()}
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=trainer.global_step)
        logger.save()


def _has_loss(outputs: Any) -> bool:
    """Whether a training batch's outputs hold a loss (Lightning passes `{"loss": None}` for a step returning None)."""
    if isinstance(outputs, Mapping):
        return outputs.get("loss") is not None
    return outputs is not None


def _trained(outputs: Any, batch: Any) -> bool:
    """Whether a training batch gave the optimizer something to learn from on this rank: a loss and a sample (under
    DDP a rank whose samples were all unreadable still returns the global loss, on padding rows only)."""
    samples = batch.get("valid_samples") if isinstance(batch, Mapping) else None
    return _has_loss(outputs) and (not isinstance(samples, int) or samples > 0)


class DataHealthCheck(Callback):
    """Fail a fit that skipped more than the DataModule's `max_skip_fraction` of an epoch, or completed no step.

    Works with any DataModule exposing `epoch_skips()` (an `AHNPLDataModule`); does nothing otherwise. Under DDP the
    counts are summed over the ranks first, so every rank decides alike.
    """

    def __init__(self) -> None:
        self._batches = 0  # training batches this fit ran (a resumed fit counts from its resumption)
        self._trained = 0  # ... of which trained on a sample here (Lightning counts a step for a batch without one)
        self._epoch_trained = 0

    @staticmethod
    def _data(trainer: Trainer) -> Any:
        data = getattr(trainer, "datamodule", None)
        return data if data is not None and hasattr(data, "epoch_skips") else None

    @override
    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._batches = self._trained = 0

    @override
    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._epoch_trained = 0

    @override
    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._batches += 1
        trained = _trained(outputs, batch)
        if trained:  # the optimizer had something to step on
            self._trained += 1
            self._epoch_trained += 1
        data = self._data(trainer)
        if data is not None and not trained and not distributed():
            log_skip_counts(trainer, data.skipped)  # the module logs nothing for a batch without samples

    @override
    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        data = self._data(trainer)
        if data is None:
            return
        skipped, seen, trained = sum_over_ranks([*data.epoch_skips(), self._epoch_trained])
        if seen and skipped > data.max_skip_fraction * seen:
            data.fail(f"{skipped} of the {seen} training samples of epoch {trainer.current_epoch} were skipped "
                      f"(more than max_skip_fraction = {data.max_skip_fraction:g} of them)")
        if seen and not trained:
            data.fail(f"epoch {trainer.current_epoch} processed {seen} samples but completed no optimizer step "
                      "(no batch produced a loss)")
        if distributed():
            data.log_skips()

    @override
    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        data = self._data(trainer)
        if data is not None and distributed():  # alone, the module logs the counts with each step
            data.log_skips()

    @override
    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        data = self._data(trainer)
        if data is None:
            return
        batches, trained = sum_over_ranks([self._batches, self._trained])
        if batches and not trained:
            data.fail(f"the run processed {batches} batches but completed no optimizer step (no batch produced "
                      "a loss); nothing was trained")
