"""The benchmark registry: one `BenchmarkSpec` per module (`SPEC`), registered by name in `MODULES` order.

Adding a benchmark: write `benchmarks/<name>.py` with a `SPEC` (see `evaluation/spec.py`) and add `"<name>"` to
`MODULES`. Evaluation (`ahnpl eval`, the callback) and the world's export (`ahnpl world`) both read `REGISTRY`.
A spec built elsewhere (a plugin, a notebook) joins with `register(spec)`.
"""

from __future__ import annotations

import importlib

from ahnpl_lightning.evaluation.spec import BenchmarkSpec

MODULES = ("aro", "valse", "vl_checklist", "sugarcrepe", "winoground", "retrieval")

REGISTRY: dict[str, BenchmarkSpec] = {}


def register(spec: BenchmarkSpec) -> BenchmarkSpec:
    """Add (or replace) a benchmark by its name; returns it."""
    REGISTRY[spec.name] = spec
    return spec


def get(name: str) -> BenchmarkSpec:
    """The spec registered under `name`; a clear error naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; known: {sorted(REGISTRY)}") from None


for _module in MODULES:
    register(importlib.import_module(f"{__name__}.{_module}").SPEC)

__all__ = ["MODULES", "REGISTRY", "get", "register"]
