"""Finiteness checks of loss terms (the NaN guard's tensor side; the LightningModule decides when to raise)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor


def check_finite(terms: Mapping[str, Tensor]) -> str | None:
    """Name of the first non-finite tensor in ``terms`` (in insertion order), or None when all are finite.

    Costs one host-device sync when everything is finite (a single stacked ``all()``).
    """
    bad = non_finite(terms)
    return bad[0] if bad else None


def finite_flags(terms: Mapping[str, Tensor]) -> tuple[list[str], Tensor]:
    """The tensor names of ``terms`` and one boolean per name (True: every element finite), on the terms' device."""
    names = [name for name, value in terms.items() if isinstance(value, Tensor)]
    if not names:
        return [], torch.ones(0, dtype=torch.bool)
    return names, torch.stack([torch.isfinite(terms[name].detach()).all() for name in names])


def non_finite(terms: Mapping[str, Tensor]) -> list[str]:
    """Names of every non-finite tensor in ``terms``, in insertion order (one host-device sync)."""
    names, flags = finite_flags(terms)
    if not names or bool(flags.all()):
        return []
    return [name for name, ok in zip(names, flags.tolist()) if not ok]
