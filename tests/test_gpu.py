"""The accelerator checks of `make gpu-check` (marked `gpu`, deselected from the normal suite by setup.cfg's addopts).

They run on CUDA when there is one, else on the CPU (`AHNPL_TEST_DEVICE=cpu|cuda` forces a device), so the CPU path of
`make gpu-check DEVICE=cpu` runs exactly these tests and they cannot rot between GPU tasks. Tolerances are stated
next to each comparison.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor

from ahnpl_lightning.data.datamodule import AHNPLDataModule
from ahnpl_lightning.data.triplets import TripletDataset, collate_triplets
from ahnpl_lightning.data.sources import WorldSource
from ahnpl_lightning.losses import TERMS, AHNPLLoss
from ahnpl_lightning.model import TINY_MODEL
from ahnpl_lightning.module import AHNPLModule

pytestmark = pytest.mark.gpu

DEVICE = os.environ.get("AHNPL_TEST_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
CUDA = DEVICE.startswith("cuda")
EVAL_BENCHMARKS = ["aro", "valse", "vl_checklist", "sugarcrepe", "winoground", "retrieval"]

# bf16 vs fp32: bf16 keeps 8 significant bits (relative rounding 2^-9 = 0.2 % per operation); through the towers of the
# tiny model the loss terms moved by at most 0.005 absolute, 1.5 % of the smallest term (CPU, two seeds). The check
# allows 3 % + 0.01 per term (the terms are 0.15 to 4), and a gradient cosine above 0.99.
BF16_RTOL, BF16_ATOL = 0.03, 0.01
# torch.compile's backend: inductor on CUDA; on the CPU dynamo + AOT autograd without inductor's C++ code generation,
# which takes minutes on 2 cores (AHNPL_COMPILE_BACKEND overrides either).
COMPILE_BACKEND = os.environ.get("AHNPL_COMPILE_BACKEND") or ("inductor" if CUDA else "aot_eager")
# Compiled vs eager in fp32: the same arithmetic in another order (fused kernels), so rounding-level differences only.
COMPILE_ATOL = 1e-4


def _trainer_kwargs(tmp_path: Path, max_steps: int) -> dict[str, Any]:
    return {"accelerator": "gpu" if CUDA else "cpu", "devices": 1, "precision": "bf16-mixed", "max_steps": max_steps,
            "limit_val_batches": 0, "num_sanity_val_steps": 0, "logger": False, "enable_checkpointing": False,
            "enable_progress_bar": False, "enable_model_summary": False, "default_root_dir": str(tmp_path)}


def _trainer(tmp_path: Path, max_steps: int) -> pl.Trainer:
    return pl.Trainer(**_trainer_kwargs(tmp_path, max_steps))


def _batch(module: AHNPLModule, size: int = 16, start: int = 0) -> dict[str, Tensor]:
    """`size` world samples (64 px) through the module's transforms and tokenizer, on DEVICE."""
    source = WorldSource(train_size=start + size, val_size=0, image_size=64)
    data = TripletDataset(source.train_dataset(), module.preprocess_train, module.tokenizer)
    batch = collate_triplets([data[i] for i in range(start, start + size)])
    return {key: value.to(DEVICE) for key, value in batch.items() if isinstance(value, Tensor)}  # not the skip lists


def _terms(module: AHNPLModule, loss: AHNPLLoss, batch: dict[str, Tensor], bf16: bool) -> dict[str, Tensor]:
    with torch.autocast(torch.device(DEVICE).type, dtype=torch.bfloat16, enabled=bf16):
        features = module(batch)
        return loss(logit_scale=module.model.logit_scale.exp(), **features)


@pytest.fixture
def plain_fp32() -> Any:
    """fp32 means fp32 in the comparisons: no TF32 in cuDNN convolutions or cuBLAS matmuls (restored afterwards)."""
    previous = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = previous


def test_bf16_and_fp32_losses_agree(plain_fp32: None) -> None:
    """Every loss term of the full step (encoders under autocast) within 3 % + 0.01 of fp32; gradients aligned."""
    torch.manual_seed(0)
    module = AHNPLModule(model_name=TINY_MODEL, loss=AHNPLLoss(positive_weight=0.1)).to(DEVICE)
    batch = _batch(module)
    results, grads = {}, {}
    for bf16 in (False, True):
        module.zero_grad(set_to_none=True)
        terms = _terms(module, copy.deepcopy(module.loss), batch, bf16)  # a fresh adaptive-margin state each
        terms["loss"].backward()
        results[bf16] = {name: float(terms[name].detach()) for name in ("loss", *TERMS)}
        grads[bf16] = torch.cat([p.grad.flatten().float() for p in module.parameters() if p.grad is not None])
    for name, reference in results[False].items():
        value = results[True][name]
        assert abs(value - reference) <= BF16_ATOL + BF16_RTOL * abs(reference), (name, value, reference)
    assert results[False]["loss"] > 0 and all(map(torch.isfinite, map(torch.tensor, results[True].values())))
    cosine = torch.nn.functional.cosine_similarity(grads[False], grads[True], dim=0)
    assert cosine > 0.99, f"bf16 gradient direction differs from fp32: cosine {cosine:.4f}"


class PoisonedLoss(AHNPLLoss):
    """AHNPLLoss whose raw term `term` (and so the total loss and every gradient) is NaN at training call `at`."""

    def __init__(self, at: int, term: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.at, self.term, self.calls = at, term, 0

    def forward(self, *args: Any, **kwargs: Any) -> dict[str, Tensor]:
        out = super().forward(*args, **kwargs)
        if self.training:
            if self.calls == self.at:
                bad = out[self.term] * float("nan")
                out[self.term], out["loss"] = bad, out["loss"] + bad
            self.calls += 1
        return out


@pytest.mark.parametrize(("at", "term", "checkpoints"),
                         [(0, "margin", False), (2, "mhn_text", True), (3, "margin", False), (3, "itc", True)])
def test_lagged_nan_check_raises_at_any_step_naming_the_term(at: int, term: str, checkpoints: bool,
                                                              tmp_path: Path) -> None:
    """Lagged mode (the default on accelerators) raises on a NaN at any step, the last (step 3 of 4) included,
    naming the term that went bad (not `loss`) and its step, at most one step late, and no checkpoint (one per step
    where `checkpoints`) ever holds non-finite weights."""
    torch.manual_seed(0)
    module = AHNPLModule(model_name=TINY_MODEL, loss=PoisonedLoss(at, term, positive_weight=0.1), lr=1e-3,
                         warmup_steps=0, check_finite_lagged=True)
    data = AHNPLDataModule(WorldSource(train_size=32, val_size=0), batch_size=8, num_workers=0)
    trainer = _trainer(tmp_path, max_steps=4)
    if checkpoints:
        trainer = pl.Trainer(**{**_trainer_kwargs(tmp_path, 4), "enable_checkpointing": True, "callbacks": [
            pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=1, save_top_k=-1,
                                         save_weights_only=True, filename="{step}")]})
    with pytest.raises(FloatingPointError) as error:
        trainer.fit(module, data)
    message = str(error.value)
    named = re.findall(r"'([\w/]+)'", message)
    assert named and named[0] == term, f"should name '{term}' first: {message}"
    assert re.search(rf"step\D{{0,3}}{at}\b", message), f"does not name step {at}: {message}"
    assert module.global_step <= at + 1, f"raised {module.global_step - at} steps after the NaN"
    saved = sorted((tmp_path / "ckpt").glob("*.ckpt"))
    assert len(saved) == (at if checkpoints else 0), [p.name for p in saved]
    for path in saved:
        state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()), path.name


def test_compiled_and_eager_encoders_give_equal_features(monkeypatch: pytest.MonkeyPatch, plain_fp32: None) -> None:
    """`compile_encoders=True` gives the eager features and gradients (fp32, to 1e-4), over two batches of different
    token lengths (the compiled text tower meets a new shape), and close bf16 features under autocast."""
    if COMPILE_BACKEND != "inductor":
        monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend=COMPILE_BACKEND))
    modules = []
    for compiled in (False, True):
        torch.manual_seed(0)
        modules.append(AHNPLModule(model_name=TINY_MODEL, compile_encoders=compiled).to(DEVICE))
    eager, compiled = modules
    lengths = set()
    for start in (0, 16):
        batch = _batch(eager, start=start)
        lengths.add(batch["captions"].shape[1])
        outputs, weights = [], {}
        generator = torch.Generator().manual_seed(start)
        for module in (eager, compiled):
            module.zero_grad(set_to_none=True)
            features = module(batch)
            floating = {key: value for key, value in features.items() if value.is_floating_point()}
            for key, value in floating.items():  # a fixed random projection of every feature (the same for both)
                weights.setdefault(key, torch.randn(value.shape, generator=generator).to(DEVICE))
            sum((value.float() * weights[key]).sum() for key, value in floating.items()).backward()
            outputs.append((features, {n.replace("_orig_mod.", ""): p.grad for n, p in module.named_parameters()
                                       if p.grad is not None}))
        (f_eager, g_eager), (f_compiled, g_compiled) = outputs
        for key in ("image_features", "text_features", "negative_features"):
            diff = (f_eager[key] - f_compiled[key]).abs().max().item()
            assert diff <= COMPILE_ATOL, (key, diff)
        assert g_eager.keys() == g_compiled.keys() and len(g_eager) > 10
        assert max(grad.abs().max().item() for grad in g_eager.values()) > 1e-3  # gradients that say something
        for name, grad in g_eager.items():
            scale = grad.abs().max().item() + 1e-12
            assert (grad - g_compiled[name]).abs().max().item() <= COMPILE_ATOL * max(1.0, scale), name
    with torch.no_grad(), torch.autocast(torch.device(DEVICE).type, dtype=torch.bfloat16):
        a, b = eager(batch)["image_features"].float(), compiled(batch)["image_features"].float()
    assert torch.nn.functional.cosine_similarity(a, b, dim=-1).min() > 0.995
    assert len(lengths) == 2, f"the two batches should have different token lengths, got {lengths}"


TINY_RESNET = {
    "embed_dim": 128,
    "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 16, "head_width": 32},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 128, "heads": 4, "layers": 2},
}


def test_channels_last_on_a_conv_tower(tmp_path: Path, plain_fp32: None) -> None:
    """`channels_last=True` converts a convolutional image tower (open_clip's ModifiedResNet), its activations stay
    channels-last, its features equal the contiguous tower's (fp32 without TF32: 1e-4), and a bf16 step trains."""
    import open_clip

    (tmp_path / "AHNPL-Test-RN.json").write_text(json.dumps(TINY_RESNET))
    open_clip.add_model_config(tmp_path)
    modules = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        modules.append(AHNPLModule(model_name="AHNPL-Test-RN", channels_last=channels_last).to(DEVICE))
    plain, converted = modules
    assert type(converted.model.visual).__name__ == "ModifiedResNet"
    assert converted.model.visual.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    formats: list[bool] = []
    hook = converted.model.visual.layer2.register_forward_hook(
        lambda _m, _i, out: formats.append(out.is_contiguous(memory_format=torch.channels_last))
    )
    batch = _batch(plain)
    with torch.no_grad():
        a, b = plain(batch)["image_features"], converted(batch)["image_features"]
    assert formats == [True], "the conv tower's activations are not channels-last"
    assert (a - b).abs().max().item() <= 1e-4
    optimizer = torch.optim.AdamW(converted.parameters(), lr=1e-4)
    terms = _terms(converted, converted.loss, batch, bf16=True)
    terms["loss"].backward()
    optimizer.step()
    hook.remove()
    assert torch.isfinite(terms["loss"]) and all(torch.isfinite(p).all() for p in converted.parameters())


def _export_world(root: Path) -> None:
    from ahnpl_lightning.data.world import World, export_benchmarks

    export_benchmarks(World(image_size=64), root, size=6, seed=0, progress=False)


def _evaluate(root: Path, weights: Path, batch_size: int) -> dict[str, Any]:
    from ahnpl_lightning.evaluation import evaluate_benchmarks
    from ahnpl_lightning.model import create_model_and_transforms

    bundle = create_model_and_transforms(TINY_MODEL)
    bundle.model.load_state_dict(torch.load(weights, map_location="cpu"))
    bundle.model.to(DEVICE)
    return evaluate_benchmarks(EVAL_BENCHMARKS, bundle.model, bundle.preprocess_val, bundle.tokenizer, root,
                               batch_size=batch_size, device=DEVICE, progress=False)


def _shard_worker(rank: int, world: int, init_file: str, root: str, weights: str, out_dir: str) -> None:
    """One rank of the sharded evaluation. gloo, not NCCL: NCCL refuses two ranks on one GPU ("Duplicate GPU
    detected"); the scoring core moves gloo's traffic through the CPU while the model runs on the GPU."""
    torch.set_num_threads(1)
    if sys.platform.startswith("linux"):
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # one machine: loopback, whatever the hostname resolves to
    if CUDA:
        torch.cuda.set_device(0)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        result = _evaluate(Path(root), Path(weights), batch_size=5)
        Path(out_dir, f"{rank}.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


def _metrics(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{bench}/{name}": metric for bench, res in result["benchmarks"].items()
            for section in ("subsets", "summary") for name, metric in res[section].items()}


def test_sharded_evaluation_gives_the_single_process_numbers(tmp_path: Path) -> None:
    """Two processes on one device (spawned on CUDA, which cannot be forked; forked on the CPU, which is much faster
    there) give the single-process numbers: every count
    equal; every accuracy equal on the CPU, and within one item on CUDA, where the shards' other batch shapes may pick
    other GEMM kernels and so flip an exact near-tie."""
    root, weights, out_dir = tmp_path / "world", tmp_path / "tiny.pt", tmp_path / "out"
    _export_world(root)
    out_dir.mkdir()
    torch.manual_seed(0)
    from ahnpl_lightning.model import create_model_and_transforms

    torch.save(create_model_and_transforms(TINY_MODEL).model.state_dict(), weights)
    single = _metrics(_evaluate(root, weights, batch_size=8))
    method = os.environ.get("AHNPL_TEST_START_METHOD") or ("spawn" if CUDA else "fork")
    mp.start_processes(_shard_worker, args=(2, str(tmp_path / "init"), str(root), str(weights), str(out_dir)),
                       nprocs=2, start_method=method)
    assert len(single) >= 20 and len({m["count"] for m in single.values()}) > 1
    for rank in range(2):
        sharded = _metrics(json.loads((out_dir / f"{rank}.json").read_text()))
        assert sharded.keys() == single.keys()
        for name, metric in single.items():
            other = sharded[name]
            assert other["count"] == metric["count"], name
            flipped = abs(other["accuracy"] - metric["accuracy"]) * metric["count"]
            assert flipped <= (1.0 + 1e-6 if CUDA else 1e-6), (rank, name, other, metric)
