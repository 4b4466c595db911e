"""The dynamic margin hinge ReLU(theta_k + n_ik - g_i) (docs/METHOD.md §2.4, eq. 6).

The margins theta_k are state (:class:`ahnpl_lightning.margin.AdaptiveMargin`); this file holds the tensor algebra.
CE-CLIP's cross-modal ranking term is the same hinge (docs/METHOD.md §2.7).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def margin_hinge(theta: Tensor, pos_scores: Tensor, neg_scores: Tensor, mask: Tensor) -> Tensor:
    """ReLU(theta_k + n_ik - g_i) at valid (i, k), exactly 0 elsewhere: [B,K].

    Invalid entries are *selected* away with ``torch.where`` (not multiplied by the mask), so a non-finite score at
    an invalid entry cannot turn the loss into NaN (``NaN * 0 = NaN``).
    """
    hinge = F.relu(theta[None, :] + neg_scores - pos_scores[:, None])
    return torch.where(mask, hinge, torch.zeros((), dtype=hinge.dtype, device=hinge.device))


def valid_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` over the entries where ``mask`` is True (0 when there is none); invalid entries ignored."""
    kept = torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device))
    return kept.sum() / mask.sum().clamp(min=1)
