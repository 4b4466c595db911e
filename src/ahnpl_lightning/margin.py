"""Margin state of the AHNPL loss: per-type adaptive margins theta_k and the positive margin alpha.

Both are ``nn.Module``s whose state lives in buffers, so it is saved in checkpoints and moves with ``.to(device)``.
Every statistic is detached and computed from the (already gathered) global batch, so all ranks hold the same state;
padding rows (``rows`` False: no sample, see ``ahnpl_lightning.losses.rows``) count for nothing.

When the state updates (docs/METHOD.md §2.4 and §3):

* :class:`AdaptiveMargin` (ours): at step t, ``forward`` computes theta from the batch of step t *before* the hinge
  is applied (no step lag), EMA-smooths it with the stored value, stores it (training mode only) and returns it; the
  hinge of step t uses exactly that value. In eval mode the same value is computed and returned but nothing is stored.
* :class:`ReleasedAdaptiveMargin` (the authors' computation): ``forward`` returns the stored theta (computed at step
  t-1; 0 after ``reset``), then, in training mode, stores the value computed from the batch of step t for use at step
  t+1 (the one-step lag); validity is inferred from n_ik != 0 as the released code does.

``reset()`` restores the initial state (theta = 0, or the fixed value); the released training loop does this at the
start of every epoch, and the LightningModule calls it when configured to.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import torch
from torch import Tensor, nn

MarginMode = Literal["mean", "max", "fixed"]
LossVariant = Literal["corrected", "released"]


def _mean(values: Tensor, rows: Tensor | None) -> Tensor:
    """Mean over the rows that hold samples (``rows`` [B]; None: all), 0 when there is none."""
    if rows is None:
        return values.mean()
    return torch.where(rows, values, torch.zeros_like(values)).sum() / rows.sum().clamp(min=1)


def _ema(previous: Tensor, current: Tensor, initialized: Tensor, decay: float) -> Tensor:
    """EMA step ``decay * previous + (1 - decay) * current``; the first value after a reset is taken as is."""
    return torch.where(initialized, decay * previous + (1.0 - decay) * current, current)


class AdaptiveMargin(nn.Module):
    """Per-negative-type margin theta_k of the dynamic margin loss (docs/METHOD.md §2.4, eq. 7-8), in logit units.

    Modes, with g_i = s<v_i, t_i> and n_ik = s<v_i, t_ik>:
    ``mean``: theta_k = mean_i g_i - mean_{valid i} n_ik;  ``max``: theta_k = max_{valid i} (g_i - n_ik) / K;
    ``fixed``: theta_k = ``fixed``. Batch values are clamped to [0, upper_bound], then EMA-smoothed with ``ema``
    (0 = no smoothing). A type without a valid negative in the batch keeps its stored value. Invalid entries are
    selected away with ``torch.where``, so a non-finite score there cannot reach theta.

    ``variant`` is deprecated: ``AdaptiveMargin(variant="released")`` builds a :class:`ReleasedAdaptiveMargin`.
    """

    theta: Tensor
    initialized: Tensor

    def __new__(cls, *args: Any, **kwargs: Any) -> AdaptiveMargin:
        if cls is AdaptiveMargin and kwargs.get("variant", "corrected") == "released":
            warnings.warn(
                "AdaptiveMargin(variant='released') is deprecated; use ReleasedAdaptiveMargin",
                DeprecationWarning,
                stacklevel=2,
            )
            cls = ReleasedAdaptiveMargin
        return super().__new__(cls)

    def __init__(
        self,
        num_types: int,
        mode: MarginMode = "mean",
        fixed: float = 0.0,
        upper_bound: float = 10.0,
        ema: float = 0.0,
        variant: LossVariant | None = None,
    ) -> None:
        super().__init__()
        if mode not in ("mean", "max", "fixed"):
            raise ValueError(f"margin mode must be 'mean', 'max' or 'fixed', got {mode!r}")
        if variant not in (None, "corrected", "released"):
            raise ValueError(f"variant must be 'corrected' or 'released', got {variant!r}")
        if upper_bound < 0:
            raise ValueError(f"upper_bound must be >= 0, got {upper_bound}")
        if not 0.0 <= ema < 1.0:
            raise ValueError(f"ema must be in [0, 1), got {ema}")
        if mode == "fixed" and not 0.0 <= fixed <= upper_bound:
            raise ValueError(f"fixed margin {fixed} is outside [0, upper_bound={upper_bound}]")
        self.num_types = num_types
        self.mode = mode
        self.fixed = float(fixed)
        self.upper_bound = float(upper_bound)
        self.ema = float(ema)
        self.register_buffer("theta", torch.full((num_types,), self._initial_value()))
        self.register_buffer("initialized", torch.zeros(num_types, dtype=torch.bool))

    @property
    def variant(self) -> LossVariant:
        """Which computation this is: ``corrected`` (ours) or ``released``."""
        return "corrected"

    def _initial_value(self) -> float:
        return self.fixed if self.mode == "fixed" else 0.0

    def extra_repr(self) -> str:
        return (
            f"num_types={self.num_types}, mode={self.mode!r}, fixed={self.fixed}, upper_bound={self.upper_bound}, "
            f"ema={self.ema}"
        )

    @torch.no_grad()
    def reset(self) -> None:
        """Forget the running state (theta back to 0, or to the fixed value)."""
        self.theta.fill_(self._initial_value())
        self.initialized.fill_(False)

    @torch.no_grad()
    def batch_margin(
        self, pos_scores: Tensor, neg_scores: Tensor, mask: Tensor, rows: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Clamped per-type margin of one batch and which types it informs: ``([K], [K] bool)``.

        ``pos_scores`` g [B], ``neg_scores`` n [B,K] (logit units), ``mask`` [B,K] bool validity, ``rows`` [B] the
        rows that hold samples (None: all; ``mask`` must already exclude the others).
        """
        g = pos_scores.detach().float()
        n = neg_scores.detach().float()
        k = n.shape[1]
        if self.mode == "fixed":
            return torch.full((k,), self.fixed, device=n.device), torch.ones(k, dtype=torch.bool, device=n.device)
        count = mask.sum(0)
        has_valid = count > 0
        if self.mode == "mean":
            value = _mean(g, rows) - torch.where(mask, n, torch.zeros_like(n)).sum(0) / count.clamp(min=1)
        else:
            gap = torch.where(mask, g[:, None] - n, torch.full_like(n, float("-inf")))
            value = gap.amax(0) / k
        value = torch.where(has_valid, value, torch.zeros_like(value))
        return value.clamp(0.0, self.upper_bound), has_valid

    def _margin_to_use(self, stored: Tensor, updated: Tensor) -> Tensor:
        """The theta the hinge of this step uses: the value updated with this batch (no lag)."""
        return updated

    @torch.no_grad()
    def forward(self, pos_scores: Tensor, neg_scores: Tensor, mask: Tensor, rows: Tensor | None = None) -> Tensor:
        """The margin theta [K] to use at this step (detached); stores the updated state in training mode only.
        ``rows`` [B]: the rows that hold samples (None: all); padding rows count for nothing."""
        if neg_scores.shape[1] != self.num_types:
            raise ValueError(f"AdaptiveMargin holds {self.num_types} types but got scores for {neg_scores.shape[1]}")
        value, has_valid = self.batch_margin(pos_scores, neg_scores, mask, rows)
        updated = _ema(self.theta, value.to(self.theta.dtype), self.initialized, self.ema)
        updated = torch.where(has_valid, updated, self.theta)
        used = self._margin_to_use(self.theta.clone(), updated)
        if self.training and self.mode != "fixed":
            self.theta.copy_(updated)
            self.initialized |= has_valid
        return used


class ReleasedAdaptiveMargin(AdaptiveMargin):
    """The released computation of theta (docs/METHOD.md §3): one step late, validity inferred from n_ik != 0.

    The released code multiplies the logits by the validity mask first, so ``mean`` averages the non-zero masked
    scores (a valid score of exactly 0 counts as invalid) and ``max`` lets invalid entries count as a zero gap.
    Every batch informs every type. The hinge of step t uses the theta stored at step t-1 (0 after ``reset``).
    """

    @property
    def variant(self) -> LossVariant:
        return "released"

    @torch.no_grad()
    def batch_margin(
        self, pos_scores: Tensor, neg_scores: Tensor, mask: Tensor, rows: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        g = pos_scores.detach().float()
        n = neg_scores.detach().float()
        k = n.shape[1]
        informs = torch.ones(k, dtype=torch.bool, device=n.device)
        if rows is not None:  # a batch of padding only informs nothing
            informs = informs & rows.any()
        if self.mode == "fixed":
            return torch.full((k,), self.fixed, device=n.device), informs
        zero = torch.zeros_like(n)
        n = torch.where(mask, n, zero)  # the released code's logits * mask, without NaN * 0
        if self.mode == "mean":
            valid = n != 0
            count = valid.sum(0)
            mean_neg = torch.where(count > 0, n.sum(0) / count.clamp(min=1), torch.zeros_like(n[0]))
            value = _mean(g, rows) - mean_neg
        else:
            gap = torch.where(mask, g[:, None], zero) - n
            if rows is not None:  # padding rows are absent, not zero gaps
                gap = torch.where(rows[:, None], gap, torch.full_like(gap, float("-inf")))
            value = gap.amax(0) / k
        return value.clamp(0.0, self.upper_bound), informs

    def _margin_to_use(self, stored: Tensor, updated: Tensor) -> Tensor:
        """The theta stored at the previous step (the released one-step lag)."""
        return stored


class PositiveMargin(nn.Module):
    """Adaptive positive margin alpha of L_pos = mean_i ReLU(alpha - g_i) (docs/METHOD.md §2.5, eq. 9), in logit units.

    Why not a learnable alpha as released: d L_pos / d alpha >= 0, so gradient descent only lowers alpha until its
    clamp (0.2 logits, while g_i is ~30 for CLIP at s = 100), which switches the term off. Here alpha is detached
    state: the ``quantile`` (default the median) of the global batch's positive scores g_i, EMA-smoothed with ``ema``.
    The hinge then pulls the hard positives (pairs scoring below the typical positive) up towards the bulk, and alpha
    rises with the distribution instead of collapsing. Updates only in training mode; eval returns the batch value.
    """

    alpha: Tensor
    initialized: Tensor

    def __init__(self, quantile: float = 0.5, ema: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= quantile <= 1.0:
            raise ValueError(f"quantile must be in [0, 1], got {quantile}")
        if not 0.0 <= ema < 1.0:
            raise ValueError(f"ema must be in [0, 1), got {ema}")
        self.quantile = float(quantile)
        self.ema = float(ema)
        self.register_buffer("alpha", torch.zeros(()))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def extra_repr(self) -> str:
        return f"quantile={self.quantile}, ema={self.ema}"

    @torch.no_grad()
    def reset(self) -> None:
        """Forget the running state."""
        self.alpha.zero_()
        self.initialized.fill_(False)

    @torch.no_grad()
    def forward(self, pos_scores: Tensor, rows: Tensor | None = None) -> Tensor:
        """The alpha (scalar, detached) to use at this step; stores it in training mode only. ``rows`` [B]: the
        rows that hold samples (None: all); a batch without any keeps the stored alpha."""
        g = pos_scores.detach().float()
        if rows is None:
            value = torch.quantile(g, self.quantile).to(self.alpha.dtype)
            updated = _ema(self.alpha, value, self.initialized, self.ema)
            informed = torch.ones((), dtype=torch.bool, device=g.device)
        else:
            quantile = torch.nanquantile(torch.where(rows, g, torch.full_like(g, float("nan"))), self.quantile)
            informed = rows.any()
            value = torch.where(informed, quantile, torch.zeros_like(quantile)).to(self.alpha.dtype)
            updated = torch.where(informed, _ema(self.alpha, value, self.initialized, self.ema), self.alpha)
        if self.training:
            self.alpha.copy_(updated)
            self.initialized |= informed
        return updated
