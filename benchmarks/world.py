"""Throughput of the synthetic world: rendering, full training items, and benchmark export."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ahnpl_lightning.data.world import World, WorldDataset, export_benchmarks


def _rate(fn: Callable[[int], object], seconds: float) -> tuple[float, int]:
    """(calls per second, calls) of fn(0), fn(1), ... for about `seconds`."""
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn(n)
        n += 1
    return n / elapsed, n


def bench_render(seconds: float = 3.0, image_size: int = 64) -> dict[str, float]:
    """Images per second on one core: `images_per_s` renders pre-sampled scenes; the other rate includes sampling."""
    world = World(image_size=image_size)
    scenes = [world.scene(i) for i in range(512)]
    render_rate, n = _rate(lambda i: world.render(scenes[i % 512]), seconds / 2)
    full_rate, _ = _rate(lambda i: world.render(world.scene(i)), seconds / 2)
    return {
        "image_size": image_size,
        "images_per_s": render_rate,
        "scene_and_render_images_per_s": full_rate,
        "images": n,
    }


def bench_items(seconds: float = 3.0, image_negatives: bool = False) -> dict[str, float]:
    """Training items per second (scene, render, caption, 5 negatives, optional counterfactual images)."""
    ds = WorldDataset(World(), length=10**9, image_negatives=image_negatives)
    rate, n = _rate(ds.__getitem__, seconds)
    return {"items_per_s": rate, "items": n, "image_negatives": float(image_negatives)}


def bench_export(size: int = 200) -> dict[str, float]:
    """Seconds to export every benchmark at `size` items per file."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        manifest = export_benchmarks(World(), Path(tmp), size=size, progress=False)
        return {"size": size, "seconds": time.perf_counter() - start, "images": manifest["images"]}


def main() -> None:
    """Print every world benchmark as one JSON object. Run: `python -m benchmarks.world`."""
    torch.set_num_threads(1)
    out = {
        "render": bench_render(),
        "items": bench_items(),
        "items_with_image_negatives": bench_items(image_negatives=True),
        "export": bench_export(),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
