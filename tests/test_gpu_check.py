"""`make gpu-check` in the normal suite: the FLOPs count against torch's counter, the `gpu` marker deselected by
default, a failing or over-budget part recorded without losing the others, the fits' configs accepted by the CLI, and
the whole CPU path (`--device cpu`) run end to end, so the script cannot rot between GPU tasks."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from ahnpl_lightning.encoding import encode_batch
from ahnpl_lightning.model import TINY_MODEL, create_model_and_transforms
from benchmarks import gpu_check
from benchmarks.gpu_flops import FORMULA, image_flops, step_flops, text_flops

ROOT = Path(__file__).resolve().parents[1]


def test_flops_count_equals_torch_flop_counter_on_the_matmuls() -> None:
    """The analytic count minus the attention core (which torch's counter does not see inside nn.MultiheadAttention
    on the CPU) equals FlopCounterMode's matmul + convolution count of a real forward, exactly."""
    torch.manual_seed(0)
    model = create_model_and_transforms(TINY_MODEL).model
    b, k, length = 3, 5, 11
    images = torch.randn(b, 3, 64, 64)
    captions = torch.randint(1, 1000, (b, length))
    negatives = torch.randint(1, 1000, (b, k, length))
    with FlopCounterMode(display=False) as counter:
        encode_batch(model, images, captions, negatives)
    matmuls = b * image_flops(model, attention=False) + b * (1 + k) * text_flops(model, length, attention=False)
    assert counter.get_total_flops() == matmuls
    assert step_flops(model, b, b * (1 + k), length) == 3 * (b * image_flops(model) + b * (1 + k) *
                                                              text_flops(model, length))
    assert "3 x" in FORMULA and "4 n^2 d" in FORMULA  # the formula stated in the output


def test_vit_b32_image_flops_by_hand() -> None:
    """ViT-B/32 at 224 px: 49 patches + class token, width 768, 12 blocks, MLP 3072, projection to 512."""
    model = create_model_and_transforms("ViT-B-32").model
    n, d, m = 50, 768, 3072
    block = 2 * n * (4 * d * d + 2 * d * m) + 4 * n * n * d
    assert image_flops(model) == 2 * 49 * (3 * 32 * 32 * d) + 12 * block + 2 * d * 512
    assert round(image_flops(model) / 1e9, 2) == 8.82  # GFLOPs per image, forward
    assert text_flops(model, 20) == 12 * (2 * 20 * 12 * 512 * 512 + 4 * 20 * 20 * 512) + 2 * 512 * 512


def test_gpu_tests_are_deselected_not_skipped_by_default() -> None:
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "tests/test_gpu.py"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "deselected" in out.stdout and "skipped" not in out.stdout, out.stdout[-2000:]
    assert out.returncode == 5, out.stdout[-2000:]  # nothing selected: no gpu test runs in the normal suite


def _context(tmp_path: Path, seconds: float) -> gpu_check.Context:
    budget = gpu_check.Budget(seconds)
    ctx = gpu_check.Context("cpu", gpu_check.PROFILES["cpu"], budget, tmp_path, tmp_path,
                            gpu_check.Log(tmp_path / "gpu.log", budget.start), gpu_check.subprocess_env("cpu"))
    ctx.report = {"parts": {}, "peak_flops": 1e12, "peak_source": "test: 1 TFLOP/s",
                  "matmul_ceiling": {"flops_per_s": 1e12, "dtype": "float32", "size": 8}}
    ctx.save = lambda: (tmp_path / "saved.json").write_text(json.dumps(ctx.report))
    return ctx


def test_a_failing_part_is_recorded_and_the_budget_skips_rather_than_overruns(tmp_path: Path) -> None:
    ctx = _context(tmp_path, seconds=30)

    def broken(_ctx: gpu_check.Context) -> dict:
        raise RuntimeError("the device fell over")

    gpu_check.run_parts(ctx, {
        "tests": (broken, 0),
        "loader": (lambda _ctx: {"status": "ok", "samples_per_s": 10.0, "workers": 1}, 0),
        "evaluation": (lambda _ctx: pytest.fail("must be skipped: needs more than the budget"), 3600),
    })
    parts = json.loads((tmp_path / "saved.json").read_text())["parts"]
    assert parts["tests"]["status"] == "error" and "the device fell over" in parts["tests"]["error"]
    assert parts["loader"]["status"] == "ok" and parts["loader"]["samples_per_s"] == 10.0
    assert parts["evaluation"]["status"] == "skipped" and "time budget" in parts["evaluation"]["error"]
    rows = gpu_check.figures(ctx.report)  # figures of a partial run: the missing ones say n/a, nothing crashes
    assert {r.mark for r in rows if r.target is not None} == {"n/a"}
    assert "| tests | error |" in gpu_check.markdown(
        {**ctx.report, "machine": gpu_check.machine("cpu"), "profile": {**vars(ctx.profile)}, "seconds": 1.0,
         "budget_s": 30, "device": "cpu", "flops_formula": FORMULA}, rows)


def test_a_subprocess_past_its_time_is_killed(tmp_path: Path) -> None:
    ctx = _context(tmp_path, seconds=60)
    start = time.monotonic()
    status, tail = gpu_check.run_logged([sys.executable, "-c", "import time; print('[gpu-check] hello', flush=True);"
                                         " time.sleep(60)"], ctx.env, 2, ctx.log)
    assert status == -9 and "killed after" in tail and time.monotonic() - start < 30
    assert "hello" in (tmp_path / "gpu.log").read_text()


def test_the_watchdog_stops_a_hung_run_and_keeps_what_was_measured(tmp_path: Path) -> None:
    """An in-process part cannot be interrupted: past the budget plus grace, the watchdog saves and exits 124."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from benchmarks.gpu_check import Budget, Log, start_watchdog\n"
        "out = Path(sys.argv[1])\n"
        "budget = Budget(0.5)\n"
        "start_watchdog(budget, 0.5, lambda: (out / 'saved').write_text('partial'), Log(out / 'log', budget.start))\n"
        "time.sleep(120)\n"
    )
    start = time.monotonic()
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env=gpu_check.subprocess_env("cpu"))
    assert run.returncode == 124 and time.monotonic() - start < 100, run.stdout + run.stderr
    assert (tmp_path / "saved").read_text() == "partial" and "hard time limit" in (tmp_path / "log").read_text()


@pytest.mark.parametrize("name", ["negclip_compiled", "clip"])
def test_fit_configs_stack_like_the_cli_and_parse(name: str, tmp_path: Path) -> None:
    from ahnpl_lightning.cli import run_cli

    spec = next(s for s in gpu_check.FITS if s.name == name)
    config = gpu_check.fit_config(spec, gpu_check.PROFILES["cpu"], tmp_path)
    baseline = yaml.safe_load((ROOT / spec.baseline).read_text())["model"]["init_args"]["loss"]["init_args"]
    loss = config["model"]["init_args"]["loss"]["init_args"]
    assert all(loss[key] == value for key, value in baseline.items())
    assert loss["margin_upper_bound"] == 10.0  # from configs/ahnpl.yaml, kept under the baseline
    assert [c["class_path"] for c in config["trainer"]["callbacks"]] == ["benchmarks.gpu_timing.StepTimer"]
    assert config["model"]["init_args"]["compile_encoders"] is spec.compile
    path = tmp_path / "fit.yaml"
    path.write_text(yaml.safe_dump(config))
    cli = run_cli(["--config", str(path)], run=False)  # run=False: no subcommand; what `fit` would instantiate
    assert cli.trainer.max_steps == gpu_check.PROFILES["cpu"].steps
    assert cli.datamodule.batch_size == gpu_check.PROFILES["cpu"].batch_size
    assert cli.model.loss.uses_negatives is (name != "clip")


@pytest.mark.slow
def test_gpu_check_cpu_path_runs_every_part(tmp_path: Path) -> None:
    """`make gpu-check DEVICE=cpu` end to end: the gpu tests on the CPU, the fits through `lightning fit`, the loader,
    the evaluation, the JSON and the markdown (a generous budget: wall-clock limits are the script's, not a test's)."""
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--device", "cpu", "--out-dir", str(out),
                          "--budget-s", "3000"], cwd=ROOT, capture_output=True, text=True, timeout=3600,
                         env=gpu_check.subprocess_env("cpu"))
    report = json.loads((out / "gpu.json").read_text())
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    parts = [name for name in gpu_check.PARTS if name != "extra_fits"]  # the CPU profile has no optional fits
    assert {name: part["status"] for name, part in report["parts"].items()} == dict.fromkeys(parts, "ok")
    tests = report["parts"]["tests"]
    assert tests["passed"] == len(tests["cases"]) >= 7
    fits = report["parts"]["fits"]["fits"]
    assert set(fits) == set(gpu_check.PROFILES["cpu"].fits) == {"ahnpl", "negclip", "ahnpl_compiled"}
    for fit in fits.values():
        assert fit["samples_per_s"] > 0 and fit["model_flops_per_s"] > 0 and fit["window_steps"] >= 1
    assert fits["ahnpl"]["captions_per_step"] == 6 * fits["ahnpl"]["batch_size"]  # K = 5
    assert fits["ahnpl_compiled"]["compiled"] and not fits["ahnpl"]["compiled"]
    evaluation = report["parts"]["evaluation"]
    assert evaluation["images"] > 0 and evaluation["captions"] > 0 and len(evaluation["benchmarks"]) == 6
    targets = {f["name"]: f["mark"] for f in report["figures"] if f["target"] is not None}
    assert {"step AHNPL / NegCLIP (eager)", "MFU, AHNPL step, compile on"} <= targets.keys()
    assert any(name.startswith("loader / fastest AHNPL step") for name in targets)
    assert set(targets.values()) <= {"pass", "MISS"}  # every target measured and marked
    table = (out / "gpu.md").read_text()
    assert FORMULA in table and "| ahnpl_compiled | aot_eager |" in table
