"""Karpathy splits of COCO (or a BLIP-style Karpathy list) as a training source."""

from __future__ import annotations

from typing import Any, Literal

from torch.utils.data import Dataset

from ahnpl_lightning.data.formats import CaptionRecord
from ahnpl_lightning.data.sources.files import FileSource


class KarpathySource(FileSource):
    """Karpathy `dataset_coco.json` (splits inside) or a BLIP-style Karpathy JSON list (one file per split).

    Image paths are `<filepath>/<filename>` (Karpathy) or `image` (BLIP), relative to `image_root`. With a
    Karpathy file, training uses `train_splits` and validation `val_splits` of the same file unless
    `val_annotations` names another file.
    """

    expected = "Karpathy split JSON"

    def __init__(
        self,
        annotations: str,
        image_root: str,
        format: Literal["auto", "karpathy", "blip"] = "auto",  # noqa: A002 - the name the YAML uses
        train_splits: list[str] | None = None,
        val_splits: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(annotations, image_root, **kwargs)
        self.format = format  # type: ignore[misc]
        self.train_splits = list(train_splits) if train_splits is not None else ["train", "restval"]
        self.val_splits = list(val_splits) if val_splits is not None else ["val"]

    def _select(self, records: list[CaptionRecord], split: str) -> list[CaptionRecord]:
        wanted = self.train_splits if split == "train" else self.val_splits
        chosen = [r for r in records if r.split is None or r.split in wanted]
        return chosen[: self.limit] if self.limit is not None else chosen

    def describe(self, split: str) -> str:
        wanted = self.train_splits if split == "train" else self.val_splits
        return f"{super().describe(split)} (splits {wanted})"

    def val_dataset(self) -> Dataset[dict[str, Any]] | None:
        if self.val_annotations is not None:
            return super().val_dataset()
        records = self._records(self.annotations)
        if not any(r.split in self.val_splits for r in records):
            return None
        return self._dataset(self.annotations, self.image_root, self.negatives_cache, "val")
