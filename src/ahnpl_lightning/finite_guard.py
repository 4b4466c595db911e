"""The NaN guard of training: raise on a non-finite loss term, naming the term, the step and what to try.

Immediate mode syncs with the device at every check. Lagged mode (the default on accelerators) copies the finiteness
flags to the host without blocking and reads them at the next check, so the training step has no host-device sync;
:meth:`FiniteGuard.flush` reads a pending check at once, and the LightningModule calls it at the end of training,
before validation and before a checkpoint is written, so a NaN produced at the last step raises too and non-finite
weights never reach a checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ahnpl_lightning.losses.finite import finite_flags

FEATURE_KEYS: tuple[str, ...] = ("image_features", "text_features", "negative_features", "image_negative_features")


@dataclass
class _Pending:
    flags: Tensor  # [N + 1] on the host (non-blocking copy): the N finiteness flags, then the logit scale
    event: torch.cuda.Event | None
    names: list[str]
    step: int
    epoch: int
    lr: float | None


def describe_non_finite(
    bad: Sequence[str], step: int, epoch: int, logit_scale: float | None, lr: float | None,
    terms: Sequence[str] = (),
) -> str:
    """The error message: the term that went bad first (a raw term before ``loss``), the others, the logit scale,
    the learning rate and what to try."""
    raw = [name for name in bad if name in terms]
    features = [name for name in bad if name in FEATURE_KEYS]
    first = (raw or [name for name in bad if name != "loss"] or list(bad))[0]
    others = [name for name in bad if name != first]
    parts = [f"non-finite '{first}' at global step {step} (epoch {epoch})"]
    if others:
        parts.append(f"also non-finite: {', '.join(others)}")
    scale = "unknown" if logit_scale is None else f"{logit_scale:.4g}"
    rate = "unknown" if lr is None else f"{lr:.3g}"
    parts.append(f"logit scale s = {scale}, learning rate = {rate}")
    if features:
        hint = (
            f"the encoders' outputs ({', '.join(features)}) are already non-finite: an earlier update diverged "
            "(weights hold NaN/inf) or the inputs do. Lower the learning rate (model.init_args.lr), keep gradient "
            "clipping on (trainer.gradient_clip_val) or train in bf16-mixed / 32-true rather than 16-mixed"
        )
    else:
        hint = (
            "the features are finite, so the loss overflowed: lower the learning rate (model.init_args.lr) or the "
            "term's weight; with s near its cap of 100 the logits are large, and 16-mixed precision overflows where "
            "bf16-mixed or 32-true does not"
        )
    return "; ".join(parts) + ". Hint: " + hint + "."


class FiniteGuard:
    """Checks named tensors for NaN/inf at training steps; raises ``FloatingPointError`` (never a silent skip)."""

    def __init__(self, terms: Sequence[str] = ()) -> None:
        self.terms = tuple(terms)  # raw loss-term names, blamed before `loss` and the diagnostics
        self._pending: _Pending | None = None

    def check(
        self,
        values: Mapping[str, Tensor],
        step: int,
        epoch: int,
        logit_scale: Tensor | None = None,
        lr: float | None = None,
        lagged: bool = False,
    ) -> None:
        """Check ``values`` now (``lagged=False``), or queue the check and read the previous queued one."""
        names, flags = finite_flags(values)
        scale = (logit_scale if logit_scale is not None else flags.new_full((), float("nan"), dtype=torch.float))
        packed = torch.cat([flags.float(), scale.detach().float().reshape(1).to(flags.device)])
        if not lagged:
            self._pending = None
            self._raise(packed, names, step, epoch, lr, known_scale=logit_scale is not None)
            return
        event = torch.cuda.Event() if packed.is_cuda else None
        host = packed.to("cpu", non_blocking=True)
        if event is not None:
            event.record()
        previous, self._pending = self._pending, _Pending(host, event, names, step, epoch, lr)
        if previous is not None:
            self._read(previous)

    def flush(self) -> None:
        """Read the pending lagged check now (waits for the device if needed) and raise if it found a NaN/inf."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self._read(pending)

    def _read(self, pending: _Pending) -> None:
        if pending.event is not None:
            pending.event.synchronize()  # recorded at least a step ago in the lagged path: nothing waits
        self._raise(pending.flags, pending.names, pending.step, pending.epoch, pending.lr, known_scale=True)

    def _raise(self, packed: Tensor, names: list[str], step: int, epoch: int, lr: float | None,
               known_scale: bool) -> None:
        values = packed.tolist()
        flags, scale = values[:-1], values[-1]
        bad = [name for name, ok in zip(names, flags) if ok < 0.5]
        if bad:
            shown = scale if known_scale else None
            raise FloatingPointError(describe_non_finite(bad, step, epoch, shown, lr, self.terms))
