"""A run that trains on nothing must not look like a success: skip budget, skip logging, and the no-step check.

`AHNPLDataModule` counts every skipped sample by kind (with example locations) and fails fast once an epoch's skips
exceed `max_skip_fraction` of its samples. `DataHealthCheck` (installed by `AHNPLModule.configure_callbacks`) adds
what only the loop can see: the share skipped among the samples an epoch actually saw (an epoch cut short by
`max_steps`), an epoch or a run that processed batches but completed no optimizer step, and skip counts written to
the loggers even when no batch succeeded (the module logs them only from successful steps).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from typing_extensions import override

from ahnpl_lightning.images import LEGACY_PROBLEM_NAMES

__all__ = ["DataHealthCheck", "SkipCounts", "log_skip_counts", "skip_summary"]


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


class DataHealthCheck(Callback):
    """Fail a fit that skipped more than the DataModule's `max_skip_fraction` of an epoch, or completed no step.

    Works with any DataModule exposing `epoch_skips()` (an `AHNPLDataModule`); does nothing otherwise.
    """

    def __init__(self) -> None:
        self._batches = 0  # training batches this fit ran (a resumed fit counts from its resumption)
        self._trained = 0  # ... of which produced a loss (Lightning still counts a step for a batch without one)
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
        if _has_loss(outputs):  # `training_step` returned a loss: the optimizer had something to step on
            self._trained += 1
            self._epoch_trained += 1
        data = self._data(trainer)
        if data is not None and isinstance(batch, Mapping) and "images" not in batch:
            log_skip_counts(trainer, data.skipped)  # the module logs nothing for a batch without samples

    @override
    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        data = self._data(trainer)
        if data is None:
            return
        skipped, seen = data.epoch_skips()
        if seen and skipped > data.max_skip_fraction * seen:
            data.fail(f"{skipped} of the {seen} training samples of epoch {trainer.current_epoch} were skipped "
                      f"(more than max_skip_fraction = {data.max_skip_fraction:g} of them)")
        if seen and not self._epoch_trained:
            data.fail(f"epoch {trainer.current_epoch} processed {seen} samples but completed no optimizer step "
                      "(no batch produced a loss)")

    @override
    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        data = self._data(trainer)
        if data is not None and self._batches and not self._trained:
            data.fail(f"the run processed {self._batches} batches but completed no optimizer step (no batch produced "
                      "a loss); nothing was trained")
