"""Pre-train the world's stand-in CLIP: `python -m benchmarks.pretrain` rebuilds the shipped `world` weights.

The recipe: an open_clip architecture from `model_configs/` trained from scratch on the world's training split with
the plain contrastive loss (open_clip's `ClipLoss`: no hard negatives, those are what the fine-tuning methods add).
What makes it see shapes is the batch composition: each batch is a few groups, most of them drawn from a small colour
palette, so scenes within a group can only be told apart by shape, size, material or layout (issue 12: with free
colours a batch is solved by colour alone). Pre-training captions mention size and material more often than the
benchmarks' (more attribute-bearing captions, as web captions are for real CLIP). `--p-position` makes some captions
state an object's absolute position ("a red circle on the left"); the shipped weights do not use it (it did not give
the image embedding the layout relations need: results/lab/pretrain_log.md, e6). Relations between objects and
attribute binding are not trained on purpose; like real CLIP's, they stay near chance. Held-out compositions are
never seen (training split only), so held-out evaluation stays held out.

Each step draws a fresh batch (the world is endless; no epoch), so steps x batch size = scenes seen.
"""

# ruff: noqa: E402
from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared 2-core machine a spinning 2-thread torch step was
# measured 3-8x slower than a 1-thread one (results/lab/pretrain_log.md). Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import logging
import math
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.loss import ClipLoss

from ahnpl_lightning.data.world import COLOURS, World
from ahnpl_lightning.model import create_model_and_transforms

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("pretrain")


@dataclass
class Recipe:
    """Everything that determines the weights (with the code version)."""

    model: str = "AHNPL-RN-64"
    steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_steps: int = 150
    palette_fraction: float = 0.75  # share of a batch's groups drawn from a small palette
    palette_sizes: tuple[int, ...] = (1, 2)  # colours per palette group, drawn uniformly from these
    groups: int = 4  # a batch is this many equal groups, each with its own palette (or all colours)
    p_size: float = 0.8  # how often a caption's noun phrase mentions size (benchmarks and fine-tuning data: 0.5)
    p_material: float = 0.8  # ... and material (benchmarks and fine-tuning data: 0.3)
    p_position: float = 0.0  # captions that are an absolute position, "a red circle on the left" (tried in e6: no gain)
    world_seed: int = 1  # the pre-training corpus: World(seed=1) training split (fine-tuning uses seed 0)
    seed: int = 0  # model initialisation and batch order
    init: str | None = None  # continue from these weights (a stage-2 run) instead of a random initialisation
    batch_offset: int = 0  # step t draws batch t + batch_offset (a continuation sees scenes the first stage did not)


class WorldBatches:
    """Endless batches (images [B,3,H,W] normalised like the model's preprocess_val, tokens [B,L]) of the world's
    training split; batch t is a pure function of (recipe, t)."""

    def __init__(self, recipe: Recipe, tokenizer: Any, image_size: int) -> None:
        self.recipe = recipe
        self.tokenizer = tokenizer
        self.world = World(image_size=image_size, seed=recipe.world_seed)
        self.mean = torch.tensor(OPENAI_DATASET_MEAN).view(3, 1, 1)
        self.std = torch.tensor(OPENAI_DATASET_STD).view(3, 1, 1)

    def to_tensor(self, image: Any) -> torch.Tensor:
        """What preprocess_val does to a render of the model's own size (resize and crop are the identity)."""
        pixels = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0
        return (pixels - self.mean) / self.std

    def scenes(self, step: int) -> tuple[list[list[str] | None], list[Any], list[str]]:
        """Batch `step`'s group palettes (None: all colours), scenes and captions.

        The batch is `groups` equal groups, each drawn from its own small palette (or from all colours): within a
        group colour cannot tell scenes apart, while the batch as a whole keeps the world's colour statistics (a
        whole batch of one colour shifts BatchNorm's statistics away from what evaluation sees).
        """
        r = self.recipe
        rng = random.Random(f"pretrain-batch-{r.seed}-{step + r.batch_offset}")
        palettes: list[list[str] | None] = []
        for _ in range(r.groups):
            palettes.append(rng.sample(list(COLOURS), rng.choice(r.palette_sizes))
                            if rng.random() < r.palette_fraction else None)
        scenes, captions = [], []
        for b in range(r.batch_size):
            index = (step + r.batch_offset) * r.batch_size + b
            scene = self.world.scene(index, "train", palette=palettes[b * r.groups // r.batch_size])
            scenes.append(scene)
            rng_caption = self.world.rng("pretrain-caption", index)
            captions.append(self.world.caption(scene, rng_caption, p_size=r.p_size, p_material=r.p_material,
                                               p_position=r.p_position))
        return palettes, scenes, captions

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch `step`: normalised images and caption tokens."""
        _, scenes, captions = self.scenes(step)
        images = [self.to_tensor(self.world.render(scene)) for scene in scenes]
        return torch.stack(images), self.tokenizer(captions)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        step = 0
        while True:
            yield self.batch(step)
            step += 1


def lr_at(step: int, recipe: Recipe) -> float:
    """Linear warm-up, then cosine decay to zero at the last step."""
    if step < recipe.warmup_steps:
        return recipe.lr * (step + 1) / recipe.warmup_steps
    progress = (step - recipe.warmup_steps) / max(1, recipe.steps - recipe.warmup_steps)
    return recipe.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def zero_shot(model: Any, preprocess: Any, tokenizer: Any, data_root: Path,
              benchmarks: tuple[str, ...] = ("sugarcrepe",)) -> dict[str, float]:
    """`{"<benchmark>/<subset>": accuracy}` on an `ahnpl world` export (the project's evaluation)."""
    from ahnpl_lightning.evaluation.run import evaluate_benchmarks

    results = evaluate_benchmarks(list(benchmarks), model, preprocess, tokenizer, data_root, batch_size=256,
                                  progress=False)
    return {f"{bench}/{name}": m["accuracy"] for bench, res in results["benchmarks"].items()
            for section in ("subsets", "summary") for name, m in res[section].items()}


def pretrain(recipe: Recipe, out: Path, eval_root: Path | None = None, eval_every: int = 0) -> dict[str, Any]:
    """Train, save fp16 open_clip weights to `out`, return the run's record (settings, time, curve)."""
    torch.manual_seed(recipe.seed)
    bundle = create_model_and_transforms(recipe.model)
    model, tokenizer = bundle.model, bundle.tokenizer
    if recipe.init:
        model.load_state_dict(torch.load(recipe.init, map_location="cpu", weights_only=True))
    image_size = model.visual.image_size
    image_size = image_size[0] if isinstance(image_size, tuple) else image_size
    data = WorldBatches(recipe, tokenizer, int(image_size))
    probe = data.world.render(data.world.scene(0, "train"))
    assert torch.allclose(data.to_tensor(probe), bundle.preprocess_val(probe), atol=1e-5), "fast path != preprocess"
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "logit_scale" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "logit_scale" not in n)]
    optimizer = torch.optim.AdamW([{"params": no_decay, "weight_decay": 0.0},
                                   {"params": decay, "weight_decay": recipe.weight_decay}],
                                  lr=recipe.lr, betas=(0.9, 0.98), eps=1e-6)
    loss_fn = ClipLoss()
    curve: list[dict[str, float]] = []
    start = time.perf_counter()
    losses: list[float] = []
    model.train()
    for step, (images, tokens) in enumerate(data):
        if step >= recipe.steps:
            break
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, recipe)
        image_features = model.encode_image(images, normalize=True)
        text_features = model.encode_text(tokens, normalize=True)
        loss = loss_fn(image_features, text_features, model.logit_scale.exp())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        losses.append(float(loss.detach()))
        done = step + 1
        if done % 50 == 0 or done == recipe.steps:
            log.info("step %d/%d loss %.3f (%.0f s)", done, recipe.steps, sum(losses[-50:]) / len(losses[-50:]),
                     time.perf_counter() - start)
        if eval_root is not None and eval_every and (done % eval_every == 0 or done == recipe.steps):
            model.eval()
            numbers = zero_shot(model, bundle.preprocess_val, tokenizer, eval_root)
            model.train()
            point = {"step": done, "seconds": time.perf_counter() - start,
                     "loss": sum(losses[-50:]) / len(losses[-50:]),
                     **{k: v for k, v in numbers.items() if "@" not in k}}
            curve.append(point)
            log.info("eval %s", json.dumps({k: round(v, 3) for k, v in point.items()}))
    seconds = time.perf_counter() - start
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save(state, out)
    return {"recipe": asdict(recipe), "seconds": seconds, "threads": torch.get_num_threads(), "curve": curve,
            "weights": str(out), "parameters": sum(p.numel() for p in model.parameters())}


def main(argv: list[str] | None = None) -> int:
    defaults = Recipe()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pretrain", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=defaults.model)
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    parser.add_argument("--warmup-steps", type=int, default=None, help="default: 5%% of the steps")
    parser.add_argument("--palette-fraction", type=float, default=defaults.palette_fraction)
    parser.add_argument("--palette-sizes", default=",".join(map(str, defaults.palette_sizes)))
    parser.add_argument("--groups", type=int, default=defaults.groups, help="palette groups per batch")
    parser.add_argument("--p-size", type=float, default=defaults.p_size, help="captions mentioning size")
    parser.add_argument("--p-material", type=float, default=defaults.p_material, help="captions mentioning material")
    parser.add_argument("--p-position", type=float, default=defaults.p_position, help="absolute-position captions")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--init", default=None, help="start from these weights (a continuation stage)")
    parser.add_argument("--batch-offset", type=int, default=0, help="step t draws batch t + this (continuations)")
    parser.add_argument("--output", type=Path, default=None, help="weights file (default: the shipped `world` tag)")
    parser.add_argument("--eval-root", type=Path, default=None, help="an `ahnpl world` export to score on")
    parser.add_argument("--eval-every", type=int, default=0, help="score SugarCrepe every N steps (0: at the end)")
    parser.add_argument("--record", type=Path, default=None, help="write the run's record (JSON) here")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    recipe = Recipe(model=args.model, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                    weight_decay=args.weight_decay,
                    warmup_steps=args.warmup_steps if args.warmup_steps is not None else max(1, args.steps // 20),
                    palette_fraction=args.palette_fraction,
                    palette_sizes=tuple(int(s) for s in args.palette_sizes.split(",")), groups=args.groups,
                    p_size=args.p_size, p_material=args.p_material, p_position=args.p_position, seed=args.seed,
                    init=args.init, batch_offset=args.batch_offset)
    if args.output is None:
        from ahnpl_lightning.pretrained import local_weights_path

        args.output = local_weights_path(recipe.model, "world")
    record = pretrain(recipe, args.output, args.eval_root, args.eval_every or recipe.steps)
    text = json.dumps(record, indent=1)
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
