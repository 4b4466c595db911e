"""The synthetic compositional world as a caption source (the default)."""

from __future__ import annotations

from typing import Any, ClassVar

from torch.utils.data import Dataset

from ahnpl_lightning.data.sources.base import CaptionSource


class WorldSource(CaptionSource):
    """The synthetic compositional world: captions always true, negatives verified false.

    `image_negatives`: render, for each text negative, the counterfactual scene that makes it true (real image hard
    negatives aligned with the K types; `image_negative_mask` in the batch says which exist).
    """

    supports_image_negatives: ClassVar[bool] = True

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

    @property
    def has_image_negatives(self) -> bool:
        return bool(self.image_negatives)

    def request_image_negatives(self) -> None:
        self.image_negatives = True

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
