"""Per-negative-type diagnostics of the loss: margins, mean scores, active and valid shares (detached tensors)."""

from __future__ import annotations

import torch
from torch import Tensor

DIAGNOSTICS: tuple[str, ...] = ("margin", "pos_score", "neg_score", "active", "valid")


def per_type_diagnostics(
    negative_types: tuple[str, ...],
    pos_scores: Tensor,
    neg_scores: Tensor,
    mask: Tensor,
    theta: Tensor,
    hinge: Tensor,
    alpha: Tensor,
    rows: Tensor | None = None,
) -> dict[str, Tensor]:
    """``<key>/<type>`` for every key of :data:`DIAGNOSTICS`, means over valid items (0 for a type without any in
    the batch), plus ``positive_margin``. Invalid entries are selected away, never multiplied, so they cannot leak
    a non-finite value. ``valid`` is the share of the batch's samples (``rows`` [B], None: all rows; ``mask``
    already excludes padding rows) that have a negative of that type. Nothing syncs with the host."""
    g, n = pos_scores.detach(), neg_scores.detach()
    count = mask.sum(0)
    denom = count.clamp(min=1)
    zero = torch.zeros((), dtype=n.dtype, device=n.device)
    table = torch.stack(
        [
            theta.detach().to(n.dtype),
            torch.where(mask, g[:, None], zero).sum(0) / denom,
            torch.where(mask, n, zero).sum(0) / denom,
            ((hinge.detach() > 0) & mask).sum(0) / denom,
            count / (max(mask.shape[0], 1) if rows is None else rows.sum().clamp(min=1)),
        ]
    ).detach()
    out: dict[str, Tensor] = {}
    for row, key in enumerate(DIAGNOSTICS):
        for col, name in enumerate(negative_types):
            out[f"{key}/{name}"] = table[row, col]
    out["positive_margin"] = alpha.detach()
    return out
