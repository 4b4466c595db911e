"""`make gpu-check` (`python -m benchmarks.gpu_check`): one prepared check of everything a GPU user asks about.

1. tests: the tests marked `gpu` (bf16 vs fp32 losses, the lagged NaN check, compiled vs eager encoders,
   channels_last on a conv tower, sharded evaluation on two processes);
2. loader + fits: `lightning fit` of ViT-B/32 (random init) on the world rendered at 224 px, batch 256, K = 5,
   bf16-mixed, for AHNPL, NegCLIP and CLIP fine-tuning, eager and with `torch.compile`: samples/s, step time, peak
   memory, model FLOPs utilisation (FLOPs counted from the towers' shapes: benchmarks/gpu_flops.py), the step
   ratios, and whether the DataLoader keeps up (loader-only samples/s vs the steps' consumption);
3. evaluation: images/s and captions/s of the evaluation on the world's exported sets;
4. `gpu.json`, `gpu.md` (machine, driver, versions, targets with pass/MISS marks), `gpu.log`, `gpu-tests.xml`.

Each part runs in its own try block under a hard overall time budget: a part that fails is recorded with its error
and the others still report; a part that would overrun the budget is skipped and says so. Fits and tests run as
subprocesses with timeouts. `--device cpu` runs the same code path with the tiny model, a few steps, small batches
(`make gpu-check DEVICE=cpu`, about 2 minutes on 2 cores). Exit status 0 only when every part ran and passed.
"""

from __future__ import annotations

import argparse
import copy
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
import yaml

from benchmarks.figures import Figure

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
EVAL_BENCHMARKS = ["aro", "valse", "vl_checklist", "sugarcrepe", "winoground", "retrieval"]
PACKAGES = ("torch", "torchvision", "lightning", "open_clip_torch", "jsonargparse", "numpy", "pillow", "triton")

# Dense bf16 tensor-core peaks from NVIDIA's datasheets (FLOP/s); the device README measures about 790 TFLOP/s for an
# 8192^3 bf16 matmul on the H200, which this script measures again and reports beside the datasheet figure.
DATASHEET_BF16_DENSE = (
    ("H200 NVL", 835.5e12),
    ("H100 NVL", 835.5e12),
    ("H100 PCIe", 756.0e12),
    ("H200", 989.4e12),
    ("H100", 989.4e12),
    ("A100", 312.0e12),
)

# Launches `lightning fit` (the `lightning` console script's entry point) in a subprocess; on the CPU, torch.compile
# goes through dynamo + AOT autograd without inductor's C++ code generation, which takes minutes on 2 cores.
FIT_LAUNCHER = """\
import functools, os, sys
import torch
backend = os.environ.get("AHNPL_COMPILE_BACKEND")
if backend and backend != "inductor":
    torch.compile = functools.partial(torch.compile, backend=backend)
from ahnpl_lightning.cli import lightning_main
sys.exit(lightning_main())
"""


@dataclass(frozen=True)
class FitSpec:
    """One `lightning fit`: a loss (baseline config stacked on configs/ahnpl.yaml, or none for AHNPL), eager or
    compiled; `optional` fits run only when the budget has room after the required ones and the evaluation."""

    name: str
    baseline: str | None
    compile: bool
    optional: bool = False


FITS = (
    FitSpec("ahnpl", None, False),
    FitSpec("negclip", "configs/baselines/negclip.yaml", False),
    FitSpec("clip", "configs/baselines/clip_finetune.yaml", False),
    FitSpec("ahnpl_compiled", None, True),
    FitSpec("negclip_compiled", "configs/baselines/negclip.yaml", True, optional=True),
    FitSpec("clip_compiled", "configs/baselines/clip_finetune.yaml", True, optional=True),
)


@dataclass(frozen=True)
class Profile:
    """Sizes and time allowances of one device's run (seconds are estimates used to skip rather than overrun)."""

    model: str
    image_size: int
    batch_size: int
    steps: int
    warmup_steps: int
    workers: int
    precision: str
    budget_s: float
    eval_size: int
    eval_batch_size: int
    loader_batches: int
    matmul_size: int
    tests_s: tuple[float, float]  # (least time to start the part, most time it may take)
    loader_s: tuple[float, float]
    fit_s: tuple[float, float]
    compiled_fit_s: tuple[float, float]
    eval_s: tuple[float, float]
    ratio_s: tuple[float, float]
    ratio_repeats: int
    eval_workers: int
    fits: tuple[str, ...] = tuple(spec.name for spec in FITS)
    trainer_config: str = "configs/trainer/gpu.yaml"


def _workers() -> int:
    return max(1, min(16, os.cpu_count() or 1) - 1)  # the main process needs a core of the 16


PROFILES: dict[str, Profile] = {
    "cuda": Profile(model="ViT-B-32", image_size=224, batch_size=256, steps=300, warmup_steps=50, workers=_workers(),
                    precision="bf16-mixed", budget_s=480, eval_size=200, eval_batch_size=256, loader_batches=48,
                    matmul_size=8192, tests_s=(60, 170), loader_s=(15, 60), fit_s=(35, 120),
                    compiled_fit_s=(70, 240), eval_s=(30, 90), ratio_s=(15, 60), ratio_repeats=10,
                    eval_workers=_workers()),
    "cpu": Profile(model="AHNPL-Tiny-64", image_size=64, batch_size=8, steps=4, warmup_steps=1, workers=1,
                   precision="bf16-mixed", budget_s=120, eval_size=8, eval_batch_size=64, loader_batches=6,
                   matmul_size=512, tests_s=(20, 600), loader_s=(2, 120), fit_s=(5, 300), compiled_fit_s=(5, 300),
                   eval_s=(3, 120), ratio_s=(3, 120), ratio_repeats=2, eval_workers=0,
                   fits=("ahnpl", "negclip", "ahnpl_compiled"), trainer_config="configs/trainer/cpu.yaml"),
}


# ----------------------------------------------------------------------------------------------------------------------
# Budget, logging, subprocesses
# ----------------------------------------------------------------------------------------------------------------------
class Budget:
    """A hard deadline for the whole check."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()
        self.deadline = self.start + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start


class Log:
    """Progress lines on stdout (flushed: fine under PYTHONUNBUFFERED and through pipes) and everything in a file."""

    def __init__(self, path: Path | None, start: float) -> None:
        self.path = path
        self.start = start
        self.lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def __call__(self, message: str) -> None:
        line = f"[gpu-check {time.monotonic() - self.start:6.1f}s] {message}"
        with self.lock:
            print(line, flush=True)
            self.write(line)

    def write(self, line: str) -> None:
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line.rstrip("\n") + "\n")


def subprocess_env(device: str) -> dict[str, str]:
    """This tree's `src` and root first on the path (the code under test is the code here), unbuffered output."""
    env = dict(os.environ)
    paths = [str(ROOT / "src"), str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["AHNPL_TEST_DEVICE"] = device
    if device == "cpu":
        env.setdefault("AHNPL_COMPILE_BACKEND", "aot_eager")
    return env


def run_logged(
    cmd: Sequence[str], env: dict[str, str], timeout: float, log: Log, tail_lines: int = 40
) -> tuple[int, str]:
    """Run `cmd` in its own process group with a timeout; all output goes to the log file, lines starting with
    `[gpu-check]` also to stdout. Returns (exit status, last lines); on timeout the group is killed (status -9)."""
    log.write("$ " + " ".join(cmd))
    proc = subprocess.Popen(list(cmd), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", start_new_session=True)
    RUNNING.add(proc)
    tail: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            tail.append(line.rstrip("\n"))
            del tail[:-tail_lines]
            if line.startswith("[gpu-check]"):
                log("  " + line[len("[gpu-check]"):].strip())

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        status = proc.wait(timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group of the process started here: it and its workers
        proc.wait()
        status = -9
        tail.append(f"killed after {timeout:.0f} s (the time budget)")
    reader.join(timeout=10)
    RUNNING.discard(proc)
    return status, "\n".join(tail)


RUNNING: set[subprocess.Popen] = set()  # subprocesses started here and still running (the watchdog ends them)


def start_watchdog(budget: Budget, grace: float, save: Callable[[], None], log: Log) -> threading.Timer:
    """The hard limit: `grace` seconds past the budget (an in-process part that hangs cannot be interrupted
    otherwise), end the subprocesses started here, write what was measured and exit with status 124."""

    def stop() -> None:
        log(f"hard time limit ({budget.seconds:.0f} s + {grace:.0f} s) reached: stopping, writing what was measured")
        for proc in list(RUNNING):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            save()
        finally:
            os._exit(124)

    timer = threading.Timer(max(1.0, budget.left() + grace), stop)
    timer.daemon = True
    timer.start()
    return timer


# ----------------------------------------------------------------------------------------------------------------------
# Machine
# ----------------------------------------------------------------------------------------------------------------------
def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine(device: str) -> dict[str, Any]:
    """Where the figures came from: CPU, GPU, driver, CUDA, package versions, the commit when there is a git tree."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "packages": {name: _version(name) for name in PACKAGES},
        "torch_cuda": torch.version.cuda,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10)
        info["commit"] = commit.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        info["commit"] = None
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    multiprocessors=props.multi_processor_count, capability=f"{props.major}.{props.minor}",
                    cudnn=torch.backends.cudnn.version(), driver=None)
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20)
            info["driver"] = smi.stdout.strip().splitlines()[0] if smi.returncode == 0 and smi.stdout.strip() else None
        except (OSError, subprocess.SubprocessError):
            pass
    return info


def matmul_ceiling(device: str, size: int) -> dict[str, Any]:
    """Measured matrix-product rate: bf16 size^3 on CUDA (random data, median of 10 after 3 warm-ups), fp32 on the
    CPU; the ceiling model FLOPs utilisation is also reported against."""
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(size, size, device=device, dtype=dtype, generator=gen)
    b = torch.randn(size, size, device=device, dtype=dtype, generator=gen)
    times = []
    for i in range(13):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            torch.mm(a, b)
            end.record()
            end.synchronize()
            elapsed = start.elapsed_time(end) / 1e3
        else:
            t0 = time.perf_counter()
            torch.mm(a, b)
            elapsed = time.perf_counter() - t0
        if i >= 3:
            times.append(elapsed)
    del a, b
    if device == "cuda":
        torch.cuda.empty_cache()
    rate = 2 * size**3 / statistics.median(times)
    return {"dtype": str(dtype).replace("torch.", ""), "size": size, "flops_per_s": rate}


def peak_flops(info: dict[str, Any], ceiling: dict[str, Any]) -> tuple[float, str]:
    """The denominator of model FLOPs utilisation: the GPU's dense bf16 datasheet peak, else the measured ceiling."""
    name = str(info.get("gpu") or "")
    for key, value in DATASHEET_BF16_DENSE:
        if key in name:
            return value, f"NVIDIA datasheet, dense bf16 ({key}): {value / 1e12:.1f} TFLOP/s"
    return ceiling["flops_per_s"], (f"measured {ceiling['dtype']} {ceiling['size']}^3 matmul on this machine "
                                    f"({ceiling['flops_per_s'] / 1e12:.3g} TFLOP/s): no datasheet figure known for "
                                    f"'{name or platform.processor() or 'this CPU'}'")


# ----------------------------------------------------------------------------------------------------------------------
# Parts
# ----------------------------------------------------------------------------------------------------------------------
def part_tests(ctx: Context) -> dict[str, Any]:
    """The tests marked `gpu`, in a pytest subprocess, with a JUnit report parsed into the JSON."""
    xml = ctx.out_dir / "gpu-tests.xml"
    if xml.exists():
        xml.unlink()
    files = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tests").glob("test_gpu*.py"))
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", f"--junitxml={xml}",
           "-o", "junit_family=xunit1", *files]
    status, tail = run_logged(cmd, ctx.env, ctx.timeout(ctx.profile.tests_s[1]), ctx.log)
    if not xml.is_file():
        raise RuntimeError(f"pytest wrote no report (exit {status}):\n{tail}")
    cases = []
    for case in ET.parse(xml).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            node = case.find(kind)
            if node is not None:
                outcome, message = {"failure": "failed"}.get(kind, kind), (node.get("message") or "")[:500]
                break
        cases.append({"test": case.get("name"), "outcome": outcome, "seconds": float(case.get("time") or 0),
                      "message": message})
    counts = {k: sum(c["outcome"] == k for c in cases) for k in ("passed", "failed", "error", "skipped")}
    ok = status == 0 and counts["passed"] > 0 and counts["passed"] == len(cases)
    result: dict[str, Any] = {"status": "ok" if ok else "failed", "exit_status": status, **counts, "cases": cases}
    if not ok:
        result["error"] = f"pytest exit {status}: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n) + \
            "\n" + tail
    return result


def part_loader(ctx: Context) -> dict[str, Any]:
    """Loader-only throughput: the training DataModule's own DataLoader (same source, transforms, batch size and
    workers as the fits), with no model; the first round of batches (worker start-up) is not timed."""
    from ahnpl_lightning.data.datamodule import AHNPLDataModule
    from ahnpl_lightning.data.sources import WorldSource

    p = ctx.profile
    batches = p.loader_batches + p.workers
    data = AHNPLDataModule(WorldSource(train_size=batches * p.batch_size, val_size=0, image_size=p.image_size),
                           batch_size=p.batch_size, num_workers=p.workers, model_name=p.model)
    data.setup("fit")
    iterator = iter(data.train_dataloader())
    for _ in range(p.workers):
        next(iterator)
    start = time.perf_counter()
    for _ in range(p.loader_batches):
        next(iterator)
    elapsed = time.perf_counter() - start
    del iterator
    rate = p.loader_batches * p.batch_size / elapsed
    ctx.log(f"loader: {rate:,.0f} samples/s with {p.workers} workers (batch {p.batch_size}, {p.image_size} px)")
    return {"status": "ok", "workers": p.workers, "batch_size": p.batch_size, "image_size": p.image_size,
            "batches_timed": p.loader_batches, "samples_per_s": rate, "pin_memory": torch.cuda.is_available()}


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Config stacking as `lightning fit -c a.yaml -c b.yaml` does it: mappings merge, anything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def fit_config(spec: FitSpec, p: Profile, workdir: Path) -> dict[str, Any]:
    """configs/ahnpl.yaml + the baseline + the trainer config + the benchmark's sizes and its StepTimer callback."""
    config = yaml.safe_load((ROOT / "configs" / "ahnpl.yaml").read_text())
    for extra in (spec.baseline, p.trainer_config):
        if extra:
            config = deep_merge(config, yaml.safe_load((ROOT / extra).read_text()))
    bench = {
        "seed_everything": 0,
        "trainer": {
            "max_steps": p.steps, "max_epochs": 1, "limit_val_batches": 0, "num_sanity_val_steps": 0,
            "precision": p.precision, "enable_checkpointing": False, "enable_progress_bar": False,
            "enable_model_summary": False, "log_every_n_steps": 50, "default_root_dir": str(workdir / spec.name),
            "logger": {"class_path": "lightning.pytorch.loggers.TensorBoardLogger",
                       "init_args": {"save_dir": str(workdir / "tb"), "name": spec.name}},
            "callbacks": [{"class_path": "benchmarks.gpu_timing.StepTimer",
                           "init_args": {"output": str(workdir / f"{spec.name}.json"),
                                         "warmup_steps": p.warmup_steps, "label": spec.name}}],
        },
        # lr 1e-4: a random-init ViT-B/32 at the demo's 5e-4 with 50 warm-up steps risks a divergence that the NaN
        # check would (rightly) stop; throughput does not depend on the learning rate.
        "model": {"init_args": {"model_name": p.model, "pretrained": None, "compile_encoders": spec.compile,
                                "lr": 1.0e-4}},
        "data": {"init_args": {
            "batch_size": p.batch_size, "num_workers": p.workers,
            "source": {"class_path": "ahnpl_lightning.data.sources.WorldSource",
                       "init_args": {"train_size": p.steps * p.batch_size, "val_size": 0,
                                     "image_size": p.image_size, "seed": 0}},
        }},
    }
    return deep_merge(config, bench)


def run_fit(ctx: Context, spec: FitSpec) -> dict[str, Any]:
    """One `lightning fit` subprocess; returns its StepTimer report plus the command and config."""
    p = ctx.profile
    config = fit_config(spec, p, ctx.workdir)
    path = ctx.workdir / f"{spec.name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result_path = ctx.workdir / f"{spec.name}.json"
    cmd = [sys.executable, "-c", FIT_LAUNCHER, "fit", "--config", str(path)]
    limit = (p.compiled_fit_s if spec.compile else p.fit_s)[1]
    start = time.monotonic()
    status, tail = run_logged(cmd, ctx.env, ctx.timeout(limit), ctx.log)
    seconds = time.monotonic() - start
    if status != 0 or not result_path.is_file():
        raise RuntimeError(f"lightning fit ({spec.name}) exited {status} after {seconds:.0f} s:\n{tail}")
    report = json.loads(result_path.read_text())
    backend = ctx.env.get("AHNPL_COMPILE_BACKEND") or "inductor"
    report.update(seconds=seconds, command=f"lightning fit --config {spec.name}.yaml", config=config,
                  compile_backend=backend if spec.compile else None)
    return report


def part_fits(ctx: Context, optional: bool) -> dict[str, Any]:
    """The required fits (or, with `optional`, the extra compiled baselines), each in its own try block."""
    fits: dict[str, Any] = {}
    failed = []
    key = "extra_fits" if optional else "fits"
    for spec in (s for s in ctx.fits if s.optional == optional):
        least = (ctx.profile.compiled_fit_s if spec.compile else ctx.profile.fit_s)[0]
        if ctx.budget.left() - ctx.reserve(spec) < least:
            fits[spec.name] = {"status": "skipped", "reason": f"time budget: {ctx.budget.left():.0f} s left"}
            ctx.log(f"fit {spec.name}: skipped (time budget)")
            if not optional:
                failed.append(spec.name)
            continue
        ctx.log(f"fit {spec.name}: lightning fit, {ctx.profile.model}, {ctx.profile.steps} steps, "
                f"batch {ctx.profile.batch_size}, {'compiled' if spec.compile else 'eager'}")
        try:
            fits[spec.name] = {"status": "ok", **run_fit(ctx, spec)}
        except Exception as exc:  # noqa: BLE001 - one failed fit must not lose the others' figures
            fits[spec.name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
            ctx.log(f"fit {spec.name}: FAILED: {str(exc).splitlines()[0]}")
            failed.append(spec.name)
        ctx.report["parts"][key] = {"status": "running", "fits": fits}  # saved as it goes: a kill keeps these
        ctx.save()
    result: dict[str, Any] = {"status": "failed" if failed else "ok", "fits": fits}
    if not fits:
        result["note"] = "no fit of this kind selected"
    if failed:
        result["error"] = f"fits that did not complete: {', '.join(failed)}"
    return result


def part_step_ratios(ctx: Context) -> dict[str, Any]:
    """The three losses' steps interleaved on one batch, no Lightning and no loader (`make bench`'s measurement at
    this run's model and batch size): a cross-check of the fits' ratios that machine drift cannot bias."""
    from benchmarks.training import bench_step

    p = ctx.profile
    result = bench_step(p.model, batch_size=p.batch_size, repeats=p.ratio_repeats, device=ctx.device)
    ctx.log(f"step ratios (interleaved): AHNPL / NegCLIP {result['ahnpl_over_negclip']:.3f}, NegCLIP / CLIP "
            f"{result['negclip_over_clip']:.3f}; AHNPL step {1e3 * result['ahnpl_step_s']:.1f} ms")
    return {"status": "ok", "repeats": p.ratio_repeats, **result}


class TimedEncoder:
    """Wraps an evaluation encoder and times its calls (each returns features on the host, so it is synchronised)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.images = self.texts = 0
        self.image_s = self.text_s = 0.0

    def encode_images(self, refs: Sequence[Any]) -> Any:
        start = time.perf_counter()
        out = self.inner.encode_images(refs)
        self.image_s += time.perf_counter() - start
        self.images += len(refs)
        return out

    def encode_texts(self, texts: Sequence[str]) -> Any:
        start = time.perf_counter()
        out = self.inner.encode_texts(texts)
        self.text_s += time.perf_counter() - start
        self.texts += len(texts)
        return out


def part_evaluation(ctx: Context) -> dict[str, Any]:
    """The evaluation (`ahnpl eval`'s code: fp32, each distinct image/caption once) on the world's exported sets."""
    from ahnpl_lightning.data.world import World, export_benchmarks
    from ahnpl_lightning.evaluation import ModelEncoder, evaluate_benchmarks
    from ahnpl_lightning.evaluation.scoring import ImageRef
    from ahnpl_lightning.model import create_model_and_transforms

    p, device = ctx.profile, ctx.device
    root = ctx.workdir / "world_eval"
    start = time.perf_counter()
    manifest = export_benchmarks(World(image_size=p.image_size), root, size=p.eval_size, seed=0, progress=False)
    export_s = time.perf_counter() - start
    torch.manual_seed(0)
    bundle = create_model_and_transforms(p.model)
    model = bundle.model.to(device).eval()
    inner = ModelEncoder(model, bundle.preprocess_val, bundle.tokenizer, device, p.eval_batch_size,
                         num_workers=p.eval_workers, progress=False)
    warm = [path for path in sorted(root.rglob("*")) if path.suffix.lower() in (".png", ".jpg", ".jpeg")]
    inner.encode_images([ImageRef(str(path)) for path in warm[: p.eval_batch_size]])  # cuDNN/cuBLAS warm-up
    inner.encode_texts(["a warm-up caption"] * p.eval_batch_size)
    encoder = TimedEncoder(inner)
    results = evaluate_benchmarks(EVAL_BENCHMARKS, model, bundle.preprocess_val, bundle.tokenizer, root,
                                  batch_size=p.eval_batch_size, num_workers=p.eval_workers, device=device,
                                  encoder=encoder, progress=False)
    if not encoder.images or not encoder.texts:
        raise RuntimeError(f"the evaluation encoded {encoder.images} images and {encoder.texts} captions")
    out = {
        "status": "ok", "model": p.model, "image_size": p.image_size, "batch_size": p.eval_batch_size,
        "workers": p.eval_workers, "precision": "fp32 (as ahnpl eval)", "items_per_file": p.eval_size,
        "export_s": export_s, "exported_images": manifest.get("images"),
        "benchmarks": sorted(results["benchmarks"]),
        "images": encoder.images, "captions": encoder.texts,
        "images_per_s": encoder.images / encoder.image_s, "captions_per_s": encoder.texts / encoder.text_s,
    }
    ctx.log(f"evaluation: {out['images_per_s']:,.0f} images/s, {out['captions_per_s']:,.0f} captions/s "
            f"({encoder.images} images, {encoder.texts} captions, {len(out['benchmarks'])} benchmarks)")
    return out


# ----------------------------------------------------------------------------------------------------------------------
# Orchestration
# ----------------------------------------------------------------------------------------------------------------------
@dataclass
class Context:
    """What the parts share: device, sizes, budget, folders, the log and the report being built."""

    device: str
    profile: Profile
    budget: Budget
    out_dir: Path
    workdir: Path
    log: Log
    env: dict[str, str]
    fits: tuple[FitSpec, ...] = FITS
    report: dict[str, Any] = field(default_factory=dict)
    save: Callable[[], None] = lambda: None
    parts_wanted: tuple[str, ...] = ()

    def timeout(self, most: float) -> float:
        """A part's or subprocess's time limit: its own allowance, never past the overall deadline."""
        return max(1.0, min(most, self.budget.left() - 5))

    def reserve(self, spec: FitSpec | None = None) -> float:
        """Time kept back for the evaluation while fits run (optional fits come after it and need no reserve)."""
        if spec is not None and spec.optional:
            return 5.0
        return self.profile.eval_s[0] + 10 if "evaluation" in self.parts_wanted else 5.0


PARTS = ("tests", "step_ratios", "loader", "fits", "evaluation", "extra_fits")


def run_parts(ctx: Context, parts: dict[str, tuple[Callable[[Context], dict[str, Any]], float]]) -> None:
    """Run each part in its own try block, skipping one whose least time the budget no longer has."""
    for name, (fn, least) in parts.items():
        left = ctx.budget.left()
        if left < least:
            ctx.report["parts"][name] = {"status": "skipped", "seconds": 0.0,
                                         "error": f"time budget: {left:.0f} s left, the part needs at least "
                                                  f"{least:.0f} s"}
            ctx.log(f"{name}: skipped (time budget, {left:.0f} s left)")
            ctx.save()
            continue
        ctx.log(f"{name}: start ({left:.0f} s of the budget left)")
        start = time.monotonic()
        try:
            result = fn(ctx)
        except Exception as exc:  # noqa: BLE001 - a failed part is recorded; the others still report
            result = {"status": "error", "error": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc(limit=8)}
        result["seconds"] = time.monotonic() - start
        ctx.report["parts"][name] = result
        ctx.log(f"{name}: {result['status']} in {result['seconds']:.0f} s"
                + (f": {str(result['error']).splitlines()[0]}" if result.get("error") else ""))
        if ctx.device == "cuda":
            torch.cuda.empty_cache()
        ctx.save()


def _fit(report: dict[str, Any], name: str) -> dict[str, Any] | None:
    fits = {**report["parts"].get("fits", {}).get("fits", {}), **report["parts"].get("extra_fits", {}).get("fits", {})}
    fit = fits.get(name)
    return fit if fit and fit.get("status") == "ok" else None


def _ratio(report: dict[str, Any], a: str, b: str) -> float | None:
    fa, fb = _fit(report, a), _fit(report, b)
    return fa["device_step_s"] / fb["device_step_s"] if fa and fb else None


def figures(report: dict[str, Any]) -> list[Figure]:
    """The targets with their marks, then the figures for information."""
    peak = report["peak_flops"]
    ceiling = report["matmul_ceiling"]["flops_per_s"]
    out = []
    for suffix, label in (("", "eager"), ("_compiled", "compiled")):
        ratio = _ratio(report, f"ahnpl{suffix}", f"negclip{suffix}")
        if ratio is not None or not suffix:
            out.append(Figure(f"step AHNPL / NegCLIP ({label})", ratio, 1.10, "<=", "x",
                              "device step time, same run"))
    ratios = report["parts"].get("step_ratios", {})
    if ratios.get("status") == "ok":
        out.append(Figure("step AHNPL / NegCLIP (interleaved, eager)", ratios["ahnpl_over_negclip"], 1.10, "<=", "x",
                          f"no Lightning, no loader; AHNPL {1e3 * ratios['ahnpl_step_s']:.1f} ms"))
    compiled = _fit(report, "ahnpl_compiled")
    short = "datasheet" if report["peak_source"].startswith("NVIDIA") else "measured matmul"
    out.append(Figure("MFU, AHNPL step, compile on", compiled["model_flops_per_s"] / peak if compiled else None,
                      0.35, ">=", "%", f"model FLOPs/s of {peak / 1e12:.4g} TFLOP/s ({short}, dense bf16 on GPUs)"))
    if compiled:
        out.append(Figure("MFU, AHNPL step, compile on, of the measured matmul",
                          compiled["model_flops_per_s"] / ceiling, unit="%",
                          note=f"{ceiling / 1e12:.4g} TFLOP/s measured this run"))
    loader = report["parts"].get("loader", {})
    steps = [f for f in (_fit(report, n) for n in ("ahnpl", "ahnpl_compiled")) if f]
    if loader.get("status") == "ok" and steps:
        consumption = max(f["batch_size"] / f["device_step_s"] for f in steps)
        waits = ", ".join(f"{f['label']} {100 * f['wait_share']:.1f} %" for f in steps)
        out.append(Figure(f"loader / fastest AHNPL step, {loader['workers']} workers",
                          loader["samples_per_s"] / consumption, 1.0, ">=", "x",
                          f"{loader['samples_per_s']:,.0f} vs {consumption:,.0f} samples/s; waiting between steps: "
                          f"{waits}"))
    else:
        out.append(Figure("loader / fastest AHNPL step", None, 1.0, ">=", "x", "not measured"))
    if ratios.get("status") == "ok":
        out.append(Figure("step NegCLIP / CLIP (interleaved, eager)", ratios["negclip_over_clip"], unit="x"))
    for a, b in (("negclip", "clip"), ("ahnpl", "clip"), ("negclip_compiled", "clip_compiled")):
        ratio = _ratio(report, a, b)
        if ratio is not None:
            out.append(Figure(f"step {a} / {b}", ratio, None, unit="x", note="6x the captions per image"))
    eager = _fit(report, "ahnpl")
    if eager and compiled:
        out.append(Figure("AHNPL step speed-up from torch.compile", eager["device_step_s"] / compiled["device_step_s"],
                          unit="x"))
    for spec in FITS:
        fit = _fit(report, spec.name)
        if fit:
            out.append(Figure(f"{spec.name}: samples/s", fit["samples_per_s"], unit="/s",
                              note=f"MFU {100 * fit['model_flops_per_s'] / peak:.1f} % of peak, "
                                   f"{100 * fit['model_flops_per_s'] / ceiling:.1f} % of measured; peak "
                                   f"{fit['peak_memory_gib']:.1f} GiB"))
    ev = report["parts"].get("evaluation", {})
    if ev.get("status") == "ok":
        out += [Figure("evaluation images/s", ev["images_per_s"], unit="/s", note=f"{ev['images']} images"),
                Figure("evaluation captions/s", ev["captions_per_s"], unit="/s", note=f"{ev['captions']} captions")]
    return out


def render_table(rows: list[Figure]) -> str:
    lines = [f"{'figure':<52} {'value':>14} {'target':>8}  mark  note"]
    for f in rows:
        lines.append(f"{f.name:<52} {f.formatted():>14} {f.goal():>8}  {f.mark:<4}  {f.note}")
    return "\n".join(lines)


def markdown(report: dict[str, Any], rows: list[Figure]) -> str:
    """gpu.md: machine, targets, the fits' table, loader, evaluation, tests and parts."""
    m = report["machine"]
    p = report["profile"]
    pk = m["packages"]
    where = m.get("gpu") or f"CPU ({m['cpu']})"
    lines = [
        f"# `make gpu-check` on {where}, {m['date']}",
        "",
        f"Machine: {where}" + (f", {m.get('gpu_memory_gib')} GiB, {m.get('multiprocessors')} SMs, compute "
                               f"capability {m.get('capability')}, driver {m.get('driver')}, CUDA {m['torch_cuda']}, "
                               f"cuDNN {m.get('cudnn')}" if m.get("gpu") else "") + f"; {m['cores']} CPU cores; "
        f"Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in pk.items() if v) +
        (f"; commit {m['commit']}" if m.get("commit") else "") + ".",
        "",
        f"Run: {p['model']} (random init) on the world rendered at {p['image_size']} px, batch {p['batch_size']}, "
        f"K = 5, {p['precision']}, {p['steps']} steps (the first {p['warmup_steps']} not timed), "
        f"DataLoader workers: {p['workers']}; {report['seconds']:.0f} s of a {report['budget_s']:.0f} s budget.",
        "",
        f"MFU denominator: {report['peak_source']}. Measured {report['matmul_ceiling']['dtype']} "
        f"{report['matmul_ceiling']['size']}^3 matmul this run: {report['matmul_ceiling']['flops_per_s'] / 1e12:.4g} "
        f"TFLOP/s. FLOPs: {report['flops_formula']}.",
        "",
    ]
    if report["device"] == "cpu":
        lines += ["CPU run: the figures check the code path; the targets are the GPU's.", ""]
    lines += ["| figure | value | target | mark | note |", "|---|---:|---:|---|---|"]
    for f in rows:
        lines.append(f"| {f.name} | {f.formatted()} | {f.goal()} | {f.mark} | {f.note} |")
    lines += ["", "## Fits (`lightning fit`)", "",
              "| run | compile | samples/s | step ms | device step ms | waiting | peak GiB | MFU (peak) | "
              "MFU (measured) | text tokens | warm-up s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for spec in FITS:
        fit = _fit(report, spec.name)
        if fit is None:
            continue
        lines.append(
            f"| {spec.name} | {fit['compile_backend'] or 'no'} | {fit['samples_per_s']:,.0f} | "
            f"{1e3 * fit['step_s']:.1f} | {1e3 * fit['device_step_s']:.1f} | {100 * fit['wait_share']:.1f} % | "
            f"{fit['peak_memory_gib']:.2f} | {100 * fit['model_flops_per_s'] / report['peak_flops']:.1f} % | "
            f"{100 * fit['model_flops_per_s'] / report['matmul_ceiling']['flops_per_s']:.1f} % | "
            f"{fit['text_length_mean']:.1f} | {fit['warmup_s']:.0f} |")
    tests = report["parts"].get("tests", {})
    if tests.get("cases"):
        lines += ["", "## Tests marked `gpu`", "", "| test | outcome | s |", "|---|---|---:|"]
        lines += [f"| {c['test']} | {c['outcome']} | {c['seconds']:.1f} |" for c in tests["cases"]]
    lines += ["", "## Parts", "", "| part | status | s | error |", "|---|---|---:|---|"]
    for name, part in report["parts"].items():
        error = (str(part.get("error") or part.get("note") or "").splitlines() or [""])[0][:200]
        lines.append(f"| {name} | {part['status']} | {part.get('seconds', 0):.0f} | {error} |")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out-dir", type=Path, default=OUT, help="where gpu.json, gpu.md, gpu.log, gpu-tests.xml go")
    p.add_argument("--budget-s", type=float, default=None, help="hard overall limit (cuda 480, cpu 120)")
    p.add_argument("--steps", type=int, default=None, help="training steps per fit (cuda 300, cpu 6)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers (cuda: cores - 1, at most 15)")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--fits", default=None, help="comma-separated fit names (cuda: all six; cpu: ahnpl, negclip, "
                                                 f"ahnpl_compiled): {','.join(s.name for s in FITS)}")
    p.add_argument("--keep-workdir", action="store_true", help="keep the fits' configs, logs and the eval export")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu-check: no CUDA device here; run the CPU path instead: make gpu-check DEVICE=cpu", file=sys.stderr)
        return 2
    profile = PROFILES[args.device]
    overrides = {k: v for k, v in (("budget_s", args.budget_s), ("steps", args.steps),
                                   ("batch_size", args.batch_size), ("workers", args.workers)) if v is not None}
    profile = replace(profile, **overrides)
    if profile.steps <= profile.warmup_steps:
        profile = replace(profile, warmup_steps=max(0, profile.steps // 3))
    wanted = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    unknown = set(wanted) - set(PARTS)
    names = {n.strip() for n in (args.fits or ",".join(profile.fits)).split(",") if n.strip()}
    unknown_fits = names - {s.name for s in FITS}
    if unknown or unknown_fits:
        print(f"gpu-check: unknown part(s) {sorted(unknown)} or fit(s) {sorted(unknown_fits)}", file=sys.stderr)
        return 2
    budget = Budget(profile.budget_s)
    out_dir = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    log = Log(out_dir / "gpu.log", budget.start)
    workdir = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    ctx = Context(args.device, profile, budget, out_dir, workdir, log, subprocess_env(args.device),
                  fits=tuple(s for s in FITS if s.name in names), parts_wanted=wanted)
    torch.manual_seed(0)
    log(f"device {args.device}, budget {profile.budget_s:.0f} s, parts {','.join(wanted)}, work folder {workdir}")
    try:
        info = machine(args.device)
    except Exception as exc:  # noqa: BLE001 - the parts can still run and say more
        info = {"error": f"{type(exc).__name__}: {exc}", "packages": {}, "cores": os.cpu_count(), "cpu": "?",
                "python": platform.python_version(), "torch_cuda": torch.version.cuda, "date": "?"}
    try:
        ceiling = matmul_ceiling(args.device, profile.matmul_size)
    except Exception as exc:  # noqa: BLE001
        ceiling = {"dtype": "?", "size": profile.matmul_size, "flops_per_s": float("nan"),
                   "error": f"{type(exc).__name__}: {exc}"}
    peak, source = peak_flops(info, ceiling)
    log(f"machine: {info.get('gpu') or info['cpu']}, driver {info.get('driver')}, torch {info['packages']['torch']}; "
        f"matmul {ceiling['flops_per_s'] / 1e12:.4g} TFLOP/s measured; MFU against {peak / 1e12:.4g} TFLOP/s")
    from benchmarks.gpu_flops import FORMULA

    report: dict[str, Any] = {
        "schema": 1, "device": args.device, "budget_s": profile.budget_s, "seconds": 0.0,
        "machine": info, "profile": asdict(profile), "matmul_ceiling": ceiling, "peak_flops": peak,
        "peak_source": source, "flops_formula": FORMULA, "parts": {}, "figures": [],
        "command": "python -m benchmarks.gpu_check " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    ctx.report = report

    lock = threading.Lock()

    def save() -> None:
        with lock:  # the watchdog may save from its thread
            report["seconds"] = budget.elapsed()
            rows = figures(report)
            report["figures"] = [{**asdict(f), "mark": f.mark} for f in rows]
            (out_dir / "gpu.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
            (out_dir / "gpu.md").write_text(markdown(report, rows))

    ctx.save = save
    watchdog = start_watchdog(budget, 15.0, save, log)
    p = profile
    available: dict[str, tuple[Callable[[Context], dict[str, Any]], float]] = {
        "tests": (part_tests, p.tests_s[0]),
        "step_ratios": (part_step_ratios, p.ratio_s[0]),
        "loader": (part_loader, p.loader_s[0]),
        "fits": (lambda c: part_fits(c, optional=False), p.fit_s[0]),
        "evaluation": (part_evaluation, p.eval_s[0]),
        "extra_fits": (lambda c: part_fits(c, optional=True), p.compiled_fit_s[0]),
    }
    if not any(spec.optional for spec in ctx.fits):
        available.pop("extra_fits")  # nothing to run there (the CPU profile has no optional fits)
    try:
        run_parts(ctx, {name: available[name] for name in PARTS if name in wanted and name in available})
    finally:
        watchdog.cancel()
        save()
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = figures(report)
    print("\n" + render_table(rows))
    statuses = {name: part["status"] for name, part in report["parts"].items()}
    ok = bool(statuses) and all(s == "ok" for s in statuses.values())
    print(f"\ngpu-check: {'all parts passed' if ok else 'NOT all parts passed'} {statuses} in {budget.elapsed():.0f} s;"
          f" wrote {out_dir / 'gpu.json'} and {out_dir / 'gpu.md'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
