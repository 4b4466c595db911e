"""`make bench-quality`: does AHNPL beat the baselines? Measured on the synthetic world, on 2 CPU cores.

1. pre-train a tiny CLIP from scratch with the plain contrastive loss (the stand-in for "pretrained CLIP"); cached;
2. fine-tune from it with the same budget: CLIP fine-tune, NegCLIP, CE-CLIP, AHNPL as released, AHNPL (ours), AHNPL
   without each of perturbation / multimodal loss / dynamic margin / positive margin, and AHNPL with the world's real
   counterfactual image negatives instead of the embedding perturbation; several seeds each;
3. evaluate every run with the project's evaluation on the world's exported ARO / SugarCrepe / VALSE / Winoground /
   retrieval sets, in-distribution and held-out compositions separately;
4. write `results/quality.md`, `results/quality.csv` (mean and standard deviation over seeds, one row per method),
   `results/quality_runs.csv` (every run, every number) and `results/quality.png`.

`python -m benchmarks.quality --quick` (one seed, fewer steps) finishes in under 10 minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import statistics
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from ahnpl_lightning.data.datamodule import AHNPLDataModule
from ahnpl_lightning.data.sources import WorldSource
from ahnpl_lightning.data.world import World, export_benchmarks, read_manifest
from ahnpl_lightning.evaluation.run import evaluate_benchmarks
from ahnpl_lightning.losses import AHNPLLoss
from ahnpl_lightning.model import TINY_MODEL
from ahnpl_lightning.module import AHNPLModule

ROOT = Path(__file__).resolve().parents[1]
CLIP = {"itc_negatives": False, "mhn_weight": 0.0, "perturbation": False, "margin_weight": 0.0}
OURS = {"positive_weight": 0.1}
# method -> (AHNPLLoss kwargs, uses the world's rendered counterfactual images)
METHODS: dict[str, tuple[dict[str, Any], bool]] = {
    "CLIP fine-tune": (CLIP, False),
    "NegCLIP": ({"itc_negatives": True, "mhn_weight": 0.0, "perturbation": False, "margin_weight": 0.0}, False),
    "CE-CLIP": ({"mhn_weight": 0.0, "perturbation": False, "margin_weight": 0.0,
                 "ceclip_intra_weight": 0.3, "ceclip_cross_weight": 0.2}, False),
    "AHNPL (released)": ({"loss_variant": "released", "renormalize": False}, False),
    "AHNPL (ours)": (OURS, False),
    "AHNPL - perturbation": ({**OURS, "perturbation": False}, False),
    "AHNPL - multimodal loss": ({**OURS, "mhn_weight": 0.0}, False),
    "AHNPL - dynamic margin": ({**OURS, "margin_weight": 0.0}, False),
    "AHNPL - positive margin": ({**OURS, "positive_weight": 0.0}, False),
    "AHNPL + real image negatives": (OURS, True),
}
BENCHMARKS = ["aro", "sugarcrepe", "valse", "winoground", "retrieval"]
# Headline groups: the mean of these subset accuracies, per split (in_distribution / held_out).
GROUPS: dict[str, list[str]] = {
    "attribute binding": ["aro/vg_attribution", "sugarcrepe/swap_att", "sugarcrepe/replace_att"],
    "relations": ["aro/vg_relation", "sugarcrepe/replace_rel", "valse/relations", "sugarcrepe/swap_obj"],
    "winoground group": ["winoground/group"],
    "t2i R@1": ["retrieval/coco/t2i_R@1"],
}
SPLITS = ("held_out", "in_distribution")


@dataclass
class Budget:
    """Steps and sizes of one study."""

    pretrain_steps: int = 2500
    pretrain_lr: float = 1e-3
    finetune_steps: int = 250
    finetune_lr: float = 1e-4
    batch_size: int = 32
    seeds: tuple[int, ...] = (0, 1, 2)
    eval_size: int = 200
    methods: tuple[str, ...] = field(default_factory=lambda: tuple(METHODS))

    @classmethod
    def quick(cls) -> Budget:
        return cls(pretrain_steps=300, finetune_steps=30, seeds=(0,))


def _trainer(steps: int, log_dir: Path, name: str, version: str) -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu", devices=1, max_steps=steps, limit_val_batches=0, num_sanity_val_steps=0,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=5,
        logger=TensorBoardLogger(str(log_dir), name=name, version=version), gradient_clip_val=1.0,
    )


def _data(steps: int, batch_size: int, image_negatives: bool = False) -> AHNPLDataModule:
    source = WorldSource(train_size=steps * batch_size, val_size=0, image_negatives=image_negatives)
    return AHNPLDataModule(source, batch_size=batch_size, num_workers=1, image_negatives=image_negatives)


def pretrain(budget: Budget, work: Path) -> Path:
    """Train the tiny CLIP from scratch with the plain contrastive loss; cached by its settings."""
    key = hashlib.sha256(json.dumps([budget.pretrain_steps, budget.pretrain_lr, budget.batch_size]).encode())
    path = work / f"pretrain-{key.hexdigest()[:10]}.pt"
    if path.exists():
        print(f"pre-trained CLIP: cached {path}")
        return path
    pl.seed_everything(1234, workers=True)
    module = AHNPLModule(TINY_MODEL, loss=AHNPLLoss(**CLIP), lr=budget.pretrain_lr,
                         warmup_steps=max(1, budget.pretrain_steps // 10))
    start = time.perf_counter()
    _trainer(budget.pretrain_steps, work / "logs", "pretrain", "v0").fit(
        module, _data(budget.pretrain_steps, budget.batch_size)
    )
    torch.save(module.open_clip_state_dict(), path)
    print(f"pre-trained CLIP in {time.perf_counter() - start:.0f} s -> {path}")
    return path


def flatten(results: dict[str, Any]) -> dict[str, float]:
    """`{"<benchmark>/<subset>": accuracy}` over subsets and summaries."""
    return {f"{bench}/{name}": m["accuracy"] for bench, res in results["benchmarks"].items()
            for section in ("subsets", "summary") for name, m in res[section].items()}


def headline(numbers: dict[str, float]) -> dict[str, float]:
    """The GROUPS means per split, in percent (NaN where a group has no number)."""
    out = {}
    for group, members in GROUPS.items():
        for split in SPLITS:
            values = [numbers[f"{m}@{split}"] for m in members if f"{m}@{split}" in numbers]
            out[f"{group} [{split}]"] = 100 * statistics.fmean(values) if values else math.nan
    return out


def evaluate(module: AHNPLModule, data_root: Path) -> dict[str, float]:
    results = evaluate_benchmarks(BENCHMARKS, module.model, module.preprocess_val, module.tokenizer, data_root,
                                  batch_size=256, progress=False)
    return flatten(results)


def finetune(method: str, seed: int, budget: Budget, weights: Path, work: Path, data_root: Path) -> dict[str, Any]:
    """One fine-tuning run from the pre-trained weights, evaluated."""
    kwargs, image_negatives = METHODS[method]
    pl.seed_everything(seed, workers=True)
    module = AHNPLModule(TINY_MODEL, pretrained=str(weights), loss=AHNPLLoss(**kwargs), lr=budget.finetune_lr,
                         warmup_steps=max(1, budget.finetune_steps // 10), use_image_negatives=image_negatives)
    slug = method.lower().replace(" ", "_").replace("(", "").replace(")", "").replace("+", "plus").replace("-", "no")
    start = time.perf_counter()
    _trainer(budget.finetune_steps, work / "logs", slug, f"seed{seed}").fit(
        module, _data(budget.finetune_steps, budget.batch_size, image_negatives)
    )
    train_s = time.perf_counter() - start
    numbers = evaluate(module, data_root)
    return {"method": method, "seed": seed, "train_s": train_s, **headline(numbers), "numbers": numbers}


def summarise(runs: list[dict[str, Any]], methods: tuple[str, ...]) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds, one row per method."""
    columns = [c for c in runs[0] if "[" in c]
    rows = []
    for method in methods:
        mine = [r for r in runs if r["method"] == method]
        row: dict[str, Any] = {"method": method, "seeds": len(mine)}
        for c in columns:
            values = [r[c] for r in mine if not math.isnan(r[c])]
            row[c] = statistics.fmean(values) if values else math.nan
            row[f"{c} sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def verdict(rows: list[dict[str, Any]]) -> list[str]:
    """The study's aims, checked: ours above every baseline on held-out binding and relations by more than the
    seed spread, and retrieval no more than 2 points below CLIP fine-tune."""
    by = {r["method"]: r for r in rows}
    ours = by.get("AHNPL (ours)")
    if ours is None:
        return []
    lines = []
    baselines = [m for m in ("CLIP fine-tune", "NegCLIP", "CE-CLIP", "AHNPL (released)") if m in by]
    for group in ("attribute binding [held_out]", "relations [held_out]"):
        for name in baselines:
            base = by[name]
            gap = ours[group] - base[group]
            spread = max(ours[f"{group} sd"], base[f"{group} sd"])
            status = "above, beyond the seed spread" if gap > spread else ("above, within the seed spread"
                                                                          if gap > 0 else "NOT above")
            lines.append(f"- {group}: AHNPL (ours) {ours[group]:.1f} vs {name} {base[group]:.1f} "
                         f"({gap:+.1f} points; spread {spread:.1f}): {status}")
    if "CLIP fine-tune" in by:
        key = "t2i R@1 [held_out]"
        gap = ours[key] - by["CLIP fine-tune"][key]
        lines.append(f"- {key}: AHNPL (ours) {ours[key]:.1f} vs CLIP fine-tune {by['CLIP fine-tune'][key]:.1f} "
                     f"({gap:+.1f} points; aim: no more than 2 below): {'met' if gap >= -2 else 'NOT met'}")
    return lines


def write_outputs(rows: list[dict[str, Any]], runs: list[dict[str, Any]], budget: Budget, out: Path,
                  seconds: float) -> None:
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    table.to_csv(out / "quality.csv", index=False, float_format="%.2f")
    pd.DataFrame([{k: v for k, v in r.items() if k != "numbers"} | r["numbers"] for r in runs]).to_csv(
        out / "quality_runs.csv", index=False, float_format="%.4f")
    columns = [c for c in table.columns if "[" in c and not c.endswith(" sd")]
    lines = ["# Quality study: AHNPL vs baselines on the synthetic world", "",
             f"Tiny CLIP ({TINY_MODEL}) pre-trained from scratch with the plain contrastive loss for "
             f"{budget.pretrain_steps} steps, then fine-tuned {budget.finetune_steps} steps (batch "
             f"{budget.batch_size}) per method and seed; seeds {list(budget.seeds)}; evaluation sets of "
             f"{budget.eval_size} items per file from `ahnpl world`. Mean ± standard deviation over seeds, in %. "
             f"Total {seconds / 60:.0f} min on {torch.get_num_threads()} CPU threads. Produced by "
             "`make bench-quality` (`benchmarks/quality.py`).", "",
             "Groups (each the mean of these accuracies on the split):",
             *[f"- {g}: {', '.join(m)}" for g, m in GROUPS.items()], "",
             "| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for row in rows:
        cells = [f"{row[c]:.1f} ± {row[c + ' sd']:.1f}" for c in columns]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    lines += ["", "## Against the aims", "", *verdict(rows), "", "![quality](quality.png)", ""]
    (out / "quality.md").write_text("\n".join(lines))
    plot(rows, out / "quality.png")


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = ["attribute binding [held_out]", "relations [held_out]", "attribute binding [in_distribution]",
              "relations [in_distribution]", "t2i R@1 [held_out]"]
    fig, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 0.45 * len(rows) + 1.5), sharey=True)
    labels = [r["method"] for r in rows]
    for ax, group in zip(axes, groups):
        ax.barh(labels, [r[group] for r in rows], xerr=[r[f"{group} sd"] for r in rows], color="tab:blue")
        ax.set_title(group, fontsize=9)
        ax.invert_yaxis()
        ax.set_xlabel("%")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, fewer steps (under 10 minutes)")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "quality", help="logs, cache, eval sets")
    parser.add_argument("--methods", default=None, help="comma-separated subset of the methods")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds")
    parser.add_argument("--pretrain-steps", type=int, default=None)
    parser.add_argument("--finetune-steps", type=int, default=None)
    parser.add_argument("--eval-size", type=int, default=None, help="items per evaluation file")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    budget = Budget.quick() if args.quick else Budget()
    if args.methods:
        budget.methods = tuple(m.strip() for m in args.methods.split(","))
        unknown = set(budget.methods) - set(METHODS)
        if unknown:
            parser.error(f"unknown methods {sorted(unknown)}; known: {list(METHODS)}")
    if args.seeds:
        budget.seeds = tuple(int(s) for s in args.seeds.split(","))
    for name in ("pretrain_steps", "finetune_steps", "eval_size"):
        if getattr(args, name) is not None:
            setattr(budget, name, getattr(args, name))
    start = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    data_root = args.work / f"world_eval_{budget.eval_size}"
    if read_manifest(data_root) is None:
        export_benchmarks(World(seed=0), data_root, size=budget.eval_size, seed=0, progress=False)
    weights = pretrain(budget, args.work)
    pretrained_numbers = headline(evaluate(AHNPLModule(TINY_MODEL, pretrained=str(weights)), data_root))
    runs = []
    for seed in budget.seeds:
        for method in budget.methods:
            run = finetune(method, seed, budget, weights, args.work, data_root)
            runs.append(run)
            print(f"{method:<30} seed {seed}: " + ", ".join(f"{k} {v:.1f}" for k, v in run.items() if "[" in k)
                  + f" ({run['train_s']:.0f} s)", flush=True)
    rows = summarise(runs, budget.methods)
    rows.insert(0, {"method": "pre-trained CLIP (no fine-tuning)", "seeds": 1,
                    **{k: v for k, v in pretrained_numbers.items()}, **{f"{k} sd": 0.0 for k in pretrained_numbers}})
    write_outputs(rows, runs, budget, args.out, time.perf_counter() - start)
    (args.out / "quality.json").write_text(json.dumps({"budget": asdict(budget), "rows": rows}, indent=2))
    print((args.out / "quality.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
