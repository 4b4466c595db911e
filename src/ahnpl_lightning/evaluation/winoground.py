"""Winoground (Thrush et al., CVPR 2022): 400 examples of 2 images x 2 captions (REFERENCE.md section 4).

Layout: `<root>/winoground/examples.jsonl`, images `<root>/winoground/images/<image_k>.png`. With s(c, i) the score:
text = s(c0,i0) > s(c1,i0) and s(c1,i1) > s(c0,i1); image = s(c0,i0) > s(c0,i1) and s(c1,i1) > s(c1,i0);
group = text and image (strict: a tie is wrong). Subsets: `text`, `image`, `group`, and `<collapsed_tag>/<metric>`
for each collapsed tag (Object, Relation, Both). An example with a missing/corrupt image is not scored (counted).
World-split side-file key: the example's `id`. Per-item outcomes (`keep_items`): three per example, keys `<id>:text`,
`<id>:image`, `<id>:group`, subset the metric, category the collapsed tag.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
    accuracy,
    bench_dir,
    encode_distinct,
    encoding,
    item_outcome,
    load_split_map,
    pair_scores,
    put,
    record_split,
    report_images,
    skipped_result,
    with_world_splits,
)

NAME = "winoground"
METRICS = ("text", "image", "group")


@dataclass(frozen=True)
class WinogroundItem:
    """One example: images (i0, i1), captions (c0, c1), its collapsed tag and world split."""

    key: str
    images: tuple[ImageRef, ImageRef]
    captions: tuple[str, str]
    tag: str | None = None
    split: str | None = None


@dataclass(frozen=True)
class WinogroundScore:
    """An example's verdicts and its score matrix s[c][i]."""

    item: WinogroundItem
    text: bool
    image: bool
    scores: tuple[tuple[float, float], tuple[float, float]]

    @property
    def group(self) -> bool:
        """Both text and image correct."""
        return self.text and self.image


def verdicts(s: Sequence[Sequence[float]]) -> tuple[bool, bool]:
    """(text, image) correctness from the 2x2 score matrix s[caption][image], strict inequalities."""
    text = s[0][0] > s[1][0] and s[1][1] > s[0][1]
    image = s[0][0] > s[0][1] and s[1][1] > s[1][0]
    return bool(text), bool(image)


def load_items(
    data_root: str | Path, paths: Mapping[str, str] | None = None, limit: int | None = None,
    bad: BadRecords | None = None,
) -> list[WinogroundItem]:
    """Parse `examples.jsonl` (one JSON object per line)."""
    bad = bad or BadRecords(NAME)
    directory = bench_dir(data_root, NAME, paths)
    path = directory / "examples.jsonl"
    split_map = load_split_map(directory)
    items: list[WinogroundItem] = []
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                images = tuple(ImageRef(str(directory / "images" / f"{rec[k]}.png")) for k in ("image_0", "image_1"))
                captions = (str(rec["caption_0"]), str(rec["caption_1"]))
                key = str(rec["id"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                bad.add(f"{path}:{line_no}", repr(exc))
                continue
            tag = rec.get("collapsed_tag")
            items.append(WinogroundItem(key, images, captions, tag, record_split(rec, key, split_map)))  # type: ignore[arg-type]
            if limit is not None and len(items) >= limit:
                break
    return items


def score_items(items: Sequence[WinogroundItem], features: Features) -> tuple[list[WinogroundScore], int]:
    """Score examples whose two images loaded; returns (scores, number of examples skipped)."""
    usable = [it for it in items if all(features.status(r) == ImageStatus.OK for r in it.images)]
    if not usable:
        return [], len(items)
    img = torch.tensor([[features.image_index[r] for r in it.images] for it in usable])  # [N, 2]
    txt = torch.tensor([[features.text_index[c] for c in it.captions] for it in usable])  # [N, 2]
    s = pair_scores(features, img.unsqueeze(1).expand(-1, 2, -1), txt.unsqueeze(2).expand(-1, -1, 2))  # s[n, c, i]
    out = []
    for it, mat in zip(usable, s.tolist()):
        text, image = verdicts(mat)
        out.append(WinogroundScore(it, text, image, (tuple(mat[0]), tuple(mat[1]))))  # type: ignore[arg-type]
    return out, len(items) - len(usable)


def aggregate(scored: Sequence[WinogroundScore]) -> tuple[dict[str, Metric], dict[str, Metric]]:
    """text / image / group accuracy, overall and per collapsed tag (no summary beyond them)."""
    subsets: dict[str, Metric] = {}
    for m in METRICS:
        put(subsets, m, accuracy([getattr(s, m) for s in scored]))
    by_tag: dict[str, list[WinogroundScore]] = defaultdict(list)
    for s in scored:
        if s.item.tag is not None:
            by_tag[s.item.tag].append(s)
    for tag in sorted(by_tag):
        for m in METRICS:
            put(subsets, f"{tag}/{m}", accuracy([getattr(s, m) for s in by_tag[tag]]))
    return subsets, {}


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
    """Evaluate Winoground; skipped (not an error) when `examples.jsonl` is absent."""
    path = bench_dir(data_root, NAME, paths) / "examples.jsonl"
    if not path.is_file():
        return skipped_result(NAME, f"{path} not found")
    bad = BadRecords(NAME)
    items = load_items(data_root, paths, limit, bad)
    refs = [r for it in items for r in it.images]
    with encoding(model, preprocess, tokenizer, encoder, device, batch_size, num_workers, progress) as enc:
        features = encode_distinct(enc, refs, (c for it in items for c in it.captions), cache)
    scored, skipped = score_items(items, features)
    subsets, summary = with_world_splits(scored, aggregate)
    result = BenchmarkResult(NAME, subsets, summary)
    result.items = [
        item_outcome(f"{s.item.key}:{m}", m, s.item.split, getattr(s, m), s.item.tag) for s in scored for m in METRICS
    ]
    report_images(result, features, refs, skipped + bad.count)
    return result
