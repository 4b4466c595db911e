"""The authors' released computation of AHNPL, kept apart and reproduced exactly (docs/METHOD.md §3).

Selected with ``AHNPLLoss(loss_variant="released", renormalize=False)``. What differs from ours:

* the validity mask is used only in the margin loss (ITC and CE-CLIP's intra-modal term score every negative);
* L_mhn builds B x KB logits s * T @ flat(T-)^T and s * V @ flat(V-)^T with labels arange(B): row i's target is
  negative (i mod K) of sample i // K, and there is no positive column;
* the hinge is averaged over all B x K entries, masked ones included, with theta of the previous step
  (:class:`~ahnpl_lightning.margin.ReleasedAdaptiveMargin`);
* the positive margin never runs.

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
from ahnpl_lightning.margin import AdaptiveMargin, MarginMode, ReleasedAdaptiveMargin

if TYPE_CHECKING:
    from ahnpl_lightning.losses.ahnpl import AHNPLLoss


def released_multimodal_loss(anchors: Tensor, negatives: Tensor, logit_scale: Tensor) -> Tensor:
    """CE(s * anchors @ flat(negatives)^T, arange(B)): the released L_mhn side ([B,D] anchors, [B,K,D] negatives)."""
    b, d = anchors.shape
    labels = torch.arange(b, device=anchors.device)
    return F.cross_entropy(logit_scale * anchors @ negatives.reshape(-1, d).T, labels)


class ReleasedFormulation(Formulation):
    """The released computation of each term (see the module docstring)."""

    name = "released"

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

    def itc(self, v: Tensor, t: Tensor, s: Tensor, negatives: Tensor | None, mask: Tensor) -> Tensor:
        return contrastive_loss(v, t, s, negatives, None)

    def mhn_text(self, g: Tensor, n: Tensor, t: Tensor, tn: Tensor, mask: Tensor, s: Tensor) -> Tensor:
        return released_multimodal_loss(t, tn, s)

    def mhn_image(self, g: Tensor, v: Tensor, t: Tensor, vn: Tensor, mask: Tensor, s: Tensor) -> Tensor:
        return released_multimodal_loss(v, vn, s)

    def margin_loss(self, hinge: Tensor, mask: Tensor) -> Tensor:
        return hinge.mean()

    def intra_mask(self, mask: Tensor) -> Tensor:
        b = mask.shape[0]
        return torch.ones((b, mask.numel()), dtype=torch.bool, device=mask.device)
