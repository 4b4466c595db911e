"""The quality study's statistics: per-item outcomes, group scores, and a paired bootstrap over items and seeds.

Outcomes of one run are `{stratum: float array}`, a stratum being `"<benchmark>/<subset>@<split>"` and the array the
per-item correctness (0/1) in a fixed item order (sorted by item key), the same order in every run evaluated on the
same files. A stratum known only as one run-level number (e.g. a retrieval recall without items) is a 1-element
array: the bootstrap then cannot resample its items and resamples only seeds for it.

A group score is the mean over the group's member subsets of the per-subset item accuracy on one split (ARO's
subsets are item means here, not its macro mean over categories; the world's categories are balanced, so the two
nearly agree). A method's score is the mean over its seeds.

Bootstrap (crossed design): each replicate draws the items of every stratum with replacement (multinomial weights)
and the seeds with replacement, the *same* draws for every method, so differences between methods are paired over
both items and seeds. The interval is the percentile interval of the replicates.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Outcomes = dict[str, np.ndarray]  # stratum -> per-item correctness of one run


def run_outcomes(results: Mapping[str, Any], numbers: Mapping[str, float] | None = None) -> Outcomes:
    """Strata of one evaluation: items from `evaluate_benchmarks(..., keep_items=True)` (each benchmark's
    `"items"`: `{"key", "subset", "split", "correct"}`); items without a split are left out. `numbers`
    (`{"<bench>/<subset>@<split>": accuracy}`) fill the strata that have no items, as 1-element arrays."""
    by_stratum: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for bench, result in results.get("benchmarks", {}).items():
        for item in result.get("items") or ():
            if item.get("split") is None:
                continue
            by_stratum[f"{bench}/{item['subset']}@{item['split']}"].append((str(item["key"]), bool(item["correct"])))
    out: Outcomes = {}
    for stratum, items in by_stratum.items():
        keys = [k for k, _ in items]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate item keys in stratum {stratum}: outcomes cannot be paired across runs")
        out[stratum] = np.array([c for _, c in sorted(items)], dtype=np.float64)
    for stratum, value in (numbers or {}).items():
        if stratum not in out and "@" in stratum and not math.isnan(value):
            out[stratum] = np.array([value], dtype=np.float64)
    return out


def group_score(outcomes: Outcomes, members: Sequence[str], split: str) -> float:
    """Mean over members of the member's item accuracy on `split`, in percent (NaN if no member has items)."""
    values = [float(outcomes[f"{m}@{split}"].mean()) for m in members if f"{m}@{split}" in outcomes]
    return 100.0 * float(np.mean(values)) if values else math.nan


@dataclass
class Interval:
    """A point estimate with its bootstrap percentile interval."""

    value: float
    low: float
    high: float


@dataclass
class BootstrapResult:
    """Per method and column: the score with its interval, and the paired difference against the reference."""

    scores: dict[str, dict[str, Interval]]
    differences: dict[str, dict[str, Interval]]
    replicates: int
    reference: str | None
    # paired differences against further references: {reference: {method: {column: Interval}}}
    more_differences: dict[str, dict[str, dict[str, Interval]]] = field(default_factory=dict)


def _columns(groups: Mapping[str, Sequence[str]], splits: Iterable[str]) -> list[tuple[str, str, Sequence[str]]]:
    return [(f"{g} [{s}]", s, members) for g, members in groups.items() for s in splits]


def bootstrap(
    runs: Mapping[str, Mapping[int, Outcomes]],
    groups: Mapping[str, Sequence[str]],
    splits: Sequence[str],
    reference: str | None = None,
    replicates: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    more_references: Mapping[str, Sequence[str]] | None = None,
) -> BootstrapResult:
    """Percentile intervals of every method's group scores and of its paired difference against `reference`
    (and, with `more_references` = {reference: [methods]}, of those methods against that reference too).

    `runs[method][seed]` are the outcomes of one run. Methods evaluated on the same files share item orders; a method
    with other seeds than the reference (e.g. the un-fine-tuned model, one "seed") gets its own seed draws.
    """
    if not runs:
        raise ValueError("no runs to bootstrap")
    rng = np.random.default_rng(seed)
    columns = _columns(groups, splits)
    sizes: dict[str, int] = {}
    for per_seed in runs.values():
        for outcomes in per_seed.values():
            for stratum, values in outcomes.items():
                if sizes.setdefault(stratum, len(values)) != len(values):
                    raise ValueError(f"stratum {stratum} has {sizes[stratum]} items in one run and {len(values)} in "
                                     "another: runs must be evaluated on the same files to be paired")
    # Each stratum's item weights [replicates, n] (multinomial counts / n) are drawn once and applied to every method
    # and seed (paired over items), one stratum at a time to bound memory.
    means: dict[str, dict[int, dict[str, np.ndarray]]] = {m: {s: {} for s in per_seed} for m, per_seed in runs.items()}
    for stratum, n in sorted(sizes.items()):
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(np.float64) / n
        for method, per_seed in runs.items():
            for s, outcomes in per_seed.items():
                if stratum in outcomes:
                    means[method][s][stratum] = weights @ outcomes[stratum]
    seed_draws: dict[tuple[int, ...], np.ndarray] = {}
    for key in sorted({tuple(sorted(per_seed)) for per_seed in runs.values()}):
        seed_draws[key] = rng.integers(0, len(key), size=(replicates, len(key)))

    def replicate_scores(method: str) -> dict[str, np.ndarray]:
        seeds = tuple(sorted(runs[method]))
        draws = seed_draws[seeds]
        out = {}
        for name, split, members in columns:
            per_run = []  # [seeds, replicates]
            for s in seeds:
                found = [means[method][s][f"{m}@{split}"] for m in members if f"{m}@{split}" in means[method][s]]
                per_run.append(100.0 * np.mean(found, axis=0) if found else np.full(replicates, np.nan))
            stacked = np.stack(per_run)  # [S, B]
            out[name] = stacked[draws.T, np.arange(replicates)].mean(axis=0)
        return out

    tail = (1.0 - level) / 2.0 * 100.0
    reps = {method: replicate_scores(method) for method in runs}
    scores: dict[str, dict[str, Interval]] = {}
    differences: dict[str, dict[str, Interval]] = {}
    for method, per_seed in runs.items():
        scores[method] = {}
        for name, split, members in columns:
            point = float(np.mean([group_score(per_seed[s], members, split) for s in sorted(per_seed)]))
            low, high = _percentiles(reps[method][name], tail)
            scores[method][name] = Interval(point, low, high)
    def paired(method: str, against: str) -> dict[str, Interval]:
        out = {}
        for name, _, _ in columns:
            low, high = _percentiles(reps[method][name] - reps[against][name], tail)
            out[name] = Interval(scores[method][name].value - scores[against][name].value, low, high)
        return out

    for method in runs:
        if reference is not None and reference in runs and method != reference:
            differences[method] = paired(method, reference)
    more: dict[str, dict[str, dict[str, Interval]]] = {}
    for against, methods in (more_references or {}).items():
        if against in runs:
            more[against] = {m: paired(m, against) for m in methods if m in runs and m != against}
    return BootstrapResult(scores, differences, replicates, reference, more)


def _percentiles(values: np.ndarray, tail: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)
