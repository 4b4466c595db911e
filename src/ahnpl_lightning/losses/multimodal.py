"""The multimodal hard-negative loss L_mhn, per sample with the positive at index 0 (docs/METHOD.md §2.3, eq. 3-5).

Text side: anchor v_i, candidates [t_i, t_ik (valid k)]. Image side: anchor t_i, candidates [v_i, image negatives
(valid k)]; how the image negatives are made is :mod:`ahnpl_lightning.losses.image_negatives`' business.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ahnpl_lightning.losses.rows import row_mean


def hard_negative_ce(pos_logits: Tensor, neg_logits: Tensor, mask: Tensor) -> Tensor:
    """Per-row cross-entropy with the positive at index 0 over [pos, valid negatives]: [B].

    Invalid negatives are replaced (not multiplied) by the dtype's most negative value, so a row without any valid
    negative gives exactly 0 (and zero gradient) rather than NaN, and a non-finite invalid entry cannot leak in.
    """
    neg = neg_logits.masked_fill(~mask, torch.finfo(neg_logits.dtype).min)
    logits = torch.cat([pos_logits[:, None], neg], dim=1)
    return torch.logsumexp(logits, dim=1) - pos_logits


def multimodal_text_loss(pos_scores: Tensor, neg_scores: Tensor, mask: Tensor, rows: Tensor | None = None) -> Tensor:
    """Text side of L_mhn (eq. 3): mean_i CE([g_i, n_ik (valid k)], 0) with g = s<v,t> [B], n = s<v,t_k> [B,K];
    the mean runs over the valid rows ``rows`` [B] (None: all)."""
    return row_mean(hard_negative_ce(pos_scores, neg_scores, mask), rows)


def multimodal_image_loss(
    text_features: Tensor, pos_scores: Tensor, image_negatives: Tensor, mask: Tensor, logit_scale: Tensor,
    rows: Tensor | None = None,
) -> Tensor:
    """Image side of L_mhn (eq. 4): mean_i CE([s<t_i,v_i>, s<t_i, v-_ik> (valid k)], 0).

    ``pos_scores`` = s<t_i, v_i> [B], ``image_negatives`` v-_ik [B,K,D], ``mask`` their validity [B,K]; the mean
    runs over the valid rows ``rows`` [B] (None: all).
    """
    neg_scores = logit_scale * torch.einsum("bd,bkd->bk", text_features, image_negatives)
    return row_mean(hard_negative_ce(pos_scores, neg_scores, mask), rows)
