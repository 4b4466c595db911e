"""The AHNPL loss and its baselines: pure tensor code, no Lightning, no data loading (docs/METHOD.md §2-3).

One concept per file: :mod:`.contrastive` (L_itc), :mod:`.image_negatives` (image negatives from text negatives),
:mod:`.multimodal` (L_mhn), :mod:`.margin_hinge` (L_dm), :mod:`.positive` (L_pos), :mod:`.ceclip` (CE-CLIP's
intra-modal term), :mod:`.gather` (distributed gather with gradients), :mod:`.finite` (NaN checks),
:mod:`.diagnostics`, :mod:`.rows` (padding rows that every term ignores), :mod:`.formulation` (our computation) and
:mod:`.released` (the authors'), composed by :class:`AHNPLLoss` in :mod:`.ahnpl`.
"""

from ahnpl_lightning.losses.ahnpl import DEFAULT_NEGATIVE_TYPES, FORMULATIONS, TERMS, AHNPLLoss
from ahnpl_lightning.losses.ceclip import ceclip_intra_loss
from ahnpl_lightning.losses.contrastive import contrastive_loss
from ahnpl_lightning.losses.finite import check_finite, finite_flags, non_finite
from ahnpl_lightning.losses.formulation import Formulation
from ahnpl_lightning.losses.gather import gather_mask, gather_with_grad
from ahnpl_lightning.losses.image_negatives import perturb_images
from ahnpl_lightning.losses.margin_hinge import margin_hinge, valid_mean
from ahnpl_lightning.losses.multimodal import hard_negative_ce, multimodal_image_loss, multimodal_text_loss
from ahnpl_lightning.losses.positive import positive_margin_loss
from ahnpl_lightning.losses.released import ReleasedFormulation, released_multimodal_loss
from ahnpl_lightning.losses.rows import row_mean

__all__ = [
    "DEFAULT_NEGATIVE_TYPES",
    "FORMULATIONS",
    "TERMS",
    "AHNPLLoss",
    "Formulation",
    "ReleasedFormulation",
    "ceclip_intra_loss",
    "check_finite",
    "contrastive_loss",
    "finite_flags",
    "gather_mask",
    "gather_with_grad",
    "hard_negative_ce",
    "margin_hinge",
    "multimodal_image_loss",
    "multimodal_text_loss",
    "non_finite",
    "perturb_images",
    "positive_margin_loss",
    "released_multimodal_loss",
    "row_mean",
    "valid_mean",
]
