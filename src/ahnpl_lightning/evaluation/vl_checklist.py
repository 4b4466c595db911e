"""Deprecated path of `ahnpl_lightning.evaluation.benchmarks.vl_checklist` (kept for one release)."""

from ahnpl_lightning.evaluation._deprecated import moved

__getattr__ = moved(__name__, "ahnpl_lightning.evaluation.benchmarks.vl_checklist")
