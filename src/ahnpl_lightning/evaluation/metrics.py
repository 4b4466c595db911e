"""Aggregation helpers: every figure is `{"accuracy": float, "count": int}` (see each benchmark for what it counts).

`accuracy` pools items, `macro` averages per-group accuracies (optionally only groups with enough items), `mean_of`
averages metrics unweighted. `item_outcome` is one scored item for paired comparisons across runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Metric = dict[str, Any]  # {"accuracy": float, "count": int}


def metric(accuracy: float, count: int) -> Metric:
    """The metric record used everywhere in results."""
    return {"accuracy": float(accuracy), "count": int(count)}


def accuracy(flags: Sequence[bool]) -> Metric | None:
    """Pooled accuracy over items; None when there are no items."""
    if not flags:
        return None
    return metric(sum(bool(f) for f in flags) / len(flags), len(flags))


def macro(groups: Mapping[str, Sequence[bool]], min_count: int = 1) -> Metric | None:
    """Mean of per-group accuracies over groups with >= min_count items; count = items in those groups."""
    kept = [flags for flags in groups.values() if len(flags) >= max(min_count, 1)]
    if not kept:
        return None
    accs = [sum(map(bool, flags)) / len(flags) for flags in kept]
    return metric(sum(accs) / len(accs), sum(len(f) for f in kept))


def mean_of(metrics: Iterable[Metric | None]) -> Metric | None:
    """Unweighted mean of metrics (those present); count = their summed counts."""
    present = [m for m in metrics if m is not None]
    if not present:
        return None
    return metric(sum(m["accuracy"] for m in present) / len(present), sum(m["count"] for m in present))


def put(target: dict[str, Metric], name: str, value: Metric | None) -> None:
    """Store a metric unless it could not be computed (no items)."""
    if value is not None:
        target[name] = value


def item_outcome(
    key: str, subset: str, split: str | None, correct: bool, category: str | None = None
) -> dict[str, Any]:
    """One scored item for paired comparisons across runs: `key` is stable (built from the file's own ids), unique
    within its benchmark; `correct` is its verdict under the benchmark's rule; items not scored are left out."""
    return {"key": key, "subset": subset, "split": split, "correct": bool(correct), "category": category}
