"""Caption sources: where (image, caption, hard negatives) samples come from. One class per source, one interface.

A source builds map-style datasets whose items are dicts:
`image` (PIL image), `caption` (str), `negatives` (dict type -> str | None), `location` (str, for error reports) and,
where the source has them, `image_negatives` (list aligned with the negative types) with
`image_negatives_valid` (list of bool).
A sample that cannot be read is returned as `{"skipped": kind, "location": ...}` so it is counted, never lost silently.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from torch.utils.data import Dataset


class CaptionSource(ABC):
    """Base class of the DataModule's `source` argument (chosen by `class_path` in YAML)."""

    has_image_negatives: bool = False

    def prepare(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Download-free preparation done once per node (e.g. building a negatives cache)."""

    @abstractmethod
    def train_dataset(self) -> Dataset[dict[str, Any]]:
        """The training samples."""

    def val_dataset(self) -> Dataset[dict[str, Any]] | None:
        """Held-out samples for validation loss and in-batch accuracy, if the source has them."""
        return None


class WorldSource(CaptionSource):
    """The synthetic compositional world (the default): captions always true, negatives verified false."""

    has_image_negatives = True

    def __init__(
        self,
        train_size: int = 8192,
        val_size: int = 512,
        image_size: int = 64,
        seed: int = 0,
        image_negatives: bool = False,
    ) -> None:
        self.train_size = train_size
        self.val_size = val_size
        self.image_size = image_size
        self.seed = seed
        self.image_negatives = image_negatives

    def _world(self) -> Any:
        from ahnpl_lightning.data.world import World

        return World(image_size=self.image_size, seed=self.seed)

    def train_dataset(self) -> Dataset[dict[str, Any]]:
        from ahnpl_lightning.data.world import WorldDataset

        return WorldDataset(self._world(), self.train_size, split="train", image_negatives=self.image_negatives)

    def val_dataset(self) -> Dataset[dict[str, Any]] | None:
        if self.val_size <= 0:
            return None
        from ahnpl_lightning.data.world import WorldDataset

        return WorldDataset(self._world(), self.val_size, split="val", image_negatives=self.image_negatives)
