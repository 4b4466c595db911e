"""Image hard negatives for the image side of L_mhn, made from the text hard negatives (docs/METHOD.md §2.2 and §6).

Each scheme maps (v [B,D], t [B,D], t_k [B,K,D], m [B,K]) to image negatives v-_ik [B,K,D] and their validity [B,K]:

* ``translate`` (the paper's perturbation, eq. 2): v-_ik = v_i + gamma * sg(t_ik - t_i), optionally re-normalised.
  Degenerate: s<t_i, v-_ik> - s<t_i, v_i> = gamma * s(<t_i, t_ik> - 1) does not depend on v, so without
  re-normalisation the image tower gets no gradient from the image side; with it, one that narrows the image's
  margin between t_i and t_ik (§6.1, measured in ``results/image_negatives.md``).
* ``reflect`` (ours, eq. 13): v-_ik = H_ik v_i with H_ik = I - 2 u u^T, u = sg(t_i - t_ik) / |t_i - t_ik|, the
  mirror that swaps t_i and t_ik (unit vectors). It agrees with the translation at v_i = t_i and is an isometry, so
  <t_i, v-_ik> = <t_ik, v_i>: the image side then scores v_i against t_ik exactly as the text side does, and its
  image gradient is the text side's (§6.2). It trains the image tower in the right direction but adds no
  information the text side lacks.
* ``retrieve`` (ours, eq. 14): v-_ik = v_j, the batch image whose caption t_j is nearest t_ik, kept only when t_j is
  at least as close to t_ik as t_i is and closer to t_ik than to t_i (it depicts the negative, not the positive).
  A real image, so the image tower learns that image j does not match caption i; fires only where the batch holds
  such an image.

Real image negatives (the world's counterfactual renders, NegCLIP's ``neg_image``) bypass these schemes where they
exist (:class:`~ahnpl_lightning.losses.ahnpl.AHNPLLoss` fills the rest with the configured scheme).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

ImageNegativeScheme = Literal["translate", "reflect", "retrieve"]
SchemeFn = Callable[..., tuple[Tensor, Tensor]]  # (v, t, tn, m, scale, renormalize, rows=None)


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


def reflect_images(image_features: Tensor, text_features: Tensor, negative_features: Tensor) -> Tensor:
    """v-_ik = v_i - 2 <v_i, u_ik> u_ik with u_ik = sg(t_i - t_ik) / |t_i - t_ik| (eq. 13): [B,K,D], norms kept.

    A negative identical to its caption (u undefined) leaves v_i unchanged, so it contributes a constant log 2 and
    no gradient.
    """
    u = F.normalize((text_features[:, None, :] - negative_features).detach(), dim=-1)
    along = torch.einsum("bd,bkd->bk", image_features, u)
    return image_features[:, None, :] - 2.0 * along[..., None] * u


def retrieve_images(
    image_features: Tensor, text_features: Tensor, negative_features: Tensor, negative_mask: Tensor,
    rows: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """For each (i, k), the batch image j != i whose caption is nearest t_ik (eq. 14): ([B,K,D], validity [B,K]).

    Valid when the text negative is, and t_j is no farther from t_ik than t_i is (<t_j, t_ik> >= <t_i, t_ik>) and
    nearer t_ik than t_i (<t_j, t_ik> > <t_j, t_i>). The choice is made without gradient; the gradient reaches image
    j's encoder through v_j. Padding rows (``rows`` False) are never retrieved.
    """
    b = image_features.shape[0]
    with torch.no_grad():
        t, tn = text_features.detach(), negative_features.detach()
        to_negative = torch.einsum("jd,ikd->ikj", t, tn)  # <t_j, t_ik> [B,K,B]
        excluded = torch.eye(b, dtype=torch.bool, device=t.device)[:, None, :]
        if rows is not None:
            excluded = excluded | ~rows[None, None, :]
        best, index = to_negative.masked_fill(excluded, float("-inf")).max(dim=-1)  # [B,K]
        to_positive = (t[index] * t[:, None, :]).sum(-1)  # <t_j*, t_i>
        own = torch.einsum("id,ikd->ik", t, tn)  # <t_i, t_ik>
        valid = negative_mask & (best >= own) & (best > to_positive) & torch.isfinite(best)
    return image_features[index], valid


def _translate(v: Tensor, t: Tensor, tn: Tensor, m: Tensor, scale: float, renormalize: bool,
               rows: Tensor | None = None) -> tuple[Tensor, Tensor]:
    return perturb_images(v, t, tn, scale, renormalize), m


def _reflect(v: Tensor, t: Tensor, tn: Tensor, m: Tensor, scale: float, renormalize: bool,
             rows: Tensor | None = None) -> tuple[Tensor, Tensor]:
    return reflect_images(v, t, tn), m


def _retrieve(v: Tensor, t: Tensor, tn: Tensor, m: Tensor, scale: float, renormalize: bool,
              rows: Tensor | None = None) -> tuple[Tensor, Tensor]:
    return retrieve_images(v, t, tn, m, rows)


IMAGE_NEGATIVE_SCHEMES: dict[str, SchemeFn] = {"translate": _translate, "reflect": _reflect, "retrieve": _retrieve}


def make_image_negatives(
    scheme: str, image_features: Tensor, text_features: Tensor, negative_features: Tensor, negative_mask: Tensor,
    scale: float = 1.0, renormalize: bool = True, rows: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Image negatives [B,K,D] and their validity [B,K] by the named scheme of :data:`IMAGE_NEGATIVE_SCHEMES`.

    ``scale`` (gamma) and ``renormalize`` apply to ``translate`` only; ``rows`` [B] (None: all) are the rows that
    hold samples (a scheme must not build an image negative from a padding row; ``negative_mask`` already excludes
    padding rows as anchors).
    """
    try:
        build = IMAGE_NEGATIVE_SCHEMES[scheme]
    except KeyError:
        raise ValueError(f"unknown image negative scheme {scheme!r}; one of {sorted(IMAGE_NEGATIVE_SCHEMES)}") from None
    if rows is None:
        return build(image_features, text_features, negative_features, negative_mask, scale, renormalize)
    return build(image_features, text_features, negative_features, negative_mask, scale, renormalize, rows=rows)
