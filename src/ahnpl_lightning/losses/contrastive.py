"""The contrastive loss with text hard negatives, L_itc (docs/METHOD.md §2.1, equation 1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ahnpl_lightning.losses.rows import row_mean


def contrastive_loss(
    image_features: Tensor,
    text_features: Tensor,
    logit_scale: Tensor,
    negative_features: Tensor | None = None,
    negative_mask: Tensor | None = None,
    sample_mask: Tensor | None = None,
) -> Tensor:
    """L_itc = (CE(i2t) + CE(t2i)) / 2; i2t also scores the flattened negatives [B*K] when given.

    Negatives whose ``negative_mask`` entry is False are masked out; ``negative_mask=None`` keeps all of them (the
    released behaviour, docs/METHOD.md §3). ``sample_mask`` [B] (None: all rows): padding rows are neither queries
    nor candidates (their caption, negatives and image), so the loss equals that of the valid rows alone.
    """
    b, d = image_features.shape
    labels = torch.arange(b, device=image_features.device)
    candidates = text_features
    if negative_features is not None:
        candidates = torch.cat([text_features, negative_features.reshape(-1, d)], dim=0)
    logits_i2t = logit_scale * image_features @ candidates.T
    logits_t2i = logits_i2t[:, :b].T
    lowest = torch.finfo(logits_i2t.dtype).min
    keep = None
    if negative_features is not None and negative_mask is not None:
        keep = negative_mask.reshape(-1)
    if sample_mask is not None:
        if negative_features is not None:
            owner = sample_mask[:, None].expand(negative_features.shape[:2]).reshape(-1)
            keep = owner if keep is None else keep & owner
        keep = sample_mask if negative_features is None else torch.cat([sample_mask, keep])
        logits_t2i = logits_t2i.masked_fill(~sample_mask[None, :], lowest)  # padding images are no candidates
    elif keep is not None:
        keep = torch.cat([torch.ones(b, dtype=torch.bool, device=labels.device), keep])
    if keep is not None:
        logits_i2t = logits_i2t.masked_fill(~keep[None, :], lowest)
    if sample_mask is None:
        return (F.cross_entropy(logits_i2t, labels) + F.cross_entropy(logits_t2i, labels)) / 2
    i2t = F.cross_entropy(logits_i2t, labels, reduction="none")
    t2i = F.cross_entropy(logits_t2i, labels, reduction="none")
    return (row_mean(i2t, sample_mask) + row_mean(t2i, sample_mask)) / 2
