"""Training-side benchmarks, each a ratio measured side by side in one run (absolute times on shared machines mean
little): the step of CLIP fine-tune vs NegCLIP vs AHNPL on the same batch, dynamic vs full-context text encoding,
and the DataLoader's supply rate vs the step's consumption rate."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch.utils.data import DataLoader

from ahnpl_lightning.data.datamodule import TripletDataset, collate_triplets
from ahnpl_lightning.data.sources import WorldSource
from ahnpl_lightning.encoding import encode_batch, encode_text, trim_padding
from ahnpl_lightning.losses import AHNPLLoss
from ahnpl_lightning.model import TINY_MODEL, create_model_and_transforms

LOSSES: dict[str, dict] = {
    "clip": {"itc_negatives": False, "mhn_weight": 0.0, "perturbation": False, "margin_weight": 0.0},
    "negclip": {"itc_negatives": True, "mhn_weight": 0.0, "perturbation": False, "margin_weight": 0.0},
    "ahnpl": {},
}
# COCO-length captions (about 11 words, 13-16 tokens): what a real fine-tuning batch looks like.
COCO_CAPTIONS = [
    "A man with a red helmet on a small moped on a dirt road.",
    "A young girl inhales with the intent of blowing out a candle.",
    "Two dogs are playing with a frisbee in the green park.",
    "A kitchen with wooden cabinets and a white refrigerator next to the stove.",
    "A woman rides a bicycle on a road next to the median.",
    "A large jetliner flying over a city under a cloudy sky.",
]


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds per call of each function, calling them round-robin so machine noise hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def world_batch(
    batch_size: int, model_name: str = TINY_MODEL, image_size: int | None = None
) -> dict[str, torch.Tensor]:
    """One training batch of world samples, transformed and tokenised for `model_name`."""
    bundle = create_model_and_transforms(model_name)
    size = image_size or bundle.model.visual.image_size[0]
    source = WorldSource(train_size=batch_size, val_size=0, image_size=size)
    data = TripletDataset(source.train_dataset(), bundle.preprocess_train, bundle.tokenizer)
    return collate_triplets([data[i] for i in range(batch_size)])


def bench_step(
    model_name: str = TINY_MODEL, batch_size: int = 32, repeats: int = 8, device: str = "cpu"
) -> dict[str, float]:
    """Seconds per optimisation step (encode + loss + backward + AdamW) for each loss on the same batch; on a GPU
    under bf16 autocast, synchronised after each step."""
    torch.manual_seed(0)
    model = create_model_and_transforms(model_name).model.to(device)
    batch = world_batch(batch_size, model_name)
    batch = {key: value.to(device) for key, value in batch.items() if isinstance(value, torch.Tensor)}  # no skip lists
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    cuda = device.startswith("cuda")

    def step_fn(loss: AHNPLLoss) -> Callable[[], object]:
        skip_negatives = not loss.uses_negatives  # as AHNPLModule does for plain CLIP fine-tuning

        def step() -> None:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                negatives = batch["negatives"][:, :0] if skip_negatives else batch["negatives"]
                features = encode_batch(model, batch["images"], batch["captions"], negatives)
                if skip_negatives:
                    text = features["text_features"]
                    features["negative_features"] = text.new_zeros((text.shape[0], 5, text.shape[1]))
                mask = batch["negative_mask"] & (not skip_negatives)
                out = loss(negative_mask=mask, logit_scale=model.logit_scale.exp(), **features)
            optimizer.zero_grad(set_to_none=True)
            out["loss"].backward()
            optimizer.step()
            if cuda:
                torch.cuda.synchronize()

        return step

    fns = {name: step_fn(AHNPLLoss(**kwargs).to(device)) for name, kwargs in LOSSES.items()}
    medians = interleaved_medians(fns, repeats)
    return {
        **{f"{name}_step_s": value for name, value in medians.items()},
        "ahnpl_over_negclip": medians["ahnpl"] / medians["negclip"],
        "negclip_over_clip": medians["negclip"] / medians["clip"],
    }


def bench_text_length(
    model_name: str = "ViT-B-32", batch_size: int = 96, repeats: int = 6, device: str = "cpu"
) -> dict[str, float]:
    """Text-tower forward at the full context (77) vs trimmed to the longest real caption; outputs must agree.
    (Tokens are trimmed on the host, as the DataModule's collate does, so no sync is timed.)"""
    torch.manual_seed(0)
    bundle = create_model_and_transforms(model_name)
    model = bundle.model.eval().to(device)
    tokens = bundle.tokenizer((COCO_CAPTIONS * batch_size)[:batch_size])
    if device != "cpu":
        trimmed_tokens = trim_padding(tokens).to(device)
        tokens = tokens.to(device)
    else:
        trimmed_tokens = tokens  # encode_text trims CPU tensors itself
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def run(tokens_: torch.Tensor, dynamic: bool) -> torch.Tensor:
        out = encode_text(model, tokens_, dynamic_length=dynamic)
        sync()
        return out

    with torch.no_grad():
        full = run(tokens, False)
        trimmed = run(trimmed_tokens, True)
        medians = interleaved_medians(
            {"full": lambda: run(tokens, False), "dynamic": lambda: run(trimmed_tokens, True)}, repeats
        )
    return {
        "context": float(tokens.shape[1]),
        "longest_tokens": float((tokens != 0).sum(1).max()),
        "full_s": medians["full"],
        "dynamic_s": medians["dynamic"],
        "speedup": medians["full"] / medians["dynamic"],
        "max_abs_diff": float((full - trimmed).abs().max()),
    }


def bench_loader(batch_size: int = 32, batches: int = 12, workers: tuple[int, ...] = (0, 1, 2)) -> dict[str, float]:
    """World DataLoader samples/s for several worker counts vs the tiny model's AHNPL step consumption rate."""
    bundle = create_model_and_transforms(TINY_MODEL)
    source = WorldSource(train_size=batch_size * (batches + 4), val_size=0)
    dataset = TripletDataset(source.train_dataset(), bundle.preprocess_train, bundle.tokenizer)
    out: dict[str, float] = {}
    for n in workers:
        loader = DataLoader(dataset, batch_size=batch_size, num_workers=n, collate_fn=collate_triplets,
                            persistent_workers=False, shuffle=True)
        iterator = iter(loader)
        for _ in range(2 if n else 1):  # worker start-up is not throughput
            next(iterator)
        start = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        out[f"loader_{n}w_samples_per_s"] = batches * batch_size / (time.perf_counter() - start)
        del iterator
    step = bench_step(TINY_MODEL, batch_size, repeats=4)["ahnpl_step_s"]
    out["step_samples_per_s"] = batch_size / step
    for n in workers:
        out[f"loader_{n}w_over_step"] = out[f"loader_{n}w_samples_per_s"] / out["step_samples_per_s"]
    return out
