"""The quality study's outputs: `quality.csv`, `quality_runs.csv`, `quality.json`, `quality.md`, `quality.png`."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

# Chance level of each group (the plot's dashed line): two-way choices 50 %, Winoground's group score 1/6,
# text-to-image R@1 one image in the evaluation set.
CHANCE = {"attribute binding": 50.0, "relations": 50.0, "winoground group": 100.0 / 6}
PLOT_COLUMNS = ("attribute binding [held_out]", "relations [held_out]", "attribute binding [in_distribution]",
                "relations [in_distribution]", "t2i R@1 [held_out]")
KNOWN_EFFECT = {"relations [held_out]": 10.0, "attribute binding [held_out]": 5.0}  # issue 12: NegCLIP - CLIP FT


def _fmt(x: float | None, digits: int = 1, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def columns_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The score columns (`<group> [<split>]`) in table order."""
    return [c for c in rows[0] if c.endswith("]")]


def chance(column: str, eval_size: int) -> float:
    group = column.split(" [")[0]
    return CHANCE.get(group, 100.0 / max(1, eval_size))


def known_effect(by: Mapping[str, Mapping[str, Any]], reference: str) -> list[str]:
    """Issue 12's check: NegCLIP minus CLIP fine-tune, with the paired interval, against the required gap."""
    base = by.get("CLIP fine-tune")
    if base is None or reference not in by:
        return []
    lines = []
    for column, needed in KNOWN_EFFECT.items():
        gap = -base.get(f"{column} vs {reference}", math.nan)
        low = -base.get(f"{column} vs {reference} ci_high", math.nan)
        high = -base.get(f"{column} vs {reference} ci_low", math.nan)
        status = "reproduced" if gap >= needed else "NOT reproduced"
        lines.append(f"- {column}: {reference} - CLIP fine-tune = {_fmt(gap, sign=True)} points "
                     f"(95 % CI {_fmt(low, sign=True)} to {_fmt(high, sign=True)}); required >= +{needed:.0f}: "
                     f"{status}")
    return lines


def aims(by: Mapping[str, Mapping[str, Any]], reference: str) -> list[str]:
    """Issue 13's goal for AHNPL (ours): >= NegCLIP and >= CE-CLIP on held-out binding and relations, the paired
    interval above zero on at least one; text-to-image R@1 within 2 points of CLIP fine-tune."""
    ours = by.get("AHNPL (ours)")
    if ours is None:
        return []
    lines = []
    for column in ("attribute binding [held_out]", "relations [held_out]"):
        for other in (reference, "CE-CLIP"):
            if other not in by:
                continue
            gap = ours[column] - by[other][column]
            extra = ""
            if other == reference and f"{column} vs {reference}" in ours:
                low, high = ours[f"{column} vs {reference} ci_low"], ours[f"{column} vs {reference} ci_high"]
                extra = f", paired 95 % CI {_fmt(low, sign=True)} to {_fmt(high, sign=True)}"
                extra += " (above zero)" if low > 0 else ""
            lines.append(f"- {column}: AHNPL (ours) {_fmt(ours[column])} vs {other} {_fmt(by[other][column])} "
                         f"({_fmt(gap, sign=True)} points{extra}): {'at least' if gap >= 0 else 'BELOW'}")
    if "CLIP fine-tune" in by:
        column = "t2i R@1 [held_out]"
        gap = ours[column] - by["CLIP fine-tune"][column]
        lines.append(f"- {column}: AHNPL (ours) {_fmt(ours[column])} vs CLIP fine-tune "
                     f"{_fmt(by['CLIP fine-tune'][column])} ({_fmt(gap, sign=True)} points; aim: no more than 2 "
                     f"below): {'met' if gap >= -2 else 'NOT met'}")
    return lines


def write(rows: list[dict[str, Any]], runs: list[dict[str, Any]], budget: Any, stats: Mapping[str, Any],
          chosen: Mapping[str, float | None], out: Path, seconds: float, groups: Mapping[str, Sequence[str]],
          reference: str) -> None:
    """Write every output file of one study under `out`."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    if "lr" in table:  # a learning rate is no percentage: keep its digits ("%.2f" would write 5e-4 as 0.00)
        table["lr"] = [None if v is None or v != v else f"{v:g}" for v in table["lr"]]
    table.to_csv(out / "quality.csv", index=False, float_format="%.2f")
    flat = []
    for run in runs:
        base = {k: v for k, v in run.items() if k not in ("numbers", "outcomes")}
        for root, numbers in run["numbers"].items():
            flat.append({**base, "eval_set": root, **numbers})
    pd.DataFrame(flat).to_csv(out / "quality_runs.csv", index=False, float_format="%.4f")
    (out / "quality.json").write_text(json.dumps(
        {"budget": asdict(budget), "seconds": seconds, "threads": torch.get_num_threads(), "statistics": dict(stats),
         "learning_rates": dict(chosen), "groups": dict(groups), "rows": rows}, indent=1, default=str))
    compute = sum(float(r.get("train_s", 0.0)) + float(r.get("eval_s", 0.0)) for r in runs)
    stats = {**stats, "run_seconds": compute}
    (out / "quality.md").write_text(markdown(rows, budget, stats, seconds, groups, reference))
    plot(rows, out / "quality.png", budget.eval_size, reference)


def markdown(rows: list[dict[str, Any]], budget: Any, stats: Mapping[str, Any], seconds: float,
             groups: Mapping[str, Sequence[str]], reference: str) -> str:
    columns = columns_of(rows)
    by = {r["method"]: r for r in rows}
    if budget.lrs == (None,):
        lrs = "each config's own learning rate"
    elif len(budget.lrs) == 1:
        lrs = f"learning rate {budget.lrs[0]:g} for every method"
    else:
        lrs = (f"learning rates {list(budget.lrs)}, each method at its best on a separate validation export "
               f"({budget.val_size} items per file)")
    item_note = ("paired bootstrap over items and seeds" if stats.get("item_level") else
                 "bootstrap over seeds only (this evaluation returned no per-item outcomes)")
    lines = [
        "# Quality study: fine-tuning methods on the synthetic world", "",
        f"Every method fine-tunes the stand-in CLIP (`AHNPL-RN-64`, pretrained tag `world`) for "
        f"{budget.finetune_steps} steps at batch {budget.batch_size} ({lrs}); seeds {list(budget.seeds)}; evaluation "
        f"on a fresh `ahnpl world` export of {budget.eval_size} items per file. Scores in %: mean over seeds, "
        f"[95 % interval] from a {item_note} ({stats.get('replicates')} replicates). Training and evaluation "
        f"took {stats.get('run_seconds', seconds) / 60:.0f} min over the runs ({seconds / 60:.0f} min in this "
        f"invocation; runs done before come from the cache) on {budget.device} ({torch.get_num_threads()} "
        "threads). Produced by `make bench-quality` "
        "(`python -m benchmarks.quality`); methods are built from the configs users run "
        "(`benchmarks/quality_methods.py`).", "",
        "Groups (the mean of these subsets' item accuracies on the split):",
        *[f"- {g}: {', '.join(m)}" for g, m in groups.items()], "",
        "| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|",
    ]
    for row in rows:
        cells = [f"{_fmt(row[c])} [{_fmt(row[c + ' ci_low'])}, {_fmt(row[c + ' ci_high'])}]" for c in columns]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    lines += ["", f"## Paired difference against {reference} (points, [95 % interval])", "",
              "| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for row in rows:
        if f"{columns[0]} vs {reference}" not in row:
            continue
        cells = []
        for c in columns:
            key = f"{c} vs {reference}"
            cells.append(f"{_fmt(row[key], sign=True)} [{_fmt(row[key + ' ci_low'], sign=True)}, "
                         f"{_fmt(row[key + ' ci_high'], sign=True)}]")
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    full = stats.get("parts_reference")
    parts = [row for row in rows if full and f"{columns[0]} vs {full}" in row]
    if parts:
        lines += ["", f"## Each part of {full}: ablation minus {full} (points, [95 % paired interval])", "",
                  "A negative difference means the removed part helped; an interval that contains 0 means this study "
                  "cannot tell.", "", "| ablation | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        for row in parts:
            cells = [f"{_fmt(row[f'{c} vs {full}'], sign=True)} [{_fmt(row[f'{c} vs {full} ci_low'], sign=True)}, "
                     f"{_fmt(row[f'{c} vs {full} ci_high'], sign=True)}]" for c in columns]
            lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    lines += ["", "## The known effect (NegCLIP over CLIP fine-tuning)", "", *known_effect(by, reference), "",
              "## AHNPL (ours) against the aims", "", *aims(by, reference), "", "![quality](quality.png)", ""]
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path, eval_size: int, reference: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [c for c in PLOT_COLUMNS if c in rows[0]]
    fig, axes = plt.subplots(1, len(columns), figsize=(3.6 * len(columns), 0.42 * len(rows) + 1.6), sharey=True)
    labels = [r["method"] for r in rows]
    colours = ["tab:gray" if "no fine-tuning" in r["method"] else "tab:orange" if r["method"] == reference
               else "tab:blue" for r in rows]
    for ax, column in zip(axes, columns):
        values = [r[column] for r in rows]
        errors = [[max(0.0, r[column] - r[f"{column} ci_low"]) for r in rows],
                  [max(0.0, r[f"{column} ci_high"] - r[column]) for r in rows]]
        ax.barh(labels, values, xerr=errors, color=colours, capsize=2)
        ax.axvline(chance(column, eval_size), color="k", linestyle="--", linewidth=1, label="chance")
        ax.set_title(column, fontsize=9)
        ax.set_xlabel("% (bars: 95 % CI)")
        ax.invert_yaxis()
    axes[0].legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
