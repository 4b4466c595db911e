"""Synthetic TensorBoard runs with the project's scalar tags, written with SummaryWriter (fast, no training)."""

from __future__ import annotations

from pathlib import Path

from ahnpl_lightning.analysis import LOSS_TAGS, PER_TYPE_KEYS
from ahnpl_lightning.data.negatives import NEGATIVE_TYPES

STEPS: tuple[int, ...] = (1, 3, 5, 7)
EVAL_STEPS: tuple[int, ...] = (4, 8)
EVAL_TAGS: tuple[str, ...] = ("eval/sugarcrepe/swap_att", "eval/sugarcrepe/replace_rel")
EMPTY_VERB_STEPS: tuple[int, ...] = (3, 5)  # steps at which no verb negative is valid in the AHNPL run


def value(tag: str, step: int) -> float:
    """A deterministic value per (tag, step), distinct across tags, exactly representable in float32."""
    return (sum(map(ord, tag)) % 97) / 8.0 + step / 4.0


def run_tags(margin_terms: bool = True) -> list[str]:
    """Train tags of one run: losses, per-type diagnostics (AHNPL only), positive margin (AHNPL only), logit scale."""
    tags = [*LOSS_TAGS, "train/logit_scale"]
    if margin_terms:
        tags += [f"train/{key}/{kind}" for key in PER_TYPE_KEYS for kind in NEGATIVE_TYPES]
        tags.append("train/positive_margin")
    return tags


def write_run(folder: Path, margin_terms: bool = True, eval_tags: bool = True) -> dict[str, dict[int, float]]:
    """Write one run's event file into ``folder``; return what was written as ``{tag: {step: value}}``.

    With ``margin_terms`` the verb type has no valid negative at EMPTY_VERB_STEPS (``train/valid/verb`` = 0 there);
    every run gets ``val/acc_i2t`` and ``val/acc_hard_negative`` at the last step; ``eval_tags`` adds EVAL_TAGS.
    """
    from torch.utils.tensorboard import SummaryWriter

    written: dict[str, dict[int, float]] = {}
    writer = SummaryWriter(log_dir=str(folder))

    def add(tag: str, step: int, v: float) -> None:
        writer.add_scalar(tag, v, step)
        written.setdefault(tag, {})[step] = v

    for tag in run_tags(margin_terms):
        for step in STEPS:
            v = value(tag, step)
            if tag == "train/valid/verb" and step in EMPTY_VERB_STEPS:
                v = 0.0
            add(tag, step, v)
    for tag in ("val/acc_i2t", "val/acc_hard_negative"):
        add(tag, STEPS[-1], value(tag, STEPS[-1]) / 100.0)
    if eval_tags:
        for tag in EVAL_TAGS:
            for step in EVAL_STEPS:
                add(tag, step, value(tag, step) / 100.0)
    writer.close()
    return written


def write_two_runs(root: Path) -> dict[str, dict[str, dict[int, float]]]:
    """``<root>/ahnpl/version_0`` (every tag) and ``<root>/negclip/version_0`` (no margin terms, no eval tags)."""
    return {
        "ahnpl/version_0": write_run(root / "ahnpl" / "version_0"),
        "negclip/version_0": write_run(root / "negclip" / "version_0", margin_terms=False, eval_tags=False),
    }
