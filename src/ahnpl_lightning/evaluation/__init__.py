"""Compositional-reasoning and retrieval benchmarks for open_clip models, sharing one scoring core.

`scoring` (the core) and `benchmarks` (one spec per benchmark) import no Lightning; the Lightning callback
(`CompositionalEvalCallback`, in `callback`) is imported only when asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

from ahnpl_lightning.evaluation.run import BENCHMARKS, evaluate_benchmarks, results_table
from ahnpl_lightning.evaluation.scoring import (
    BenchmarkResult,
    ChoiceItem,
    Encoder,
    FeatureCache,
    Features,
    ImageRef,
    ModelEncoder,
    encode_distinct,
    score_choices,
)
from ahnpl_lightning.evaluation.spec import BenchmarkSpec

_LAZY = {"CompositionalEvalCallback": "ahnpl_lightning.evaluation.callback"}

__all__ = [
    "BENCHMARKS",
    "BenchmarkResult",
    "BenchmarkSpec",
    "ChoiceItem",
    "CompositionalEvalCallback",
    "Encoder",
    "FeatureCache",
    "Features",
    "ImageRef",
    "ModelEncoder",
    "encode_distinct",
    "evaluate_benchmarks",
    "results_table",
    "score_choices",
]


def __getattr__(name: str) -> Any:
    """Import the Lightning callback only when it is used (keeps the scoring core free of Lightning)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
