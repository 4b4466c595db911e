"""`CompositionalEvalCallback`: run the benchmarks during `fit` and log `eval/<benchmark>/<subset>`.

Runs on every rank (the scoring core shards distinct images/captions and gathers, so every rank computes the same
numbers; hence `sync_dist=False`), every `every_n_epochs` at the end of a training epoch (after that epoch's
validation), and once more at the end of fit unless the last epoch was just evaluated. The end-of-fit numbers go
straight to the trainer's loggers (Lightning forbids `self.log` in `on_train_end`).

Under DDP every collective (the feature gathers, `trainer.log_dir`, which broadcasts rank 0's folder, and the
world-export handshake) is reached by all ranks together; only the file write itself is rank-zero-only.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.warnings import PossibleUserWarning

from ahnpl_lightning.evaluation.run import BENCHMARKS, evaluate_benchmarks


def flatten_results(results: dict[str, Any], prefix: str = "eval") -> dict[str, float]:
    """`{"eval/<benchmark>/<subset or summary name>": accuracy}` from a result JSON object."""
    return {
        f"{prefix}/{bench}/{name}": float(m["accuracy"])
        for bench, res in results["benchmarks"].items()
        for section in ("subsets", "summary")
        for name, m in res[section].items()
    }


class CompositionalEvalCallback(L.Callback):
    """Evaluate compositional benchmarks during training from `pl_module.model`, `.preprocess_val`, `.tokenizer`."""

    def __init__(
        self,
        benchmarks: list[str],
        data_root: str,
        every_n_epochs: int = 1,
        run_at_end: bool = True,
        batch_size: int = 64,
        num_workers: int = 0,
        paths: dict[str, str] | None = None,
        limit: int | dict[str, int] | None = None,
        progress: bool = False,
        save_json: bool = True,
        world_export_size: int = 0,
        world_seed: int = 0,
        seed: int = 0,
    ) -> None:
        """`every_n_epochs=0` disables per-epoch runs; `paths` overrides benchmark folders (see ARCHITECTURE.md);
        `limit` caps items per subset file (int, or per benchmark name); `save_json` writes each run's result JSON
        to `<log_dir>/eval/`; `world_export_size > 0` writes the synthetic world's test sets (that many items per
        file, `world_seed`) to `data_root` once, when it holds no complete export yet, and reuses them after;
        `seed` seeds ARO's order perturbations."""
        super().__init__()
        unknown = [b for b in benchmarks if b not in BENCHMARKS]
        if unknown:
            raise ValueError(f"unknown benchmark(s) {unknown}; known: {sorted(BENCHMARKS)}")
        self.benchmarks = list(benchmarks)
        self.data_root = data_root
        self.every_n_epochs = every_n_epochs
        self.run_at_end = run_at_end
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.paths = dict(paths or {})
        self.limit = limit
        self.progress = progress
        self.save_json = save_json
        self.world_export_size = world_export_size
        self.world_seed = world_seed
        self.seed = seed
        self.history: list[dict[str, Any]] = []
        self._last_step: int | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Generate the synthetic world's benchmark sets once (global rank 0) when asked and not there yet."""
        # every rank computes identical `eval/...` numbers, so they are logged unsynced on purpose (no collective)
        warnings.filterwarnings("ignore", message=r"It is recommended to use `self.log\('eval/",
                                category=PossibleUserWarning)
        if self.world_export_size <= 0:
            return
        from ahnpl_lightning.data.world import World, export_benchmarks, read_manifest

        root = Path(self.data_root)
        error = ""
        if trainer.is_global_zero and read_manifest(root) is None:
            print(f"writing the synthetic world's benchmark sets to {root} (once; reused by later runs)")
            try:
                export_benchmarks(World(seed=self.world_seed), root, size=self.world_export_size, seed=self.world_seed)
            except Exception as exc:  # noqa: BLE001 - re-raised on every rank below, so none waits forever
                error = f"{type(exc).__name__}: {exc}"
        # a broadcast, not a barrier: the other ranks wait for the export and learn whether it failed
        error = trainer.strategy.broadcast(error, src=0)
        if error:
            raise RuntimeError(f"writing the world's benchmark sets to {root} failed on rank 0: {error}")

    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        """Run the benchmarks now (all ranks must call this together under DDP)."""
        results = evaluate_benchmarks(
            self.benchmarks, pl_module.model, pl_module.preprocess_val, pl_module.tokenizer, self.data_root,
            paths=self.paths, batch_size=self.batch_size, num_workers=self.num_workers, limit=self.limit,
            device=pl_module.device, progress=self.progress, model_name=type(pl_module).__name__, seed=self.seed,
        )
        results["epoch"], results["global_step"] = trainer.current_epoch, trainer.global_step
        self._last_step = trainer.global_step
        self.history.append(results)
        if self.save_json:
            self._write(self.output_folder(trainer), results)
        return results

    @staticmethod
    def output_folder(trainer: L.Trainer) -> Path:
        """`<log_dir>/eval`. Call on every rank: `trainer.log_dir` is a broadcast under DDP, so reaching it from
        rank 0 alone (e.g. inside a `rank_zero_only` method) deadlocks."""
        return Path(trainer.log_dir or trainer.default_root_dir) / "eval"

    @rank_zero_only
    def _write(self, folder: Path, results: dict[str, Any]) -> None:
        """Write one result JSON (rank 0 only; no collective in here)."""
        folder.mkdir(parents=True, exist_ok=True)
        name = f"epoch={results['epoch']}-step={results['global_step']}.json"
        (folder / name).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Evaluate every `every_n_epochs` epochs and log through `pl_module.log`."""
        if self.every_n_epochs <= 0 or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        for tag, value in flatten_results(self.evaluate(trainer, pl_module)).items():
            pl_module.log(tag, value, on_step=False, on_epoch=True, sync_dist=False)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Evaluate the final weights unless they were just evaluated; log straight to the loggers."""
        if not self.run_at_end or self._last_step == trainer.global_step:
            return
        metrics = flatten_results(self.evaluate(trainer, pl_module))
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
