"""The positive margin loss L_pos = mean_i ReLU(alpha - g_i) (docs/METHOD.md §2.5, eq. 9).

alpha is adaptive state (:class:`ahnpl_lightning.margin.PositiveMargin` explains why a learnable alpha does not work).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ahnpl_lightning.losses.rows import row_mean


def positive_margin_loss(pos_scores: Tensor, alpha: Tensor, rows: Tensor | None = None) -> Tensor:
    """mean_i ReLU(alpha - g_i): pulls the positive pairs scoring below alpha up (g = s<v_i, t_i> [B]); the mean
    runs over the valid rows ``rows`` [B] (None: all)."""
    return row_mean(F.relu(alpha - pos_scores), rows)
