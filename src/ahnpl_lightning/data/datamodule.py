"""AHNPLDataModule: a caption source -> batches of images, caption tokens, K negative tokens and a validity mask."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_warn
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from typing_extensions import override

from ahnpl_lightning.data.sources import CaptionSource, WorldSource

NEGATIVE_TYPES: tuple[str, ...] = ("relation", "adj_swap", "adj", "noun", "verb")


class TripletDataset(Dataset[dict[str, Any]]):
    """Applies the image transform and tokenizer to a source's samples; unreadable samples become skip markers."""

    def __init__(
        self,
        base: Dataset[dict[str, Any]],
        transform: Callable[[Image.Image], Tensor],
        tokenizer: Callable[[list[str]], Tensor],
        negative_types: Sequence[str] = NEGATIVE_TYPES,
        image_negatives: bool = False,
    ) -> None:
        self.base = base
        self.transform = transform
        self.tokenizer = tokenizer
        self.negative_types = tuple(negative_types)
        self.image_negatives = image_negatives

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
        tokens = self.tokenizer([caption] + [t if ok else "" for t, ok in zip(texts, mask.tolist())])
        tokens[1:][~mask] = 0
        item = {
            "images": self.transform(sample["image"]),
            "captions": tokens[0],
            "negatives": tokens[1:],
            "negative_mask": mask,
        }
        if self.image_negatives:
            item["image_negatives"] = self._image_negatives(sample, item["images"], mask)
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


def collate_triplets(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack the good samples; keep the skip markers (kind, location) so they are counted and reported."""
    good = [s for s in samples if "skipped" not in s]
    skipped = [(s["skipped"], s["location"]) for s in samples if "skipped" in s]
    batch: dict[str, Any] = {}
    if good:
        batch = {key: torch.stack([s[key] for s in good]) for key in good[0]}
    batch["skipped"] = skipped
    return batch


class AHNPLDataModule(LightningDataModule):
    """Batches of (images [B,3,H,W], captions [B,L], negatives [B,K,L], negative_mask [B,K]) from a `source`,
    plus `image_negatives` [B,K,3,H,W] when the source renders them. Transforms and tokenizer are the trained
    open_clip model's own (taken from the LightningModule at setup; from `model_name` when used alone)."""

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
        self.skipped: Counter[str] = Counter()
        self.train_set: TripletDataset | None = None
        self.val_set: TripletDataset | None = None

    def _model_parts(self) -> tuple[Callable, Callable, Callable]:
        module = self.trainer.lightning_module if self.trainer is not None else None
        if module is not None and hasattr(module, "tokenizer"):
            return module.preprocess_train, module.preprocess_val, module.tokenizer
        from ahnpl_lightning.model import TINY_MODEL, create_model_and_transforms

        bundle = create_model_and_transforms(self.model_name or TINY_MODEL)
        return bundle.preprocess_train, bundle.preprocess_val, bundle.tokenizer

    @override
    def prepare_data(self) -> None:
        self.source.prepare()

    @override
    def setup(self, stage: str | None = None) -> None:
        train_tf, val_tf, tokenizer = self._model_parts()
        wrap = lambda base, tf: TripletDataset(base, tf, tokenizer, self.negative_types, self.image_negatives)  # noqa: E731
        if self.train_set is None and stage in (None, "fit"):
            self.train_set = wrap(self.source.train_dataset(), train_tf)
        if self.val_set is None and stage in (None, "fit", "validate", "test"):
            val = self.source.val_dataset()
            self.val_set = wrap(val, val_tf) if val is not None else None

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=collate_triplets,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            drop_last=shuffle,
        )

    @override
    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None, "call setup('fit') first"
        return self._loader(self.train_set, shuffle=True)

    @override
    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self.val_set, shuffle=False) if self.val_set is not None else []

    @override
    def test_dataloader(self) -> DataLoader | list:
        return self.val_dataloader()

    @override
    def on_before_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        for kind, location in batch.pop("skipped", []):
            self.skipped[kind] += 1
            rank_zero_warn(f"skipped a bad sample ({kind}) at {location}")
        return batch
