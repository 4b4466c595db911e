"""`StepTimer`: a Lightning callback that measures a `lightning fit` run without slowing it down, for `make gpu-check`.

Per step it records the host time spent between steps (waiting for the DataLoader and Lightning's own bookkeeping),
the token length and the shapes the towers encode, and on CUDA a pair of events around the step, so the GPU time of
each step is read once at the end with no synchronisation inside the loop. Over the steady-state window (after
`warmup_steps`, which absorb compilation and cuDNN/cuBLAS autotuning) it reports samples/s, the step time as the GPU
sees it, the share of wall time spent waiting between steps, peak memory and model FLOPs (benchmarks/gpu_flops.py),
and writes them as JSON to `output`.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from benchmarks.gpu_flops import image_flops, step_flops, text_flops


def progress(message: str) -> None:
    """One progress line that `benchmarks.gpu_check` echoes from the fit's output (the rest goes to its log)."""
    print(f"[gpu-check] {message}", flush=True)
    sys.stdout.flush()


class StepTimer(pl.Callback):
    """Time the training steps of a fit and write the figures to `output` (JSON) at the end of training."""

    def __init__(self, output: str, warmup_steps: int = 20, label: str = "", report_every: int = 50) -> None:
        super().__init__()
        self.output = output
        self.warmup_steps = warmup_steps
        self.label = label
        self.report_every = report_every
        self.steps: list[dict[str, Any]] = []
        self.events: list[tuple[Any, Any]] = []
        self.waits: list[float] = []
        self._last_end: float | None = None
        self._window_start: float | None = None
        self._window_end: float | None = None
        self._train_start = 0.0
        self._cuda = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._cuda = pl_module.device.type == "cuda"
        if self._cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self._train_start = time.perf_counter()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        now = time.perf_counter()
        index = len(self.steps)
        if index == self.warmup_steps:
            if self._cuda:
                torch.cuda.synchronize()
            self._window_start = now = time.perf_counter()
        elif self._last_end is not None and index > self.warmup_steps:
            self.waits.append(now - self._last_end)
        loss = getattr(pl_module, "loss", None)
        uses_negatives = bool(getattr(loss, "uses_negatives", True))
        images, k = batch["images"].shape[0], batch["negatives"].shape[1]
        self.steps.append({
            "images": images,
            "captions": images * (1 + k) if uses_negatives else images,
            "text_length": int(batch["captions"].shape[-1]),
            "host_start": now,
        })
        if self._cuda:
            start = torch.cuda.Event(enable_timing=True)
            start.record()
            self.events.append((start, None))

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self._cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            self.events[-1] = (self.events[-1][0], end)
        self._last_end = time.perf_counter()
        self.steps[-1]["host_end"] = self._last_end
        done = len(self.steps)
        last = trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps
        if last or done == trainer.num_training_batches:
            if self._cuda:
                torch.cuda.synchronize()
            self._window_end = time.perf_counter()
        if self.report_every and done % self.report_every == 0:
            rate = ""
            if self._window_start is not None and done > self.warmup_steps:
                elapsed = self._last_end - self._window_start
                rate = f", {sum(s['images'] for s in self.steps[self.warmup_steps:]) / elapsed:,.0f} samples/s (host)"
            progress(f"{self.label}: step {done}/{trainer.max_steps}{rate}")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._cuda:
            torch.cuda.synchronize()
        if self._window_end is None:
            self._window_end = time.perf_counter()
        report = self.report(pl_module)
        if trainer.is_global_zero:
            Path(self.output).parent.mkdir(parents=True, exist_ok=True)
            Path(self.output).write_text(json.dumps(report, indent=2) + "\n")
            progress(f"{self.label}: {report['samples_per_s']:,.0f} samples/s, step "
                     f"{1e3 * report['step_s']:.1f} ms ({1e3 * report['device_step_s']:.1f} ms on the device), "
                     f"waiting between steps {100 * report['wait_share']:.1f} %, peak memory "
                     f"{report['peak_memory_gib']:.2f} GiB")

    def report(self, pl_module: pl.LightningModule) -> dict[str, Any]:
        """The figures of the steady-state window (all steps after `warmup_steps`)."""
        window = self.steps[self.warmup_steps:]
        if not window or self._window_start is None:
            raise RuntimeError(f"{self.label}: only {len(self.steps)} steps ran, fewer than the "
                               f"{self.warmup_steps} warm-up steps plus one: nothing to measure")
        wall = self._window_end - self._window_start
        host_steps = [s["host_end"] - s["host_start"] for s in window if "host_end" in s]
        if self._cuda:
            device_steps = [start.elapsed_time(end) / 1e3 for start, end in self.events[self.warmup_steps:]
                            if end is not None]
            peak = torch.cuda.max_memory_allocated() / 2**30
            reserved = torch.cuda.max_memory_reserved() / 2**30
        else:
            device_steps = host_steps
            peak = reserved = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
        model = pl_module.model
        samples = sum(s["images"] for s in window)
        flops = sum(step_flops(model, s["images"], s["captions"], s["text_length"]) for s in window)
        lengths = [s["text_length"] for s in window]
        return {
            "label": self.label,
            "device": "cuda" if self._cuda else "cpu",
            "steps": len(self.steps),
            "warmup_steps": self.warmup_steps,
            "window_steps": len(window),
            "batch_size": window[0]["images"],
            "captions_per_step": window[0]["captions"],
            "text_length_mean": statistics.fmean(lengths),
            "text_length_range": [min(lengths), max(lengths)],
            "warmup_s": self._window_start - self._train_start,
            "window_s": wall,
            "samples_per_s": samples / wall,
            "step_s": wall / len(window),
            "device_step_s": statistics.median(device_steps),
            "host_step_s": statistics.median(host_steps),
            "wait_share": sum(self.waits) / wall,
            "peak_memory_gib": peak,
            "peak_memory_kind": "torch.cuda.max_memory_allocated" if self._cuda else "process max RSS",
            "peak_reserved_gib": reserved,
            "model_flops_per_step": flops / len(window),
            "model_flops_per_s": flops / wall,
            "model_flops_per_device_s": flops / (statistics.median(device_steps) * len(window)),
            "image_flops": image_flops(model),
            "text_flops_mean_length": text_flops(model, round(statistics.fmean(lengths))),
            "uses_negatives": bool(getattr(getattr(pl_module, "loss", None), "uses_negatives", True)),
            "compiled": any(hasattr(m, "_orig_mod") for m in (model.visual, getattr(model, "transformer", None))),
            "precision": str(pl_module.trainer.precision),
        }
