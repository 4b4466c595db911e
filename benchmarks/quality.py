"""`make bench-quality`: which fine-tuning method teaches a pre-trained CLIP compositionality? The synthetic world.

1. Every method of the registry (`benchmarks/quality_methods.py`: CLIP fine-tune, NegCLIP, CE-CLIP, AHNPL as released,
   AHNPL (ours) and its ablations, AHNPL with the world's real counterfactual image negatives), each built from the
   YAML configs users run, fine-tunes the shipped stand-in CLIP (`AHNPL-RN-64`, pretrained tag `world`) with the
   same budget, for several seeds (and, with `--lrs`, at several learning rates);
2. every run is evaluated with the project's evaluation on a fresh `ahnpl world` export (ARO, SugarCrepe, VALSE,
   Winoground, retrieval), held-out and in-distribution compositions apart, keeping per-item outcomes;
3. with several learning rates, each method is reported at its best one, chosen on a separate validation export;
4. group scores get 95 % intervals from a paired bootstrap over items and seeds (`benchmarks/quality_stats.py`), and
   every method its paired difference against NegCLIP;
5. outputs: `results/quality.md`, `quality.csv` (one row per method), `quality_runs.csv` (every run), `quality.json`,
   `quality.png`. Runs are cached under `--work`, so an interrupted study resumes where it stopped.

`python -m benchmarks.quality --quick` runs a smaller version (three methods, one seed) in under 10 minutes.
"""

# ruff: noqa: E402
from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning (3-8x faster steps on a shared machine; results/lab/pretrain_log.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import hashlib
import inspect
import json
import logging
import math
import statistics
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ahnpl_lightning.data.world import World, export_benchmarks, read_manifest
from ahnpl_lightning.evaluation.run import evaluate_benchmarks
from benchmarks import quality_report
from benchmarks.quality_methods import METHODS, RunSpec, build_module, resolve
from benchmarks.quality_stats import Outcomes, bootstrap, group_score, run_outcomes

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ["aro", "sugarcrepe", "valse", "winoground", "retrieval"]
# Headline groups: the mean of these subsets' accuracies, per split (in_distribution / held_out).
GROUPS: dict[str, list[str]] = {
    "attribute binding": ["aro/vg_attribution", "sugarcrepe/swap_att", "sugarcrepe/replace_att"],
    "relations": ["aro/vg_relation", "sugarcrepe/replace_rel", "valse/relations", "sugarcrepe/swap_obj"],
    "winoground group": ["winoground/group"],
    "t2i R@1": ["retrieval/coco/t2i_R@1"],
}
SPLITS = ("held_out", "in_distribution")
REFERENCE = "NegCLIP"
FULL_METHOD = "AHNPL (ours)"  # its parts are measured as paired differences of the ablations against it
PRETRAINED_ROW = "pre-trained CLIP (no fine-tuning)"
QUICK_METHODS = ("CLIP fine-tune", "NegCLIP", "AHNPL (ours)")
# What --lrs selects on: the mean of these columns on the validation export.
SELECTION = ("attribute binding [held_out]", "relations [held_out]")


# The default study (`make bench-quality`, at most 60 minutes on 2 CPU cores): every method but the costly real-image
# variant (it renders K counterfactual images per sample; run it with --methods), one learning rate for all.
STUDY_METHODS = tuple(m for m in METHODS if m != "AHNPL + real image negatives")


@dataclass
class Budget:
    """Steps and sizes of one study."""

    finetune_steps: int = 250
    batch_size: int = 64
    warmup_steps: int = 20
    # One learning rate for every method (None: each config's own, 1e-4 for all). 5e-4: at 1e-4 no method moves from
    # the stand-in in this budget (results/lab/pretrain_log.md, f1); a per-method sweep is --lrs (too slow on a CPU).
    lrs: tuple[float | None, ...] = (5e-4,)
    seeds: tuple[int, ...] = (0, 1, 2)
    eval_size: int = 1000
    val_size: int = 500  # validation export (only with several learning rates)
    replicates: int = 2000
    methods: tuple[str, ...] = STUDY_METHODS
    device: str = "cpu"

    @classmethod
    def quick(cls) -> Budget:
        return cls(finetune_steps=150, seeds=(0,), eval_size=500, methods=QUICK_METHODS, replicates=1000)


# --- evaluation ------------------------------------------------------------------------------------------------------
def ensure_export(root: Path, size: int, seed: int) -> Path:
    """An `ahnpl world` export of World(seed=0)'s test scenes (export seed `seed`), written once."""
    if read_manifest(root) is None:
        export_benchmarks(World(seed=0), root, size=size, seed=seed, progress=False)
    return root


def study_view(root: Path) -> Path:
    """A data root next to `root` that links only the files the headline groups read (the evaluation then encodes
    about half the images); the full export stays untouched beside it. Retrieval reads `coco/` of the full export
    (linking it here would also run ARO's COCO-Order, which no group uses)."""
    view = root.with_name(root.name + "_groups")
    if (view / "world_manifest.json").exists():
        return view
    needed: dict[str, list[str]] = {}
    for members in GROUPS.values():
        for member in members:
            bench, subset = member.split("/", 1)
            needed.setdefault(bench, []).append(subset)
    links = ["winoground", "aro/images", "valse/images", "coco/val2017"]  # SugarCrepe's images live in coco/
    links += [f"aro/visual_genome_{s.removeprefix('vg_')}.json" for s in needed.get("aro", [])]
    links += [f"sugarcrepe/{s}.json" for s in needed.get("sugarcrepe", [])]
    links += [f"valse/{s}.json" for s in needed.get("valse", [])]
    for rel in links:
        target, link = (root / rel).resolve(), view / rel
        if not target.exists():
            raise FileNotFoundError(f"{target} is missing from the export {root}; delete it to re-export")
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(target, target_is_directory=target.is_dir())
    for name in ("world_scenes.json", "world_manifest.json"):  # the manifest last: it marks the view complete
        (view / name).unlink(missing_ok=True)
        (view / name).symlink_to((root / name).resolve())
    return view


def flatten(results: dict[str, Any]) -> dict[str, float]:
    """`{"<benchmark>/<subset>": accuracy}` over subsets and summaries."""
    return {f"{bench}/{name}": m["accuracy"] for bench, res in results["benchmarks"].items()
            for section in ("subsets", "summary") for name, m in res[section].items()}


def headline(numbers: dict[str, float]) -> dict[str, float]:
    """The GROUPS means per split, in percent (NaN where a group has no number), from run-level accuracies."""
    out = {}
    for group, members in GROUPS.items():
        for split in SPLITS:
            values = [numbers[f"{m}@{split}"] for m in members if f"{m}@{split}" in numbers]
            out[f"{group} [{split}]"] = 100 * statistics.fmean(values) if values else math.nan
    return out


KEEPS_ITEMS = "keep_items" in inspect.signature(evaluate_benchmarks).parameters


def evaluate(module: Any, data_root: Path, device: str) -> tuple[dict[str, float], Outcomes]:
    """Run-level accuracies and per-item outcomes (when the evaluation can keep items) of one model on a
    `study_view`; retrieval runs on the full export behind it."""
    extra = {"keep_items": True} if KEEPS_ITEMS else {}
    full = (data_root / "world_manifest.json").resolve().parent
    results: dict[str, Any] = {"benchmarks": {}}
    for names, root in (([b for b in BENCHMARKS if b != "retrieval"], data_root), (["retrieval"], full)):
        part = evaluate_benchmarks(names, module.model, module.preprocess_val, module.tokenizer, root,
                                   batch_size=256, progress=False, device=device, **extra)
        results["benchmarks"].update(part["benchmarks"])
    numbers = flatten(results)
    return numbers, run_outcomes(results, numbers)


def columns_from(outcomes: Outcomes) -> dict[str, float]:
    """The headline columns of one run, from its outcomes (the numbers the bootstrap resamples)."""
    return {f"{g} [{s}]": group_score(outcomes, members, s) for g, members in GROUPS.items() for s in SPLITS}


# --- one run ---------------------------------------------------------------------------------------------------------
def _trainer(budget: Budget, spec: RunSpec, log_dir: Path, name: str, version: str) -> Any:
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import TensorBoardLogger

    gpu = budget.device.startswith("cuda")
    return pl.Trainer(
        accelerator="gpu" if gpu else "cpu", devices=1, precision="bf16-mixed" if gpu else "32-true",
        max_steps=budget.finetune_steps, limit_val_batches=0, num_sanity_val_steps=0, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=10,
        logger=TensorBoardLogger(str(log_dir), name=name, version=version),
        gradient_clip_val=spec.gradient_clip_val, gradient_clip_algorithm=spec.gradient_clip_algorithm,
    )


def _data(budget: Budget, image_negatives: bool) -> Any:
    from ahnpl_lightning.data.datamodule import AHNPLDataModule
    from ahnpl_lightning.data.sources import WorldSource

    source = WorldSource(train_size=budget.finetune_steps * budget.batch_size, val_size=0,
                         image_negatives=image_negatives)
    workers = 4 if budget.device.startswith("cuda") else 0
    return AHNPLDataModule(source, batch_size=budget.batch_size, num_workers=workers)


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def weights_digest(spec: RunSpec) -> str | None:
    """The digest of the local pretrained weights a run starts from (a rebuilt stand-in invalidates cached runs)."""
    from ahnpl_lightning.pretrained import find_local_tag

    model, tag = spec.module_args.get("model_name"), spec.module_args.get("pretrained")
    entry = find_local_tag(str(model), str(tag)) if model and tag else None
    path = entry.path if entry is not None else (Path(str(tag)) if tag else None)
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def run_key(spec: RunSpec, seed: int, lr: float | None, budget: Budget, roots: dict[str, Path]) -> str:
    """A cache key for one run: everything that changes its result (settings, configs, weights, eval sets)."""
    settings = [asdict(spec), seed, lr, budget.finetune_steps, budget.batch_size, budget.warmup_steps, budget.device,
                {k: str(v) for k, v in roots.items()}, KEEPS_ITEMS, weights_digest(spec)]
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


def finetune(method: str, seed: int, lr: float | None, budget: Budget, work: Path,
             roots: dict[str, Path]) -> dict[str, Any]:
    """One fine-tuning run from the stand-in, evaluated on every export in `roots`; cached under `work/runs`."""
    import lightning.pytorch as pl

    spec = resolve(method)
    key = run_key(spec, seed, lr, budget, roots)
    cache = work / "runs" / f"{slug(method)}-s{seed}-lr{lr}-{key}"
    if (cache / "run.json").is_file():
        run = json.loads((cache / "run.json").read_text())
        with np.load(cache / "outcomes.npz") as saved:
            run["outcomes"] = {r: {k.split("|", 1)[1]: saved[k] for k in saved.files if k.startswith(f"{r}|")}
                               for r in roots}
        return run
    pl.seed_everything(seed, workers=True)
    overrides: dict[str, Any] = {"warmup_steps": budget.warmup_steps}
    if lr is not None:
        overrides["lr"] = lr
    module = build_module(spec, **overrides)
    cpu = time.process_time()
    start = time.perf_counter()
    _trainer(budget, spec, work / "logs", slug(method), f"seed{seed}-lr{lr}").fit(
        module, _data(budget, spec.image_negatives))
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    numbers, outcomes = {}, {}
    for name, root in roots.items():
        numbers[name], outcomes[name] = evaluate(module, root, budget.device)
    run = {"method": method, "seed": seed, "lr": module.hparams.lr, "lr_arg": lr, "train_s": train_s,
           "eval_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu, "numbers": numbers}
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache / "outcomes.npz",
                        **{f"{r}|{k}": v for r, per in outcomes.items() for k, v in per.items()})
    (cache / "run.json").write_text(json.dumps(run, indent=1))
    run["outcomes"] = outcomes
    return run


def pretrained_run(budget: Budget, roots: dict[str, Path]) -> dict[str, Any]:
    """The stand-in itself, evaluated without fine-tuning (the base config's model)."""
    module = build_module(resolve("AHNPL (ours)"))
    numbers, outcomes = {}, {}
    for name, root in roots.items():
        numbers[name], outcomes[name] = evaluate(module, root, budget.device)
    return {"method": PRETRAINED_ROW, "seed": 0, "lr": None, "lr_arg": None, "train_s": 0.0, "eval_s": 0.0,
            "numbers": numbers, "outcomes": outcomes}


# --- the study -------------------------------------------------------------------------------------------------------
def select_lrs(runs: list[dict[str, Any]], budget: Budget) -> dict[str, float | None]:
    """Each method's learning rate: the only one, or the best on the validation export (mean of SELECTION)."""
    chosen: dict[str, float | None] = {}
    for method in budget.methods:
        if len(budget.lrs) == 1:
            chosen[method] = budget.lrs[0]
            continue
        scores = {}
        for lr in budget.lrs:
            mine = [r for r in runs if r["method"] == method and r["lr_arg"] == lr]
            per_run = [statistics.fmean(columns_from(r["outcomes"]["val"])[c] for c in SELECTION) for r in mine]
            scores[lr] = statistics.fmean(per_run) if per_run else -math.inf
        chosen[method] = max(scores, key=lambda lr: scores[lr])
    return chosen


def summarise(runs: list[dict[str, Any]], budget: Budget, pretrained: dict[str, Any] | None,
              chosen: dict[str, float | None]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One row per method (mean, seed sd, 95 % interval, paired difference against NegCLIP) and the bootstrap."""
    by_method: dict[str, dict[int, Outcomes]] = {}
    if pretrained is not None:
        by_method[PRETRAINED_ROW] = {0: pretrained["outcomes"]["test"]}
    for method in budget.methods:
        by_method[method] = {r["seed"]: r["outcomes"]["test"] for r in runs
                             if r["method"] == method and r["lr_arg"] == chosen[method]}
    ablations = [m for m in by_method if m.startswith(f"{FULL_METHOD} ") or m.startswith("AHNPL - ")
                 or m.startswith("AHNPL + ")]
    result = bootstrap(by_method, GROUPS, SPLITS, reference=REFERENCE if REFERENCE in by_method else None,
                       replicates=budget.replicates, more_references={FULL_METHOD: ablations})
    rows = []
    for method, per_seed in by_method.items():
        row: dict[str, Any] = {"method": method, "seeds": len(per_seed),
                               "lr": next((r["lr"] for r in runs if r["method"] == method
                                           and r["lr_arg"] == chosen.get(method)), None)}
        per_run = [columns_from(o) for o in per_seed.values()]
        for column, interval in result.scores[method].items():
            values = [p[column] for p in per_run if not math.isnan(p[column])]
            row[column] = interval.value
            row[f"{column} sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
            row[f"{column} ci_low"] = interval.low
            row[f"{column} ci_high"] = interval.high
        for column, interval in result.differences.get(method, {}).items():
            row[f"{column} vs {REFERENCE}"] = interval.value
            row[f"{column} vs {REFERENCE} ci_low"] = interval.low
            row[f"{column} vs {REFERENCE} ci_high"] = interval.high
        for against, per_method in result.more_differences.items():
            for column, interval in per_method.get(method, {}).items():
                row[f"{column} vs {against}"] = interval.value
                row[f"{column} vs {against} ci_low"] = interval.low
                row[f"{column} vs {against} ci_high"] = interval.high
        rows.append(row)
    return rows, {"replicates": result.replicates, "reference": result.reference, "item_level": KEEPS_ITEMS,
                  "parts_reference": FULL_METHOD}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three methods, one seed, fewer steps (< 10 minutes)")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "quality", help="run cache, logs, eval sets")
    parser.add_argument("--methods", default=None, help=f"comma-separated subset of: {', '.join(METHODS)}")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds")
    parser.add_argument("--lrs", default=None,
                        help="comma-separated learning rates: every method runs at each, reported at its best on "
                             "a separate validation export (default: each config's own learning rate)")
    parser.add_argument("--finetune-steps", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--eval-size", type=int, default=None, help="items per evaluation file")
    parser.add_argument("--val-size", type=int, default=None, help="items per validation file (with --lrs)")
    parser.add_argument("--replicates", type=int, default=None, help="bootstrap replicates")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    budget = Budget.quick() if args.quick else Budget()
    if args.methods:
        budget.methods = tuple(m.strip() for m in args.methods.split(","))
        unknown = [m for m in budget.methods if m not in METHODS]
        if unknown:
            parser.error(f"unknown methods {unknown}; known: {list(METHODS)}")
    if args.seeds:
        budget.seeds = tuple(int(s) for s in args.seeds.split(","))
    if args.lrs:
        budget.lrs = tuple(float(x) for x in args.lrs.split(","))
    for name in ("finetune_steps", "batch_size", "eval_size", "val_size", "replicates"):
        if getattr(args, name) is not None:
            setattr(budget, name, getattr(args, name))
    budget.device = args.device
    if budget.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available here")
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    start = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    roots = {"test": study_view(ensure_export(args.work / f"world_eval_{budget.eval_size}", budget.eval_size, 0))}
    if len(budget.lrs) > 1:
        roots["val"] = study_view(ensure_export(args.work / f"world_val_{budget.val_size}", budget.val_size, 1))
    pretrained = pretrained_run(budget, {"test": roots["test"]})
    runs = []
    total = len(budget.lrs) * len(budget.seeds) * len(budget.methods)
    for lr in budget.lrs:
        for seed in budget.seeds:
            for method in budget.methods:
                run = finetune(method, seed, lr, budget, args.work, roots)
                runs.append(run)
                cols = columns_from(run["outcomes"]["test"])
                print(f"[{len(runs)}/{total}] {method:<30} seed {seed} lr {run['lr']:.1e}: "
                      + ", ".join(f"{k} {v:.1f}" for k, v in cols.items() if "held_out" in k)
                      + f" ({run['train_s']:.0f} s + {run['eval_s']:.0f} s)", flush=True)
    chosen = select_lrs(runs, budget)
    rows, stats = summarise(runs, budget, pretrained, chosen)
    seconds = time.perf_counter() - start
    quality_report.write(rows, runs, budget, stats, chosen, args.out, seconds, GROUPS, REFERENCE)
    print((args.out / "quality.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
