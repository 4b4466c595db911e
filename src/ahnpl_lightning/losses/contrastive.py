"""The contrastive loss with text hard negatives, L_itc (docs/METHOD.md §2.1, equation 1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def contrastive_loss(
    image_features: Tensor,
    text_features: Tensor,
    logit_scale: Tensor,
    negative_features: Tensor | None = None,
    negative_mask: Tensor | None = None,
) -> Tensor:
    """L_itc = (CE(i2t) + CE(t2i)) / 2; i2t also scores the flattened negatives [B*K] when given.

    Negatives whose ``negative_mask`` entry is False are masked out; ``negative_mask=None`` keeps all of them (the
    released behaviour, docs/METHOD.md §3).
    """
    b, d = image_features.shape
    labels = torch.arange(b, device=image_features.device)
    candidates = text_features
    if negative_features is not None:
        candidates = torch.cat([text_features, negative_features.reshape(-1, d)], dim=0)
    logits_i2t = logit_scale * image_features @ candidates.T
    if negative_features is not None and negative_mask is not None:
        keep = torch.cat([torch.ones(b, dtype=torch.bool, device=labels.device), negative_mask.reshape(-1)])
        logits_i2t = logits_i2t.masked_fill(~keep[None, :], torch.finfo(logits_i2t.dtype).min)
    logits_t2i = logits_i2t[:, :b].T
    return (F.cross_entropy(logits_i2t, labels) + F.cross_entropy(logits_t2i, labels)) / 2
