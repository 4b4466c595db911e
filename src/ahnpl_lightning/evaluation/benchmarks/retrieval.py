"""Zero-shot image-text retrieval on the Karpathy COCO / Flickr30k test splits (docs/METHOD.md section 4).

Layout: `<root>/coco/coco_karpathy_test.json`, `<root>/flickr30k/flickr30k_test.json` (`[{"image", "caption": [...]}]`),
images relative to those folders. Every caption of every image is used, as written (COCO test: 5,000 images, 25,010
captions). Recall is computed from the full similarity matrix here (torchmetrics' retrieval ignores scores <= 0):
- i2t R@K: fraction of images whose best-scoring ground-truth caption has rank < K, the rank being the number of
  other captions scoring >= it;
- t2i R@K: fraction of captions whose image has rank < K among all images (same rule).
`>=` makes a tie count against the ground truth (the "tie is wrong" rule). Subsets `<dataset>/{i2t,t2i}_R@{1,5,10}`
hold the recall as `accuracy` and the number of queries as `count`; summary `<dataset>/mean_recall` is the mean of
the six (count = images). An image that is missing or corrupt is removed with its captions (counted).
World-split side-file key: the record's `image`. Retrieval has no choice items; its per-item outcomes (`keep_items`)
are per query: hit at 1 (`<dataset>/i2t_R@1` keyed by the record's `image`, `<dataset>/t2i_R@1` keyed
`<image>#<caption index in the record>`). The world's export writes the COCO file (COCO-Order reads it too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ahnpl_lightning.evaluation.files import (
    BadRecords,
    Location,
    json_records,
    load_split_map,
    log,
    parse_records,
    record_split,
)
from ahnpl_lightning.evaluation.items import ImageRef, ImageStatus
from ahnpl_lightning.evaluation.metrics import Metric, item_outcome, metric
from ahnpl_lightning.evaluation.scoring import Features, with_world_splits
from ahnpl_lightning.evaluation.spec import BenchmarkSpec, Request, Scores, WorldWriter

if TYPE_CHECKING:
    from ahnpl_lightning.data.world.export import WorldExport

NAME = "retrieval"
DATASETS = {"coco": "coco_karpathy_test.json", "flickr30k": "flickr30k_test.json"}
KS = (1, 5, 10)
CHUNK = 1024  # rows of the similarity matrix computed at once


@dataclass
class RetrievalSet:
    """Images, all their captions, and which image each caption describes."""

    name: str
    images: list[ImageRef] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    caption_image: list[int] = field(default_factory=list)
    image_split: list[str | None] = field(default_factory=list)
    image_keys: list[str] = field(default_factory=list)  # the record's `image` (stable per-query keys)
    caption_keys: list[str] = field(default_factory=list)  # `<image>#<caption index in the record>`


def load_set(name: str, path: Path, limit: int | None = None, bad: BadRecords | None = None) -> RetrievalSet:
    """Parse a Karpathy-style test file (first `limit` images when given)."""
    split_map = load_split_map(path.parent)

    def parse(index: int, rec: Any, count: int) -> list[tuple[Any, ...]]:
        captions = rec["caption"] if isinstance(rec["caption"], list) else [rec["caption"]]
        image = ImageRef(str(path.parent / rec["image"]))
        return [(image, str(rec["image"]), record_split(rec, str(rec["image"]), split_map), captions)]

    bad = bad or BadRecords(NAME)
    out = RetrievalSet(name)
    records = json_records(path, list, bad, marker="caption")
    for image, key, split, captions in parse_records(records, parse, bad, limit):
        out.image_split.append(split)
        out.images.append(image)
        out.image_keys.append(key)
        out.caption_keys += [f"{key}#{j}" for j in range(len(captions))]
        out.captions += [str(c) for c in captions]
        out.caption_image += [len(out.images) - 1] * len(captions)
    return out


def query_ranks(
    sim_rows: Callable[[int, int], Tensor], n_queries: int, gt_mask: Callable[[int, int], Tensor]
) -> Tensor:
    """Each query's rank, in chunks: the number of non-ground-truth candidates scoring >= its best ground-truth
    candidate (so a query hits at K iff its rank < K). `sim_rows(a, b)` / `gt_mask(a, b)` give rows [a, b)."""
    ranks = []
    for start in range(0, n_queries, CHUNK):
        end = min(start + CHUNK, n_queries)
        s, gt = sim_rows(start, end), gt_mask(start, end)
        best = s.masked_fill(~gt, float("-inf")).max(dim=1).values
        ranks.append(((s >= best[:, None]) & ~gt).sum(dim=1))
    return torch.cat(ranks) if ranks else torch.zeros(0, dtype=torch.long)


def recall_at_k(sim_rows: Callable[[int, int], Tensor], n_queries: int, gt_mask: Callable[[int, int], Tensor],
                ks: Sequence[int] = KS) -> dict[int, float]:
    """Recall@K: the share of queries whose rank (see `query_ranks`) is below K."""
    rank = query_ranks(sim_rows, n_queries, gt_mask)
    return {k: int((rank < k).sum()) / n_queries for k in ks}


def both_ranks(image_features: Tensor, text_features: Tensor, caption_image: Tensor) -> tuple[Tensor, Tensor]:
    """(rank of each image query, rank of each caption query) from normalised features; `caption_image[j]` is the
    row of caption j's image."""
    n_img, n_cap = image_features.shape[0], text_features.shape[0]
    i2t = query_ranks(
        lambda a, b: image_features[a:b] @ text_features.T, n_img,
        lambda a, b: caption_image[None, :] == torch.arange(a, b)[:, None],
    )
    t2i = query_ranks(
        lambda a, b: text_features[a:b] @ image_features.T, n_cap,
        lambda a, b: torch.arange(n_img)[None, :] == caption_image[a:b, None],
    )
    return i2t, t2i


def recalls(
    image_features: Tensor, text_features: Tensor, caption_image: Tensor, prefix: str = ""
) -> dict[str, Metric]:
    """i2t and t2i R@{1,5,10} from normalised features; `caption_image[j]` is the row of caption j's image."""
    n_img, n_cap = image_features.shape[0], text_features.shape[0]
    out: dict[str, Metric] = {}
    if n_img == 0 or n_cap == 0:
        return out
    i2t, t2i = both_ranks(image_features, text_features, caption_image)
    for k in KS:
        out[f"{prefix}i2t_R@{k}"] = metric(int((i2t < k).sum()) / n_img, n_img)
    for k in KS:
        out[f"{prefix}t2i_R@{k}"] = metric(int((t2i < k).sum()) / n_cap, n_cap)
    return out


def _rows(rset: RetrievalSet, features: Features, images: Sequence[int]) -> tuple[Tensor, Tensor, Tensor, list[int]]:
    """Features of the kept `images` and of their captions, each caption's image row, and the kept caption indices."""
    position = {i: n for n, i in enumerate(images)}
    caps = [j for j, i in enumerate(rset.caption_image) if i in position]
    img = features.image_features[torch.tensor([features.image_index[rset.images[i]] for i in images],
                                               dtype=torch.long)]
    txt = features.text_features[torch.tensor([features.text_index[rset.captions[j]] for j in caps],
                                              dtype=torch.long)]
    return img, txt, torch.tensor([position[rset.caption_image[j]] for j in caps], dtype=torch.long), caps


def score_set(rset: RetrievalSet, features: Features) -> tuple[dict[str, Metric], dict[str, Metric], int]:
    """Subsets and summary of one dataset (with world-split variants); also the number of captions dropped."""
    usable = [i for i, r in enumerate(rset.images) if features.status(r) == ImageStatus.OK]

    def aggregate(images: Sequence[int]) -> tuple[dict[str, Metric], dict[str, Metric]]:
        img, txt, cap_img, _ = _rows(rset, features, images)
        subsets = recalls(img, txt, cap_img, prefix=f"{rset.name}/")
        summary = {}
        if subsets:
            mean = sum(m["accuracy"] for m in subsets.values()) / len(subsets)
            summary[f"{rset.name}/mean_recall"] = metric(mean, len(images))
        return subsets, summary

    subsets, summary = with_world_splits(usable, aggregate, split_of=lambda i: rset.image_split[i])
    dropped = sum(1 for i in rset.caption_image if features.status(rset.images[i]) != ImageStatus.OK)
    return subsets, summary, dropped


def query_outcomes(rset: RetrievalSet, features: Features) -> list[dict[str, Any]]:
    """Per-query outcomes over the usable images (hit at 1): `<dataset>/i2t_R@1` items keyed by the record's
    `image`, `<dataset>/t2i_R@1` items keyed `<image>#<caption index>`."""
    usable = [i for i, r in enumerate(rset.images) if features.status(r) == ImageStatus.OK]
    if not usable:
        return []
    img, txt, cap_img, caps = _rows(rset, features, usable)
    i2t, t2i = both_ranks(img, txt, cap_img)
    out = [item_outcome(rset.image_keys[i], f"{rset.name}/i2t_R@1", rset.image_split[i], bool(r < 1))
           for i, r in zip(usable, i2t.tolist())]
    out += [item_outcome(rset.caption_keys[j], f"{rset.name}/t2i_R@1", rset.image_split[rset.caption_image[j]],
                         bool(r < 1)) for j, r in zip(caps, t2i.tolist())]
    return out


def files(where: Location) -> list[Path]:
    """The COCO and Flickr30k Karpathy test files."""
    return [where.dir(name) / f for name, f in DATASETS.items()]


def load(request: Request) -> list[RetrievalSet]:
    """One retrieval set per test file present."""
    sets = []
    for name, path in zip(DATASETS, files(request.where)):
        if path.is_file():
            sets.append(load_set(name, path, request.limit, request.bad))
        else:
            log.info("retrieval: %s skipped, %s not found", name, path)
    return sets


def score(spec: BenchmarkSpec, sets: Sequence[RetrievalSet], features: Features) -> Scores:
    """Recall figures per dataset (and world split), per-query outcomes, and the captions of unusable images."""
    out = Scores({}, {}, [], 0)
    for rset in sets:
        subsets, summary, dropped = score_set(rset, features)
        out.subsets.update(subsets)
        out.summary.update(summary)
        out.outcomes += query_outcomes(rset, features)
        out.unscored += dropped
    return out


def write_world(ex: WorldExport) -> None:
    """The synthetic world's `coco/coco_karpathy_test.json`: `size` images with 2-5 distinct true captions each."""

    def build(attempt: int) -> tuple[Any, ...] | None:
        rng = ex.rng("coco", attempt)
        scene = ex.scene("coco", attempt)
        captions: list[str] = []
        for _ in range(30):
            c = ex.world.caption(scene, rng)
            if c not in captions:
                captions.append(c)
            if len(captions) == 5:
                break
        return (scene, captions) if len(captions) >= 2 else None

    records = []
    for scene, captions in ex.collect("coco/coco_karpathy_test.json", build):
        rel = f"val2014/COCO_val2014_{ex.new_id():012d}.jpg"
        ex.save(scene, ex.out / "coco" / rel)
        records.append({"image": rel, "caption": captions, "world_split": ex.tag([scene], captions)})
    ex.write_records("coco/coco_karpathy_test.json", records)


def describe(name: str) -> tuple[str, str]:
    """Retrieval figures are recalls (stored under `accuracy`, the key every figure uses); what their count counts."""
    figure = name.split("/")[-1]
    if figure == "mean_recall":
        return "mean of the six recalls", "images"
    direction, k = figure.split("_R@")
    if direction == "i2t":
        return f"recall@{k}, image to text", "image queries"
    return f"recall@{k}, text to image", "caption queries"


SPEC = BenchmarkSpec(NAME, files, load, describe=describe, score=score, images=lambda rset: rset.images,
                    texts=lambda rset: rset.captions, world=WorldWriter(write_world, files=lambda world: 1, order=1))
evaluate, load_items = SPEC.evaluate, SPEC.load_items
