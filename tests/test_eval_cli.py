"""`ahnpl eval` (run.main): the exact result JSON shape, CSV and markdown tables, checkpoint loading, errors."""

from __future__ import annotations

import json

import lightning
import pandas as pd
import pytest
import torch
from _eval_helpers import build_sugarcrepe, build_valse, build_winoground

from ahnpl_lightning.evaluation import evaluate_benchmarks
from ahnpl_lightning.tools.eval import main

BENCH_KEYS = {"subsets", "summary", "missing_images", "corrupt_images", "skipped_items",  # the original keys
              "unreadable_images", "skipped_items_estimated", "unscored", "unreadable_files", "absent_files",
              "measures", "notes", "problems", "problems_total"}


@pytest.fixture
def root(tmp_path):
    for build in (build_sugarcrepe, build_valse, build_winoground):
        build(tmp_path / "data")
    return tmp_path / "data"


def test_cli_writes_exact_json_csv_and_markdown(root, tmp_path, capsys):
    out, csv, md = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "r.md"
    rc = main(["--benchmarks", "sugarcrepe,valse,winoground,retrieval", "--data-root", str(root),
               "--model", "AHNPL-Tiny-64", "--output", str(out), "--csv", str(csv), "--markdown", str(md),
               "--batch-size", "4", "--device", "cpu", "--no-progress", "--allow-partial"])
    assert rc == 0  # retrieval has no data: a partial run, accepted
    res = json.loads(out.read_text())
    assert set(res) == {"model", "benchmarks", "skipped", "run"} and res["model"] == "AHNPL-Tiny-64"
    assert set(res["benchmarks"]) == {"sugarcrepe", "valse", "winoground"}  # retrieval: no data, left out
    assert "coco_karpathy_test.json" in res["skipped"]["retrieval"]  # ... and says why
    for bench in res["benchmarks"].values():
        assert set(bench) == BENCH_KEYS
        for section in ("subsets", "summary"):
            for name, m in bench[section].items():
                assert set(m) == {"accuracy", "count"}
                assert isinstance(m["accuracy"], float) and isinstance(m["count"], int)
                assert set(bench["measures"][name]) == {"measure", "count_of"}  # every figure says what it is
    assert res["benchmarks"]["valse"]["corrupt_images"] == 1
    assert res["benchmarks"]["valse"]["subsets"]["existence"]["count"] == 3  # counts do not depend on the model
    table = pd.read_csv(csv)
    assert list(table.columns) == ["benchmark", "subset", "measure", "value", "count", "count_of", "accuracy"]
    n_rows = sum(len(b["subsets"]) + len(b["summary"]) for b in res["benchmarks"].values())
    assert len(table) == n_rows
    row = table[(table.benchmark == "sugarcrepe") & (table.subset == "replace")].iloc[0]
    assert row["count"] == 3 and row["accuracy"] == pytest.approx(res["benchmarks"]["sugarcrepe"]["summary"]["replace"]
                                                                  ["accuracy"])
    lines = md.read_text().splitlines()
    assert lines[0] == "| benchmark | subset | measure | value (%) | count | count of |" and len(lines) == n_rows + 2
    printed = capsys.readouterr().out
    assert "benchmark" in printed and "replace_obj" in printed


def test_cli_checkpoint_equals_direct_evaluation(root, tmp_path):
    module_mod = pytest.importorskip("ahnpl_lightning.module", reason="AHNPLModule not written yet")
    torch.manual_seed(0)
    module = module_mod.AHNPLModule()
    ckpt = tmp_path / "m.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "pytorch-lightning_version": lightning.__version__}, ckpt)
    out = tmp_path / "r.json"
    assert main(["--benchmarks", "sugarcrepe,winoground", "--data-root", str(root), "--ckpt_path", str(ckpt),
                 "--output", str(out), "--device", "cpu", "--no-progress"]) == 0
    direct = evaluate_benchmarks(["sugarcrepe", "winoground"], module.model, module.preprocess_val, module.tokenizer,
                                 root, device="cpu", progress=False, model_name=str(ckpt))
    written = json.loads(out.read_text())
    for key in ("model", "benchmarks", "skipped"):  # `run` differs: times, and the tool adds the model source
        assert written[key] == json.loads(json.dumps(direct[key]))
    assert written["run"]["checkpoint"] == str(ckpt.resolve()) and written["run"]["exit_status"] == 0


def test_cli_errors_are_reported_not_raised(root, tmp_path, capsys):
    rc = main(["--benchmarks", "nope", "--data-root", str(root), "--model", "AHNPL-Tiny-64",
               "--output", str(tmp_path / "r.json"), "--no-progress"])
    assert rc == 2 and "unknown benchmark" in capsys.readouterr().err
    rc = main(["--benchmarks", "valse", "--data-root", str(root), "--model", "AHNPL-Tiny-64",
               "--output", str(tmp_path / "r.json"), "--path", "novalue", "--no-progress"])
    assert rc == 2 and "KEY=DIR" in capsys.readouterr().err


def test_cli_path_override(root, tmp_path):
    moved = tmp_path / "elsewhere"
    (root / "winoground").rename(moved)
    out = tmp_path / "r.json"
    assert main(["--benchmarks", "winoground", "--data-root", str(root), "--model", "AHNPL-Tiny-64",
                 "--output", str(out), "--path", f"winoground={moved}", "--no-progress", "--device", "cpu"]) == 0
    assert json.loads(out.read_text())["benchmarks"]["winoground"]["subsets"]["text"]["count"] == 3
