"""The image side of L_mhn (docs/METHOD.md §6): the released translation is degenerate, the default config's scheme
trains the image tower in the right direction, and each scheme does what its docstring says."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from ahnpl_lightning.losses import AHNPLLoss, multimodal_text_loss, perturb_images
from ahnpl_lightning.losses.image_negatives import reflect_images, retrieve_images

ROOT = Path(__file__).resolve().parents[1]
S = 100.0


def near_duplicate_batch(seed: int, b: int = 32, k: int = 5, d: int = 512, cos_pos: float = 0.3):
    """CLIP-like unit features: cos(t_i, t_ik) uniform in [0.98, 0.995], cos(v_i, t_i) = cos_pos; all valid."""
    gen = torch.Generator().manual_seed(seed)
    t = F.normalize(torch.randn(b, d, generator=gen, dtype=torch.float64), dim=-1)
    c = 0.98 + 0.015 * torch.rand(b, k, generator=gen, dtype=torch.float64)
    noise = torch.randn(b, k, d, generator=gen, dtype=torch.float64)
    noise = F.normalize(noise - (noise * t[:, None]).sum(-1, keepdim=True) * t[:, None], dim=-1)
    tn = c[..., None] * t[:, None] + (1 - c**2).sqrt()[..., None] * noise
    other = torch.randn(b, d, generator=gen, dtype=torch.float64)
    other = F.normalize(other - (other * t).sum(-1, keepdim=True) * t, dim=-1)
    v = cos_pos * t + math.sqrt(1 - cos_pos**2) * other
    return v, t, tn, torch.ones(b, k, dtype=torch.bool)


def margins(v: torch.Tensor, t: torch.Tensor, tn: torch.Tensor) -> torch.Tensor:
    """<v_i, t_i> - <v_i, t_ik> [B,K]."""
    return (v * t).sum(-1)[:, None] - torch.einsum("bd,bkd->bk", v, tn)


def image_gradients(loss: AHNPLLoss, v, t, tn, m) -> tuple[torch.Tensor, torch.Tensor]:
    """d mhn_image / dV and d mhn_text / dV at the image features V."""
    grads = []
    for term in ("mhn_image", "mhn_text"):
        leaf = v.clone().requires_grad_()
        (grad,) = torch.autograd.grad(loss(leaf, t, tn, m, torch.tensor(S, dtype=torch.float64))[term], leaf)
        grads.append(grad)
    return grads[0], grads[1]


def default_config_loss() -> AHNPLLoss:
    config = yaml.safe_load((ROOT / "configs" / "ahnpl.yaml").read_text())
    init_args = config["model"]["init_args"]["loss"]["init_args"]
    return AHNPLLoss(**init_args)


# ----------------------------------------------------------------------------------------- the degeneracy
def test_translation_gives_the_image_tower_exactly_no_gradient_from_the_image_side() -> None:
    """Paper/released perturbation v-_ik = v_i + sg(t_ik - t_i), anchor t_i: s<t_i,v-_ik> - s<t_i,v_i> =
    s(<t_i,t_ik> - 1) whatever v is, so d mhn_image / dv = 0 (eq. 12)."""
    v, t, tn, m = near_duplicate_batch(0)
    other_v = near_duplicate_batch(1)[0]
    for images in (v, other_v):
        vn = perturb_images(images, t, tn, renormalize=False)
        difference = S * torch.einsum("bd,bkd->bk", t, vn) - S * (t * images).sum(-1)[:, None]
        torch.testing.assert_close(difference, S * (torch.einsum("bd,bkd->bk", t, tn) - 1), rtol=0, atol=1e-11)
    loss = AHNPLLoss(renormalize=False, image_negative_scheme="translate")
    image_grad, text_grad = image_gradients(loss, v, t, tn, m)
    assert float(image_grad.abs().max()) <= 1e-10 * float(text_grad.abs().max())
    # through a real (linear) image encoder: its weights get nothing from the image side either
    encoder = torch.nn.Linear(16, 512, dtype=torch.float64)
    features = F.normalize(encoder(torch.randn(32, 16, dtype=torch.float64)), dim=-1)
    loss(features, t, tn, m, S)["mhn_image"].backward()
    assert float(encoder.weight.grad.abs().max()) < 1e-9
    # anchoring on the negative caption does not help: <t_ik, v-_ik> - <t_ik, v_i> = <t_ik, t_ik - t_i>, no v in it
    vn = perturb_images(v, t, tn, renormalize=False)
    anchored = torch.einsum("bkd,bkd->bk", tn, vn) - torch.einsum("bkd,bd->bk", tn, v)
    torch.testing.assert_close(anchored, (tn * (tn - t[:, None])).sum(-1), rtol=0, atol=1e-12)


def test_renormalised_translation_narrows_the_margin() -> None:
    """With re-normalisation the image side has a gradient, but a step against it narrows <v,t_i> - <v,t_ik>."""
    v, t, tn, m = near_duplicate_batch(2)
    image_grad, _ = image_gradients(AHNPLLoss(renormalize=True, image_negative_scheme="translate"), v, t, tn, m)
    moved = F.normalize(v - 1e-3 * image_grad / image_grad.norm(), dim=-1)
    assert float((margins(moved, t, tn) - margins(v, t, tn)).mean()) < 0


# ----------------------------------------------------------------------------------------- the shipped default
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cos_pos", [0.1, 0.3, 0.6])
def test_default_config_image_side_trains_the_image_tower_in_the_right_direction(seed: int, cos_pos: float) -> None:
    """Issue 13's feature-level check, with configs/ahnpl.yaml's loss: a small step against d mhn_image / dV widens
    <v_i, t_i> - <v_i, t_ik> on near-duplicate negatives (D = 512, s = 100), and |d mhn_image / dV| >= 10 % of
    |d mhn_text / dV|."""
    loss = default_config_loss()
    assert loss.perturbation and loss.mhn_weight > 0 and loss.mhn_image_weight > 0
    v, t, tn, m = near_duplicate_batch(seed, cos_pos=cos_pos)
    image_grad, text_grad = image_gradients(loss, v, t, tn, m)
    assert float(image_grad.norm()) >= 0.1 * float(text_grad.norm())
    moved = F.normalize(v - 1e-3 * image_grad / image_grad.norm(), dim=-1)
    widened = margins(moved, t, tn) - margins(v, t, tn)
    assert float(widened.mean()) > 0
    assert float((widened > 0).float().mean()) > 0.9


# ----------------------------------------------------------------------------------------- each scheme
def test_reflection_mirrors_t_i_onto_t_ik_and_copies_the_text_sides_image_gradient() -> None:
    v, t, tn, m = near_duplicate_batch(3, b=6, k=3, d=16)
    vn = reflect_images(v, t, tn)
    torch.testing.assert_close(vn.norm(dim=-1), v.norm(dim=-1)[:, None].expand(6, 3))  # an isometry
    torch.testing.assert_close(reflect_images(t, t, tn), tn)  # maps t_i to t_ik: the translation's exact case
    torch.testing.assert_close(torch.einsum("bd,bkd->bk", t, vn), torch.einsum("bd,bkd->bk", v, tn))
    loss = AHNPLLoss(negative_types=("a", "b", "c"), image_negative_scheme="reflect")
    out = loss(v, t, tn, m, S)
    torch.testing.assert_close(out["mhn_image"], out["mhn_text"])
    image_grad, text_grad = image_gradients(loss, v, t, tn, m)
    torch.testing.assert_close(image_grad, text_grad)


def test_retrieve_takes_the_batch_image_that_depicts_the_negative_caption() -> None:
    gen = torch.Generator().manual_seed(4)
    d = 64
    t = F.normalize(torch.randn(4, d, generator=gen, dtype=torch.float64), dim=-1)
    shift = F.normalize(torch.randn(d, generator=gen, dtype=torch.float64), dim=-1)
    negative = F.normalize(t[0] + 0.2 * shift, dim=-1)  # caption 0's negative 0 ...
    t[2] = F.normalize(negative + 0.01 * torch.randn(d, generator=gen, dtype=torch.float64), dim=-1)  # ... image 2
    t[3] = F.normalize(t[1] + 0.05 * torch.randn(d, generator=gen, dtype=torch.float64), dim=-1)  # a paraphrase of 1
    tn = torch.stack([
        torch.stack([negative, F.normalize(t[0] - 0.2 * shift, dim=-1)]),  # negative 1 of caption 0: nobody shows it
        torch.stack([F.normalize(t[1] + 0.2 * shift, dim=-1), F.normalize(t[1] - 0.2 * shift, dim=-1)]),
        torch.stack([F.normalize(t[2] + 0.2 * shift, dim=-1)] * 2),
        torch.stack([F.normalize(t[3] + 0.2 * shift, dim=-1)] * 2),
    ])
    m = torch.ones(4, 2, dtype=torch.bool)
    m[0, 1] = True
    v = F.normalize(torch.randn(4, d, generator=gen, dtype=torch.float64), dim=-1).requires_grad_()
    vn, valid = retrieve_images(v, t, tn, m)
    assert valid[0, 0] and torch.equal(vn[0, 0], v[2])
    assert not valid[0, 1]  # the nearest batch caption is not closer to that negative than caption 0 is
    assert not valid[1].any() and not valid[3].any()  # 1 and 3 are paraphrases: each other's positives, not negatives
    m_none = m.clone()
    m_none[0, 0] = False
    assert not retrieve_images(v, t, tn, m_none)[1][0, 0]  # an invalid text negative is never retrieved for
    loss = AHNPLLoss(negative_types=("a", "b"), image_negative_scheme="retrieve", itc_weight=0.0, margin_weight=0.0)
    out = loss(v, t, tn, m, S)
    out["mhn_image"].backward()
    assert float(v.grad[2].norm()) > 0  # the retrieved image's encoder learns that it is not caption 0
    assert float(out["image_negative_valid"]) == pytest.approx(1 / 8)


def test_real_image_negatives_use_their_own_mask_and_the_scheme_fills_the_rest() -> None:
    v, t, tn, m = near_duplicate_batch(5, b=3, k=2, d=8)
    real = F.normalize(torch.randn(3, 2, 8, dtype=torch.float64), dim=-1)
    real_mask = torch.tensor([[True, False], [False, False], [True, True]])
    real_poisoned = real.clone()
    real_poisoned[~real_mask] = float("nan")  # absent real negatives: whatever they hold must not matter
    loss = AHNPLLoss(negative_types=("a", "b"), image_negative_scheme="reflect")
    out = loss(v, t, tn, m, S, image_negative_features=real_poisoned, image_negative_mask=real_mask)
    made = reflect_images(v, t, tn)
    expected = torch.where(real_mask[..., None], real, made)
    g = S * (t * v).sum(-1)
    reference = multimodal_text_loss(g, S * torch.einsum("bd,bkd->bk", t, expected), m)
    torch.testing.assert_close(out["mhn_image"], reference)
    only_real = AHNPLLoss(negative_types=("a", "b"), perturbation=False)
    out = only_real(v, t, tn, m, S, image_negative_features=real_poisoned, image_negative_mask=real_mask)
    reference = multimodal_text_loss(g, S * torch.einsum("bd,bkd->bk", t, real), real_mask)
    torch.testing.assert_close(out["mhn_image"], reference)
    assert float(out["image_negative_valid"]) == pytest.approx(3 / 6)
    with pytest.raises(ValueError, match="image_negative_mask"):
        loss(v, t, tn, m, S, image_negative_features=real, image_negative_mask=real_mask[:, :1])


def test_scheme_is_validated_and_the_released_variant_keeps_the_translation() -> None:
    with pytest.raises(ValueError, match="image_negative_scheme"):
        AHNPLLoss(image_negative_scheme="rotate")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="translation"):
        AHNPLLoss(loss_variant="released", renormalize=False, image_negative_scheme="reflect")
