"""The AHNPL loss and its baselines as one configurable ``nn.Module`` (pure tensor code, REFERENCE.md sections 2-3).

Notation (REFERENCE.md 1): v_i, t_i, t_ik are L2-normalised image, caption and negative-caption features, m_ik the
validity of negative k of caption i, s the logit scale (a multiplier, ``exp`` of the parameter, as open_clip passes
it), g_i = s<v_i, t_i>, n_ik = s<v_i, t_ik>.

Configurations of :class:`AHNPLLoss`:

* CLIP fine-tune: ``itc_negatives=False, mhn_weight=0, margin_weight=0`` (``positive_weight=0``).
* NegCLIP: ``itc_negatives=True, mhn_weight=0, margin_weight=0``.
* CE-CLIP: ``itc_negatives=True, mhn_weight=0, margin_weight=0, ceclip_intra_weight=0.3, ceclip_cross_weight=0.2``
  (its sweep script `scripts/run_all.sh` also sets ``margin_upper_bound=5``).
* AHNPL: the defaults (``loss_variant="corrected"``); ``loss_variant="released", renormalize=False`` is the
  authors' released single-process computation (REFERENCE.md 3).

Corrected vs released (REFERENCE.md 3): the corrected variant masks invalid negatives everywhere (ITC columns, both
sides of L_mhn, CE-CLIP's intra term), puts the positive at index 0 of each L_mhn row, averages the hinge over valid
(i, k) only and uses the theta of the current batch. The released variant uses the validity mask only in the margin
loss, builds the B x KB L_mhn logits with arange(B) labels, averages the hinge over all B x K entries, lags theta by
one step and never applies L_pos.

CE-CLIP's terms, as its code (lezhang7/Enhance-FineGrained, ``src/open_clip/loss.py``) computes them:
``ceclip_intra`` (its ``imc_loss``): row i = [g_i, s<t_i, t_jk> for every negative caption (j, k) of the batch],
cross-entropy with target 0; ``ceclip_cross`` (its ``cmr_loss``): the adaptive-threshold hinge ReLU(theta_k + n_ik -
g_i), i.e. the same hinge as L_dm (AHNPL inherited it), sharing theta with it and reported under its own name.

The positive margin (REFERENCE.md 2.5) is the hinge mean_i ReLU(alpha - g_i) with alpha a detached quantile (default
the median) of the batch's positive scores (:class:`~ahnpl_lightning.margin.PositiveMargin` explains why a learnable
alpha does not work); ``positive_weight`` defaults to 0 because the released run never applies it.

Distributed: when ``torch.distributed`` is initialised (and ``gather_distributed``), every rank gathers all features
and masks with gradients and computes the loss of the whole global batch. :func:`gather_with_grad` sums the
gradients of the gathered copies in backward, so each rank's encoder receives ``world_size`` times the gradient
of the global loss through its own rows; DDP's averaging divides by ``world_size`` again, and ``logit_scale`` (used
directly on every rank) gets the plain gradient on each rank. Loss and gradients therefore equal those of one process
holding the global batch (tested in ``tests/test_losses_ddp.py``). Ranks must hold equally sized local batches
(Lightning's ``DistributedSampler`` pads shards to equal length) and must agree on passing
``image_negative_features`` or not.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from ahnpl_lightning.data.negatives import NEGATIVE_TYPES
from ahnpl_lightning.margin import (
    AdaptiveMargin,
    LossVariant,
    MarginMode,
    PositiveMargin,
)

DEFAULT_NEGATIVE_TYPES: tuple[str, ...] = NEGATIVE_TYPES  # the K axis order (REFERENCE.md section 1)
TERMS: tuple[str, ...] = ("itc", "mhn_text", "mhn_image", "margin", "positive", "ceclip_intra", "ceclip_cross")


def _upcast(tensor: Tensor) -> Tensor:
    """float16/bfloat16 -> float32 (the loss masks with the dtype's minimum and sums exponentials); others as is."""
    return tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor


def check_finite(terms: Mapping[str, Tensor]) -> str | None:
    """Name of the first non-finite tensor in ``terms`` (in insertion order), or None when all are finite.

    Costs one host-device sync when everything is finite (a single stacked ``all()``).
    """
    names = [name for name, value in terms.items() if isinstance(value, Tensor)]
    if not names:
        return None
    finite = torch.stack([torch.isfinite(terms[name].detach()).all() for name in names])
    if bool(finite.all()):
        return None
    return names[int((~finite).nonzero()[0, 0])]


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums, over ranks, the gradients of this rank's slice.

    Not ``torch.distributed.nn.all_gather``: on gloo its backward receives into ``empty_like`` copies of the incoming
    gradients, which keep non-contiguous strides (einsum gradients have them), and scrambles the values (measured,
    torch 2.14); it is also deprecated.
    """

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:  # type: ignore[override]
        ctx.rank, ctx.rows = dist.get_rank(), tensor.shape[0]
        parts = [torch.empty_like(tensor, memory_format=torch.contiguous_format) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.clone(memory_format=torch.contiguous_format)
        if dist.get_backend() == dist.Backend.NCCL:
            out = grad.new_empty((ctx.rows, *grad.shape[1:]))
            dist.reduce_scatter_tensor(out, grad)
            return out
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def gather_with_grad(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` from all ranks along dim 0; backward sums the gradients of every copy (see module doc)."""
    return _GatherWithGrad.apply(tensor)


def gather_mask(mask: Tensor) -> Tensor:
    """Concatenate a boolean mask from all ranks along dim 0 (no gradient; sent as uint8 for backend support)."""
    parts = [torch.empty_like(mask, dtype=torch.uint8) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, mask.to(torch.uint8).contiguous())
    return torch.cat(parts, dim=0).bool()


def perturb_images(
    image_features: Tensor,
    text_features: Tensor,
    negative_features: Tensor,
    scale: float = 1.0,
    renormalize: bool = True,
) -> Tensor:
    """Visual hard negatives v-_ik = v_i + gamma * sg(t_ik - t_i), optionally re-normalised (REFERENCE.md 2.2).

    Returns [B,K,D]; the gradient reaches the image encoder only through v_i.
    """
    shift = (negative_features - text_features[:, None, :]).detach()
    perturbed = image_features[:, None, :] + scale * shift
    return F.normalize(perturbed, dim=-1) if renormalize else perturbed


def hard_negative_ce(pos_logits: Tensor, neg_logits: Tensor, mask: Tensor) -> Tensor:
    """Per-row cross-entropy with the positive at index 0 over [pos, valid negatives]: [B] (REFERENCE.md 2.3).

    Invalid negatives are filled with the dtype's most negative value, so a row without any valid negative gives
    exactly 0 (and zero gradient) rather than NaN.
    """
    neg = neg_logits.masked_fill(~mask, torch.finfo(neg_logits.dtype).min)
    logits = torch.cat([pos_logits[:, None], neg], dim=1)
    return torch.logsumexp(logits, dim=1) - pos_logits


def contrastive_loss(
    image_features: Tensor,
    text_features: Tensor,
    logit_scale: Tensor,
    negative_features: Tensor | None = None,
    negative_mask: Tensor | None = None,
) -> Tensor:
    """L_itc = (CE(i2t) + CE(t2i)) / 2 (REFERENCE.md 2.1); i2t also scores the flattened negatives [B*K] when given.

    Negatives whose ``negative_mask`` entry is False are masked out; ``negative_mask=None`` keeps all of them (the
    released behaviour).
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


class AHNPLLoss(nn.Module):
    """AHNPL objective L = itc + l_mhn * mhn + l_dm * dm + l_pos * pos (REFERENCE.md 2.6), plus CE-CLIP's terms.

    ``forward`` returns a dict with ``loss``, every raw (unweighted) term of :data:`TERMS` (zero when off) and
    detached per-type diagnostics (``margin/<type>``, ``pos_score/<type>``, ``neg_score/<type>``, ``active/<type>``,
    ``valid/<type>``, ``positive_margin``); all are tensors, nothing syncs with the host. ``mhn_image`` is reported
    before its ``mhn_image_weight``. The weight of each term is in :attr:`term_weights`; a weight of 0 switches the
    term off (it is then not computed).
    """

    def __init__(
        self,
        loss_variant: Literal["corrected", "released"] = "corrected",
        negative_types: tuple[str, ...] = DEFAULT_NEGATIVE_TYPES,
        itc_weight: float = 1.0,
        itc_negatives: bool = True,
        mhn_weight: float = 0.2,
        mhn_image_weight: float = 1.0,
        perturbation: bool = True,
        perturbation_scale: float = 1.0,
        renormalize: bool = True,
        margin_weight: float = 0.2,
        margin_threshold: MarginMode = "mean",
        margin_fixed: float = 0.0,
        margin_upper_bound: float = 10.0,
        margin_ema: float = 0.0,
        positive_weight: float = 0.0,
        positive_quantile: float = 0.5,
        positive_ema: float = 0.0,
        ceclip_intra_weight: float = 0.0,
        ceclip_cross_weight: float = 0.0,
        gather_distributed: bool = True,
    ) -> None:
        """Weights default to the released recipe (REFERENCE.md 3); the released run never applies L_pos, hence 0."""
        init_args = {name: value for name, value in locals().items() if name not in ("self", "__class__")}
        super().__init__()
        self.init_args: dict[str, object] = init_args  # constructor arguments, so checkpoints rebuild this loss
        if loss_variant not in ("corrected", "released"):
            raise ValueError(f"loss_variant must be 'corrected' or 'released', got {loss_variant!r}")
        weights = {
            "itc_weight": itc_weight,
            "mhn_weight": mhn_weight,
            "mhn_image_weight": mhn_image_weight,
            "margin_weight": margin_weight,
            "positive_weight": positive_weight,
            "ceclip_intra_weight": ceclip_intra_weight,
            "ceclip_cross_weight": ceclip_cross_weight,
        }
        negative = [f"{name}={value}" for name, value in weights.items() if value < 0]
        if negative:
            raise ValueError(f"loss weights must be >= 0, got {', '.join(negative)}")
        if loss_variant == "released" and positive_weight > 0:
            raise ValueError(
                "loss_variant='released' never applies the positive margin (REFERENCE.md 3); set positive_weight=0"
            )
        if loss_variant == "released" and perturbation and renormalize:
            warnings.warn(
                "loss_variant='released' with renormalize=True: the released code does not re-normalise the "
                "perturbed image features; set renormalize=False for the exact released computation",
                stacklevel=2,
            )
        self.loss_variant: LossVariant = loss_variant
        self.negative_types = tuple(negative_types)
        self.itc_weight = itc_weight
        self.itc_negatives = itc_negatives
        self.mhn_weight = mhn_weight
        self.mhn_image_weight = mhn_image_weight
        self.perturbation = perturbation
        self.perturbation_scale = perturbation_scale
        self.renormalize = renormalize
        self.margin_weight = margin_weight
        self.positive_weight = positive_weight
        self.ceclip_intra_weight = ceclip_intra_weight
        self.ceclip_cross_weight = ceclip_cross_weight
        self.gather_distributed = gather_distributed
        self.margin = AdaptiveMargin(
            len(self.negative_types),
            mode=margin_threshold,
            fixed=margin_fixed,
            upper_bound=margin_upper_bound,
            ema=margin_ema,
            variant=loss_variant,
        )
        self.positive_margin = PositiveMargin(quantile=positive_quantile, ema=positive_ema)

    @property
    def term_weights(self) -> dict[str, float]:
        """Weight of every term of :data:`TERMS` in the total loss; 0 means the term is switched off."""
        return {
            "itc": self.itc_weight,
            "mhn_text": self.mhn_weight,
            "mhn_image": self.mhn_weight * self.mhn_image_weight,
            "margin": self.margin_weight,
            "positive": self.positive_weight,
            "ceclip_intra": self.ceclip_intra_weight,
            "ceclip_cross": self.ceclip_cross_weight,
        }

    @property
    def uses_negatives(self) -> bool:
        """Whether any active term reads the text hard negatives (plain CLIP fine-tuning does not)."""
        weights = self.term_weights
        return (weights["itc"] > 0 and self.itc_negatives) or any(
            weights[name] > 0 for name in ("mhn_text", "mhn_image", "margin", "ceclip_intra", "ceclip_cross")
        )

    def reset_state(self) -> None:
        """Reset the adaptive margin and positive-margin state (the released loop does this every epoch)."""
        self.margin.reset()
        self.positive_margin.reset()

    def _check_shapes(
        self, image: Tensor, text: Tensor, negatives: Tensor, mask: Tensor, image_negatives: Tensor | None
    ) -> None:
        b, d = image.shape
        k = len(self.negative_types)
        problems = []
        if text.shape != (b, d):
            problems.append(f"text_features {tuple(text.shape)} != image_features {(b, d)}")
        if negatives.shape != (b, k, d):
            problems.append(f"negative_features {tuple(negatives.shape)} != (B, K, D) = {(b, k, d)}")
        if mask.shape != (b, k):
            problems.append(f"negative_mask {tuple(mask.shape)} != (B, K) = {(b, k)}")
        if image_negatives is not None and image_negatives.shape != (b, k, d):
            problems.append(f"image_negative_features {tuple(image_negatives.shape)} != (B, K, D) = {(b, k, d)}")
        if problems:
            detail = "; ".join(problems)
            raise ValueError(f"AHNPLLoss got inconsistent shapes (K = len(negative_types) = {k}): {detail}")

    def _gather(
        self, image: Tensor, text: Tensor, negatives: Tensor, mask: Tensor, image_negatives: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None]:
        if not (self.gather_distributed and dist.is_available() and dist.is_initialized()):
            return image, text, negatives, mask, image_negatives
        if dist.get_world_size() == 1:
            return image, text, negatives, mask, image_negatives
        return (
            gather_with_grad(image),
            gather_with_grad(text),
            gather_with_grad(negatives),
            gather_mask(mask),
            None if image_negatives is None else gather_with_grad(image_negatives),
        )

    def forward(
        self,
        image_features: Tensor,
        text_features: Tensor,
        negative_features: Tensor,
        negative_mask: Tensor,
        logit_scale: Tensor | float,
        image_negative_features: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Loss, raw terms and diagnostics for one (local) batch; see the class docstring for the keys.

        ``image_negative_features`` [B,K,D]: real image hard negatives aligned with the K text negatives (validity =
        ``negative_mask``); used instead of the embedding perturbation on the image side of L_mhn when given.
        Computed with autocast disabled, half-precision inputs upcast to float32.
        """
        self._check_shapes(image_features, text_features, negative_features, negative_mask, image_negative_features)
        with torch.autocast(device_type=image_features.device.type, enabled=False):
            v, t, tn, m, vn_real = self._gather(
                _upcast(image_features),
                _upcast(text_features),
                _upcast(negative_features),
                negative_mask.bool(),
                None if image_negative_features is None else _upcast(image_negative_features),
            )
            scale = _upcast(torch.as_tensor(logit_scale, device=v.device)).to(v.dtype)
            return self._compute(v, t, tn, m, scale, vn_real)

    def _compute(
        self, v: Tensor, t: Tensor, tn: Tensor, m: Tensor, s: Tensor, vn_real: Tensor | None
    ) -> dict[str, Tensor]:
        """All terms on the (gathered) global batch, REFERENCE.md 2.1-2.6 (corrected) or section 3 (released)."""
        released = self.loss_variant == "released"
        b, d = v.shape
        zero = v.new_zeros(())
        terms = dict.fromkeys(TERMS, zero)
        g = s * (v * t).sum(-1)  # [B]
        n = s * torch.einsum("bd,bkd->bk", v, tn)  # [B,K]

        if self.itc_weight > 0:
            terms["itc"] = contrastive_loss(
                v, t, s, tn if self.itc_negatives else None, None if released else m
            )

        if self.mhn_weight > 0:
            image_side = self.mhn_image_weight > 0 and (vn_real is not None or self.perturbation)
            vn = None
            if image_side:
                vn = vn_real if vn_real is not None else perturb_images(
                    v, t, tn, self.perturbation_scale, self.renormalize
                )
            if released:
                # B x KB logits with labels arange(B): row i targets negative (i mod K) of sample i // K (REFERENCE 3)
                labels = torch.arange(b, device=v.device)
                terms["mhn_text"] = F.cross_entropy(s * t @ tn.reshape(-1, d).T, labels)
                if vn is not None:
                    terms["mhn_image"] = F.cross_entropy(s * v @ vn.reshape(-1, d).T, labels)
            else:
                terms["mhn_text"] = hard_negative_ce(g, n, m).mean()
                if vn is not None:
                    image_neg = s * torch.einsum("bd,bkd->bk", t, vn)
                    terms["mhn_image"] = hard_negative_ce(g, image_neg, m).mean()

        margin_on = self.margin_weight > 0 or self.ceclip_cross_weight > 0
        theta = self.margin(g, n, m) if margin_on else self.margin.theta.detach().clone()
        hinge = F.relu(theta[None, :] + n - g[:, None]) * m  # [B,K], zero at invalid entries
        if margin_on:
            dm = hinge.mean() if released else hinge.sum() / m.sum().clamp(min=1)
            if self.margin_weight > 0:
                terms["margin"] = dm
            if self.ceclip_cross_weight > 0:
                terms["ceclip_cross"] = dm

        if self.positive_weight > 0:
            alpha = self.positive_margin(g)
            terms["positive"] = F.relu(alpha - g).mean()
        else:
            alpha = self.positive_margin.alpha.detach().clone()

        if self.ceclip_intra_weight > 0:
            # CE-CLIP intra-modal term: row i = [g_i, s<t_i, t_jk> for all j, k], target 0
            text_neg = s * t @ tn.reshape(-1, d).T  # [B, B*K]
            flat_mask = m.reshape(1, -1).expand(b, -1)
            if released:
                flat_mask = torch.ones_like(flat_mask)
            terms["ceclip_intra"] = hard_negative_ce(g, text_neg, flat_mask).mean()

        weights = self.term_weights
        out: dict[str, Tensor] = {"loss": sum((weights[name] * terms[name] for name in TERMS), zero)}
        out.update(terms)
        out.update(self._diagnostics(g.detach(), n.detach(), m, theta, hinge.detach(), alpha))
        return out

    def _diagnostics(
        self, g: Tensor, n: Tensor, m: Tensor, theta: Tensor, hinge: Tensor, alpha: Tensor
    ) -> dict[str, Tensor]:
        """Per-type means over valid items (0 for a type without any in the batch); all detached tensors."""
        count = m.sum(0)
        denom = count.clamp(min=1)
        mf = m.float()
        table = torch.stack(
            [
                theta.float(),
                (g[:, None] * mf).sum(0) / denom,
                (n * mf).sum(0) / denom,
                ((hinge > 0) & m).sum(0) / denom,
                count / max(m.shape[0], 1),
            ]
        ).detach()
        out: dict[str, Tensor] = {}
        for row, key in enumerate(("margin", "pos_score", "neg_score", "active", "valid")):
            for col, name in enumerate(self.negative_types):
                out[f"{key}/{name}"] = table[row, col]
        out["positive_margin"] = alpha.detach()
        return out
