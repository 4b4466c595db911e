"""Run several benchmarks over one shared feature cache and tabulate the results (the library behind `ahnpl eval`,
whose command line is `ahnpl_lightning.tools.eval`).

Result JSON: `{"model": str, "benchmarks": {NAME: {"subsets": {SUBSET: {"accuracy", "count"}}, "summary": {...},
"missing_images": int, "corrupt_images": int, "skipped_items": int, "measures": {FIGURE: {"measure", "count_of"}},
"notes": [...], "unscored": {...}, "problems": [...], ...}}, "skipped": {NAME: reason}, "run": {...}}`. Every figure
is a fraction in [0, 1] stored under `accuracy` (for retrieval it is a recall: `measures` says what each figure
measures and what its `count` counts). Benchmarks whose data is absent are listed under `skipped` with the reason;
`run` records how the result was made (provenance.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from torch import Tensor, nn

from ahnpl_lightning.evaluation.benchmarks import REGISTRY
from ahnpl_lightning.evaluation.files import resolve_limit
from ahnpl_lightning.evaluation.perturbations import resolve_tagger
from ahnpl_lightning.evaluation.provenance import run_info
from ahnpl_lightning.evaluation.scoring import BenchmarkResult, FeatureCache
from ahnpl_lightning.evaluation.spec import EvalOptions

if TYPE_CHECKING:
    import pandas

log = logging.getLogger(__name__)


class _Evaluators(Mapping[str, Callable[..., BenchmarkResult]]):
    """`BENCHMARKS[name]` is that benchmark's `evaluate`: a live view of the registry (`benchmarks.REGISTRY`)."""

    def __getitem__(self, name: str) -> Callable[..., BenchmarkResult]:
        return REGISTRY[name].evaluate

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)


BENCHMARKS: Mapping[str, Callable[..., BenchmarkResult]] = _Evaluators()


def evaluate_benchmarks(
    names: Sequence[str],
    model: nn.Module | None,
    preprocess: Callable[[Any], Tensor] | None,
    tokenizer: Callable[[list[str]], Tensor] | None,
    data_root: str | Path,
    *,
    limit: int | Mapping[str, int] | None = None,
    model_name: str = "",
    keep_items: bool = False,
    **options: Unpack[EvalOptions],
) -> dict[str, Any]:
    """Run the named benchmarks sharing one feature cache (each distinct image/caption encoded once in all) and
    return the result JSON object; absent benchmarks are logged and left out. `limit` caps items per file (one int,
    or per benchmark name); `options`: `paths`, `batch_size`, `num_workers`, `device`, `encoder`, `progress`, `seed`
    (see `spec.EvalOptions`). `keep_items` adds each benchmark's per-item outcomes
    `"items": [{"key", "subset", "split", "correct", "category"}]` (scored items only; keys are stable across runs, so
    two runs' items pair up by key)."""
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; known: {sorted(REGISTRY)}")
    tagger = resolve_tagger(options.get("tagger", "auto")) if "aro" in names else None
    info = run_info(names, data_root, options.get("paths"), limit, options.get("seed", 0), tagger)
    start = time.perf_counter()
    cache = FeatureCache()
    out: dict[str, Any] = {"model": model_name, "benchmarks": {}, "skipped": {}, "run": info}
    for name in names:
        result = REGISTRY[name].evaluate(
            model, preprocess, tokenizer, data_root, limit=resolve_limit(limit, name), cache=cache, **options
        )
        if result.skipped is None:
            out["benchmarks"][name] = result.to_dict(keep_items)
        else:
            out["skipped"][name] = result.skipped
    info["seconds"] = round(time.perf_counter() - start, 3)
    return out


def shortfalls(results: Mapping[str, Any]) -> list[str]:
    """Why a result is not a complete evaluation of what was asked: benchmarks skipped (absent), files that could
    not be read, benchmarks that scored nothing. Empty when complete (malformed records and missing images are
    counted and located, but do not make a run incomplete)."""
    out = [f"{name}: not evaluated: {reason}" for name, reason in results.get("skipped", {}).items()]
    for name, res in results["benchmarks"].items():
        for path in res.get("unreadable_files", []):
            out.append(f"{name}: unreadable file {path}")
        scored = sum(m["count"] for m in res["subsets"].values())
        if not scored:
            out.append(f"{name}: no item could be scored ({res['skipped_items']} item(s) lost)")
    return out


COLUMNS = ["benchmark", "subset", "measure", "value", "count", "count_of", "accuracy"]


def results_table(results: Mapping[str, Any]) -> pandas.DataFrame:
    """One row per (benchmark, subset or summary entry): benchmark, subset, what the value measures, the value, its
    count and what that counts; `accuracy` repeats the value under its old column name."""
    import pandas as pd

    rows = []
    for bench, res in results["benchmarks"].items():
        measures = res.get("measures", {})
        for section in ("subsets", "summary"):
            for name, m in res[section].items():
                what = measures.get(name, {"measure": "accuracy", "count_of": "items"})
                rows.append({"benchmark": bench, "subset": name, "measure": what["measure"], "value": m["accuracy"],
                             "count": m["count"], "count_of": what["count_of"], "accuracy": m["accuracy"]})
    return pd.DataFrame(rows, columns=COLUMNS)


def to_markdown(table: pandas.DataFrame) -> str:
    """A GitHub markdown table (no `tabulate` dependency); values shown as percentages."""
    lines = ["| benchmark | subset | measure | value (%) | count | count of |", "|---|---|---|---:|---:|---|"]
    for row in table.itertuples(index=False):
        lines.append(f"| {row.benchmark} | {row.subset} | {row.measure} | {100 * row.value:.2f} | {row.count} | "
                     f"{row.count_of} |")
    return "\n".join(lines) + "\n"


def __getattr__(name: str) -> Any:
    """`main`, `build_parser` and `load_model` moved to `ahnpl_lightning.tools.eval` (kept here for one release)."""
    if name in ("main", "build_parser", "load_model"):
        import importlib
        import warnings

        warnings.warn(f"{__name__}.{name} moved to ahnpl_lightning.tools.eval.{name}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module("ahnpl_lightning.tools.eval"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
