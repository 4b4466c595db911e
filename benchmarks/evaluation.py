"""Benchmark of the evaluation scoring core (issue 7): encoding throughput with the tiny model, and how many encodes
deduplication saves on SugarCrepe-like data (each distinct image / caption encoded once).

Run: ``python -m benchmarks.evaluation [--images 256 --batch-size 64]``. Prints a JSON dict.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ahnpl_lightning.evaluation.benchmarks import aro, sugarcrepe
from benchmarks import SHARED_DATA
from ahnpl_lightning.evaluation.scoring import ChoiceItem, ModelEncoder, encode_distinct
from ahnpl_lightning.model import create_model_and_transforms

SHARED = SHARED_DATA
WORDS = ("red", "blue", "green", "small", "large", "dog", "cat", "man", "woman", "table", "street", "ball", "on",
         "under", "next", "to", "holding", "riding", "a", "the")


def encode_counts(items: list[ChoiceItem]) -> dict[str, Any]:
    """Encodes needed naively (every item re-encodes its image and both captions) vs once per distinct input."""
    naive = sum(1 + len(it.options) for it in items)
    distinct = len({it.image for it in items}) + len({o for it in items for o in it.options})
    return {"items": len(items), "naive_encodes": naive, "dedup_encodes": distinct,
            "ratio_naive_over_dedup": naive / distinct if distinct else float("nan")}


def sugarcrepe_like(root: Path, n_images: int, seed: int = 0) -> list[ChoiceItem]:
    """A SugarCrepe-shaped data root: every image in 3 of the 7 subsets, its positive caption shared by 2 of them
    (SugarCrepe builds all subsets from the same COCO val2017 images and captions); negatives are unique."""
    rng = random.Random(seed)
    folder = root / "coco" / "val2017"
    folder.mkdir(parents=True)
    files: dict[str, dict[str, dict[str, str]]] = {s: {} for s in sugarcrepe.SUBSETS}
    for i in range(n_images):
        name = f"{i:012d}.jpg"
        Image.new("RGB", (224, 224), tuple(rng.randrange(256) for _ in range(3))).save(folder / name)
        captions = [" ".join(rng.choice(WORDS) for _ in range(10)) for _ in range(2)]
        for j, subset in enumerate(rng.sample(sugarcrepe.SUBSETS, 3)):
            negative = " ".join(rng.choice(WORDS) for _ in range(10)) + f" {i}-{j}"
            files[subset][str(i)] = {"filename": name, "caption": captions[min(j, 1)], "negative_caption": negative}
    (root / "sugarcrepe").mkdir()
    for subset, data in files.items():
        (root / "sugarcrepe" / f"{subset}.json").write_text(json.dumps(data))
    return sugarcrepe.load_items(root)


def bench_eval(n_images: int = 256, n_captions: int = 1024, batch_size: int = 64, seed: int = 0) -> dict[str, Any]:
    """Images/s and captions/s of `encode_distinct` with AHNPL-Tiny-64 on CPU, plus encode savings from dedup."""
    torch.manual_seed(seed)
    bundle = create_model_and_transforms("AHNPL-Tiny-64", pretrained=None)
    encoder = ModelEncoder(bundle.model, bundle.preprocess_val, bundle.tokenizer, "cpu", batch_size, progress=False)
    bundle.model.eval()
    out: dict[str, Any] = {"model": "AHNPL-Tiny-64", "device": "cpu", "threads": torch.get_num_threads(),
                           "batch_size": batch_size}
    with tempfile.TemporaryDirectory() as tmp:
        items = sugarcrepe_like(Path(tmp), n_images, seed)
        refs = list(dict.fromkeys(it.image for it in items))
        rng = random.Random(seed)
        texts = [" ".join(rng.choice(WORDS) for _ in range(12)) + f" {i}" for i in range(n_captions)]
        encode_distinct(encoder, refs[:batch_size], texts[:batch_size])  # warm-up
        start = time.perf_counter()
        encode_distinct(encoder, refs, [])
        out["images_per_s"] = len(refs) / (time.perf_counter() - start)
        start = time.perf_counter()
        encode_distinct(encoder, [], texts)
        out["captions_per_s"] = n_captions / (time.perf_counter() - start)
        out["sugarcrepe_like"] = encode_counts(items)
    real = SHARED / "sugarcrepe" / "swap_att.json"
    if real.is_file():
        out["real_swap_att"] = encode_counts(sugarcrepe.load_subset(real, Path("val2017")))
    coco = SHARED / "coco" / "coco_karpathy_test_first100.json"
    if coco.is_file():  # COCO-Order: one item per caption, so each image recurs ~5 times
        from ahnpl_lightning.evaluation.perturbations import order_perturbations

        order_items = aro.load_order_items(coco, coco.parent, "coco_order", order_perturbations)
        out["real_coco_order_first100"] = encode_counts(order_items)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--captions", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps(bench_eval(args.images, args.captions, args.batch_size), indent=2))
