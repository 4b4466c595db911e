"""CE-CLIP's intra-modal contrastive term (docs/METHOD.md §2.7, eq. 11).

As its code (lezhang7/Enhance-FineGrained, ``src/open_clip/loss.py``, ``get_imc_loss``) computes it: row i =
[g_i, s<t_i, t_jk> for every negative caption (j, k) of the batch], cross-entropy with target 0. Its cross-modal
ranking term (``get_cmr_loss``) is the dynamic margin hinge (:mod:`ahnpl_lightning.losses.margin_hinge`).
"""

from __future__ import annotations

from torch import Tensor

from ahnpl_lightning.losses.multimodal import hard_negative_ce
from ahnpl_lightning.losses.rows import row_mean


def ceclip_intra_loss(
    pos_scores: Tensor, text_features: Tensor, negative_features: Tensor, logit_scale: Tensor, mask: Tensor,
    rows: Tensor | None = None,
) -> Tensor:
    """mean_i CE([g_i, s<t_i, t_jk> over all (j, k) kept by ``mask``], 0); ``mask`` is [B, B*K] (row i's columns);
    the mean runs over the valid rows ``rows`` [B] (None: all)."""
    d = text_features.shape[1]
    text_neg = logit_scale * text_features @ negative_features.reshape(-1, d).T  # [B, B*K]
    return row_mean(hard_negative_ce(pos_scores, text_neg, mask), rows)
