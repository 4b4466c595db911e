"""AHNPLDataModule: a caption source -> batches of images, caption tokens, K negative tokens and validity masks.

Shuffling is a pure function of (seed, epoch) and sharded over DDP ranks by `EpochSampler` (a `DistributedSampler`,
so Lightning does not wrap it again); each sample's augmentation and random draws are seeded by (seed, epoch, index)
(`TripletDataset`); the DataModule's `state_dict` records the epoch and the samples consumed, so a run resumed from a
mid-epoch checkpoint continues with exactly the rest of that epoch, and on the CPU equals the uninterrupted run.

Bad input is counted per kind with example locations (`skipped`, `data/skipped_<kind>` in the logger). A run fails
(a `DataError` naming files and counts) when the data cannot train anything: an annotation file with no usable rows
or with more malformed rows than `max_skip_fraction`, an image folder holding none of the sampled images, or an
epoch that skips more than `max_skip_fraction` of its samples (`health.DataHealthCheck` adds the no-step check).

Under DDP an unreadable sample stays in its batch as a blank row (`sample_mask` False, see `triplets`), so every rank
always runs every step with an equally sized batch; the skip budget and the failure messages use the counts summed
over the ranks, so a run that must fail fails on every rank alike instead of leaving the others waiting.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Dataset
from typing_extensions import override

from ahnpl_lightning.data.errors import AnnotationError, MissingDataError, TrainingDataError
from ahnpl_lightning.data.health import (SkipCounts, distributed, gather_objects, host_group, log_skip_counts,
                                         skip_summary, sum_over_ranks)
from ahnpl_lightning.data.sampler import EpochSampler
from ahnpl_lightning.data.sources import CaptionSource, WorldSource
from ahnpl_lightning.data.triplets import TripletDataset, collate_triplets
from ahnpl_lightning.images import LEGACY_PROBLEM_NAMES
from ahnpl_lightning.types import NEGATIVE_TYPES

__all__ = ["NEGATIVE_TYPES", "AHNPLDataModule", "EpochSampler", "TripletDataset", "collate_triplets"]

#: Sample images `setup()` looks for before training (spread over the dataset); none existing fails the run.
PROBE_IMAGES = 16
EXAMPLES_PER_KIND = 5


class AHNPLDataModule(LightningDataModule):
    """Batches of (images [B,3,H,W], captions [B,L], negatives [B,K,L], negative_mask [B,K], index [B]) from a
    `source`, plus `image_negatives` [B,K,3,H,W] with `image_negative_mask` [B,K] when the world renders them and
    NegCLIP's extra rows (`neg_images` [B,M,3,H,W], `neg_image_captions` [B,M,L], `neg_image_mask` [B,M],
    `neg_image_negatives` [B,M,K,L], `neg_image_negative_mask` [B,M,K]). Transforms and tokenizer are the trained
    open_clip model's own (taken from the LightningModule at setup; from `model_name` when used alone).

    Image negatives are switched on the source (`WorldSource.image_negatives`, `NegCLIPSource.image_negatives`);
    `image_negatives` here is the deprecated spelling (True asks the source for them and fails naming a source that
    has none). `seed` (None: the `seed_everything` seed) fixes each epoch's order, augmentation and draws;
    `pretokenize` (None: when the data has at most `PRETOKENIZE_LIMIT` strings) tokenises every caption and
    negative once at setup. `max_skip_fraction`: the share of an epoch's samples (or of an annotation file's rows)
    that may be skipped before the run fails.
    """

    def __init__(
        self,
        source: CaptionSource | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        negative_types: tuple[str, ...] = NEGATIVE_TYPES,
        image_negatives: bool | None = None,
        pin_memory: bool = True,
        persistent_workers: bool = True,
        model_name: str | None = None,
        seed: int | None = None,
        pretokenize: bool | None = None,
        max_skip_fraction: float = 0.5,
    ) -> None:
        super().__init__()
        if not 0.0 <= max_skip_fraction <= 1.0:
            raise ValueError(f"max_skip_fraction must be in [0, 1], got {max_skip_fraction}")
        self.source = source if source is not None else WorldSource()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.negative_types = tuple(negative_types)
        self.image_negatives = image_negatives
        if image_negatives is not None:
            warnings.warn("AHNPLDataModule(image_negatives=...) is deprecated and will be removed in the next "
                          "release: image negatives are switched on the source (WorldSource.image_negatives, "
                          "NegCLIPSource.image_negatives)", DeprecationWarning, stacklevel=2)
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        self.model_name = model_name
        self.seed = seed
        self.pretokenize = pretokenize
        self.max_skip_fraction = max_skip_fraction
        self.skipped: SkipCounts = SkipCounts()  # this rank's counts (see `all_ranks_skips` for the run's)
        self.examples: dict[str, list[str]] = {}
        self._shared: SkipCounts = SkipCounts()  # counted alike by every rank: the source's unusable rows
        self.train_set: TripletDataset | None = None
        self.val_set: TripletDataset | None = None
        self.train_sampler: EpochSampler | None = None
        self._resume: dict[str, int] | None = None
        self._reported: SkipCounts = SkipCounts()
        self._epoch: tuple[int, int, int] = (-1, 0, 0)  # (epoch, samples skipped, samples seen) of training

    @property
    def has_image_negatives(self) -> bool:
        """Whether batches carry image hard negatives (derived from the source)."""
        return self.source.has_image_negatives and self.image_negatives is not False

    def _model_parts(self) -> tuple[Callable, Callable, Callable]:
        module = self.trainer.lightning_module if self.trainer is not None else None
        if module is not None and hasattr(module, "tokenizer"):
            return module.preprocess_train, module.preprocess_val, module.tokenizer
        from ahnpl_lightning.model import TINY_MODEL, create_model_and_transforms

        bundle = create_model_and_transforms(self.model_name or TINY_MODEL)
        return bundle.preprocess_train, bundle.preprocess_val, bundle.tokenizer

    def _rank(self) -> tuple[int, int]:
        """(global rank, world size) of this process: the Trainer's, else (0, 1)."""
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    @override
    def prepare_data(self) -> None:
        self.source.check()
        self.source.prepare()

    @override
    def setup(self, stage: str | None = None) -> None:
        if distributed():
            host_group()  # made here, on every rank at the same point, before any count is summed over ranks
        self.source.check()
        if self.image_negatives:
            self.source.request_image_negatives()  # fails, naming the source, when it has none
        train_tf, val_tf, tokenizer = self._model_parts()

        def wrap(base: Dataset, transform: Callable, train: bool) -> TripletDataset:
            return TripletDataset(base, transform, tokenizer, self.negative_types,
                                  False if self.image_negatives is False else None, self.pretokenize,
                                  seed=self._seed(), per_epoch=train)

        if self.train_set is None and stage in (None, "fit"):
            self.train_set = wrap(self._checked(self.source.train_dataset(), "train"), train_tf, True)
        if self.val_set is None and stage in (None, "fit", "validate", "test"):
            val = self.source.val_dataset()
            self.val_set = wrap(self._checked(val, "val"), val_tf, False) if val is not None else None
        self._report_source_issues()

    def _checked(self, dataset: Dataset, split: str) -> Dataset:
        """Fail fast on data that cannot train: no samples, mostly malformed rows, or none of the sampled images."""
        where = self.source.describe(split)
        if len(dataset) == 0:  # type: ignore[arg-type]
            raise AnnotationError(f"{where}: no usable samples (a header-only or empty file, every row malformed, or "
                                  "no records of the selected splits)")
        for report in self.source.reports():
            if report.rows and report.n_malformed > self.max_skip_fraction * report.rows:
                raise AnnotationError(f"{report.n_malformed} of the {report.rows} rows of {report.path} are "
                                      f"malformed (more than max_skip_fraction = {self.max_skip_fraction:g}):\n"
                                      f"{report.summary(3)}")
        if hasattr(dataset, "image_file"):
            self._probe_images(dataset, where)
        return dataset

    def _probe_images(self, dataset: Any, where: str) -> None:
        """Resolve a few sample images spread over `dataset`; none existing means a wrong image root."""
        n = len(dataset)
        count = min(n, PROBE_IMAGES)
        picks = sorted({round(i * (n - 1) / max(1, count - 1)) for i in range(count)})
        paths = [dataset.image_file(i) for i in picks]
        if any(p is not None and p.is_file() for p in paths):
            return
        shown = [str(p) if p is not None else "(no image path)" for p in paths[:3]]
        hint = _image_root_hint(getattr(dataset, "image_root", None), dataset.image_paths[picks[0]])
        raise MissingDataError(f"{where}: none of {len(paths)} sample images exists, e.g. {', '.join(shown)}; "
                               f"check image_root{hint}")

    def _report_source_issues(self) -> None:
        """Count the rows the source found unusable (malformed, out-of-range `neg_image`...) once, with locations."""
        lines = []
        for kind, locations in sorted(self.source.issues().items()):
            new = locations[self._reported[kind]:]
            if not new:
                continue
            self._reported[kind] += len(new)
            self._shared[kind] += len(new)
            self._count(kind, new, len(new))
            more = f" (+{len(new) - 5} more)" if len(new) > 5 else ""
            lines.append(f"  {kind}: {len(new)} at {', '.join(new[:5])}{more}")
        if lines:
            rank_zero_warn("skipped unusable rows of the data source:\n" + "\n".join(lines))

    def _count(self, kind: str, locations: list[str], count: int) -> None:
        self.skipped[kind] += count
        examples = self.examples.setdefault(kind, [])
        examples.extend(locations[: EXAMPLES_PER_KIND - len(examples)])

    def _seed(self) -> int:
        return self.seed if self.seed is not None else int(os.environ.get("PL_GLOBAL_SEED", 0))

    def _loader(self, dataset: TripletDataset, sampler: EpochSampler, drop_last: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=partial(collate_triplets, blank=dataset.blank()),  # unreadable samples become blank rows
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            drop_last=drop_last,
        )

    @override
    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None, "call setup('fit') first"
        rank, world_size = self._rank()
        self.train_sampler = EpochSampler(len(self.train_set), shuffle=True, seed=self._seed(), rank=rank,
                                          world_size=world_size, keys=True)
        if self._resume is not None:
            self.train_sampler.load_state_dict(self._resume)
            self._resume = None
        return self._loader(self.train_set, self.train_sampler, drop_last=True)

    @override
    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None:
            return []
        rank, world_size = self._rank()
        if len(self.val_set) % world_size:
            rank_zero_warn(f"validation: {len(self.val_set) % world_size} of {len(self.val_set)} samples left out to "
                           f"give {world_size} ranks equal shards (no duplicates)")
        sampler = EpochSampler(len(self.val_set), shuffle=False, rank=rank, world_size=world_size)
        return self._loader(self.val_set, sampler, drop_last=False)

    @override
    def test_dataloader(self) -> DataLoader | list:
        return self.val_dataloader()

    @override
    def on_before_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        skipped, issues = batch.pop("skipped", []), batch.pop("issues", [])
        for kind, location in [*skipped, *issues]:
            self._count(kind, [location], 1)
            if self.skipped[kind] <= EXAMPLES_PER_KIND:  # the first few of each kind; all are counted
                more = " (further ones are counted, not shown)" if self.skipped[kind] == EXAMPLES_PER_KIND else ""
                rank_zero_warn(f"skipped a bad sample ({kind}) at {location}{more}")
        trainer = self.trainer
        if trainer is not None and trainer.training:
            good = batch.get("valid_samples", batch["images"].shape[0] if "images" in batch else 0)
            self._budget(len(skipped), len(skipped) + int(good))
        return batch

    def _budget(self, skipped: int, seen: int) -> None:
        """Count this training batch against the epoch's skip budget; fail once the epoch can no longer keep it.

        Under DDP the epoch's skips are summed over the ranks at every batch (one small host-side all-reduce, no
        accelerator involved), so every rank fails at the same batch or none does."""
        assert self.trainer is not None
        epoch = self.trainer.current_epoch
        if self._epoch[0] != epoch:
            self._epoch = (epoch, 0, 0)
        self._epoch = (epoch, self._epoch[1] + skipped, self._epoch[2] + seen)
        batches = self.trainer.num_training_batches
        world_size = self._rank()[1]
        planned = batches * self.batch_size * world_size if batches != float("inf") else len(self.train_set or [])
        total = sum_over_ranks([self._epoch[1]])[0]
        if total > self.max_skip_fraction * planned:
            self.fail(f"{total} training samples of epoch {epoch} were skipped, more than "
                      f"max_skip_fraction = {self.max_skip_fraction:g} of its {int(planned)} samples")

    def epoch_skips(self) -> tuple[int, int]:
        """(training samples skipped, training samples seen) in the current epoch."""
        if self.trainer is not None and self._epoch[0] != self.trainer.current_epoch:
            return 0, 0
        return self._epoch[1], self._epoch[2]

    def fail(self, reason: str) -> None:
        """Log the skip counts, then raise a `TrainingDataError` with them, example locations and what to check.

        Under DDP the counts and examples are those of every rank (a collective): call it on every rank alike."""
        skipped, examples = self.all_ranks_skips()
        if self.trainer is not None:
            log_skip_counts(self.trainer, skipped)
        counts = skip_summary(skipped, examples) or "  (no sample was skipped)"
        raise TrainingDataError(f"{reason}.\nSkipped so far, by kind:\n{counts}\nData: {self.source.describe('train')}"
                                "\nFix the paths or the files (or raise data.init_args.max_skip_fraction).")

    def all_ranks_skips(self) -> tuple[SkipCounts, dict[str, list[str]]]:
        """The run's skip counts and example locations: this process's alone, or under DDP summed over the ranks
        (the source's unusable rows, which every rank finds alike, counted once). A collective under DDP."""
        if not distributed():
            return SkipCounts(self.skipped), {kind: list(found) for kind, found in self.examples.items()}
        parts = gather_objects((dict(self.skipped), dict(self._shared), self.examples))
        total = SkipCounts(parts[0][1])
        examples: dict[str, list[str]] = {}
        for skipped, shared, found in parts:
            for kind, count in skipped.items():
                total[kind] += count - shared.get(kind, 0)
            for kind, locations in found.items():
                merged = examples.setdefault(kind, [])
                merged.extend(location for location in locations if location not in merged)
        return SkipCounts({kind: count for kind, count in total.items() if count}), examples

    def log_skips(self) -> None:
        """Write the run's skip counts (`all_ranks_skips`) to the loggers now. A collective under DDP."""
        skipped, _ = self.all_ranks_skips()
        if self.trainer is not None:
            log_skip_counts(self.trainer, skipped)

    def _position(self) -> tuple[int, bool]:
        """(training samples of the current epoch consumed on this rank, whether the epoch is over).

        While fitting this comes from the fit loop's progress (batches processed; worker prefetching does not
        count), else from the samples the sampler handed out. `limit_train_batches` ends an epoch early.
        """
        assert self.train_sampler is not None
        trainer = self.trainer
        if trainer is not None and trainer.state.fn == "fit":
            batches = trainer.fit_loop.epoch_loop.batch_progress.current.processed
            return batches * self.batch_size, batches >= trainer.num_training_batches
        consumed = self.train_sampler.position
        return consumed, consumed >= len(self.train_sampler) // self.batch_size * self.batch_size

    @override
    def state_dict(self) -> dict[str, Any]:
        """The training order's position (epoch, samples consumed on each rank), skip counts and examples.

        Under DDP the counts are the run's (summed over ranks; Lightning calls this on every rank when it writes a
        checkpoint), and a resume gives them to rank 0 alone, so sums over ranks stay exact."""
        skipped, examples = self.all_ranks_skips()
        epoch_skips = [self._epoch[0], *sum_over_ranks(self._epoch[1:])]
        state: dict[str, Any] = {"skipped": dict(skipped), "shared": dict(self._shared),
                                 "reported": dict(self._reported), "examples": examples, "epoch_skips": epoch_skips}
        if self.train_sampler is not None:
            consumed, epoch_over = self._position()
            sampler_state = self.train_sampler.state_dict(consumed)
            if epoch_over:  # resume at the start of the next epoch
                sampler_state.update(epoch=sampler_state["epoch"] + 1, start=0)
            state["sampler"] = sampler_state
        elif self._resume is not None:
            state["sampler"] = dict(self._resume)
        return state

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore skip counts (pre-0.2 kind names renamed) and the order's position (applied to the next loader)."""
        rename = LEGACY_PROBLEM_NAMES.get
        self.skipped = SkipCounts({rename(k, k): v for k, v in state_dict.get("skipped", {}).items()})
        self._shared = SkipCounts({rename(k, k): v for k, v in state_dict.get("shared", {}).items()})
        self._reported = SkipCounts(state_dict.get("reported", {}))
        self.examples = {rename(k, k): list(v) for k, v in state_dict.get("examples", {}).items()}
        epoch = state_dict.get("epoch_skips")
        self._epoch = (int(epoch[0]), int(epoch[1]), int(epoch[2])) if epoch else (-1, 0, 0)
        if distributed() and self._rank()[0] != 0:  # the saved counts are the run's: rank 0 carries them on
            self.skipped = SkipCounts(self._shared)
            self.examples = {kind: found for kind, found in self.examples.items() if kind in self._shared}
            self._epoch = (self._epoch[0], 0, 0)
        self._resume = state_dict.get("sampler")
        if self._resume is not None and self.train_sampler is not None:
            self.train_sampler.load_state_dict(self._resume)
            self._resume = None


def _image_root_hint(root: Path | None, relative: str | None) -> str:
    """' (the images are under X: use that)' when the first sample's image exists one level off `root`."""
    if root is None or not relative:
        return f" ({root})" if root is not None else ""
    candidates = [root.parent]
    if root.is_dir():
        candidates += sorted(p for p in root.iterdir() if p.is_dir())[:50]
    for folder in candidates:
        if (folder / relative).is_file():
            return f" ({root}): {relative} exists under {folder}; set image_root to that folder"
    return f" ({root}; looked for paths such as {relative})"
