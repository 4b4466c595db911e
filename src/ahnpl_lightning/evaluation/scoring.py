"""The scoring core: encode each distinct image and caption once (sharded across DDP ranks), score, aggregate.

Scores are dot products of L2-normalised embeddings (docs/METHOD.md section 4). A benchmark (`benchmarks/`) turns its
files into items, and this module does the rest:

1. `encode_distinct` deduplicates images (key: path and crop box) and captions, shards the distinct lists across ranks
   without padding duplicates, encodes in batches, gathers, and normalises, so every rank holds identical features.
2. `score_choices` scores every (image, caption) pair once (identical captions give bit-identical scores, so a tie is a
   real tie) and applies the tie rule.
3. `with_world_splits` aggregates all items and again per world split; `BenchmarkResult` is one benchmark's figures
   plus what could not be scored.

No Lightning here (the callback lives apart): `import ahnpl_lightning.evaluation.scoring` stays cheap. The names of
the modules it is built from (items, metrics, encoders, files, distributed) are re-exported for convenience.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ahnpl_lightning.evaluation.distributed import encode_sharded, gather_rows, is_distributed, rank, shard_bounds
from ahnpl_lightning.evaluation.encoders import Encoder, ModelEncoder, encoding, eval_mode, load_image
from ahnpl_lightning.evaluation.files import (
    LOG_EXAMPLES,
    BadRecords,
    apply_limit,
    bench_dir,
    load_split_map,
    log,
    read_annotations,
    read_json,
    record_split,
    resolve_limit,
)
from ahnpl_lightning.evaluation.items import ChoiceItem, ImageRef, ImageStatus, ScoredItem
from ahnpl_lightning.evaluation.metrics import Metric, accuracy, item_outcome, macro, mean_of, metric, put
from ahnpl_lightning.evaluation.problems import (
    MALFORMED,
    MISSING_IMAGE,
    UNREADABLE_FILE,
    UNREADABLE_IMAGE,
    Problem,
)

SPLITS = ("in_distribution", "held_out")

__all__ = [
    "LOG_EXAMPLES", "SPLITS", "Aggregator", "BadRecords", "BenchmarkResult", "ChoiceItem", "Encoder", "FeatureCache",
    "Features", "ImageRef", "ImageStatus", "Metric", "ModelEncoder", "Problem", "ScoredItem", "accuracy", "apply_limit",
    "bench_dir", "encode_distinct", "encoding", "eval_mode", "gather_rows", "item_outcome", "load_image",
    "load_split_map", "macro", "mean_of", "metric", "pair_scores", "put", "read_annotations", "read_json",
    "record_split", "report_images", "resolve_limit", "score_choices", "shard_bounds", "skipped_result",
    "with_world_splits",
]


PROBLEMS_SHOWN = 50  # problems listed one by one in a result JSON (all are counted)


@dataclass
class BenchmarkResult:
    """One benchmark's numbers plus what could not be scored; `skipped` names why the whole benchmark did not run.

    `skipped_items` counts every item lost: malformed records, all records of unreadable files (estimated when such
    a file does not parse: `skipped_estimated`), and items whose image is missing or unreadable. `problems` says
    where; `measures` says, per figure, what its value measures and what its `count` counts; `notes` explain
    figures that are absent or restricted (e.g. a category threshold)."""

    name: str
    subsets: dict[str, Metric] = field(default_factory=dict)
    summary: dict[str, Metric] = field(default_factory=dict)
    missing_images: int = 0
    corrupt_images: int = 0
    skipped_items: int = 0
    skipped: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped_estimated: bool = False
    measures: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    absent_files: list[str] = field(default_factory=list)

    @property
    def unreadable_files(self) -> list[str]:
        """Files that could not be used at all."""
        return [p.location for p in self.problems if p.kind == UNREADABLE_FILE]

    def unscored(self) -> dict[str, int]:
        """The items lost, by cause."""
        by_kind = {kind: sum(p.items for p in self.problems if p.kind == kind)
                   for kind in (MALFORMED, UNREADABLE_FILE, MISSING_IMAGE, UNREADABLE_IMAGE)}
        return {"malformed_records": by_kind[MALFORMED], "in_unreadable_files": by_kind[UNREADABLE_FILE],
                "missing_image": by_kind[MISSING_IMAGE], "unreadable_image": by_kind[UNREADABLE_IMAGE]}

    def to_dict(self, keep_items: bool = False) -> dict[str, Any]:
        """The JSON shape `{"subsets", "summary", "missing_images", "corrupt_images", "skipped_items"}` plus what the
        figures mean and what was lost (`measures`, `notes`, `unscored`, `problems`, ...), and the per-item outcomes
        `"items"` when `keep_items` (see `metrics.item_outcome`)."""
        order = {UNREADABLE_FILE: 0, MALFORMED: 1, MISSING_IMAGE: 2, UNREADABLE_IMAGE: 3}
        problems = sorted(self.problems, key=lambda p: order.get(p.kind, 4))
        out: dict[str, Any] = {
            "subsets": self.subsets,
            "summary": self.summary,
            "missing_images": self.missing_images,
            "corrupt_images": self.corrupt_images,
            "unreadable_images": self.corrupt_images,  # the clearer name of `corrupt_images`
            "skipped_items": self.skipped_items,
            "skipped_items_estimated": self.skipped_estimated,
            "unscored": self.unscored(),
            "unreadable_files": self.unreadable_files,
            "absent_files": self.absent_files,
            "measures": self.measures,
            "notes": self.notes,
            "problems": [p.to_dict() for p in problems[:PROBLEMS_SHOWN]],
            "problems_total": len(problems),
        }
        if keep_items:
            out["items"] = self.items
        return out


def skipped_result(name: str, reason: str) -> BenchmarkResult:
    """A benchmark that did not run (its folder is absent): one clear log line, no error."""
    if rank() == 0:
        log.warning("skipping benchmark %s: %s", name, reason)
    return BenchmarkResult(name, skipped=reason)


# ----------------------------------------------------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------------------------------------------------
@dataclass
class Features:
    """Normalised features of the distinct images and captions of one evaluation, identical on every rank."""

    image_index: dict[ImageRef, int]
    image_features: Tensor
    image_status: Tensor
    text_index: dict[str, int]
    text_features: Tensor
    encoded_images: int = 0  # how many images this call actually encoded (cache misses)
    encoded_texts: int = 0

    def status(self, ref: ImageRef) -> ImageStatus:
        """Load status of one image."""
        return ImageStatus(int(self.image_status[self.image_index[ref]]))

    def count_status(self, refs: Iterable[ImageRef], status: ImageStatus) -> int:
        """How many of the distinct `refs` have this status."""
        return sum(1 for ref in set(refs) if self.status(ref) == status)


class FeatureCache:
    """Features already encoded in this evaluation (shared across benchmarks: COCO-Order and retrieval share images)."""

    def __init__(self) -> None:
        self.images: dict[ImageRef, tuple[Tensor, int]] = {}
        self.texts: dict[str, Tensor] = {}


def _fix_dim(features: Tensor, n: int) -> Tensor:
    """Check an encoder's output is [n, D] (D may be 0 when nothing could be encoded)."""
    if features.dim() != 2 or features.shape[0] != n:
        raise ValueError(f"encoder returned features of shape {tuple(features.shape)} for {n} inputs, not [{n}, D]")
    return features


def _encode_images_checked(encoder: Encoder, refs: list[ImageRef]) -> tuple[Tensor, Tensor]:
    feats, status = encoder.encode_images(refs)
    return _fix_dim(feats, len(refs)), status.long().view(-1)


def encode_distinct(
    encoder: Encoder,
    images: Iterable[ImageRef],
    texts: Iterable[str],
    cache: FeatureCache | None = None,
) -> Features:
    """Encode each distinct image and caption once: shard across DDP ranks (no duplicates), gather, normalise.

    Every rank returns the same `Features`; with a `cache`, entries encoded earlier in this evaluation are reused."""
    cache = cache if cache is not None else FeatureCache()
    distinct_images = list(dict.fromkeys(images))
    distinct_texts = list(dict.fromkeys(texts))
    todo_images = [r for r in distinct_images if r not in cache.images]
    todo_texts = [t for t in distinct_texts if t not in cache.texts]

    if todo_images:
        feats, status = encode_sharded(lambda refs: _encode_images_checked(encoder, refs), todo_images)
        if is_distributed():
            status = gather_rows(status.view(-1, 1)).view(-1)
            feats = gather_rows(feats)
        feats = torch.nn.functional.normalize(feats.float(), dim=-1) if feats.shape[1] else feats
        for i, ref in enumerate(todo_images):
            cache.images[ref] = (feats[i], int(status[i]))
    if todo_texts:
        tfeats = encode_sharded(lambda txt: _fix_dim(encoder.encode_texts(txt), len(txt)), todo_texts)
        if is_distributed():
            tfeats = gather_rows(tfeats)
        tfeats = torch.nn.functional.normalize(tfeats.float(), dim=-1)
        for i, text in enumerate(todo_texts):
            cache.texts[text] = tfeats[i]

    text_dim = cache.texts[distinct_texts[0]].shape[0] if distinct_texts else 0
    image_rows = [cache.images[r][0] for r in distinct_images]
    dim = max([text_dim] + [row.shape[0] for row in image_rows])
    image_features = torch.stack(
        [row if row.shape[0] == dim else torch.zeros(dim) for row in image_rows]
    ) if image_rows else torch.zeros(0, dim)
    return Features(
        image_index={r: i for i, r in enumerate(distinct_images)},
        image_features=image_features,
        image_status=torch.tensor([cache.images[r][1] for r in distinct_images], dtype=torch.long),
        text_index={t: i for i, t in enumerate(distinct_texts)},
        text_features=torch.stack([cache.texts[t] for t in distinct_texts]) if distinct_texts else torch.zeros(0, dim),
        encoded_images=len(todo_images),
        encoded_texts=len(todo_texts),
    )


# ----------------------------------------------------------------------------------------------------------------------
# Scoring and aggregation
# ----------------------------------------------------------------------------------------------------------------------
def pair_scores(features: Features, image_idx: Tensor, text_idx: Tensor) -> Tensor:
    """Dot products for (image, text) index pairs of any shape; each distinct pair is computed once, so equal pairs
    (e.g. two identical captions) get bit-identical scores."""
    flat = torch.stack([image_idx.reshape(-1), text_idx.reshape(-1)])
    if flat.shape[1] == 0:
        return torch.zeros(image_idx.shape)
    unique, inverse = torch.unique(flat, dim=1, return_inverse=True)
    scores = (features.image_features[unique[0]] * features.text_features[unique[1]]).sum(-1)
    return scores[inverse].reshape(image_idx.shape)


def score_choices(
    items: Sequence[ChoiceItem], features: Features, tie_correct: bool = False
) -> tuple[list[ScoredItem], list[ChoiceItem]]:
    """Score items whose image loaded: correct iff option 0 beats every other option (strictly, unless
    `tie_correct`). Returns (scored items, items skipped for a missing or corrupt image)."""
    usable = [it for it in items if features.status(it.image) == ImageStatus.OK]
    skipped = [it for it in items if features.status(it.image) != ImageStatus.OK]
    scored: list[ScoredItem] = []
    by_arity: dict[int, list[ChoiceItem]] = defaultdict(list)
    for it in usable:
        by_arity[len(it.options)].append(it)
    for arity, group in by_arity.items():
        img = torch.tensor([features.image_index[it.image] for it in group]).unsqueeze(1).expand(-1, arity)
        txt = torch.tensor([[features.text_index[o] for o in it.options] for it in group])
        scores = pair_scores(features, img, txt)
        best_other = scores[:, 1:].max(dim=1).values
        correct = scores[:, 0] >= best_other if tie_correct else scores[:, 0] > best_other
        scored.extend(
            ScoredItem(it, bool(c), tuple(s.tolist())) for it, c, s in zip(group, correct.tolist(), scores)
        )
    return scored, skipped


Aggregator = Callable[[Sequence[Any]], tuple[dict[str, Metric], dict[str, Metric]]]


def with_world_splits(
    scored: Sequence[Any],
    aggregate: Aggregator,
    split_of: Callable[[Any], str | None] = lambda s: s.item.split,
) -> tuple[dict[str, Metric], dict[str, Metric]]:
    """Aggregate all items, then again per world split (when items carry one), adding `<name>@<split>` entries."""
    subsets, summary = aggregate(scored)
    for split in sorted({split_of(s) for s in scored} - {None}):
        sub_subsets, sub_summary = aggregate([s for s in scored if split_of(s) == split])
        subsets.update({f"{k}@{split}": v for k, v in sub_subsets.items()})
        summary.update({f"{k}@{split}": v for k, v in sub_summary.items()})
    return subsets, summary


def report_images(
    result: BenchmarkResult, features: Features, refs: Sequence[ImageRef], skipped_items: int,
    uses: Mapping[ImageRef, int] | None = None,
) -> None:
    """Fill in missing/unreadable image counts, add each such image to `result.problems` (with the number of items
    showing it, from `uses`) and log a few (never silent); `skipped_items` is the total of items not scored."""
    refs = list(dict.fromkeys(refs))
    uses = uses or {}
    result.missing_images = features.count_status(refs, ImageStatus.MISSING)
    result.corrupt_images = features.count_status(refs, ImageStatus.CORRUPT)
    result.skipped_items = skipped_items
    for status, kind, error in ((ImageStatus.MISSING, MISSING_IMAGE, "no such file"),
                                (ImageStatus.CORRUPT, UNREADABLE_IMAGE, "cannot be decoded or cropped")):
        bad = [r for r in refs if features.status(r) == status]
        result.problems += [Problem(kind, r.path + (f" crop {r.bbox}" if r.bbox else ""), error, uses.get(r, 1))
                            for r in bad]
        if bad and rank() == 0:
            log.warning("%s: %d %s image(s), e.g. %s", result.name, len(bad), kind.split("_")[0],
                        [r.path for r in bad[:LOG_EXAMPLES]])
    if skipped_items and rank() == 0:
        log.warning("%s: %d item(s) not scored (missing/unreadable image, malformed record or unreadable file)",
                    result.name, skipped_items)
