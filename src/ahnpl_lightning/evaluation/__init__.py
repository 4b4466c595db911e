"""Compositional-reasoning and retrieval benchmarks for open_clip models, sharing one scoring core."""

from ahnpl_lightning.evaluation.callback import CompositionalEvalCallback
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

__all__ = [
    "BENCHMARKS",
    "BenchmarkResult",
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
