"""The evaluation's only collectives: shard the distinct inputs over ranks without padding, and gather the rows back.

Every rank calls these together (they sit on the path every rank takes); nothing here is rank-zero-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    """True inside an initialised process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's global rank (0 outside a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """Contiguous, non-overlapping shard [start, end) of n items for `rank`; shards differ in size by at most one."""
    return n * rank // world_size, n * (rank + 1) // world_size


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def gather_rows(local: Tensor) -> Tensor:
    """All-gather 2-D shards of different lengths in rank order (padding only for transport, then cut off)."""
    world = dist.get_world_size()
    dev = _comm_device()
    shape = torch.tensor([local.shape[0], local.shape[1]], device=dev)
    shapes = [torch.zeros_like(shape) for _ in range(world)]
    dist.all_gather(shapes, shape)
    lengths = [int(s[0]) for s in shapes]
    dim = max(int(s[1]) for s in shapes)
    padded = torch.zeros(max(lengths), dim, dtype=local.dtype, device=dev)
    if local.shape[1] == dim:
        padded[: local.shape[0]] = local.to(dev)
    gathered = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded)
    return torch.cat([g[:n] for g, n in zip(gathered, lengths)]).cpu()


def encode_sharded(encode: Callable[[list[Any]], Any], todo: list[Any]) -> Any:
    """`encode` this rank's shard of `todo` (all of it outside a process group)."""
    if not is_distributed():
        return encode(todo)
    start, end = shard_bounds(len(todo), dist.get_rank(), dist.get_world_size())
    return encode(todo[start:end])
