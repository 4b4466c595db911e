"""The authors' released computation of AHNPL, kept apart and reproduced exactly (docs/METHOD.md §3).

Selected with ``AHNPLLoss(loss_variant="released", renormalize=False)``. What differs from ours:

* the validity mask is used only in the margin loss (ITC and CE-CLIP's intra-modal term score every negative);
* L_mhn builds B x KB logits s * T @ flat(T-)^T and s * V @ flat(V-)^T with labels arange(B): row i's target is
  negative (i mod K) of sample i // K, and there is no positive column;
* the hinge is averaged over all B x K entries, masked ones included, with theta of the previous step
  (:class:`~ahnpl_lightning.margin.ReleasedAdaptiveMargin`);
* the positive margin never runs.

Padding rows (``rows`` False) are dropped as in one process holding only the valid rows: the loss puts the valid
rows first (:attr:`ReleasedFormulation.row_order_matters`), so the released labels ``arange(B)`` of the valid rows
are those of that process, and padding rows are neither queries nor candidates.

``benchmarks/loss.py`` restates the released loss step for step; ``tests/test_losses.py`` checks both agree.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from ahnpl_lightning.losses.contrastive import contrastive_loss
from ahnpl_lightning.losses.formulation import Formulation
from ahnpl_lightning.losses.rows import row_mean
from ahnpl_lightning.margin import AdaptiveMargin, MarginMode, ReleasedAdaptiveMargin

if TYPE_CHECKING:
    from ahnpl_lightning.losses.ahnpl import AHNPLLoss


def released_multimodal_loss(
    anchors: Tensor, negatives: Tensor, logit_scale: Tensor, rows: Tensor | None = None
) -> Tensor:
    """CE(s * anchors @ flat(negatives)^T, arange(B)): the released L_mhn side ([B,D] anchors, [B,K,D] negatives).

    ``rows`` [B] (None: all): valid rows, which must come first; the negatives of padding rows are masked out of
    the columns and the mean runs over the valid rows, as if the batch held the valid rows only.
    """
    b, d = anchors.shape
    labels = torch.arange(b, device=anchors.device)
    logits = logit_scale * anchors @ negatives.reshape(-1, d).T
    if rows is None:
        return F.cross_entropy(logits, labels)
    columns = rows[:, None].expand(negatives.shape[:2]).reshape(-1)
    logits = logits.masked_fill(~columns[None, :], torch.finfo(logits.dtype).min)
    return row_mean(F.cross_entropy(logits, labels, reduction="none"), rows)


class ReleasedFormulation(Formulation):
    """The released computation of each term (see the module docstring)."""

    name = "released"
    row_order_matters = True  # its L_mhn labels row i with column i

    def validate(self, loss: AHNPLLoss) -> None:
        uses_k = {"mhn_weight": loss.mhn_weight, "margin_weight": loss.margin_weight,
                  "ceclip_cross_weight": loss.ceclip_cross_weight}
        if not loss.negative_types and any(weight > 0 for weight in uses_k.values()):
            active = ", ".join(f"{name}={weight}" for name, weight in uses_k.items() if weight > 0)
            raise ValueError(
                "loss_variant='released' needs at least one negative type (K >= 1): its multimodal loss labels row i "
                "with column i of the B x K*B logits and its margin loss averages over B x K entries; got "
                f"negative_types=() with {active}. Give negative_types, set those weights to 0, or use "
                "loss_variant='corrected'"
            )
        if loss.image_negative_scheme != "translate":
            raise ValueError(
                "loss_variant='released' makes its image negatives by translation (docs/METHOD.md §3); got "
                f"image_negative_scheme={loss.image_negative_scheme!r}. Use loss_variant='corrected' for other schemes"
            )
        if loss.positive_weight > 0:
            raise ValueError(
                "loss_variant='released' never applies the positive margin (docs/METHOD.md §3); set positive_weight=0"
            )
        if loss.mhn_weight > 0 and loss.mhn_image_weight > 0 and loss.perturbation and loss.renormalize:
            warnings.warn(
                "loss_variant='released' with renormalize=True: the released code does not re-normalise the "
                "perturbed image features; set renormalize=False for the exact released computation",
                stacklevel=3,
            )

    def adaptive_margin(
        self, num_types: int, mode: MarginMode, fixed: float, upper_bound: float, ema: float
    ) -> AdaptiveMargin:
        return ReleasedAdaptiveMargin(num_types, mode=mode, fixed=fixed, upper_bound=upper_bound, ema=ema)

    def valid_only(self, features: Tensor, mask: Tensor) -> Tensor:
        """As released: invalid negatives keep their features (its ITC and L_mhn score every negative)."""
        return features

    def itc(self, v: Tensor, t: Tensor, s: Tensor, negatives: Tensor | None, mask: Tensor,
            rows: Tensor | None = None) -> Tensor:
        return contrastive_loss(v, t, s, negatives, None, rows)

    def mhn_text(self, g: Tensor, n: Tensor, t: Tensor, tn: Tensor, mask: Tensor, s: Tensor,
                 rows: Tensor | None = None) -> Tensor:
        return released_multimodal_loss(t, tn, s, rows)

    def mhn_image(self, g: Tensor, v: Tensor, t: Tensor, vn: Tensor, mask: Tensor, s: Tensor,
                  rows: Tensor | None = None) -> Tensor:
        return released_multimodal_loss(v, vn, s, rows)

    def margin_loss(self, hinge: Tensor, mask: Tensor, rows: Tensor | None = None) -> Tensor:
        """The hinge averaged over every (i, k) of the valid rows, masked entries (exactly 0) included."""
        if rows is None:
            return hinge.mean()
        return row_mean(hinge.mean(dim=1), rows)

    def intra_mask(self, mask: Tensor, rows: Tensor | None = None) -> Tensor:
        b = mask.shape[0]
        if rows is None:
            return torch.ones((b, mask.numel()), dtype=torch.bool, device=mask.device)
        return rows[:, None].expand(mask.shape).reshape(1, -1).expand(b, -1)
