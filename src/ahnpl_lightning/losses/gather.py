"""Distributed gather for the loss: every rank computes the loss of the whole global batch (docs/METHOD.md §2).

:func:`gather_with_grad` sums the gradients of the gathered copies in backward, so each rank's encoder receives
``world_size`` times the gradient of the global loss through its own rows; DDP's averaging divides by ``world_size``
again, and ``logit_scale`` (used directly on every rank) gets the plain gradient on each rank. Loss and gradients
therefore equal those of one process holding the global batch (tested in ``tests/test_losses_ddp.py``). Ranks must hold
equally sized local batches: the sampler gives every rank the same number of samples, and an unreadable one stays in
its batch as a padding row (``sample_mask`` False, :mod:`ahnpl_lightning.losses.rows`), so the blocks stay equal and
the loss equals that of one process holding the valid rows only.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums, over ranks, the gradients of this rank's slice.

    Not ``torch.distributed.nn.all_gather``: on gloo its backward receives into ``empty_like`` copies of the incoming
    gradients, which keep non-contiguous strides (einsum gradients have them), and scrambles the values (measured,
    torch 2.14); it is also deprecated.
    """

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:  # type: ignore[override]
        ctx.rank, ctx.rows = dist.get_rank(), tensor.shape[0]
        parts = [torch.empty_like(tensor, memory_format=torch.contiguous_format) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.clone(memory_format=torch.contiguous_format)
        if dist.get_backend() == dist.Backend.NCCL:
            out = grad.new_empty((ctx.rows, *grad.shape[1:]))
            dist.reduce_scatter_tensor(out, grad)
            return out
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def distributed_world_size() -> int:
    """The number of ranks when ``torch.distributed`` is initialised, else 1."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def gather_with_grad(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` from all ranks along dim 0; backward sums the gradients of every copy (see module doc)."""
    return _GatherWithGrad.apply(tensor)


def gather_mask(mask: Tensor) -> Tensor:
    """Concatenate a boolean mask from all ranks along dim 0 (no gradient; sent as uint8 for backend support)."""
    parts = [torch.empty_like(mask, dtype=torch.uint8) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, mask.to(torch.uint8).contiguous())
    return torch.cat(parts, dim=0).bool()
