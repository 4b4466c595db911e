"""Margin-dynamics figures from the tidy frame of `analysis.runs` (built without pyplot: no global state).

Everything works from the frame (run, tag, step, value), so a run lacking some tags (a baseline has no margin terms)
just gets fewer lines. `smoothing` (TensorBoard's EMA weight, 0 = off) applies to the per-step traces (margins,
scores, losses, scales): the smoothed line is drawn over the raw one, which stays faint.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ahnpl_lightning.analysis.runs import (
    LOSS_TAGS,
    NO_EVALUATION,
    PER_TYPE_KEYS,
    SCALE_TAGS,
    evaluation_groups,
    evaluation_tags,
    final_values,
    negative_types,
    series,
    slug,
    smooth,
)

RAW_ALPHA = 0.25  # opacity of the raw trace under a smoothed one

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


def _lines(ax: Axes, frame: pd.DataFrame, tag: str, colors: dict[str, str], smoothing: float = 0.0,
           **style: object) -> int:
    """Plot one line per run for ``tag`` (smoothed over a faint raw trace when ``smoothing``); returns how many runs
    had it."""
    drawn = 0
    for run in colors:
        s = series(frame, run, tag)
        if s.notna().any():
            _plot(ax, s, colors[run], run, smoothing, **style)
            drawn += 1
    return drawn


def _plot(ax: Axes, values: pd.Series, color: str, label: str, smoothing: float, **style: object) -> None:
    """One trace; with ``smoothing`` the raw values stay faint underneath the smoothed line."""
    if smoothing > 0:
        ax.plot(values.index, values.values, color=color, alpha=RAW_ALPHA, linewidth=0.8,
                **{k: v for k, v in style.items() if k == "linestyle"})
        values = smooth(values, smoothing)
    ax.plot(values.index, values.values, color=color, label=label, **style)


def plot_margin_dynamics(frame: pd.DataFrame, title: str = "", smoothing: float = 0.0) -> Figure:
    """Per negative type (rows): theta_k, scores g (solid) and n (dashed), gap g - n against theta_k, active share.

    The hinge ReLU(theta_k + n_ik - g_i) (docs/METHOD.md 2.4) is active when the gap g - n is below theta_k, so the
    gap panel draws theta_k dotted for reference. One colour per run; missing tags leave their panel marked so.
    ``smoothing`` (TensorBoard's EMA weight, e.g. 0.6) smooths the per-step traces over their faint raw values.
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

        if not _lines(ax_margin, frame, tag["margin"], colors, smoothing):
            _blank(ax_margin, present, tag["margin"])
        drawn = _lines(ax_scores, frame, tag["pos_score"], colors, smoothing)
        drawn += _lines(ax_scores, frame, tag["neg_score"], colors, smoothing, linestyle="--")
        if not drawn:
            _blank(ax_scores, present, tag["pos_score"], tag["neg_score"])
        gap_drawn = 0
        for run, color in colors.items():
            gap = series(frame, run, tag["pos_score"]) - series(frame, run, tag["neg_score"])
            if gap.notna().any():
                _plot(ax_gap, gap, color, run, smoothing)
                gap_drawn += 1
        if gap_drawn:
            _lines(ax_gap, frame, tag["margin"], colors, smoothing, linestyle=":")
        else:
            _blank(ax_gap, present, tag["pos_score"], tag["neg_score"])
        if _lines(ax_active, frame, tag["active"], colors, smoothing):
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
    fig.suptitle((title or "margin dynamics per negative type") + (f" (smoothing {smoothing:g})" if smoothing else ""))
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
              empty_message: str = "none of these tags logged", smoothing: float = 0.0) -> Figure:
    """One panel per tag present (line per run over steps, ``smoothing`` as in :func:`plot_margin_dynamics`); a single
    panel saying ``empty_message`` if none is."""
    present = set(frame["tag"].unique())
    shown = [t for t in tags if t in present]
    colors = run_colors(_runs(frame))
    if not shown:
        return _empty_figure(title, empty_message)
    fig, axes = _grid(len(shown), columns)
    for ax, tag in zip(axes, shown):
        rows = frame[frame["tag"] == tag]
        single = rows.groupby("run")["step"].nunique().max() <= 1  # one point per run (e.g. a final eval)
        _lines(ax, frame, tag, colors, 0.0 if single else smoothing, marker="o" if single else None, markersize=4)
        ax.set_title(tag, fontsize=9)
        ax.set_xlabel("step")
    _legend(fig, colors)
    fig.suptitle(title)
    return fig


def plot_losses(frame: pd.DataFrame, title: str = "loss terms (unweighted)", smoothing: float = 0.0) -> Figure:
    """Every loss term logged (LOSS_TAGS), one panel each."""
    return plot_tags(frame, LOSS_TAGS, title, empty_message="no loss terms logged", smoothing=smoothing)


def plot_scales(frame: pd.DataFrame, title: str = "positive margin and logit scale", smoothing: float = 0.0) -> Figure:
    """The positive margin alpha (docs/METHOD.md 2.5) and the logit scale s."""
    message = "neither positive margin nor logit scale logged"
    return plot_tags(frame, SCALE_TAGS, title, columns=2, empty_message=message, smoothing=smoothing)


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
SMOOTHED: frozenset[str] = frozenset({"margin_dynamics", "losses", "scales"})  # the per-step traces


def _figure(name: str, frame: pd.DataFrame, title: str, smoothing: float) -> Figure:
    make = FIGURES[name]
    return make(frame, title=title, smoothing=smoothing) if name in SMOOTHED else make(frame, title=title)


def plot_run(frame: pd.DataFrame, run: str, folder: str | os.PathLike[str], smoothing: float = 0.0) -> list[Path]:
    """The four figures of one run, saved as ``<slug(run)>_{margin_dynamics,losses,scales,evaluation}.png``."""
    part = frame[frame["run"] == run]
    if part.empty:
        raise KeyError(f"run {run!r} not in the frame; runs: {_runs(frame)}")
    return [
        save_figure(_figure(name, part, f"{run}: {name.replace('_', ' ')}", smoothing), folder, f"{slug(run)}_{name}")
        for name in FIGURES
    ]


def plot_comparison(frame: pd.DataFrame, folder: str | os.PathLike[str], smoothing: float = 0.0) -> list[Path]:
    """The same four figures with every run overlaid (``compare_*.png``) plus ``compare_final_accuracy.png``."""
    written = [
        save_figure(_figure(name, frame, f"across runs: {name.replace('_', ' ')}", smoothing), folder,
                    f"compare_{name}")
        for name in FIGURES
    ]
    return [*written, save_figure(plot_final_accuracies(frame), folder, "compare_final_accuracy")]


def plot_all(frame: pd.DataFrame, folder: str | os.PathLike[str], smoothing: float = 0.0) -> list[Path]:
    """:func:`plot_run` for every run, then :func:`plot_comparison` when there is more than one run."""
    runs = _runs(frame)
    written = [path for run in runs for path in plot_run(frame, run, folder, smoothing)]
    return written + (plot_comparison(frame, folder, smoothing) if len(runs) > 1 else [])
