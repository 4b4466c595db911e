"""Read TensorBoard runs into a tidy table (run, tag, step, value) and the table operations the figures use.

The training loop logs, every `log_every_n_steps`, the loss terms (`train/<term>`), per negative type k the adaptive
margin theta_k (`train/margin/<k>`, docs/METHOD.md 2.4), the mean positive and negative scores g_i and n_ik in logit
units (`train/pos_score/<k>`, `train/neg_score/<k>`, means over valid items), the share of active hinge terms
(`train/active/<k>`), the share of valid negatives (`train/valid/<k>`), the positive margin alpha (docs/METHOD.md
2.5) and the logit scale; validation and the evaluation callback add `val/...` and `eval/<benchmark>/<subset>`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ahnpl_lightning.types import NEGATIVE_TYPES

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

    The loss reports 0 for a type without any valid item in the batch, which would plot as a real score of 0.
    theta_k stays: a type without valid negatives keeps its stored margin. Returns the masked copy and a table
    (run, type, points) of how many points were masked where.
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


def series(frame: pd.DataFrame, run: str, tag: str, smoothing: float = 0.0) -> pd.Series:
    """Values of one tag of one run indexed by step (the last value wins where a step repeats), optionally smoothed
    (:func:`smooth`)."""
    rows = frame[(frame["run"] == run) & (frame["tag"] == tag)]
    return smooth(rows.groupby("step")["value"].last().sort_index(), smoothing)


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



def smooth(values: pd.Series, weight: float) -> pd.Series:
    """TensorBoard's smoothing: an exponential moving average with weight `weight` in [0, 1), debiased at the start
    (so the first points are not pulled towards 0); missing values are skipped and stay missing. 0 returns `values`.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {weight}")
    if weight == 0.0 or values.empty:
        return values
    out = np.full(len(values), np.nan)
    last, count = 0.0, 0
    for i, value in enumerate(values.to_numpy(dtype=float)):
        if np.isnan(value):
            continue
        count += 1
        last = last * weight + (1.0 - weight) * value
        out[i] = last / (1.0 - weight**count)
    return pd.Series(out, index=values.index, name=values.name)
