"""`EpochSampler`: a deterministic, resumable, rank-sharded order that can also tell the dataset the epoch."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DistributedSampler

__all__ = ["EpochSampler"]


class EpochSampler(DistributedSampler):
    """Deterministic, resumable, rank-sharded order: epoch e's permutation is `randperm(n, seed + e)`.

    Rank r takes positions r, r + W, ... of the first n - n % W entries (W ranks): shards are disjoint and equal,
    with no padding duplicates; the n % W left over change every epoch. `start` skips the first samples of this
    rank's shard once (resumption); `set_epoch` to another epoch clears it. With `keys`, it yields `(index, epoch)`
    pairs, so the dataset can seed each sample's augmentation and draws by (seed, epoch, index) in any worker.
    """

    def __init__(self, length: int, shuffle: bool = True, seed: int = 0, rank: int = 0, world_size: int = 1,
                 keys: bool = False) -> None:
        super().__init__(range(length), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed, drop_last=True)
        self.length = length
        self.keys = keys
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

    def __iter__(self) -> Iterator[int]:  # type: ignore[override]
        epoch = self.epoch
        indices = self.shard(epoch)[self.start:]
        self.position, self.start = self.start, 0
        for index in indices:
            self.position += 1
            yield (index, epoch) if self.keys else index  # type: ignore[misc]

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
