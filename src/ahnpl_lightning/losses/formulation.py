"""How AHNPLLoss computes each term: our corrected formulation (docs/METHOD.md §2 and the table of §3).

A formulation is a strategy object: :class:`~ahnpl_lightning.losses.ahnpl.AHNPLLoss` decides which terms run and
with which weights; the formulation says how each is computed. :class:`Formulation` is ours: invalid negatives are
masked everywhere, each L_mhn row puts its positive at index 0, the hinge is averaged over valid (i, k) only and the
margin of the current batch is used. Every term takes ``rows`` [B] (None: all rows are samples): padding rows
(:mod:`ahnpl_lightning.losses.rows`) are ignored as queries and as candidates. The authors' released computation
overrides it in :mod:`ahnpl_lightning.losses.released`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ahnpl_lightning.losses.contrastive import contrastive_loss
from ahnpl_lightning.losses.margin_hinge import valid_mean
from ahnpl_lightning.losses.multimodal import multimodal_image_loss, multimodal_text_loss
from ahnpl_lightning.margin import AdaptiveMargin, MarginMode

if TYPE_CHECKING:
    from ahnpl_lightning.losses.ahnpl import AHNPLLoss


class Formulation:
    """Our (corrected) computation of every term; subclasses override single terms."""

    name = "corrected"
    #: Whether a term depends on the rows' positions (then the loss puts the valid rows first before computing).
    row_order_matters = False

    def validate(self, loss: AHNPLLoss) -> None:
        """Reject settings this formulation cannot compute (called once by the loss's constructor)."""

    def adaptive_margin(
        self, num_types: int, mode: MarginMode, fixed: float, upper_bound: float, ema: float
    ) -> AdaptiveMargin:
        """The margin state: theta of the current batch."""
        return AdaptiveMargin(num_types, mode=mode, fixed=fixed, upper_bound=upper_bound, ema=ema)

    def valid_only(self, features: Tensor, mask: Tensor) -> Tensor:
        """Negative features [B,K,D] with the invalid ones selected to zero. Every term ignores them anyway; this way a
        non-finite invalid entry cannot reach a loss value or a gradient (``NaN * 0`` is NaN in backward too)."""
        return torch.where(mask[..., None], features, torch.zeros((), dtype=features.dtype, device=features.device))

    def itc(self, v: Tensor, t: Tensor, s: Tensor, negatives: Tensor | None, mask: Tensor,
            rows: Tensor | None = None) -> Tensor:
        """L_itc (eq. 1) with the invalid negatives masked out of the i2t columns."""
        return contrastive_loss(v, t, s, negatives, mask, rows)

    def mhn_text(self, g: Tensor, n: Tensor, t: Tensor, tn: Tensor, mask: Tensor, s: Tensor,
                 rows: Tensor | None = None) -> Tensor:
        """Text side of L_mhn (eq. 3): per sample, positive at index 0, valid negatives only."""
        return multimodal_text_loss(g, n, mask, rows)

    def mhn_image(self, g: Tensor, v: Tensor, t: Tensor, vn: Tensor, mask: Tensor, s: Tensor,
                  rows: Tensor | None = None) -> Tensor:
        """Image side of L_mhn (eq. 4): anchor t_i over [v_i, valid image negatives]."""
        return multimodal_image_loss(t, g, vn, mask, s, rows)

    def margin_loss(self, hinge: Tensor, mask: Tensor, rows: Tensor | None = None) -> Tensor:
        """L_dm (eq. 6): the hinge averaged over valid (i, k) only (``mask`` already excludes padding rows)."""
        return valid_mean(hinge, mask)

    def intra_mask(self, mask: Tensor, rows: Tensor | None = None) -> Tensor:
        """Which of the B*K negative captions each row of CE-CLIP's intra-modal term sees: the valid ones."""
        b = mask.shape[0]
        return mask.reshape(1, -1).expand(b, -1)
