"""Read TensorBoard runs into a tidy table and plot AHNPL's margin dynamics (`notebooks/margin_dynamics.ipynb`).

The training loop logs, every `log_every_n_steps`, the loss terms (`train/<term>`), per negative type k the adaptive
margin theta_k (`train/margin/<k>`, REFERENCE.md 2.4), the mean positive and negative scores g_i and n_ik in logit
units (`train/pos_score/<k>`, `train/neg_score/<k>`, means over valid items), the share of active hinge terms
(`train/active/<k>`), the share of valid negatives (`train/valid/<k>`), the positive margin alpha (REFERENCE.md 2.5)
and the logit scale; validation and the evaluation callback add `val/...` and `eval/<benchmark>/<subset>`. Everything
here works from the tidy frame (run, tag, step, value), so a run lacking some tags (a baseline has no margin terms)
just gets fewer lines.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ahnpl_lightning.data.negatives import NEGATIVE_TYPES

COLUMNS: tuple[str, ...] = ("run", "tag", "step", "value")
EVENT_PREFIX = "events.out.tfevents."
LOSS_TAGS: tuple[str, ...] = (
    "train/loss", "train/itc", "train/mhn_text", "train/mhn_image", "train/margin", "train/positive",
    "train/ceclip_intra", "train/ceclip_cross",
)
SCALE_TAGS: tuple[str, ...] = ("train/positive_margin", "train/logit_scale")
VALIDATION_ACCURACY_TAGS: tuple[str, ...] = ("val/acc_i2t", "val/acc_hard_negative")
PER_TYPE_KEYS: tuple[str, ...] = ("margin", "pos_score", "neg_score", "active", "valid")
MASKED_KEYS: tuple[str, ...] = ("pos_score", "neg_score", "active")  # means over valid items: 0 when none is valid
NO_EVALUATION = "no evaluation logged"


# ----------------------------------------------------------------------------------------------- finding runs
def find_run_dirs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Every folder holding TensorBoard event files at or below each path (a run folder or a parent of several).

    Raises ``FileNotFoundError`` naming every path that does not exist or holds no event file, rather than
    silently plotting fewer runs than asked for.
    """
    found: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            problems.append(f"{path}: does not exist")
            continue
        files = [path] if path.is_file() else sorted(path.rglob(f"{EVENT_PREFIX}*"))
        dirs = sorted({f.parent.resolve() for f in files if f.name.startswith(EVENT_PREFIX) and f.is_file()})
        if not dirs:
            problems.append(f"{path}: no TensorBoard event file ({EVENT_PREFIX}*) at or below it")
        found.extend(d for d in dirs if d not in found)
    if problems:
        raise FileNotFoundError("cannot read these runs:\n  " + "\n  ".join(problems))
    return found


def run_labels(run_dirs: Sequence[Path]) -> dict[Path, str]:
    """Label each run by its path relative to the runs' common root, e.g. ``ahnpl/version_0``, ``negclip/version_0``.

    A run that is the common root itself (a single run, or a run folder that also has runs below it) is labelled by
    its last two path components, the TensorBoardLogger ``name/version`` layout.
    """
    dirs = [Path(d).resolve() for d in run_dirs]
    if not dirs:
        return {}
    root = Path(os.path.commonpath([str(d) for d in dirs]))
    labels: dict[Path, str] = {}
    for d in dirs:
        rel = d.relative_to(root).as_posix()
        labels[d] = rel if rel != "." else "/".join(d.parts[-2:])
    if len(set(labels.values())) != len(labels):  # cannot happen for distinct folders, but never merge two runs
        raise ValueError(f"run labels collide: {labels}")
    return labels


def slug(label: str) -> str:
    """A file-name-safe form of a run label (``ahnpl/version_0`` -> ``ahnpl-version_0``)."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", label).strip("-") or "run"


# ----------------------------------------------------------------------------------------------- reading
def read_scalars(run_dir: str | os.PathLike[str], run: str | None = None) -> pd.DataFrame:
    """All scalars of one run folder as a tidy frame (run, tag, step, value), read with TensorBoard's own reader.

    Every scalar point is kept (``size_guidance`` 0); other plugins' data is not loaded. Several event files in the
    folder (a resumed run) are read in order, as TensorBoard does.
    """
    from tensorboard.backend.event_processing import event_accumulator as ea

    guidance = {ea.SCALARS: 0, ea.TENSORS: 1, ea.IMAGES: 1, ea.AUDIO: 1, ea.HISTOGRAMS: 1, ea.COMPRESSED_HISTOGRAMS: 1}
    accumulator = ea.EventAccumulator(str(run_dir), size_guidance=guidance)
    accumulator.Reload()
    label = run if run is not None else Path(run_dir).name
    rows = [
        (label, tag, int(event.step), float(event.value))
        for tag in accumulator.Tags()["scalars"]
        for event in accumulator.Scalars(tag)
    ]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype({"run": str, "tag": str, "step": "int64", "value": "float64"})


def load_runs(paths: Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """Find the runs below ``paths``, label them (:func:`run_labels`) and concatenate their scalars."""
    dirs = find_run_dirs(paths)
    labels = run_labels(dirs)
    frames = [read_scalars(d, labels[d]) for d in dirs]
    if not frames:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(frames, ignore_index=True)


def negative_types(frame: pd.DataFrame, stage: str = "train") -> list[str]:
    """Negative types present as ``<stage>/<key>/<type>`` tags: the known types in NEGATIVE_TYPES order, then others."""
    pattern = re.compile(rf"^{re.escape(stage)}/(?:{'|'.join(PER_TYPE_KEYS)})/(.+)$")
    present = {m.group(1) for tag in frame["tag"].unique() if (m := pattern.match(tag))}
    return [t for t in NEGATIVE_TYPES if t in present] + sorted(present - set(NEGATIVE_TYPES))


def mask_invalid_types(frame: pd.DataFrame, stage: str = "train") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Blank (NaN) the per-type score and active-share points logged at a step where no negative of that type was valid.

    The loss reports 0 for a type without any valid item in the batch (losses.py), which would plot as a real score
    of 0. theta_k stays: a type without valid negatives keeps its stored margin (margin.py). Returns the masked copy
    and a table (run, type, points) of how many points were masked where.
    """
    out = frame.copy()
    valid = frame[frame["tag"].str.startswith(f"{stage}/valid/")]
    empty = valid[valid["value"] <= 0]
    counts: list[tuple[str, str, int]] = []
    for (run, tag), group in empty.groupby(["run", "tag"], sort=True):
        kind = tag.rsplit("/", 1)[1]
        tags = [f"{stage}/{key}/{kind}" for key in MASKED_KEYS]
        hit = (out["run"] == run) & out["tag"].isin(tags) & out["step"].isin(group["step"])
        out.loc[hit, "value"] = float("nan")
        counts.append((run, kind, int(hit.sum())))
    return out, pd.DataFrame(counts, columns=["run", "type", "points"])


def series(frame: pd.DataFrame, run: str, tag: str) -> pd.Series:
    """Values of one tag of one run indexed by step (the last value wins where a step repeats)."""
    rows = frame[(frame["run"] == run) & (frame["tag"] == tag)]
    return rows.groupby("step")["value"].last().sort_index()


def tag_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Points logged per tag and run (tags as rows, runs as columns, 0 where a run lacks a tag)."""
    if frame.empty:
        return pd.DataFrame()
    return frame.pivot_table(index="tag", columns="run", values="step", aggfunc="count", fill_value=0)


def evaluation_tags(frame: pd.DataFrame) -> list[str]:
    """Accuracy tags: validation accuracies (``val/acc_*``) then every ``eval/<benchmark>/<subset>``, sorted."""
    tags = set(frame["tag"].unique())
    val = [t for t in VALIDATION_ACCURACY_TAGS if t in tags] + sorted(
        t for t in tags if t.startswith("val/acc_") and t not in VALIDATION_ACCURACY_TAGS
    )
    return val + sorted(t for t in tags if t.startswith("eval/"))


def final_values(frame: pd.DataFrame, tags: Sequence[str]) -> pd.DataFrame:
    """Last logged value (highest step) of each tag per run: tags as rows, runs as columns (NaN where missing)."""
    rows = frame[frame["tag"].isin(tags)].sort_values("step", kind="stable")
    table = rows.groupby(["tag", "run"])["value"].last().unstack("run")
    return table.reindex([t for t in tags if t in table.index])


# ----------------------------------------------------------------------------------------------- plotting
def run_colors(runs: Sequence[str]) -> dict[str, str]:
    """A fixed colour per run (tab10 cycle) so every figure uses the same colour for the same run."""
    palette = matplotlib.colormaps["tab10"].colors
    return {run: matplotlib.colors.to_hex(palette[i % len(palette)]) for i, run in enumerate(runs)}


def _runs(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["run"]))


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _blank(ax: Axes, present: set[str], *tags: str) -> None:
    """Mark a panel whose tags were never logged, or were logged but blanked (no valid negative of that type)."""
    _empty(ax, "no valid negative of this type" if all(t in present for t in tags) else "not logged")


def _grid(panels: int, columns: int, size: tuple[float, float] = (4.0, 2.8)) -> tuple[Figure, list[Axes]]:
    """A figure of ``panels`` axes in rows of ``columns``, built without pyplot (no global state, any backend)."""
    columns = max(1, min(columns, panels))
    rows = max(1, -(-panels // columns))
    fig = Figure(figsize=(size[0] * columns, size[1] * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[panels:]:
        ax.set_visible(False)
    return fig, flat[:panels]


def _lines(ax: Axes, frame: pd.DataFrame, tag: str, colors: dict[str, str], **style: object) -> int:
    """Plot one line per run for ``tag``; returns how many runs had it."""
    drawn = 0
    for run in colors:
        s = series(frame, run, tag)
        if s.notna().any():
            ax.plot(s.index, s.values, color=colors[run], label=run, **style)
            drawn += 1
    return drawn


def plot_margin_dynamics(frame: pd.DataFrame, title: str = "") -> Figure:
    """Per negative type (rows): theta_k, scores g (solid) and n (dashed), gap g - n against theta_k, active share.

    The hinge ReLU(theta_k + n_ik - g_i) (REFERENCE.md 2.4) is active when the gap g - n is below theta_k, so the
    gap panel draws theta_k dotted for reference. One colour per run; missing tags leave their panel marked so.
    """
    types = negative_types(frame)
    colors = run_colors(_runs(frame))
    if not types:
        return _empty_figure(title or "margin dynamics", "no per-type margin terms logged (train/margin/<type>)")
    headers = ("adaptive margin θ_k", "scores: g (solid), n (dashed)", "gap g − n (dotted: θ_k)", "active hinge share")
    fig, axes = _grid(4 * len(types), 4, (3.6, 2.4))
    present = set(frame["tag"].unique())
    for row, kind in enumerate(types):
        ax_margin, ax_scores, ax_gap, ax_active = axes[4 * row: 4 * row + 4]
        tag = {key: f"train/{key}/{kind}" for key in PER_TYPE_KEYS}

        if not _lines(ax_margin, frame, tag["margin"], colors):
            _blank(ax_margin, present, tag["margin"])
        drawn = _lines(ax_scores, frame, tag["pos_score"], colors)
        drawn += _lines(ax_scores, frame, tag["neg_score"], colors, linestyle="--")
        if not drawn:
            _blank(ax_scores, present, tag["pos_score"], tag["neg_score"])
        gap_drawn = 0
        for run, color in colors.items():
            gap = series(frame, run, tag["pos_score"]) - series(frame, run, tag["neg_score"])
            if gap.notna().any():
                ax_gap.plot(gap.index, gap.values, color=color, label=run)
                gap_drawn += 1
        if gap_drawn:
            _lines(ax_gap, frame, tag["margin"], colors, linestyle=":")
        else:
            _blank(ax_gap, present, tag["pos_score"], tag["neg_score"])
        if _lines(ax_active, frame, tag["active"], colors):
            ax_active.set_ylim(-0.02, 1.02)
        else:
            _blank(ax_active, present, tag["active"])
        ax_margin.set_ylabel(f"{kind}\n(logit units)")
        for col, ax in enumerate((ax_margin, ax_scores, ax_gap, ax_active)):
            if row == 0:
                ax.set_title(headers[col], fontsize=9)
            if row == len(types) - 1:
                ax.set_xlabel("step")
    _legend(fig, colors)
    fig.suptitle(title or "margin dynamics per negative type")
    return fig


def _legend(fig: Figure, colors: dict[str, str]) -> None:
    if len(colors) > 1:
        handles = [Line2D([], [], color=c, label=r) for r, c in colors.items()]
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(colors), 4), fontsize=8, frameon=False)


def _empty_figure(title: str, message: str) -> Figure:
    """A one-panel figure that says `message` (nothing of that kind was logged)."""
    fig, (ax,) = _grid(1, 1, (8.0, 2.5))
    _empty(ax, message)
    fig.suptitle(title)
    return fig


def plot_tags(frame: pd.DataFrame, tags: Sequence[str], title: str, columns: int = 4,
              empty_message: str = "none of these tags logged") -> Figure:
    """One panel per tag present (line per run over steps); a single panel saying ``empty_message`` if none is."""
    present = set(frame["tag"].unique())
    shown = [t for t in tags if t in present]
    colors = run_colors(_runs(frame))
    if not shown:
        return _empty_figure(title, empty_message)
    fig, axes = _grid(len(shown), columns)
    for ax, tag in zip(axes, shown):
        rows = frame[frame["tag"] == tag]
        single = rows.groupby("run")["step"].nunique().max() <= 1  # one point per run (e.g. a final eval)
        _lines(ax, frame, tag, colors, marker="o" if single else None, markersize=4)
        ax.set_title(tag, fontsize=9)
        ax.set_xlabel("step")
    _legend(fig, colors)
    fig.suptitle(title)
    return fig


def plot_losses(frame: pd.DataFrame, title: str = "loss terms (unweighted)") -> Figure:
    """Every loss term logged (LOSS_TAGS), one panel each."""
    return plot_tags(frame, LOSS_TAGS, title, empty_message="no loss terms logged")


def plot_scales(frame: pd.DataFrame, title: str = "positive margin and logit scale") -> Figure:
    """The positive margin alpha (REFERENCE.md 2.5) and the logit scale s."""
    message = "neither positive margin nor logit scale logged"
    return plot_tags(frame, SCALE_TAGS, title, columns=2, empty_message=message)


SPLIT_SUFFIX = re.compile(r"@(?!\d)\w+$")  # `<subset>@held_out`, `<subset>@in_distribution`; not `R@1`


def evaluation_groups(tags: Sequence[str], splits: bool = False) -> dict[str, list[str]]:
    """Accuracy tags by benchmark: ``validation`` for ``val/acc_*``, ``<benchmark>`` for ``eval/<benchmark>/...``.

    Per-split variants (``...@held_out``, ``...@in_distribution``, ARCHITECTURE.md) are left out unless ``splits``.
    """
    groups: dict[str, list[str]] = {}
    for tag in tags:
        if not splits and SPLIT_SUFFIX.search(tag):
            continue
        group = "validation" if tag.startswith("val/") else tag.split("/")[1]
        groups.setdefault(group, []).append(tag)
    return groups


def _subset(tag: str) -> str:
    """The part of an accuracy tag after its group (``eval/sugarcrepe/swap_att`` -> ``swap_att``)."""
    return tag.split("/", 1)[1] if tag.startswith("val/") else tag.split("/", 2)[2]


def plot_evaluation(frame: pd.DataFrame, title: str = "evaluation accuracy", columns: int = 3) -> Figure:
    """Accuracies over steps, one panel per benchmark (plus validation): a colour per subset, a line style per run.

    Says ``no evaluation logged`` if the frame has no accuracy tag. Per-split variants are in
    :func:`final_values` (the notebook prints them), not here, to keep the panels readable.
    """
    groups = evaluation_groups(evaluation_tags(frame))
    if not groups:
        return _empty_figure(title, NO_EVALUATION)
    runs = _runs(frame)
    styles = dict(zip(runs, _cycle(["-", "--", ":", "-."], len(runs))))
    fig, axes = _grid(len(groups), columns, (4.8, 3.4))
    for ax, (group, tags) in zip(axes, groups.items()):
        colors = dict(zip(tags, _cycle(list(matplotlib.colormaps["tab20"].colors), len(tags))))
        for tag in tags:
            labelled = False  # one legend entry per subset, whichever run draws it first
            for run in runs:
                s = series(frame, run, tag)
                if len(s):
                    ax.plot(s.index, s.values, color=colors[tag], linestyle=styles[run], marker="o", markersize=3,
                            label=None if labelled else _subset(tag))
                    labelled = True
        ax.set_title(group, fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=6, ncol=2 if len(tags) > 8 else 1)
    if len(runs) > 1:
        handles = [Line2D([], [], color="0.3", linestyle=styles[r], label=r) for r in runs]  # style = run
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(runs), 4), fontsize=8, frameon=False)
    fig.suptitle(title)
    return fig


def _cycle(items: list, n: int) -> list:
    """The first ``n`` items of ``items`` repeated cyclically."""
    return [items[i % len(items)] for i in range(n)]


def plot_final_accuracies(frame: pd.DataFrame, title: str = "final accuracy per run", columns: int = 3) -> Figure:
    """Grouped horizontal bars per benchmark: the last value of each subset's accuracy, one bar per run."""
    groups = evaluation_groups(evaluation_tags(frame))
    if not groups:
        return _empty_figure(title, NO_EVALUATION)
    colors = run_colors(_runs(frame))
    rows = max(len(tags) for tags in groups.values())
    fig, axes = _grid(len(groups), columns, (4.8, max(2.4, 0.6 + 0.12 * rows * max(len(colors), 2))))
    for ax, (group, tags) in zip(axes, groups.items()):
        table = final_values(frame, tags).reindex(columns=list(colors))
        table.index = [_subset(t) for t in table.index]
        table.iloc[::-1].plot.barh(ax=ax, color=list(colors.values()), width=0.8, legend=False)
        ax.set_title(group, fontsize=9)
        ax.tick_params(axis="y", labelsize=6)
        ax.set_xlabel("accuracy (last logged value)")
    handles = [Patch(color=c, label=r) for r, c in colors.items()]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(colors), 4), fontsize=8, frameon=False)
    fig.suptitle(title)
    return fig


def save_figure(fig: Figure, folder: str | os.PathLike[str], name: str, dpi: int = 110) -> Path:
    """Save ``fig`` as ``<folder>/<name>.png`` (folder created) and return the path."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.savefig(path, dpi=dpi)
    return path


FIGURES: dict[str, Callable[..., Figure]] = {
    "margin_dynamics": plot_margin_dynamics, "losses": plot_losses, "scales": plot_scales,
    "evaluation": plot_evaluation,
}


def plot_run(frame: pd.DataFrame, run: str, folder: str | os.PathLike[str]) -> list[Path]:
    """The four figures of one run, saved as ``<slug(run)>_{margin_dynamics,losses,scales,evaluation}.png``."""
    part = frame[frame["run"] == run]
    if part.empty:
        raise KeyError(f"run {run!r} not in the frame; runs: {_runs(frame)}")
    return [
        save_figure(make(part, title=f"{run}: {name.replace('_', ' ')}"), folder, f"{slug(run)}_{name}")
        for name, make in FIGURES.items()
    ]


def plot_comparison(frame: pd.DataFrame, folder: str | os.PathLike[str]) -> list[Path]:
    """The same four figures with every run overlaid (``compare_*.png``) plus ``compare_final_accuracy.png``."""
    written = [
        save_figure(make(frame, title=f"across runs: {name.replace('_', ' ')}"), folder, f"compare_{name}")
        for name, make in FIGURES.items()
    ]
    return [*written, save_figure(plot_final_accuracies(frame), folder, "compare_final_accuracy")]


def plot_all(frame: pd.DataFrame, folder: str | os.PathLike[str]) -> list[Path]:
    """:func:`plot_run` for every run, then :func:`plot_comparison` when there is more than one run."""
    runs = _runs(frame)
    written = [path for run in runs for path in plot_run(frame, run, folder)]
    return written + (plot_comparison(frame, folder) if len(runs) > 1 else [])


# ----------------------------------------------------------------------------------------------- notebook plumbing
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


def figures_dir(root: Path) -> Path:
    """``$AHNPL_FIGURES`` if set, else ``<root>/notebooks/figures``."""
    env = os.environ.get("AHNPL_FIGURES")
    return Path(env).expanduser() if env else root / "notebooks" / "figures"


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
