"""AHNPLLoss: the AHNPL objective and its baselines as one configurable ``nn.Module`` (docs/METHOD.md §2).

Notation (docs/METHOD.md §1): v_i, t_i, t_ik are L2-normalised image, caption and negative-caption features, m_ik the
validity of negative k of caption i, s the logit scale (a multiplier, ``exp`` of the parameter, as open_clip passes
it), g_i = s<v_i, t_i>, n_ik = s<v_i, t_ik>.

Configurations (docs/METHOD.md §2.7):

* CLIP fine-tune: ``itc_negatives=False, mhn_weight=0, margin_weight=0`` (``positive_weight=0``).
* NegCLIP: ``itc_negatives=True, mhn_weight=0, margin_weight=0``.
* CE-CLIP: ``itc_negatives=True, mhn_weight=0, margin_weight=0, ceclip_intra_weight=0.3, ceclip_cross_weight=0.2``.
* AHNPL: the defaults (``loss_variant="corrected"``); ``loss_variant="released", renormalize=False`` is the
  authors' released single-process computation (:mod:`ahnpl_lightning.losses.released`).

The loss variant is a strategy object (:data:`FORMULATIONS`), not a branch through the code. Distributed: when
``torch.distributed`` is initialised (and ``gather_distributed``), every rank gathers all features and masks with
gradients and computes the loss of the whole global batch (:mod:`ahnpl_lightning.losses.gather`); ranks must hold
equally sized batches and agree on passing ``image_negative_features`` and ``sample_mask`` or not. Unequal numbers of
samples (an unreadable image on one rank) are padding rows marked False in ``sample_mask``
(:mod:`ahnpl_lightning.losses.rows`): the loss then equals that of one process holding only the valid rows.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn

from ahnpl_lightning.losses.ceclip import ceclip_intra_loss
from ahnpl_lightning.losses.diagnostics import per_type_diagnostics
from ahnpl_lightning.losses.formulation import Formulation
from ahnpl_lightning.losses.gather import distributed_world_size, gather_mask, gather_with_grad
from ahnpl_lightning.losses.image_negatives import ImageNegativeScheme, make_image_negatives
from ahnpl_lightning.losses.margin_hinge import margin_hinge, valid_mean
from ahnpl_lightning.losses.positive import positive_margin_loss
from ahnpl_lightning.losses.released import ReleasedFormulation
from ahnpl_lightning.losses.rows import valid_rows_first, zero_padding
from ahnpl_lightning.margin import LossVariant, MarginMode, PositiveMargin
from ahnpl_lightning.types import NEGATIVE_TYPES

DEFAULT_NEGATIVE_TYPES: tuple[str, ...] = NEGATIVE_TYPES  # the K axis order (docs/METHOD.md §1)
TERMS: tuple[str, ...] = ("itc", "mhn_text", "mhn_image", "margin", "positive", "ceclip_intra", "ceclip_cross")
FORMULATIONS: dict[str, type[Formulation]] = {"corrected": Formulation, "released": ReleasedFormulation}


def _upcast(tensor: Tensor) -> Tensor:
    """float16/bfloat16 -> float32 (the loss masks with the dtype's minimum and sums exponentials); others as is."""
    return tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor


def _constructor_arguments(obj: object) -> dict[str, Any]:
    """The arguments the outermost ``__init__`` of ``obj`` received (so ``type(obj)(**args)`` rebuilds it).

    Walks up the stack through the ``__init__`` frames whose ``self`` is ``obj``: a subclass's own arguments (and the
    ones it forwards through ``**kwargs``) are recorded without the subclass having to do anything.
    """
    frame = inspect.currentframe()
    outermost = None
    caller = frame.f_back if frame is not None else None
    while caller is not None and caller.f_code.co_name == "__init__" and caller.f_locals.get("self") is obj:
        outermost = caller
        caller = caller.f_back
    del frame, caller
    if outermost is None:
        return {}
    info = inspect.getargvalues(outermost)
    args = {name: info.locals[name] for name in info.args if name != "self"}
    if info.keywords:
        args.update(info.locals[info.keywords])
    return args


class AHNPLLoss(nn.Module):
    """AHNPL objective L = itc + l_mhn * mhn + l_dm * dm + l_pos * pos (docs/METHOD.md §2.6, eq. 10), plus CE-CLIP's
    terms.

    ``forward`` returns a dict with ``loss``, every raw (unweighted) term of :data:`TERMS` (zero when off) and
    detached per-type diagnostics (``margin/<type>``, ``pos_score/<type>``, ``neg_score/<type>``, ``active/<type>``,
    ``valid/<type>``, ``positive_margin``); all are tensors, nothing syncs with the host. ``mhn_image`` is reported
    before its ``mhn_image_weight``. The weight of each term is in :attr:`term_weights`; a weight of 0 switches the
    term off (it is then not computed). :attr:`init_args` holds the constructor arguments (of a subclass too), so a
    checkpoint rebuilds the same loss from its class path.
    """

    def __init__(
        self,
        loss_variant: LossVariant = "corrected",
        negative_types: tuple[str, ...] = DEFAULT_NEGATIVE_TYPES,
        itc_weight: float = 1.0,
        itc_negatives: bool = True,
        mhn_weight: float = 0.2,
        mhn_image_weight: float = 1.0,
        perturbation: bool = True,
        perturbation_scale: float = 1.0,
        renormalize: bool = True,
        image_negative_scheme: ImageNegativeScheme = "translate",
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
        """Weights default to the released recipe (docs/METHOD.md §3); the released run never applies L_pos.

        ``perturbation`` switches the made image negatives on (real ones are used whenever given);
        ``image_negative_scheme`` says how they are made (docs/METHOD.md §6): ``translate`` (the paper's, with
        ``perturbation_scale`` and ``renormalize``), ``reflect`` or ``retrieve``.
        """
        super().__init__()
        self.init_args: dict[str, Any] = _constructor_arguments(self)
        if loss_variant not in FORMULATIONS:
            raise ValueError(f"loss_variant must be one of {sorted(FORMULATIONS)}, got {loss_variant!r}")
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
        self.loss_variant: LossVariant = loss_variant
        self.formulation: Formulation = FORMULATIONS[loss_variant]()
        self.negative_types = tuple(negative_types)
        self.itc_weight = itc_weight
        self.itc_negatives = itc_negatives
        self.mhn_weight = mhn_weight
        self.mhn_image_weight = mhn_image_weight
        self.perturbation = perturbation
        self.perturbation_scale = perturbation_scale
        self.renormalize = renormalize
        if image_negative_scheme not in ("translate", "reflect", "retrieve"):
            raise ValueError(
                f"image_negative_scheme must be 'translate', 'reflect' or 'retrieve', got {image_negative_scheme!r}"
            )
        self.image_negative_scheme: ImageNegativeScheme = image_negative_scheme
        self.margin_weight = margin_weight
        self.positive_weight = positive_weight
        self.ceclip_intra_weight = ceclip_intra_weight
        self.ceclip_cross_weight = ceclip_cross_weight
        self.gather_distributed = gather_distributed
        self.formulation.validate(self)
        self.margin = self.formulation.adaptive_margin(
            len(self.negative_types), margin_threshold, margin_fixed, margin_upper_bound, margin_ema
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
        self, image: Tensor, text: Tensor, negatives: Tensor, mask: Tensor, image_negatives: Tensor | None,
        image_mask: Tensor | None, sample_mask: Tensor | None = None,
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
        if image_mask is not None and image_mask.shape != (b, k):
            problems.append(f"image_negative_mask {tuple(image_mask.shape)} != (B, K) = {(b, k)}")
        if sample_mask is not None and sample_mask.shape != (b,):
            problems.append(f"sample_mask {tuple(sample_mask.shape)} != (B,) = {(b,)}")
        if image_mask is not None and image_negatives is None:
            problems.append("image_negative_mask given without image_negative_features")
        if problems:
            detail = "; ".join(problems)
            raise ValueError(f"AHNPLLoss got inconsistent shapes (K = len(negative_types) = {k}): {detail}")

    def _gather(self, *tensors: Tensor | None) -> tuple[Tensor | None, ...]:
        """Every rank's tensors concatenated (features with gradient, boolean masks without); None stays None."""
        if not self.gather_distributed or distributed_world_size() == 1:
            return tensors
        return tuple(
            None if x is None else gather_mask(x) if x.dtype == torch.bool else gather_with_grad(x) for x in tensors
        )

    def forward(
        self,
        image_features: Tensor,
        text_features: Tensor,
        negative_features: Tensor,
        negative_mask: Tensor,
        logit_scale: Tensor | float,
        image_negative_features: Tensor | None = None,
        image_negative_mask: Tensor | None = None,
        sample_mask: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Loss, raw terms and diagnostics for one (local) batch; see the class docstring for the keys.

        ``image_negative_features`` [B,K,D]: real image hard negatives aligned with the K text negatives, with their
        validity ``image_negative_mask`` [B,K] (default: ``negative_mask``). Where a real one is valid it is used on
        the image side of L_mhn; where it is not but the text negative is, the configured scheme makes one (when
        ``perturbation``). ``sample_mask`` [B] (None: every row is a sample): False marks a padding row, which every
        term, diagnostic and margin statistic ignores, as query and as candidate. Computed with autocast disabled,
        half-precision inputs upcast to float32.
        """
        self._check_shapes(image_features, text_features, negative_features, negative_mask, image_negative_features,
                           image_negative_mask, sample_mask)
        if image_negative_features is not None and image_negative_mask is None:
            image_negative_mask = negative_mask
        with torch.autocast(device_type=image_features.device.type, enabled=False):
            v, t, tn, m, vn_real, vn_mask, rows = self._gather(
                _upcast(image_features),
                _upcast(text_features),
                _upcast(negative_features),
                negative_mask.bool(),
                None if image_negative_features is None else _upcast(image_negative_features),
                None if image_negative_mask is None else image_negative_mask.bool(),
                None if sample_mask is None else sample_mask.bool(),
            )
            scale = _upcast(torch.as_tensor(logit_scale, device=v.device)).to(v.dtype)
            return self._compute(v, t, tn, m, scale, vn_real, vn_mask, rows)

    def _image_negatives(
        self, v: Tensor, t: Tensor, tn: Tensor, m: Tensor, vn_real: Tensor | None, vn_mask: Tensor | None,
        rows: Tensor | None = None,
    ) -> tuple[Tensor, Tensor] | None:
        """The image side's negatives and validity: real ones where valid, made ones (the scheme) elsewhere."""
        made = None
        if self.perturbation:
            made = make_image_negatives(
                self.image_negative_scheme, v, t, tn, m, self.perturbation_scale, self.renormalize, rows
            )
        if vn_real is None or vn_mask is None:
            return made
        if made is None:
            return vn_real, vn_mask
        return torch.where(vn_mask[..., None], vn_real, made[0]), vn_mask | made[1]

    def _drop_padding(
        self, v: Tensor, t: Tensor, tn: Tensor, m: Tensor, vn_real: Tensor | None, vn_mask: Tensor | None,
        rows: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None, Tensor | None, Tensor]:
        """Padding rows selected to zero and out of every mask; valid rows first when the formulation needs it."""
        if self.formulation.row_order_matters:
            order = valid_rows_first(rows)
            v, t, tn, m, rows = v[order], t[order], tn[order], m[order], rows[order]
            vn_real, vn_mask = (None if x is None else x[order] for x in (vn_real, vn_mask))
        v, t, tn = zero_padding(v, rows), zero_padding(t, rows), zero_padding(tn, rows)
        m = m & rows[:, None]
        if vn_real is not None and vn_mask is not None:
            vn_real, vn_mask = zero_padding(vn_real, rows), vn_mask & rows[:, None]
        return v, t, tn, m, vn_real, vn_mask, rows

    def _compute(
        self, v: Tensor, t: Tensor, tn: Tensor, m: Tensor, s: Tensor, vn_real: Tensor | None, vn_mask: Tensor | None,
        rows: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """All terms on the (gathered) global batch, each computed by :attr:`formulation` (docs/METHOD.md §2-3);
        ``rows`` [B] marks the rows that hold samples (None: all)."""
        rule = self.formulation
        zero = v.new_zeros(())
        if rows is not None:
            v, t, tn, m, vn_real, vn_mask, rows = self._drop_padding(v, t, tn, m, vn_real, vn_mask, rows)
        tn = rule.valid_only(tn, m)
        if vn_real is not None and vn_mask is not None:
            vn_real = rule.valid_only(vn_real, vn_mask)
        terms = dict.fromkeys(TERMS, zero)
        image_valid = zero
        g = s * (v * t).sum(-1)  # [B]
        n = s * torch.einsum("bd,bkd->bk", v, tn)  # [B,K]

        if self.itc_weight > 0:
            terms["itc"] = rule.itc(v, t, s, tn if self.itc_negatives else None, m, rows)

        if self.mhn_weight > 0:
            terms["mhn_text"] = rule.mhn_text(g, n, t, tn, m, s, rows)
            image_side = (self._image_negatives(v, t, tn, m, vn_real, vn_mask, rows)
                          if self.mhn_image_weight > 0 else None)
            if image_side is not None:
                terms["mhn_image"] = rule.mhn_image(g, v, t, image_side[0], image_side[1], s, rows)
                image_valid = (image_side[1].float().mean() if rows is None
                               else valid_mean(image_side[1].float(), rows[:, None].expand_as(image_side[1])))

        margin_on = self.margin_weight > 0 or self.ceclip_cross_weight > 0
        theta = self.margin(g, n, m, rows) if margin_on else self.margin.theta.detach().clone()
        hinge = margin_hinge(theta, g, n, m)  # [B,K], exactly zero at invalid entries (and padding rows)
        if margin_on:
            dm = rule.margin_loss(hinge, m, rows)
            if self.margin_weight > 0:
                terms["margin"] = dm
            if self.ceclip_cross_weight > 0:
                terms["ceclip_cross"] = dm

        if self.positive_weight > 0:
            alpha = self.positive_margin(g, rows)
            terms["positive"] = positive_margin_loss(g, alpha, rows)
        else:
            alpha = self.positive_margin.alpha.detach().clone()

        if self.ceclip_intra_weight > 0:
            terms["ceclip_intra"] = ceclip_intra_loss(g, t, tn, s, rule.intra_mask(m, rows), rows)

        weights = self.term_weights
        out: dict[str, Tensor] = {"loss": sum((weights[name] * terms[name] for name in TERMS), zero)}
        out.update(terms)
        out.update(per_type_diagnostics(self.negative_types, g, n, m, theta, hinge, alpha, rows))
        out["image_negative_valid"] = image_valid.detach()  # share of (i, k) with an image negative on the image side
        return out
