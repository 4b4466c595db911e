"""Two-process CPU runs of the real CLI (`lightning fit|validate|test -c <config> -c configs/trainer/ddp_cpu.yaml`)
with the evaluation callback, under a timeout: the proof that multi-process training neither deadlocks nor skews
the numbers (issue 18). The test suite runs the default config (`tests/test_ddp_cli.py`); `make bench` runs every
baseline config through `run_configs` and reports, per config, whether it finished and how long it took.

Run: ``python -m benchmarks.ddp [--configs configs/baselines/negclip.yaml ...] [--timeout 600]``. Prints a JSON dict.

`strategy: ddp` on the CPU re-launches the command line in a child process per extra rank, so every run here goes
through a subprocess in its own session, killed as a whole (process group) when it outlives the timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import yaml

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "configs" / "ahnpl.yaml"
DDP_CPU = ROOT / "configs" / "trainer" / "ddp_cpu.yaml"
BASELINES = tuple(sorted((ROOT / "configs" / "baselines").glob("*.yaml")))
EVAL_CALLBACK = "CompositionalEvalCallback"
PROBE = "benchmarks.ddp.MetricsProbe"

# A tiny run: 32 training samples, 8 per rank and step -> 2 steps per epoch on 2 ranks; 3 epochs with the evaluation
# every 2nd epoch, so it runs at an epoch end (epoch index 1) and again at the end of training.
TRAIN_SIZE, VAL_SIZE, BATCH_SIZE, EPOCHS, EVAL_EVERY = 32, 16, 8, 3, 2


class MetricsProbe(L.Callback):
    """Writes every rank's `trainer.callback_metrics` after each validation/test run and at the end of fit to
    `<folder>/<stage>-rank<R>-step<S>.json`, so a test can check that synced metrics agree on all ranks."""

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def _dump(self, trainer: L.Trainer, stage: str) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        path = Path(self.folder) / f"{stage}-rank{trainer.global_rank}-step{trainer.global_step}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(metrics, indent=1, sort_keys=True))

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """After validation (inside fit, or `validate`): synced epoch metrics are in `callback_metrics` now."""
        self._dump(trainer, "validate" if trainer.state.fn == "validate" else "fit_val")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """After `test`."""
        self._dump(trainer, "test")


def ddp_config(
    workdir: Path,
    configs: tuple[Path, ...] = (),
    benchmarks: tuple[str, ...] = ("sugarcrepe", "winoground"),
    world_export_size: int = 8,
) -> Path:
    """One YAML = configs/ahnpl.yaml stacked with `configs` (later files win, as `-c a -c b` would), then shrunk to
    a tiny run under `workdir`: the evaluation callback on a tiny world export, one unmonitored checkpoint per epoch
    (so every evaluation has its checkpoint), and the `MetricsProbe`."""
    config: dict[str, Any] = {}
    for path in (BASE, *configs):
        _merge(config, yaml.safe_load(Path(path).read_text()))
    trainer = config.setdefault("trainer", {})
    callbacks = [c for c in trainer.get("callbacks", []) if not c["class_path"].endswith("ModelCheckpoint")]
    for callback in callbacks:
        if callback["class_path"].endswith(EVAL_CALLBACK):
            callback["init_args"].update(
                data_root=str(workdir / "world_eval"), world_export_size=world_export_size,
                benchmarks=list(benchmarks), every_n_epochs=EVAL_EVERY, batch_size=64, run_at_end=True,
            )
    checkpoint = {"monitor": None, "save_top_k": -1, "save_last": True, "filename": "{epoch}-{step}"}
    callbacks.append({"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": checkpoint})
    callbacks.append({"class_path": PROBE, "init_args": {"folder": str(workdir / "probe")}})
    trainer.update(callbacks=callbacks, max_epochs=EPOCHS, num_sanity_val_steps=0, enable_progress_bar=False,
                   enable_model_summary=False, default_root_dir=str(workdir / "runs"), log_every_n_steps=1)
    trainer.pop("max_steps", None)
    logger = trainer.get("logger")
    if isinstance(logger, dict):
        logger.setdefault("init_args", {})["save_dir"] = str(workdir / "runs")
    data = config["data"]["init_args"]
    data.update(num_workers=0, batch_size=BATCH_SIZE)
    data["source"]["init_args"].update(train_size=TRAIN_SIZE, val_size=VAL_SIZE)
    out = workdir / "config.yaml"
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    """LightningCLI's stacking for the parts these configs use: dicts merge, anything else (lists too) replaces."""
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


@dataclass
class Run:
    """One CLI run: exit status (None after a timeout), seconds, and the combined output."""

    command: list[str]
    returncode: int | None
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, chars: int = 4000) -> str:
        """The end of the output, for assertion messages."""
        return f"$ {' '.join(self.command)}\nexit {self.returncode} after {self.seconds:.0f} s\n{self.output[-chars:]}"


def lightning_command() -> list[str]:
    """The `lightning` console script next to this interpreter (the user's command), else the same entry point."""
    script = Path(sys.executable).parent / "lightning"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from ahnpl_lightning.cli import lightning_main; "
                                  "sys.exit(lightning_main())"]


def run_cli(args: list[str], workdir: Path, timeout: float = 600.0) -> Run:
    """Run `lightning <args>` in `workdir` in its own session; on timeout kill the whole process group (the DDP
    children with it) and return `returncode=None`."""
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env["PYTHONHASHSEED"] = env.get("PYTHONHASHSEED", "0")
    command = [*lightning_command(), *args]
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        code = None
    return Run(command, code, time.perf_counter() - start, output or "")


def fit(workdir: Path, configs: tuple[Path, ...] = (), timeout: float = 600.0, **config_kwargs: Any) -> Run:
    """The two-process fit of configs/ahnpl.yaml + `configs` (tiny, see `ddp_config`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = ddp_config(workdir, configs, **config_kwargs)
    return run_cli(["fit", "-c", str(config), "-c", str(DDP_CPU)], workdir, timeout)


def run_configs(configs: tuple[Path, ...] = BASELINES, workdir: Path | None = None,
                timeout: float = 600.0) -> dict[str, Any]:
    """The two-process fit for each config: finished (exit 0 within the timeout), seconds, evaluation JSONs written."""
    import tempfile

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(workdir or tmp)
        for config in configs:
            folder = base / Path(config).stem
            run = fit(folder, (Path(config),), timeout)
            evals = sorted(p.name for p in folder.glob("runs/**/eval/*.json"))
            out[Path(config).stem] = {"finished": run.ok, "returncode": run.returncode, "seconds": run.seconds,
                                      "eval_json": evals}
            if not run.ok:
                out[Path(config).stem]["output_tail"] = run.tail(2000)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ddp", description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="*", type=Path, default=list(BASELINES))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run before it counts as hung")
    args = parser.parse_args(argv)
    report = run_configs(tuple(args.configs), timeout=args.timeout)
    print(json.dumps(report, indent=1))
    return 0 if all(r["finished"] for r in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
