"""Time AHNPLLoss forward+backward against a re-implementation of the authors' released loss (docs/METHOD.md §3).

``released_naive`` restates, step for step, the single-process branch of the released ``Clip_DALoss`` with the
recipe's flags (hard negatives in the ITC, margin loss, multimodal negative loss): concatenated caption/negative
features, the B x 5B multimodal logits with arange(B) labels, the norm-times-direction perturbation, the lagged
threshold returned for the next step (the caller clamps it, as the released training loop does).

Run: ``python -m benchmarks.loss [--B 128 --K 5 --D 512 --repeats 20]``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import Tensor

from ahnpl_lightning.losses import AHNPLLoss


def released_naive(
    image_features: Tensor,
    text_features: Tensor,
    negative_features: Tensor,
    negative_mask: Tensor,
    logit_scale: Tensor,
    thresholds: Tensor | float,
    margin_weight: float = 0.2,
    mhn_weight: float = 0.2,
) -> tuple[Tensor, Tensor]:
    """The released single-process loss (mean threshold) and the threshold for the next step ([B,K], unclamped)."""
    b, d = image_features.shape
    all_text = torch.cat([text_features, negative_features.reshape(-1, d)])  # the released batch layout
    gt_text = all_text[:b]
    da_text = all_text[b:]
    valid = negative_mask.float()

    base_logits = logit_scale * image_features @ gt_text.T
    logits_per_text = base_logits.T
    logits_per_image = logit_scale * image_features @ torch.cat([gt_text, da_text]).T
    gt_diag = base_logits.diag()

    # margin loss (get_mar_loss): hinge over B x K including masked entries, then the next step's threshold
    da_logits = logit_scale * (da_text.reshape(b, -1, d) @ image_features.unsqueeze(-1)).squeeze(-1) * valid
    gt_sim = gt_diag.reshape(-1, 1).expand_as(da_logits)
    mar_loss = (F.relu(thresholds + da_logits - gt_sim) * valid).mean()
    nonzero = da_logits != 0
    counts = nonzero.sum(dim=0)
    type_means = torch.where(
        counts > 0, (da_logits * nonzero).sum(dim=0) / counts, torch.zeros_like(counts, dtype=da_logits.dtype)
    )
    next_thresholds = (gt_sim.mean(0) - type_means).expand_as(gt_sim).detach()

    # multimodal negative loss (get_neg_loss) with the perturbation built from norm and direction
    diff = da_text.reshape(b, -1, d) - gt_text.unsqueeze(1)
    distance = torch.norm(diff, p=2, dim=-1).detach()
    direction = F.normalize(diff, p=2, dim=-1, eps=1e-8).detach()
    image_negatives = image_features.unsqueeze(1) + distance.unsqueeze(-1) * direction
    labels = torch.arange(b, device=image_features.device)
    text_logits = logit_scale * gt_text @ da_text.T
    image_logits = logit_scale * image_features @ image_negatives.reshape(-1, d).T
    neg_loss = F.cross_entropy(text_logits, labels) + F.cross_entropy(image_logits, labels)

    total = (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)) / 2
    total = total + mar_loss * margin_weight + neg_loss * mhn_weight
    return total, next_thresholds


def make_inputs(
    B: int = 128, K: int = 5, D: int = 512, seed: int = 0, device: str = "cpu"
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Random normalised features (leaf tensors with grad), a ~80%-valid mask and s = 100."""
    gen = torch.Generator().manual_seed(seed)
    v = F.normalize(torch.randn(B, D, generator=gen), dim=-1).to(device).requires_grad_()
    t = F.normalize(torch.randn(B, D, generator=gen), dim=-1).to(device).requires_grad_()
    tn = F.normalize(torch.randn(B, K, D, generator=gen), dim=-1).to(device).requires_grad_()
    m = (torch.rand(B, K, generator=gen) > 0.2).to(device)
    return v, t, tn, m, torch.tensor(100.0, device=device)


def _time(fn, repeats: int, device: str) -> float:
    """Median milliseconds of ``fn`` over ``repeats`` runs after 3 warm-up runs."""
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - start) * 1e3)
    return sorted(samples)[len(samples) // 2]


def bench_loss(B: int = 128, K: int = 5, D: int = 512, repeats: int = 20, device: str = "cpu") -> dict:
    """Forward+backward time (median ms) of AHNPLLoss (corrected and released) vs ``released_naive``, same tensors.

    ``ratio`` = corrected / naive (< 1 means ours is faster); ``released_max_abs_diff`` checks that our released
    variant computes the same loss as the naive re-implementation on these tensors (two steps, lagged theta).
    """
    v, t, tn, m, s = make_inputs(B, K, D, device=device)
    corrected = AHNPLLoss(negative_types=tuple(f"type{k}" for k in range(K))).to(device)
    released = AHNPLLoss(
        loss_variant="released", renormalize=False, negative_types=tuple(f"type{k}" for k in range(K))
    ).to(device)
    thresholds: list[Tensor | float] = [0.0]

    def run_ours(loss: AHNPLLoss) -> None:
        loss(v, t, tn, m, s)["loss"].backward()

    def run_naive() -> None:
        total, thresholds[0] = released_naive(v, t, tn, m, s, thresholds[0])
        thresholds[0] = thresholds[0].clamp(0, 10.0)
        total.backward()

    diff = 0.0
    check = AHNPLLoss(loss_variant="released", renormalize=False, negative_types=corrected.negative_types).to(device)
    theta: Tensor | float = 0.0
    for _ in range(2):
        ours = check(v, t, tn, m, s)["loss"].detach()
        naive, theta = released_naive(v, t, tn, m, s, theta)
        theta = theta.clamp(0, 10.0)
        diff = max(diff, float((ours - naive.detach()).abs()))

    ms_corrected = _time(lambda: run_ours(corrected), repeats, device)
    ms_released = _time(lambda: run_ours(released), repeats, device)
    ms_naive = _time(run_naive, repeats, device)
    return {
        "B": B, "K": K, "D": D, "device": device, "repeats": repeats,
        "ours_corrected_ms": ms_corrected,
        "ours_released_ms": ms_released,
        "released_naive_ms": ms_naive,
        "ratio": ms_corrected / ms_naive,
        "ratio_released_variant": ms_released / ms_naive,
        "released_max_abs_diff": diff,
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry: print the benchmark dict as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--B", type=int, default=128)
    parser.add_argument("--K", type=int, default=5)
    parser.add_argument("--D", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(json.dumps(bench_loss(args.B, args.K, args.D, args.repeats, args.device), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
