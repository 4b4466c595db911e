"""Zero-shot image-text retrieval on the Karpathy COCO / Flickr30k test splits (REFERENCE.md section 4).

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
`<image>#<caption index in the record>`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ahnpl_lightning.evaluation.scoring import (
    BadRecords,
    BenchmarkResult,
    Encoder,
    FeatureCache,
    Features,
    ImageRef,
    ImageStatus,
    Metric,
    bench_dir,
    encode_distinct,
    encoding,
    item_outcome,
    load_split_map,
    log,
    metric,
    read_annotations,
    record_split,
    report_images,
    skipped_result,
    with_world_splits,
)

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
    bad = bad or BadRecords(NAME)
    split_map = load_split_map(path.parent)
    out = RetrievalSet(name)
    for index, rec in enumerate(read_annotations(path, list, bad)):
        try:
            captions = rec["caption"] if isinstance(rec["caption"], list) else [rec["caption"]]
            image = ImageRef(str(path.parent / rec["image"]))
            split = record_split(rec, str(rec["image"]), split_map)
        except (KeyError, TypeError) as exc:
            bad.add(f"{path}[{index}]", repr(exc))
            continue
        out.image_split.append(split)
        out.images.append(image)
        out.image_keys.append(str(rec["image"]))
        out.caption_keys += [f"{rec['image']}#{j}" for j in range(len(captions))]
        out.captions += [str(c) for c in captions]
        out.caption_image += [len(out.images) - 1] * len(captions)
        if limit is not None and len(out.images) >= limit:
            break
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


def score_set(rset: RetrievalSet, features: Features) -> tuple[dict[str, Metric], dict[str, Metric], int]:
    """Subsets and summary of one dataset (with world-split variants); also the number of captions dropped."""
    usable = [i for i, r in enumerate(rset.images) if features.status(r) == ImageStatus.OK]
    img_rows = torch.tensor([features.image_index[r] for r in rset.images], dtype=torch.long)
    txt_rows = torch.tensor([features.text_index[c] for c in rset.captions], dtype=torch.long)
    cap_img = torch.tensor(rset.caption_image, dtype=torch.long)

    def aggregate(images: Sequence[int]) -> tuple[dict[str, Metric], dict[str, Metric]]:
        keep = torch.tensor(list(images), dtype=torch.long)
        position = torch.full((len(rset.images),), -1, dtype=torch.long)
        position[keep] = torch.arange(len(keep))
        caps = (position[cap_img] >= 0).nonzero().view(-1)
        subsets = recalls(
            features.image_features[img_rows[keep]], features.text_features[txt_rows[caps]],
            position[cap_img[caps]], prefix=f"{rset.name}/",
        )
        summary = {}
        if subsets:
            mean = sum(m["accuracy"] for m in subsets.values()) / len(subsets)
            summary[f"{rset.name}/mean_recall"] = metric(mean, len(keep))
        return subsets, summary

    subsets, summary = with_world_splits(usable, aggregate, split_of=lambda i: rset.image_split[i])
    dropped = sum(1 for i in cap_img.tolist() if features.status(rset.images[i]) != ImageStatus.OK)
    return subsets, summary, dropped


def query_outcomes(rset: RetrievalSet, features: Features) -> list[dict[str, Any]]:
    """Per-query outcomes over the usable images (hit at 1): `<dataset>/i2t_R@1` items keyed by the record's
    `image`, `<dataset>/t2i_R@1` items keyed `<image>#<caption index>`."""
    usable = [i for i, r in enumerate(rset.images) if features.status(r) == ImageStatus.OK]
    if not usable:
        return []
    position = {i: n for n, i in enumerate(usable)}
    caps = [j for j, i in enumerate(rset.caption_image) if i in position]
    i2t, t2i = both_ranks(
        features.image_features[torch.tensor([features.image_index[rset.images[i]] for i in usable])],
        features.text_features[torch.tensor([features.text_index[rset.captions[j]] for j in caps])],
        torch.tensor([position[rset.caption_image[j]] for j in caps], dtype=torch.long),
    )
    out = [item_outcome(rset.image_keys[i], f"{rset.name}/i2t_R@1", rset.image_split[i], bool(r < 1))
           for i, r in zip(usable, i2t.tolist())]
    out += [item_outcome(rset.caption_keys[j], f"{rset.name}/t2i_R@1", rset.image_split[rset.caption_image[j]],
                         bool(r < 1)) for j, r in zip(caps, t2i.tolist())]
    return out


def evaluate(
    model: nn.Module | None,
    preprocess: Callable[[Any], Tensor] | None,
    tokenizer: Callable[[list[str]], Tensor] | None,
    data_root: str | Path,
    *,
    paths: Mapping[str, str] | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    limit: int | None = None,
    device: str | torch.device | None = None,
    encoder: Encoder | None = None,
    cache: FeatureCache | None = None,
    progress: bool = True,
) -> BenchmarkResult:
    """Evaluate retrieval on the test files present; skipped (not an error) when neither exists."""
    files = {name: bench_dir(data_root, name, paths) / f for name, f in DATASETS.items()}
    present = {name: p for name, p in files.items() if p.is_file()}
    if not present:
        return skipped_result(NAME, f"none of {[str(p) for p in files.values()]} exists")
    for name in sorted(set(files) - set(present)):
        log.info("retrieval: %s skipped, %s not found", name, files[name])
    bad = BadRecords(NAME)
    sets = [load_set(name, p, limit, bad) for name, p in present.items()]
    refs = [r for s in sets for r in s.images]
    with encoding(model, preprocess, tokenizer, encoder, device, batch_size, num_workers, progress) as enc:
        features = encode_distinct(enc, refs, (c for s in sets for c in s.captions), cache)
    result = BenchmarkResult(NAME)
    dropped = 0
    for rset in sets:
        subsets, summary, n = score_set(rset, features)
        result.subsets.update(subsets)
        result.summary.update(summary)
        result.items += query_outcomes(rset, features)
        dropped += n
    report_images(result, features, refs, dropped + bad.count)
    return result
