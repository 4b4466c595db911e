"""`ahnpl_lightning.analysis`: reading TensorBoard runs into a tidy frame, type discovery, labels, masking, figures."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
import pytest
from _analysis_helpers import EMPTY_VERB_STEPS, EVAL_TAGS, STEPS, write_run, write_two_runs

from ahnpl_lightning import analysis as A

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("runs")
    return root, write_two_runs(root)


@pytest.fixture(scope="module")
def frame(two_runs: tuple[Path, dict]) -> pd.DataFrame:
    return A.load_runs([two_runs[0]])


def test_read_scalars_round_trips_every_point(two_runs: tuple[Path, dict]) -> None:
    root, written = two_runs
    df = A.read_scalars(root / "ahnpl" / "version_0", run="x")
    assert list(df.columns) == list(A.COLUMNS)
    assert str(df["step"].dtype) == "int64" and str(df["value"].dtype) == "float64"
    assert set(df["run"]) == {"x"}
    got = {(t, s): v for t, s, v in zip(df["tag"], df["step"], df["value"])}
    expected = {(t, s): v for t, points in written["ahnpl/version_0"].items() for s, v in points.items()}
    assert len(df) == len(expected) and set(got) == set(expected)
    for key, v in expected.items():
        assert got[key] == pytest.approx(v, rel=1e-6), key  # values pass through float32


def test_load_runs_labels_runs_relative_to_common_root(frame: pd.DataFrame, two_runs: tuple[Path, dict]) -> None:
    _, written = two_runs
    assert sorted(frame["run"].unique()) == ["ahnpl/version_0", "negclip/version_0"]
    for run, tags in written.items():
        assert set(frame.loc[frame["run"] == run, "tag"]) == set(tags)
    assert not any(t.startswith("train/margin/") for t in frame.loc[frame["run"] == "negclip/version_0", "tag"])


def test_find_run_dirs_and_labels(two_runs: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = two_runs
    ahnpl, negclip = (root / "ahnpl" / "version_0").resolve(), (root / "negclip" / "version_0").resolve()
    assert A.find_run_dirs([root]) == [ahnpl, negclip]
    assert A.find_run_dirs([ahnpl, root]) == [ahnpl, negclip]  # no duplicates
    assert A.run_labels([ahnpl]) == {ahnpl: "ahnpl/version_0"}  # a lone run: logger name/version
    assert A.run_labels([ahnpl, negclip]) == {ahnpl: "ahnpl/version_0", negclip: "negclip/version_0"}
    other = ahnpl.parent / "version_1"
    assert A.run_labels([ahnpl, other]) == {ahnpl: "version_0", other: "version_1"}
    assert A.slug("ahnpl/version_0") == "ahnpl-version_0" and A.slug("a b/c:d") == "a-b-c-d"
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError) as err:
        A.find_run_dirs([tmp_path / "missing", tmp_path / "empty", root])
    message = str(err.value)
    assert "missing: does not exist" in message and "empty: no TensorBoard event file" in message


def test_negative_types_follow_canonical_order_then_unknown() -> None:
    tags = ["train/margin/verb", "train/active/zzz", "train/pos_score/relation", "train/neg_score/adj",
            "val/margin/noun", "train/margin", "train/loss"]
    df = pd.DataFrame({"run": "r", "tag": tags, "step": 1, "value": 0.0})
    assert A.negative_types(df) == ["relation", "adj", "verb", "zzz"]
    assert A.negative_types(df, stage="val") == ["noun"]
    assert A.negative_types(df[df["tag"] == "train/loss"]) == []


def test_mask_invalid_types_blanks_exactly_the_empty_steps(frame: pd.DataFrame) -> None:
    masked, counts = A.mask_invalid_types(frame)
    points = 3 * len(EMPTY_VERB_STEPS)  # pos_score, neg_score, active at each empty step; theta_k is state, kept
    assert counts.to_dict("records") == [{"run": "ahnpl/version_0", "type": "verb", "points": points}]
    nan = masked[masked["value"].isna()]
    assert set(zip(nan["tag"], nan["step"])) == {
        (f"train/{key}/verb", s) for key in ("pos_score", "neg_score", "active") for s in EMPTY_VERB_STEPS
    }
    assert (nan["run"] == "ahnpl/version_0").all()
    # everything else untouched, including the valid share itself
    keep = masked["value"].notna()
    assert masked[keep]["value"].tolist() == frame[keep]["value"].tolist()
    assert frame["value"].notna().all()  # input not modified


def test_series_final_values_and_summary() -> None:
    df = pd.DataFrame({
        "run": ["a", "a", "a", "b", "a"],
        "tag": ["val/acc_i2t", "val/acc_i2t", "eval/x/y", "val/acc_i2t", "val/acc_i2t"],
        "step": [5, 2, 3, 1, 5],
        "value": [0.5, 0.2, 0.7, 0.1, 0.6],
    })
    s = A.series(df, "a", "val/acc_i2t")
    assert s.index.tolist() == [2, 5] and s.tolist() == [0.2, 0.6]  # sorted by step, last value wins at a repeat
    assert A.evaluation_tags(df) == ["val/acc_i2t", "eval/x/y"]
    table = A.final_values(df, A.evaluation_tags(df))
    assert table.loc["val/acc_i2t", "a"] == 0.6 and table.loc["val/acc_i2t", "b"] == 0.1
    assert table.loc["eval/x/y", "a"] == 0.7 and math.isnan(table.loc["eval/x/y", "b"])
    summary = A.tag_summary(df)
    assert summary.loc["val/acc_i2t", "a"] == 3 and summary.loc["eval/x/y", "b"] == 0


def test_evaluation_groups_drop_split_variants_but_not_recall_at_k() -> None:
    tags = ["val/acc_i2t", "eval/sugarcrepe/swap_att", "eval/sugarcrepe/swap_att@held_out",
            "eval/retrieval/coco/i2t_R@1", "eval/retrieval/coco/i2t_R@1@in_distribution", "eval/vl_checklist/v1/A/b"]
    assert A.evaluation_groups(tags) == {
        "validation": ["val/acc_i2t"], "sugarcrepe": ["eval/sugarcrepe/swap_att"],
        "retrieval": ["eval/retrieval/coco/i2t_R@1"], "vl_checklist": ["eval/vl_checklist/v1/A/b"],
    }
    assert sum(map(len, A.evaluation_groups(tags, splits=True).values())) == len(tags)


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]


def test_plots_skip_missing_tags(frame: pd.DataFrame) -> None:
    negclip = frame[frame["run"] == "negclip/version_0"]
    assert _texts(A.plot_margin_dynamics(negclip)) == ["no per-type margin terms logged (train/margin/<type>)"]
    assert _titles(A.plot_evaluation(negclip)) == ["validation"]
    no_eval = negclip[~negclip["tag"].str.startswith("val/")]
    assert _texts(A.plot_evaluation(no_eval)) == [A.NO_EVALUATION]
    assert _texts(A.plot_final_accuracies(no_eval)) == [A.NO_EVALUATION]
    assert _titles(A.plot_losses(negclip)) == list(A.LOSS_TAGS)
    assert _titles(A.plot_scales(negclip)) == ["train/logit_scale"]  # no positive margin in the baseline
    ahnpl = frame[frame["run"] == "ahnpl/version_0"]
    fig = A.plot_evaluation(ahnpl)
    assert _titles(fig) == ["validation", "sugarcrepe"]
    assert [line.get_label() for line in fig.axes[1].lines] == sorted(t.rsplit("/", 1)[1] for t in EVAL_TAGS)
    assert _titles(A.plot_final_accuracies(frame)) == ["validation", "sugarcrepe"]
    fig = A.plot_margin_dynamics(ahnpl)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 4 * 5 and _texts(fig) == []
    first = fig.axes[0].lines[0]  # theta of `relation` over the logged steps
    assert first.get_xdata().tolist() == list(STEPS)


def test_margin_plot_marks_types_without_valid_negatives() -> None:
    rows = [("r", f"train/{key}/verb", 1, 0.0) for key in A.PER_TYPE_KEYS]
    df, _ = A.mask_invalid_types(pd.DataFrame(rows, columns=list(A.COLUMNS)))
    fig = A.plot_margin_dynamics(df)
    assert _texts(fig) == ["no valid negative of this type"] * 3  # scores, gap, active; theta_k is still drawn
    assert fig.axes[0].lines[0].get_ydata().tolist() == [0.0]


@pytest.mark.filterwarnings("error::UserWarning")  # e.g. constrained layout collapsing a panel
def test_plot_all_writes_every_figure(frame: pd.DataFrame, tmp_path: Path) -> None:
    written = A.plot_all(frame, tmp_path / "fig")
    names = [p.name for p in written]
    per_run = [f"{r}_{n}.png" for r in ("ahnpl-version_0", "negclip-version_0") for n in A.FIGURES]
    assert names == per_run + [f"compare_{n}.png" for n in A.FIGURES] + ["compare_final_accuracy.png"]
    for path in written:
        assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5000
    one = A.plot_all(frame[frame["run"] == "negclip/version_0"], tmp_path / "one")
    assert [p.name for p in one] == [f"negclip-version_0_{n}.png" for n in A.FIGURES]
    with pytest.raises(KeyError, match="not in the frame"):
        A.plot_run(frame, "nope", tmp_path)


def test_environment_plumbing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AHNPL_ROOT", raising=False)
    monkeypatch.delenv("AHNPL_RUNS", raising=False)
    monkeypatch.delenv("AHNPL_FIGURES", raising=False)
    assert A.find_repo_root(REPO / "notebooks") == REPO
    with pytest.raises(FileNotFoundError, match="AHNPL_ROOT"):
        A.find_repo_root(tmp_path)
    monkeypatch.setenv("AHNPL_ROOT", str(tmp_path))
    assert A.find_repo_root(REPO) == tmp_path.resolve()
    assert A.runs_from_env(["a"]) == ["a"]
    monkeypatch.setenv("AHNPL_RUNS", " x , ,y")
    assert A.runs_from_env(["a"]) == ["x", "y"]
    assert A.figures_dir(tmp_path) == tmp_path / "notebooks" / "figures"
    monkeypatch.setenv("AHNPL_FIGURES", str(tmp_path / "f"))
    assert A.figures_dir(tmp_path) == tmp_path / "f"
    assert A.default_runs(tmp_path) == []
    write_run(tmp_path / "runs" / "ahnpl" / "version_0", margin_terms=False, eval_tags=False)
    assert A.default_runs(tmp_path) == [tmp_path / "runs"]
    args = A.demo_fit_args(REPO, save_dir=tmp_path, max_steps=7)
    assert args[:3] == ["fit", "--config", str(REPO / "configs" / "ahnpl.yaml")]
    assert "--trainer.max_steps=7" in args and f"--trainer.logger.init_args.save_dir={tmp_path}" in args


def test_reader_reads_a_real_short_fit(tmp_path: Path) -> None:
    """Three optimiser steps of the real training loop; the reader finds every tag the module logs."""
    extra = [
        "--trainer.accelerator=cpu", "--trainer.log_every_n_steps=1", "--trainer.limit_val_batches=1",
        "--trainer.num_sanity_val_steps=0", "--trainer.val_check_interval=1.0", "--trainer.enable_model_summary=false",
        "--data.init_args.batch_size=8",
        "--data.init_args.source.init_args.train_size=24", "--data.init_args.source.init_args.val_size=8",
        "--trainer.callbacks=[]", "--trainer.enable_checkpointing=false",
    ]
    run = A.train_demo_run(REPO, save_dir=tmp_path, max_steps=3, extra=extra)
    assert run.parent == tmp_path / "ahnpl"
    df = A.load_runs([run])
    assert set(df["run"]) == {f"ahnpl/{run.name}"}
    tags = set(df["tag"])
    expected = {*A.LOSS_TAGS, *A.SCALE_TAGS, *A.VALIDATION_ACCURACY_TAGS}
    expected |= {f"train/{k}/{t}" for k in A.PER_TYPE_KEYS for t in ("relation", "adj_swap", "adj", "noun", "verb")}
    assert expected <= tags, sorted(expected - tags)
    assert A.series(df, f"ahnpl/{run.name}", "train/loss").index.tolist() == [0, 1, 2]
    assert A.negative_types(df) == ["relation", "adj_swap", "adj", "noun", "verb"]
    assert os.listdir(run)  # event file present


def test_smoothing_is_tensorboards_debiased_ema() -> None:
    import pandas as pd

    values = pd.Series([1.0, 3.0, float("nan"), 2.0], index=[0, 1, 2, 3])
    out = A.smooth(values, 0.5)
    # TensorBoard: last = last * w + (1 - w) * v; shown = last / (1 - w ** n) over the n finite points so far
    assert out.tolist()[:2] == [1.0, (0.5 * 0.5 * 1 + 0.5 * 3) / (1 - 0.25)]
    assert pd.isna(out.iloc[2]) and out.index.tolist() == [0, 1, 2, 3]
    last = 0.5 * (0.25 * 1 + 0.5 * 3) + 0.5 * 2
    assert out.iloc[3] == pytest.approx(last / (1 - 0.125))
    assert A.smooth(values, 0.0) is values
    with pytest.raises(ValueError, match="smoothing"):
        A.smooth(values, 1.0)


def test_smoothing_draws_the_smoothed_trace_over_the_raw_one(tmp_path: Path) -> None:
    write_run(tmp_path / "runs" / "ahnpl" / "version_0", eval_tags=False)
    frame = A.load_runs([tmp_path / "runs"])
    raw = A.plot_margin_dynamics(frame)
    smoothed = A.plot_margin_dynamics(frame, smoothing=0.6)
    margin_axes = (raw.axes[0], smoothed.axes[0])  # theta of the first type
    assert [len(ax.lines) for ax in margin_axes] == [1, 2]
    faint, line = smoothed.axes[0].lines
    assert faint.get_alpha() == A.plots.RAW_ALPHA and line.get_alpha() is None
    assert list(line.get_ydata()) == pytest.approx(list(A.smooth(pd_series(faint), 0.6)))
    written = A.plot_run(frame, "ahnpl/version_0", tmp_path / "figures", smoothing=0.6)
    assert len(written) == len(A.FIGURES)


def pd_series(line: object) -> object:
    import pandas as pd

    return pd.Series(line.get_ydata(), index=line.get_xdata())  # type: ignore[attr-defined]


def test_relative_run_and_figure_paths_are_taken_from_the_repository_root(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    monkeypatch.setenv("AHNPL_RUNS", "runs/ahnpl, /abs/run")
    assert A.resolve_runs(A.runs_from_env([]), tmp_path) == [tmp_path / "runs" / "ahnpl", Path("/abs/run")]
    monkeypatch.setenv("AHNPL_FIGURES", "out/figures")
    assert A.figures_dir(tmp_path) == tmp_path / "out" / "figures"
    monkeypatch.delenv("AHNPL_SMOOTHING", raising=False)
    assert A.smoothing_from_env(0.3) == 0.3
    monkeypatch.setenv("AHNPL_SMOOTHING", "0.6")
    assert A.smoothing_from_env() == 0.6
    monkeypatch.setenv("AHNPL_SMOOTHING", "1.5")
    with pytest.raises(ValueError, match="AHNPL_SMOOTHING"):
        A.smoothing_from_env()
