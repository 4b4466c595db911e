"""The real thing under DDP (issue 18): `lightning fit|validate|test -c configs/ahnpl.yaml -c
configs/trainer/ddp_cpu.yaml` in a subprocess, two CPU processes, the default config with its evaluation callback
(on a tiny world export), across an epoch-end evaluation and the end-of-training one, under a timeout.

Before the fix the fit hung at the first evaluation: rank 0 sat in a `rank_zero_only` write that read
`trainer.log_dir` (a broadcast) while rank 1 waited in a barrier. The baseline configs get the same run in
`make bench` (benchmarks/ddp.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from benchmarks import ddp

pytestmark = pytest.mark.slow
TIMEOUT = 420  # seconds per CLI run (about 15 s each on 2 shared cores); a deadlock shows up as a timeout


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("ddp_cli")
    fit = ddp.fit(work, timeout=TIMEOUT)
    assert fit.ok, fit.tail()
    version = work / "runs" / "ahnpl" / "version_0"
    config = work / "config.yaml"
    last = version / "checkpoints" / "last.ckpt"
    out = {"work": work, "fit": fit, "version": version}
    for stage in ("validate", "test"):
        out[stage] = ddp.run_cli([stage, "-c", str(config), "-c", str(ddp.DDP_CPU), "--ckpt_path", str(last)], work,
                                 TIMEOUT)
    return out


def probe(work: Path, stage: str) -> dict[int, list[dict[str, float]]]:
    """rank -> the metrics that rank held after each `stage` run (ordered by step)."""
    files = sorted((work / "probe").glob(f"{stage}-rank*-step*.json"), key=lambda p: int(p.stem.split("step")[1]))
    by_rank: dict[int, list[dict[str, float]]] = {}
    for path in files:
        by_rank.setdefault(int(path.stem.split("rank")[1].split("-")[0]), []).append(json.loads(path.read_text()))
    return by_rank


def test_fit_exits_zero_and_writes_each_evaluation_once(runs: dict) -> None:
    work = runs["work"]
    assert sorted(p.relative_to(work).as_posix() for p in work.rglob("eval/*.json")) == [
        "runs/ahnpl/version_0/eval/epoch=1-step=4.json",  # epoch-end evaluation (every 2nd epoch)
        "runs/ahnpl/version_0/eval/epoch=3-step=6.json",  # end of training
    ]
    assert "Starting with 2 processes" in runs["fit"].output


def test_logged_eval_equals_single_process_evaluation_of_the_checkpoint(runs: dict) -> None:
    from ahnpl_lightning.evaluation import evaluate_benchmarks
    from ahnpl_lightning.module import AHNPLModule

    version, work = runs["version"], runs["work"]
    events = EventAccumulator(str(version))
    events.Reload()
    for json_name, ckpt_name, index in (("epoch=1-step=4.json", "epoch=1-step=4.ckpt", 0),
                                        ("epoch=3-step=6.json", "epoch=2-step=6.ckpt", 1)):
        written = json.loads((version / "eval" / json_name).read_text())
        module = AHNPLModule.load_from_checkpoint(version / "checkpoints" / ckpt_name, map_location="cpu")
        single = evaluate_benchmarks(["sugarcrepe", "winoground"], module.model, module.preprocess_val,
                                     module.tokenizer, work / "world_eval", device="cpu", progress=False)
        assert written["benchmarks"] == json.loads(json.dumps(single["benchmarks"]))
        assert written["benchmarks"]["sugarcrepe"]["subsets"]["replace_obj"]["count"] == 8
        for bench, res in single["benchmarks"].items():
            for section in ("subsets", "summary"):
                for name, m in res[section].items():
                    scalars = events.Scalars(f"eval/{bench}/{name}")
                    assert len(scalars) == 2, (bench, name)
                    assert scalars[index].value == pytest.approx(m["accuracy"], abs=1e-6), (bench, name, index)


def test_validation_metrics_are_synced_across_ranks(runs: dict) -> None:
    fit_val = probe(runs["work"], "fit_val")
    assert sorted(fit_val) == [0, 1] and len(fit_val[0]) == len(fit_val[1]) == 3  # one validation per epoch
    for rank0, rank1 in zip(fit_val[0], fit_val[1]):
        val = {k: v for k, v in rank0.items() if k.startswith("val/")}
        assert {"val/loss", "val/acc_i2t", "val/acc_hard_negative"} <= set(val)
        assert val == {k: v for k, v in rank1.items() if k.startswith("val/")}  # synced: both ranks hold the same


@pytest.mark.parametrize("stage", ["validate", "test"])
def test_validate_and_test_under_ddp(runs: dict, stage: str) -> None:
    run = runs[stage]
    assert run.ok, run.tail()
    metrics = probe(runs["work"], stage)
    assert sorted(metrics) == [0, 1]
    prefix = "val/" if stage == "validate" else "test/"
    rank0, rank1 = ({k: v for k, v in m[-1].items() if k.startswith(prefix)} for m in (metrics[0], metrics[1]))
    assert {f"{prefix}loss", f"{prefix}acc_hard_negative"} <= set(rank0)
    assert rank0 == rank1
    # the same weights and data as the last validation inside fit: the same numbers
    last_fit = probe(runs["work"], "fit_val")[0][-1]
    for key, value in rank0.items():
        assert value == pytest.approx(last_fit["val/" + key.split("/", 1)[1]], abs=1e-6), key
