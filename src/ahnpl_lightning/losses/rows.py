"""Rows that hold no sample: the batch padding that keeps every rank's block the same size under DDP.

A batch row is either a real sample or padding (``sample_mask`` False: an unreadable image replaced by a blank row,
so that every rank gathers equally sized blocks, :mod:`ahnpl_lightning.losses.gather`). Every term, diagnostic and
margin statistic ignores padding rows, as queries and as candidates: the loss equals that of the valid rows alone.
Padding is *selected* away (``torch.where``, ``masked_fill``), never multiplied out, so a padding row's features can
never leak a NaN; its features still take part in the graph, so every parameter receives a (zero) gradient and
DDP's reducer is satisfied even on a rank whose whole batch is padding.
"""

from __future__ import annotations

import torch
from torch import Tensor


def row_mean(values: Tensor, rows: Tensor | None) -> Tensor:
    """Mean of per-row ``values`` [B] over the rows where ``rows`` is True (0 when there is none); plain mean when
    ``rows`` is None."""
    if rows is None:
        return values.mean()
    kept = torch.where(rows, values, torch.zeros((), dtype=values.dtype, device=values.device))
    return kept.sum() / rows.sum().clamp(min=1)


def valid_rows_first(rows: Tensor) -> Tensor:
    """The permutation that puts the valid rows first, each group in its original order (a device op, no sync).

    After it the first ``rows.sum()`` rows are exactly the batch one process holding only the valid rows would see,
    in the same order: what index-dependent computations (the released L_mhn's labels) need."""
    return torch.sort((~rows).to(torch.uint8), stable=True).indices


def zero_padding(features: Tensor, rows: Tensor) -> Tensor:
    """``features`` [B, ...] with the padding rows selected to zero (they stay in the graph)."""
    shape = (rows.shape[0],) + (1,) * (features.dim() - 1)
    return torch.where(rows.view(shape), features, torch.zeros((), dtype=features.dtype, device=features.device))
