"""The notebook's plumbing: where the repository, the runs and the figures are, and a short demo run to plot."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from ahnpl_lightning.analysis.runs import EVENT_PREFIX


def find_repo_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The repository root: ``$AHNPL_ROOT`` if set, else the first folder at or above ``start`` (default: the cwd)
    holding ``configs/ahnpl.yaml``."""
    env = os.environ.get("AHNPL_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "configs" / "ahnpl.yaml").is_file():
            return folder
    raise FileNotFoundError(f"no repository root (a folder with configs/ahnpl.yaml) at or above {here}; set AHNPL_ROOT")


def runs_from_env(default: Sequence[str | os.PathLike[str]]) -> list[str]:
    """``$AHNPL_RUNS`` (comma-separated folders) if set and non-empty, else ``default``."""
    env = os.environ.get("AHNPL_RUNS", "")
    parts = [p.strip() for p in env.split(",") if p.strip()]
    return parts if parts else [str(p) for p in default]


def resolve_runs(paths: Sequence[str | os.PathLike[str]], root: Path) -> list[Path]:
    """Run folders with relative paths taken against the repository ``root`` (not the notebook's folder, where
    Jupyter runs it), so ``AHNPL_RUNS=runs/ahnpl`` means ``<root>/runs/ahnpl`` from anywhere."""
    return [_under(root, p) for p in paths]


def _under(root: Path, path: str | os.PathLike[str]) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else root / path


def smoothing_from_env(default: float = 0.0) -> float:
    """``$AHNPL_SMOOTHING`` (TensorBoard's EMA weight in [0, 1) for the per-step traces) if set, else ``default``."""
    env = os.environ.get("AHNPL_SMOOTHING", "").strip()
    value = float(env) if env else float(default)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"AHNPL_SMOOTHING must be in [0, 1), got {value}")
    return value


def figures_dir(root: Path) -> Path:
    """``$AHNPL_FIGURES`` if set (relative to ``root``), else ``<root>/notebooks/figures``."""
    env = os.environ.get("AHNPL_FIGURES")
    return _under(root, env) if env else root / "notebooks" / "figures"


def has_events(folder: Path) -> bool:
    """Whether any TensorBoard event file lies at or below ``folder``."""
    return folder.is_dir() and any(folder.rglob(f"{EVENT_PREFIX}*"))


def default_runs(root: Path) -> list[Path]:
    """``[<root>/runs]`` (every run there: AHNPL and any baseline trained with the shipped configs) when a demo run
    exists under ``<root>/runs/ahnpl``; ``[]`` when a demo run still has to be trained."""
    return [root / "runs"] if has_events(root / "runs" / "ahnpl") else []


def demo_fit_args(root: Path, save_dir: Path | None = None, max_steps: int = 60) -> list[str]:
    """argv for a short AHNPL fit on the synthetic world, logging to ``<save_dir>/ahnpl`` every 2 steps."""
    save_dir = save_dir or root / "runs"
    return [
        "fit", "--config", str(root / "configs" / "ahnpl.yaml"),
        f"--trainer.max_steps={max_steps}", "--trainer.log_every_n_steps=2", "--trainer.limit_val_batches=2",
        "--trainer.val_check_interval=20", "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={save_dir / 'ahnpl'}", f"--trainer.logger.init_args.save_dir={save_dir}",
        "--trainer.logger.init_args.name=ahnpl",
        "--data.init_args.num_workers=0", "--data.init_args.batch_size=16",
        "--data.init_args.source.init_args.train_size=512", "--data.init_args.source.init_args.val_size=64",
    ]


def train_demo_run(root: Path, save_dir: Path | None = None, max_steps: int = 60, extra: Sequence[str] = ()) -> Path:
    """Run a short fit in-process (``ahnpl_lightning.cli.main``; ``extra`` overrides come last and win) and return
    the newest ``<save_dir>/ahnpl/version_*`` folder it logged to.

    Runs from ``root``, so the config's relative paths (e.g. the evaluation callback's ``data/world_eval``) land in
    the repository as with ``make demo``, not next to the notebook.
    """
    from ahnpl_lightning.cli import main

    save_dir = (save_dir or root / "runs").resolve()
    with contextlib.chdir(root):
        code = main([*demo_fit_args(root, save_dir, max_steps), *extra])
    if code:
        raise RuntimeError(f"demo fit failed with exit code {code}")
    versions = [d for d in (save_dir / "ahnpl").glob("version_*") if has_events(d)]
    if not versions:
        raise FileNotFoundError(f"the demo fit wrote no event file under {save_dir / 'ahnpl'}")
    return max(versions, key=lambda d: d.stat().st_mtime)
