"""Torch datasets over a World: map-style (fixed length) and iterable (infinite, sharded by rank and worker)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from ahnpl_lightning.types import NEGATIVE_TYPES

from .core import World
from .render import blank_image


def make_item(world: World, index: int, split: str, image_negatives: bool) -> dict[str, Any]:
    """Item `index` of `split`: image, caption, scene, text negatives and optionally rendered image negatives.

    With `image_negatives`, `image_negatives[k]` is the counterfactual scene of negative type NEGATIVE_TYPES[k]
    rendered, and `image_negatives_valid[k]` says whether it exists; a missing one (no text negative, or no simple
    scene edit makes it true) is a background-only blank image with `image_negatives_valid[k] = False`.
    """
    sample = world.sample(index, split)
    scene, caption, negatives = sample["scene"], sample["caption"], sample["negatives"]
    item: dict[str, Any] = {
        "image": world.render(scene),
        "caption": caption,
        "scene": scene,
        "index": index,
        "negatives": negatives,
    }
    if image_negatives:
        images, valid = [], []
        for kind in NEGATIVE_TYPES:
            neg = negatives[kind]
            cf = world.counterfactual(scene, caption, neg) if neg is not None else None
            images.append(world.render(cf) if cf is not None else blank_image(world.image_size))
            valid.append(cf is not None)
        item["image_negatives"] = images
        item["image_negatives_valid"] = valid
    return item


class WorldDataset(Dataset):
    """`length` world items of `split`; item i is a pure function of (world seed, split, i) in any process."""

    def __init__(self, world: World, length: int, split: str = "train", image_negatives: bool = False) -> None:
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        world.scene(0, split)  # validates the split name early
        self.world = world
        self.length = length
        self.split = split
        self.image_negatives = image_negatives

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for WorldDataset of length {self.length}")
        return make_item(self.world, index, self.split, self.image_negatives)


def _distributed_rank() -> tuple[int, int]:
    """(rank, world_size) of the default process group, or (0, 1) outside distributed runs."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class WorldIterableDataset(IterableDataset):
    """An endless stream of world items; the stream is split over DDP ranks and DataLoader workers.

    Shard s of S = world_size * num_workers (s = rank * num_workers + worker_id) yields indices
    start + s, start + s + S, ..., so no index is produced twice across all processes and workers.
    `rank`/`world_size` default to the initialised process group (else 0/1); `limit` stops after that many
    global indices (None: infinite).
    """

    def __init__(
        self,
        world: World,
        split: str = "train",
        image_negatives: bool = False,
        start: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        limit: int | None = None,
    ) -> None:
        world.scene(0, split)
        if (rank is None) != (world_size is None):
            raise ValueError("give both rank and world_size, or neither")
        if rank is not None and world_size is not None and not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
        self.world = world
        self.split = split
        self.image_negatives = image_negatives
        self.start = start
        self.rank = rank
        self.world_size = world_size
        self.limit = limit

    def shard(self) -> tuple[int, int]:
        """(shard id, number of shards) of the calling process and DataLoader worker."""
        rank, world_size = (self.rank, self.world_size) if self.rank is not None else _distributed_rank()
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        assert world_size is not None
        return rank * workers + worker, world_size * workers

    def __iter__(self) -> Iterator[dict[str, Any]]:
        shard, shards = self.shard()
        index = self.start + shard
        end = None if self.limit is None else self.start + self.limit
        while end is None or index < end:
            yield make_item(self.world, index, self.split, self.image_negatives)
            index += shards
