"""AHNPLLoss against an independent pure-Python loop reference (docs/METHOD.md §2 and §3), plus safety and gradients."""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ahnpl_lightning.losses import TERMS, AHNPLLoss, check_finite

TYPES2 = ("a", "b")
SCALE = 4.0


# ----------------------------------------------------------------------------------------- pure-Python reference
def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def unit(a: list[float]) -> list[float]:
    norm = math.sqrt(dot(a, a))
    return [x / norm for x in a]


def ce(logits: list[float], target: int) -> float:
    top = max(logits)
    return top + math.log(sum(math.exp(x - top) for x in logits)) - logits[target]


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def ref_itc(v, t, tn, m, s, with_negatives: bool, masked: bool) -> float:
    b, k = len(v), len(tn[0])
    i2t = []
    for i in range(b):
        logits = [s * dot(v[i], t[j]) for j in range(b)]
        if with_negatives:
            logits += [s * dot(v[i], tn[j][q]) for j in range(b) for q in range(k) if m[j][q] or not masked]
        i2t.append(ce(logits, i))
    t2i = [ce([s * dot(v[i], t[j]) for i in range(b)], j) for j in range(b)]
    return (mean(i2t) + mean(t2i)) / 2


def ref_margin_theta(g, n, m, released: bool, upper: float = 10.0) -> list[float]:
    """`mean` threshold: mean_i g_i - mean over valid (released: nonzero masked) n_ik, clamped to [0, upper]."""
    b, k = len(n), len(n[0])
    out = []
    for q in range(k):
        if released:
            vals = [n[i][q] * m[i][q] for i in range(b) if n[i][q] * m[i][q] != 0]
        else:
            vals = [n[i][q] for i in range(b) if m[i][q]]
        neg = mean(vals) if vals else 0.0
        out.append(min(max(mean(g) - neg, 0.0), upper))
    return out


def ref_corrected(v, t, tn, m, s, w=(0.2, 1.0, 0.2, 0.0, 0.0, 0.0), gamma=1.0) -> dict[str, float]:
    """Corrected AHNPL; w = (mhn, mhn_image, margin, positive, ceclip_intra, ceclip_cross)."""
    b, k = len(v), len(tn[0])
    g = [s * dot(v[i], t[i]) for i in range(b)]
    n = [[s * dot(v[i], tn[i][q]) for q in range(k)] for i in range(b)]
    itc = ref_itc(v, t, tn, m, s, True, True)
    mhn_text = mean([ce([g[i]] + [n[i][q] for q in range(k) if m[i][q]], 0) for i in range(b)])
    image_rows = []
    for i in range(b):
        logits = [s * dot(t[i], v[i])]
        for q in range(k):
            if m[i][q]:
                vn = unit([v[i][d] + gamma * (tn[i][q][d] - t[i][d]) for d in range(len(v[i]))])
                logits.append(s * dot(t[i], vn))
        image_rows.append(ce(logits, 0))
    mhn_image = mean(image_rows)
    theta = ref_margin_theta(g, n, m, released=False)
    hinge = [max(theta[q] + n[i][q] - g[i], 0.0) for i in range(b) for q in range(k) if m[i][q]]
    margin = mean(hinge) if hinge else 0.0
    alpha = sorted(g)[b // 2]  # median (odd B)
    positive = mean([max(alpha - gi, 0.0) for gi in g])
    intra = mean(
        [ce([g[i]] + [s * dot(t[i], tn[j][q]) for j in range(b) for q in range(k) if m[j][q]], 0) for i in range(b)]
    )
    loss = itc + w[0] * (mhn_text + w[1] * mhn_image) + w[2] * margin + w[3] * positive + w[4] * intra + w[5] * margin
    return {"loss": loss, "itc": itc, "mhn_text": mhn_text, "mhn_image": mhn_image, "margin": margin,
            "positive": positive,
                "ceclip_intra": intra, "theta": theta, "alpha": alpha}


def ref_released(v, t, tn, m, s, theta: list[float], image_weight: float = 1.0) -> dict[str, float]:
    """Released single-process computation (docs/METHOD.md §3): B x KB mhn logits, unmasked ITC, lagged theta."""
    b, k = len(v), len(tn[0])
    flat_t = [tn[j][q] for j in range(b) for q in range(k)]
    flat_v = [[v[j][d] + tn[j][q][d] - t[j][d] for d in range(len(v[j]))] for j in range(b) for q in range(k)]
    mhn_text = mean([ce([s * dot(t[i], x) for x in flat_t], i) for i in range(b)])
    mhn_image = mean([ce([s * dot(v[i], x) for x in flat_v], i) for i in range(b)])
    g = [s * dot(v[i], t[i]) for i in range(b)]
    n = [[s * dot(v[i], tn[i][q]) for q in range(k)] for i in range(b)]
    hinge = [max(theta[q] + n[i][q] * m[i][q] - g[i], 0.0) * m[i][q] for i in range(b) for q in range(k)]
    margin = sum(hinge) / (b * k)
    itc = ref_itc(v, t, tn, m, s, True, False)
    loss = itc + 0.2 * (mhn_text + image_weight * mhn_image) + 0.2 * margin
    return {"loss": loss, "itc": itc, "mhn_text": mhn_text, "mhn_image": mhn_image, "margin": margin,
                "next_theta": ref_margin_theta(g, n, m, released=True)}


# ----------------------------------------------------------------------------------------- fixtures
def make_batch(b: int = 3, k: int = 2, d: int = 4, seed: int = 0, mask: list[list[bool]] | None = None):
    gen = torch.Generator().manual_seed(seed)
    v = F.normalize(torch.randn(b, d, generator=gen, dtype=torch.float64), dim=-1)
    t = F.normalize(torch.randn(b, d, generator=gen, dtype=torch.float64), dim=-1)
    tn = F.normalize(torch.randn(b, k, d, generator=gen, dtype=torch.float64), dim=-1)
    m = torch.tensor(mask) if mask is not None else torch.rand(b, k, generator=gen) > 0.3
    return v, t, tn, m


def as_lists(v, t, tn, m):
    return v.tolist(), t.tolist(), tn.tolist(), m.tolist()


MASK = [[True, True], [True, False], [False, False]]  # row 2 has no valid negative


def close(a: torch.Tensor, b: float, tol: float = 2e-5) -> bool:
    return abs(float(a) - b) <= tol * max(1.0, abs(b))


# ----------------------------------------------------------------------------------------- corrected variant
def test_corrected_all_terms_match_loop_reference() -> None:
    v, t, tn, m = make_batch(mask=MASK)
    loss = AHNPLLoss(negative_types=TYPES2, positive_weight=0.1, ceclip_intra_weight=0.3, ceclip_cross_weight=0.2)
    out = loss(v, t, tn, m, torch.tensor(SCALE))
    ref = ref_corrected(*as_lists(v, t, tn, m), SCALE, w=(0.2, 1.0, 0.2, 0.1, 0.3, 0.2))
    for key in ("loss", "itc", "mhn_text", "mhn_image", "margin", "positive", "ceclip_intra"):
        assert close(out[key], ref[key]), (key, float(out[key]), ref[key])
    assert close(out["ceclip_cross"], ref["margin"])
    for q, name in enumerate(TYPES2):
        assert close(out[f"margin/{name}"], ref["theta"][q])
    assert close(out["positive_margin"], ref["alpha"])


def test_corrected_has_no_margin_lag_and_diagnostics() -> None:
    loss = AHNPLLoss(negative_types=TYPES2)
    for seed in (1, 2):  # the second batch uses its own theta, not the first batch's
        v, t, tn, m = make_batch(seed=seed, mask=[[True, True], [True, False], [False, True]])
        out = loss(v, t, tn, m, SCALE)
        ref = ref_corrected(*as_lists(v, t, tn, m), SCALE)
        assert close(out["loss"], ref["loss"]) and close(out["margin"], ref["margin"])
    g = [SCALE * dot(a, b) for a, b in zip(v.tolist(), t.tolist())]
    n = [[SCALE * dot(v.tolist()[i], tn.tolist()[i][q]) for q in range(2)] for i in range(3)]
    valid_a = [0, 1]  # rows with a valid type-"a" negative
    assert close(out["valid/a"], 2 / 3) and close(out["valid/b"], 2 / 3)
    assert close(out["pos_score/a"], mean([g[i] for i in valid_a]))
    assert close(out["neg_score/a"], mean([n[i][0] for i in valid_a]))
    theta_a = ref["theta"][0]
    assert close(out["active/a"], mean([float(theta_a + n[i][0] - g[i] > 0) for i in valid_a]))
    assert all(isinstance(value, torch.Tensor) and not value.requires_grad
               for key, value in out.items() if "/" in key or key == "positive_margin")


def test_clip_and_negclip_configurations() -> None:
    v, t, tn, m = make_batch(b=4, k=2, seed=3, mask=[[True, False], [True, True], [False, False], [False, True]])
    clip = AHNPLLoss(negative_types=TYPES2, itc_negatives=False, mhn_weight=0.0, margin_weight=0.0)
    out = clip(v, t, tn, m, SCALE)
    logits = SCALE * v @ t.T
    expected = (F.cross_entropy(logits, torch.arange(4)) + F.cross_entropy(logits.T, torch.arange(4))) / 2
    assert close(out["loss"], float(expected))
    assert all(float(out[name]) == 0.0 for name in TERMS if name != "itc")
    negclip = AHNPLLoss(negative_types=TYPES2, mhn_weight=0.0, margin_weight=0.0)
    out = negclip(v, t, tn, m, SCALE)
    assert close(out["loss"], ref_itc(*as_lists(v, t, tn, m), SCALE, True, True))
    assert negclip.term_weights == {"itc": 1.0, "mhn_text": 0.0, "mhn_image": 0.0, "margin": 0.0, "positive": 0.0,
                                    "ceclip_intra": 0.0, "ceclip_cross": 0.0}


def test_real_image_negatives_replace_perturbation() -> None:
    v, t, tn, m = make_batch(mask=MASK)
    vn = F.normalize(torch.randn(3, 2, 4, dtype=torch.float64), dim=-1)
    out = AHNPLLoss(negative_types=TYPES2)(v, t, tn, m, SCALE, image_negative_features=vn)
    rows = []
    for i in range(3):
        logits = [SCALE * dot(t[i].tolist(), v[i].tolist())]
        logits += [SCALE * dot(t[i].tolist(), vn[i, q].tolist()) for q in range(2) if MASK[i][q]]
        rows.append(ce(logits, 0))
    assert close(out["mhn_image"], mean(rows))


# ----------------------------------------------------------------------------------------- released variant
def test_released_matches_loop_reference_with_lag() -> None:
    loss = AHNPLLoss(loss_variant="released", negative_types=TYPES2, renormalize=False)
    theta = [0.0, 0.0]  # the released loop starts each epoch from theta = 0
    for seed in (4, 5, 6):
        v, t, tn, m = make_batch(seed=seed, mask=[[True, True], [True, False], [False, True]])
        out = loss(v, t, tn, m, SCALE)
        ref = ref_released(*as_lists(v, t, tn, m), SCALE, theta)
        for key in ("loss", "itc", "mhn_text", "mhn_image", "margin"):
            assert close(out[key], ref[key]), (seed, key, float(out[key]), ref[key])
        assert float(out["positive"]) == 0.0
        for q, name in enumerate(TYPES2):
            assert close(out[f"margin/{name}"], theta[q])
        theta = ref["next_theta"]
    assert torch.allclose(loss.margin.theta, torch.tensor(theta, dtype=torch.float32), atol=1e-5)


def test_released_image_weight_is_configurable() -> None:
    v, t, tn, m = make_batch(seed=7, mask=MASK)
    out = AHNPLLoss(loss_variant="released", negative_types=TYPES2, renormalize=False, mhn_image_weight=0.001)(
        v, t, tn, m, SCALE
    )
    ref = ref_released(*as_lists(v, t, tn, m), SCALE, [0.0, 0.0], image_weight=0.001)
    assert close(out["loss"], ref["loss"])


def test_released_rejects_positive_and_warns_on_renormalize() -> None:
    with pytest.raises(ValueError, match="positive"):
        AHNPLLoss(loss_variant="released", positive_weight=0.2, renormalize=False)
    with pytest.warns(UserWarning, match="renormalize=False"):
        AHNPLLoss(loss_variant="released")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AHNPLLoss(loss_variant="released", renormalize=False)


# ----------------------------------------------------------------------------------------- safety and gradients
def test_all_invalid_negatives_give_no_nan() -> None:
    for mask in ([[False, False]] * 3, MASK):
        v, t, tn, m = make_batch(mask=mask)
        v.requires_grad_()
        tn.requires_grad_()
        out = AHNPLLoss(negative_types=TYPES2, positive_weight=0.1, ceclip_intra_weight=0.3, ceclip_cross_weight=0.2)(
            v, t, tn, m, SCALE
        )
        assert check_finite(out) is None
        out["loss"].backward()
        assert torch.isfinite(v.grad).all() and torch.isfinite(tn.grad).all()
    none_valid = torch.zeros(3, 2, dtype=torch.bool)
    out = AHNPLLoss(negative_types=TYPES2, margin_weight=0.0, itc_weight=0.0)(v, t, tn, none_valid, SCALE)
    assert out["mhn_text"].item() == 0.0 and out["mhn_image"].item() == 0.0 and out["loss"].detach().item() == 0.0


def test_image_side_gradient_flow() -> None:
    v, t, tn, m = make_batch(mask=[[True, True], [True, False], [True, True]])
    for x in (v, t, tn):
        x.requires_grad_()
    out = AHNPLLoss(negative_types=TYPES2)(v, t, tn, m, SCALE)
    out["mhn_image"].backward()
    assert tn.grad is None or torch.count_nonzero(tn.grad) == 0  # sg(t_ik - t_i): no gradient to the negatives
    assert torch.count_nonzero(v.grad) > 0 and torch.count_nonzero(t.grad) > 0
    # a tiny "image encoder" receives gradient from the image side alone
    enc = torch.nn.Linear(4, 4, dtype=torch.float64)
    feats = F.normalize(enc(torch.randn(3, 4, dtype=torch.float64)), dim=-1)
    AHNPLLoss(negative_types=TYPES2)(feats, t.detach(), tn.detach(), m, SCALE)["mhn_image"].backward()
    assert enc.weight.grad is not None and enc.weight.grad.abs().sum() > 0


def test_eval_does_not_touch_state_and_shapes_are_checked() -> None:
    loss = AHNPLLoss(negative_types=TYPES2, positive_weight=0.1).eval()
    v, t, tn, m = make_batch(mask=MASK)
    loss(v, t, tn, m, SCALE)
    assert float(loss.margin.theta.abs().sum()) == 0.0 and float(loss.positive_margin.alpha) == 0.0
    assert set(loss.state_dict()) == {"margin.theta", "margin.initialized", "positive_margin.alpha",
                                      "positive_margin.initialized"}
    with pytest.raises(ValueError, match="negative_features"):
        AHNPLLoss()(v, t, tn, m, SCALE)  # 5 default types vs K = 2


def test_check_finite() -> None:
    terms = {"a": torch.tensor(1.0), "b": torch.tensor(float("nan")), "c": torch.tensor(float("inf"))}
    assert check_finite(terms) == "b"
    assert check_finite({"a": torch.tensor([1.0, 2.0])}) is None
    assert check_finite({"x": torch.tensor([1.0, float("-inf")]), "y": torch.tensor(0.0)}) == "x"


def test_released_matches_benchmark_naive_implementation() -> None:
    spec = importlib.util.spec_from_file_location("bench_loss", Path(__file__).parents[1] / "benchmarks" / "loss.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    v, t, tn, m, s = bench.make_inputs(B=16, K=5, D=32, seed=0)
    loss = AHNPLLoss(loss_variant="released", renormalize=False)
    theta: torch.Tensor | float = 0.0
    for _ in range(3):  # the lagged threshold must agree step after step
        ours = loss(v, t, tn, m, s)
        naive_loss, theta = bench.released_naive(v, t, tn, m, s, theta)
        theta = theta.clamp(0, 10.0)
        assert torch.allclose(ours["loss"], naive_loss, atol=1e-5)
        v = F.normalize(v.detach() + 0.1 * tn.detach()[:, 0], dim=-1)


def test_half_precision_inputs_are_computed_in_float32() -> None:
    v, t, tn, m = make_batch(seed=8, mask=MASK)
    half = [x.to(torch.bfloat16) for x in (v, t, tn)]
    loss = AHNPLLoss(negative_types=TYPES2, positive_weight=0.1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = loss(*half, m, torch.tensor(SCALE, dtype=torch.bfloat16))
    assert out["loss"].dtype == torch.float32
    ref = ref_corrected(*as_lists(*[x.double() for x in half], m), SCALE, w=(0.2, 1.0, 0.2, 0.1, 0.0, 0.0))
    assert close(out["loss"], ref["loss"])


def test_term_switches() -> None:
    v, t, tn, m = make_batch(seed=9, mask=MASK)
    vn = F.normalize(torch.randn(3, 2, 4, dtype=torch.float64), dim=-1)
    no_image = AHNPLLoss(negative_types=TYPES2, mhn_image_weight=0.0)(v, t, tn, m, SCALE)
    no_perturb = AHNPLLoss(negative_types=TYPES2, perturbation=False)
    assert float(no_image["mhn_image"]) == 0.0 and float(no_perturb(v, t, tn, m, SCALE)["mhn_image"]) == 0.0
    assert float(no_perturb(v, t, tn, m, SCALE, image_negative_features=vn)["mhn_image"]) > 0.0
    ref = ref_corrected(*as_lists(v, t, tn, m), SCALE)
    assert close(no_image["loss"], ref["itc"] + 0.2 * ref["mhn_text"] + 0.2 * ref["margin"])
    off = AHNPLLoss(negative_types=TYPES2, itc_weight=0.0, mhn_weight=0.0, margin_weight=0.0)
    out = off(v, t, tn, m, SCALE)
    assert all(float(out[name]) == 0.0 for name in ("loss", *TERMS))
    assert float(off.margin.theta.abs().sum()) == 0.0  # a switched-off margin does not move its state
    with pytest.raises(ValueError, match="mhn_weight=-1"):
        AHNPLLoss(mhn_weight=-1.0)


# ----------------------------------------------------------------------------------------- NaN guard (tensor side)
def test_non_finite_invalid_entries_cannot_poison_the_loss() -> None:
    """Masks select (torch.where), never multiply: NaN/inf at invalid entries changes no value and no gradient."""
    v, t, tn, m = make_batch(mask=MASK)
    vn = F.normalize(torch.randn(3, 2, 4, dtype=torch.float64), dim=-1)
    poisoned_tn, poisoned_vn = tn.clone(), vn.clone()
    poisoned_tn[~m] = float("nan")
    poisoned_vn[~m] = float("inf")
    config = dict(negative_types=TYPES2, positive_weight=0.1, ceclip_intra_weight=0.3, ceclip_cross_weight=0.2)
    results = []
    for negatives, image_negatives in ((tn, vn), (poisoned_tn, poisoned_vn)):
        leaves = [x.clone().requires_grad_() for x in (v, t, negatives, image_negatives)]
        out = AHNPLLoss(**config)(*leaves[:3], m, SCALE, image_negative_features=leaves[3])
        out["loss"].backward()
        assert check_finite(out) is None
        assert all(torch.isfinite(x.grad).all() for x in leaves), [x.grad for x in leaves]
        results.append((out, [x.grad for x in leaves]))
    (clean, clean_grads), (dirty, dirty_grads) = results
    for key in ("loss", *TERMS):
        assert torch.equal(clean[key], dirty[key]), key
    for a, b in zip(clean_grads[:2], dirty_grads[:2]):
        assert torch.equal(a, b)
    # the released computation scores every negative in its ITC and L_mhn (as the authors' code does), but its margin
    # loss and theta stay finite
    released = AHNPLLoss(loss_variant="released", negative_types=TYPES2, renormalize=False, mhn_weight=0.0)
    for _ in range(2):
        out = released(v, t, poisoned_tn, m, SCALE)
    assert torch.isfinite(out["margin"]) and torch.isfinite(released.margin.theta).all()


def test_released_without_negative_types_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"needs at least one negative type.*mhn_weight=0.2, margin_weight=0.2"):
        AHNPLLoss(loss_variant="released", negative_types=(), renormalize=False)
    v, t, _, _ = make_batch(b=3, k=1)
    clip = AHNPLLoss(loss_variant="released", negative_types=(), itc_negatives=False, mhn_weight=0.0,
                     margin_weight=0.0, renormalize=False)
    out = clip(v, t, torch.zeros(3, 0, 4, dtype=torch.float64), torch.zeros(3, 0, dtype=torch.bool), SCALE)
    assert torch.isfinite(out["loss"]) and out["loss"] > 0
