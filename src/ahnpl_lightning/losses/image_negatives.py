"""Image hard negatives made from text hard negatives in feature space (docs/METHOD.md §2.2 and §6).

The released perturbation translates the image feature by the caption edit: v-_ik = v_i + gamma * sg(t_ik - t_i)
(eq. 2). The gradient reaches the image encoder only through v_i.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def perturb_images(
    image_features: Tensor,
    text_features: Tensor,
    negative_features: Tensor,
    scale: float = 1.0,
    renormalize: bool = True,
) -> Tensor:
    """Visual hard negatives v-_ik = v_i + gamma * sg(t_ik - t_i), optionally re-normalised (eq. 2): [B,K,D]."""
    shift = (negative_features - text_features[:, None, :]).detach()
    perturbed = image_features[:, None, :] + scale * shift
    return F.normalize(perturbed, dim=-1) if renormalize else perturbed
