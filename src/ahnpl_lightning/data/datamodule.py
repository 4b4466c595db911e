"""AHNPLDataModule: a caption source -> batches of images, caption tokens, K negative tokens and a validity mask.

Shuffling is a pure function of (seed, epoch) and sharded over DDP ranks by `EpochSampler` (a `DistributedSampler`,
so Lightning does not wrap it again); the DataModule's `state_dict` records the epoch and the samples consumed, so a
run resumed from a mid-epoch checkpoint continues with exactly the rest of that epoch's permutation.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_warn
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ahnpl_lightning.data.negatives import NEGATIVE_TYPES
from ahnpl_lightning.encoding import trim_token_columns
from ahnpl_lightning.data.sources import PRETOKENIZE_LIMIT, CaptionSource, WorldSource

from typing_extensions import override

__all__ = ["NEGATIVE_TYPES", "AHNPLDataModule", "EpochSampler", "TripletDataset", "collate_triplets"]


class TripletDataset(Dataset[dict[str, Any]]):
    """Applies the image transform and tokenizer to a source's samples; unreadable samples become skip markers.

    Items: `images [3,H,W]`, `captions [L]`, `negatives [K,L]`, `negative_mask [K]`, `index` (the dataset position),
    optionally `image_negatives [K,3,H,W]` (world counterfactuals) and `neg_images [M,3,H,W]`,
    `neg_image_captions [M,L]`, `neg_image_mask [M]` (NegCLIP image negatives), and `issues` (kind, location).
    """

    def __init__(
        self,
        base: Dataset[dict[str, Any]],
        transform: Callable[[Image.Image], Tensor],
        tokenizer: Callable[[list[str]], Tensor],
        negative_types: Sequence[str] = NEGATIVE_TYPES,
        image_negatives: bool = False,
        pretokenize: bool | None = None,
    ) -> None:
        self.base = base
        self.transform = transform
        self.tokenizer = tokenizer
        self.negative_types = tuple(negative_types)
        self.image_negatives = image_negatives
        strings = len(self) * (1 + len(self.negative_types))
        if hasattr(base, "pretokenize") and (pretokenize or (pretokenize is None and strings <= PRETOKENIZE_LIMIT)):
            base.pretokenize(tokenizer, self.negative_types)

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Any]:
        try:
            sample = self.base[index]
        except Exception as exc:  # noqa: BLE001 - a bad sample is reported, never crashes the epoch
            return {"skipped": type(exc).__name__, "location": f"sample {index}: {exc}"}
        if "skipped" in sample:
            return sample
        caption = sample["caption"]
        if not isinstance(caption, str) or not caption.strip():
            return {"skipped": "empty_caption", "location": sample.get("location", f"sample {index}")}
        negatives = sample.get("negatives") or {}
        texts = [negatives.get(t) for t in self.negative_types]
        mask = torch.tensor([isinstance(t, str) and bool(t.strip()) for t in texts], dtype=torch.bool)
        if "caption_tokens" in sample:
            caption_tokens, negative_tokens = sample["caption_tokens"], sample["negative_tokens"].clone()
        else:
            tokens = self.tokenizer([caption] + [t if ok else "" for t, ok in zip(texts, mask.tolist())])
            caption_tokens, negative_tokens = tokens[0], tokens[1:]
        negative_tokens[~mask] = 0
        item: dict[str, Any] = {
            "images": self.transform(sample["image"]),
            "captions": caption_tokens,
            "negatives": negative_tokens,
            "negative_mask": mask,
            "index": torch.tensor(index),
        }
        if self.image_negatives:
            item["image_negatives"] = self._image_negatives(sample, item["images"], mask)
        if "neg_images" in sample:
            self._neg_images(sample, item)
        if sample.get("issues"):
            item["issues"] = list(sample["issues"])
        return item

    def _image_negatives(self, sample: dict[str, Any], image: Tensor, mask: Tensor) -> Tensor:
        """[K,3,H,W] transformed counterfactual images; zeros where the negative (or its image) is invalid."""
        count = len(self.negative_types)
        images = sample.get("image_negatives") or [None] * count
        valid = sample.get("image_negatives_valid") or [picture is not None for picture in images]
        out = torch.zeros((count, *image.shape), dtype=image.dtype)
        for k, (picture, ok) in enumerate(zip(images[:count], valid[:count])):
            if ok and picture is not None and mask[k]:
                out[k] = self.transform(picture)
            else:
                mask[k] = False
        return out

    def _neg_images(self, sample: dict[str, Any], item: dict[str, Any]) -> None:
        """NegCLIP image negatives: transformed images, their captions' tokens, and which ones exist."""
        pictures, captions = sample["neg_images"], sample["neg_image_captions"]
        image = item["images"]
        valid = torch.tensor([p is not None and isinstance(c, str) for p, c in zip(pictures, captions)],
                             dtype=torch.bool)
        out = torch.zeros((len(pictures), *image.shape), dtype=image.dtype)
        for m, picture in enumerate(pictures):
            if valid[m]:
                out[m] = self.transform(picture)
        if "neg_image_tokens" in sample:
            tokens = sample["neg_image_tokens"].clone()
        else:
            tokens = self.tokenizer([c if ok else "" for c, ok in zip(captions, valid.tolist())])
        tokens[~valid] = 0
        item["neg_images"], item["neg_image_captions"], item["neg_image_mask"] = out, tokens, valid


def collate_triplets(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack the good samples; keep the skip markers and per-item issues (kind, location) as `skipped`."""
    good = [s for s in samples if "skipped" not in s]
    skipped = [(s["skipped"], s["location"]) for s in samples if "skipped" in s]
    for sample in good:
        skipped.extend(sample.pop("issues", []))
    batch: dict[str, Any] = {}
    if good:
        batch = {key: torch.stack([s[key] for s in good]) for key in good[0]}
        # One text pass encodes captions and negatives together: cut them to the batch's longest real sequence
        # here, on the CPU, so the training step needs no host-device sync to do it (encoding.py).
        trim_token_columns(batch, ("captions", "negatives", "neg_image_captions"))
    batch["skipped"] = skipped
    return batch


class EpochSampler(DistributedSampler):
    """Deterministic, resumable, rank-sharded order: epoch e's permutation is `randperm(n, seed + e)`.

    Rank r takes positions r, r + W, ... of the first n - n % W entries (W ranks): shards are disjoint and equal,
    with no padding duplicates; the n % W left over change every epoch. `start` skips the first samples of this
    rank's shard once (resumption); `set_epoch` to another epoch clears it.
    """

    def __init__(self, length: int, shuffle: bool = True, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        super().__init__(range(length), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed, drop_last=True)
        self.length = length
        self.start = 0
        self.position = 0  # samples of this epoch's shard handed out so far (for use without a Trainer)

    def shard(self, epoch: int) -> list[int]:
        """This rank's indices of epoch `epoch`, in order."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(self.length, generator=generator).tolist()
        else:
            order = list(range(self.length))
        usable = self.length - self.length % self.num_replicas
        return order[:usable][self.rank::self.num_replicas]

    def __len__(self) -> int:
        return self.length // self.num_replicas

    def __iter__(self) -> Iterator[int]:
        indices = self.shard(self.epoch)[self.start:]
        self.position, self.start = self.start, 0
        for index in indices:
            self.position += 1
            yield index

    def set_epoch(self, epoch: int) -> None:
        """Select epoch `epoch`'s permutation (a pending resume offset only applies to its own epoch)."""
        if epoch != self.epoch:
            self.start = 0
        self.epoch = epoch

    def state_dict(self, consumed: int | None = None) -> dict[str, int]:
        """Epoch, seed, sizes and samples consumed on this rank (`consumed`, else the samples handed out)."""
        return {"epoch": self.epoch, "start": self.position if consumed is None else consumed, "seed": self.seed,
                "length": self.length, "world_size": self.num_replicas}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue where `state` left off; a different dataset size or world size restarts that epoch."""
        self.epoch = int(state["epoch"])
        self.seed = int(state.get("seed", self.seed))
        same = state.get("length") == self.length and state.get("world_size") == self.num_replicas
        if not same:
            rank_zero_warn(f"resuming with {self.length} samples on {self.num_replicas} ranks, the checkpoint had "
                           f"{state.get('length')} on {state.get('world_size')}: epoch {self.epoch} restarts")
        self.start = int(state["start"]) if same else 0


class AHNPLDataModule(LightningDataModule):
    """Batches of (images [B,3,H,W], captions [B,L], negatives [B,K,L], negative_mask [B,K], index [B]) from a
    `source`, plus `image_negatives` [B,K,3,H,W] when the world renders them and `neg_images` [B,M,3,H,W],
    `neg_image_captions` [B,M,L], `neg_image_mask` [B,M] from NegCLIP. Transforms and tokenizer are the trained
    open_clip model's own (taken from the LightningModule at setup; from `model_name` when used alone).

    `seed` (None: the `seed_everything` seed) fixes each epoch's order; `pretokenize` (None: when the data has at
    most `PRETOKENIZE_LIMIT` strings) tokenises every caption and negative once at setup instead of per sample.
    """

    def __init__(
        self,
        source: CaptionSource | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        negative_types: tuple[str, ...] = NEGATIVE_TYPES,
        image_negatives: bool = False,
        pin_memory: bool = True,
        persistent_workers: bool = True,
        model_name: str | None = None,
        seed: int | None = None,
        pretokenize: bool | None = None,
    ) -> None:
        super().__init__()
        self.source = source if source is not None else WorldSource()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.negative_types = tuple(negative_types)
        self.image_negatives = image_negatives
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        self.model_name = model_name
        self.seed = seed
        self.pretokenize = pretokenize
        self.skipped: Counter[str] = Counter()
        self.train_set: TripletDataset | None = None
        self.val_set: TripletDataset | None = None
        self.train_sampler: EpochSampler | None = None
        self._resume: dict[str, int] | None = None
        self._reported: Counter[str] = Counter()

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
        self.source.check()
        train_tf, val_tf, tokenizer = self._model_parts()

        def wrap(base: Dataset, transform: Callable) -> TripletDataset:
            return TripletDataset(base, transform, tokenizer, self.negative_types, self.image_negatives,
                                  self.pretokenize)

        if self.train_set is None and stage in (None, "fit"):
            self.train_set = wrap(self.source.train_dataset(), train_tf)
        if self.val_set is None and stage in (None, "fit", "validate", "test"):
            val = self.source.val_dataset()
            self.val_set = wrap(val, val_tf) if val is not None else None
        self._report_source_issues()

    def _report_source_issues(self) -> None:
        """Count the rows the source found unusable (malformed, out-of-range `neg_image`...) once, with locations."""
        lines = []
        for kind, locations in sorted(self.source.issues().items()):
            new = locations[self._reported[kind]:]
            if not new:
                continue
            self._reported[kind] += len(new)
            self.skipped[kind] += len(new)
            more = f" (+{len(new) - 5} more)" if len(new) > 5 else ""
            lines.append(f"  {kind}: {len(new)} at {', '.join(new[:5])}{more}")
        if lines:
            rank_zero_warn("skipped unusable rows of the data source:\n" + "\n".join(lines))

    def _seed(self) -> int:
        return self.seed if self.seed is not None else int(os.environ.get("PL_GLOBAL_SEED", 0))

    def _loader(self, dataset: Dataset, sampler: EpochSampler, drop_last: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=collate_triplets,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            drop_last=drop_last,
        )

    @override
    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None, "call setup('fit') first"
        rank, world_size = self._rank()
        self.train_sampler = EpochSampler(len(self.train_set), shuffle=True, seed=self._seed(), rank=rank,
                                          world_size=world_size)
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
        for kind, location in batch.pop("skipped", []):
            self.skipped[kind] += 1
            rank_zero_warn(f"skipped a bad sample ({kind}) at {location}")
        return batch

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
        """The training order's position (epoch, samples consumed on each rank) and the skip counts."""
        state: dict[str, Any] = {"skipped": dict(self.skipped), "reported": dict(self._reported)}
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
        """Restore the skip counts and the order's position (applied when the train loader is next built)."""
        self.skipped = Counter(state_dict.get("skipped", {}))
        self._reported = Counter(state_dict.get("reported", {}))
        self._resume = state_dict.get("sampler")
        if self._resume is not None and self.train_sampler is not None:
            self.train_sampler.load_state_dict(self._resume)
            self._resume = None
