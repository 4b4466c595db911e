"""Shared scoring core: encode each distinct image and caption once (sharded across DDP ranks), score, aggregate.

Scores are dot products of L2-normalised embeddings (REFERENCE.md section 4). Every benchmark module turns its files
into `ChoiceItem`s (one image, caption options, option 0 correct) or a retrieval set, and this module does the rest:

1. `encode_distinct` deduplicates images (key: path and crop box) and captions, shards the distinct lists across ranks
   without padding duplicates, encodes in batches, gathers, and normalises, so every rank holds identical features.
2. `score_choices` scores every (image, caption) pair once (identical captions give bit-identical scores, so a tie is a
   real tie) and applies the tie rule.
3. Aggregation helpers (`accuracy`, `macro`, `mean_of`) build `{"accuracy": float, "count": int}` metrics.

An `Encoder` is pluggable: `ModelEncoder` wraps an open_clip model; tests plug in encoders with known embeddings.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

Metric = dict[str, Any]  # {"accuracy": float, "count": int}
SPLITS = ("in_distribution", "held_out")
LOG_EXAMPLES = 5  # how many missing/corrupt paths or bad records a warning names


# ----------------------------------------------------------------------------------------------------------------------
# Items and results
# ----------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageRef:
    """A distinct image to encode: its file and an optional crop box (x, y, w, h) applied before preprocessing."""

    path: str
    bbox: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class ChoiceItem:
    """One image and its caption options; option 0 is the correct one (benchmarks reorder their files to this)."""

    image: ImageRef
    options: tuple[str, ...]
    subset: str
    category: str | None = None
    split: str | None = None
    key: str = ""


@dataclass(frozen=True)
class ScoredItem:
    """A `ChoiceItem` with its verdict and option scores."""

    item: ChoiceItem
    correct: bool
    scores: tuple[float, ...]


@dataclass
class BenchmarkResult:
    """One benchmark's numbers plus what could not be scored; `skipped` names why the whole benchmark did not run."""

    name: str
    subsets: dict[str, Metric] = field(default_factory=dict)
    summary: dict[str, Metric] = field(default_factory=dict)
    missing_images: int = 0
    corrupt_images: int = 0
    skipped_items: int = 0
    skipped: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self, keep_items: bool = False) -> dict[str, Any]:
        """The JSON shape `{"subsets", "summary", "missing_images", "corrupt_images", "skipped_items"}`, plus the
        per-item outcomes `"items"` when `keep_items` (see `item_outcome`)."""
        out: dict[str, Any] = {
            "subsets": self.subsets,
            "summary": self.summary,
            "missing_images": self.missing_images,
            "corrupt_images": self.corrupt_images,
            "skipped_items": self.skipped_items,
        }
        if keep_items:
            out["items"] = self.items
        return out

    def flat_metrics(self) -> dict[str, float]:
        """`{subset_or_summary_name: accuracy}` for logging (`eval/<benchmark>/<name>`)."""
        out = {name: float(m["accuracy"]) for name, m in self.subsets.items()}
        out.update({name: float(m["accuracy"]) for name, m in self.summary.items()})
        return out


def item_outcome(
    key: str, subset: str, split: str | None, correct: bool, category: str | None = None
) -> dict[str, Any]:
    """One scored item for paired comparisons across runs: `key` is stable (built from the file's own ids), unique
    within its benchmark; `correct` is its verdict under the benchmark's rule; items not scored are left out."""
    return {"key": key, "subset": subset, "split": split, "correct": bool(correct), "category": category}


class ImageStatus(IntEnum):
    """Outcome of loading one image."""

    OK = 0
    MISSING = 1
    CORRUPT = 2


# ----------------------------------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------------------------------
def metric(accuracy: float, count: int) -> Metric:
    """The metric record used everywhere in results."""
    return {"accuracy": float(accuracy), "count": int(count)}


def accuracy(flags: Sequence[bool]) -> Metric | None:
    """Pooled accuracy over items; None when there are no items."""
    if not flags:
        return None
    return metric(sum(bool(f) for f in flags) / len(flags), len(flags))


def macro(groups: Mapping[str, Sequence[bool]], min_count: int = 1) -> Metric | None:
    """Mean of per-group accuracies over groups with >= min_count items; count = items in those groups."""
    kept = [flags for flags in groups.values() if len(flags) >= max(min_count, 1)]
    if not kept:
        return None
    accs = [sum(map(bool, flags)) / len(flags) for flags in kept]
    return metric(sum(accs) / len(accs), sum(len(f) for f in kept))


def mean_of(metrics: Iterable[Metric | None]) -> Metric | None:
    """Unweighted mean of metrics (those present); count = their summed counts."""
    present = [m for m in metrics if m is not None]
    if not present:
        return None
    return metric(sum(m["accuracy"] for m in present) / len(present), sum(m["count"] for m in present))


def put(target: dict[str, Metric], name: str, value: Metric | None) -> None:
    """Store a metric unless it could not be computed (no items)."""
    if value is not None:
        target[name] = value


# ----------------------------------------------------------------------------------------------------------------------
# Encoders
# ----------------------------------------------------------------------------------------------------------------------
class Encoder(Protocol):
    """Turns images and captions into (unnormalised) embeddings; images also report an `ImageStatus` each."""

    def encode_images(self, refs: Sequence[ImageRef]) -> tuple[Tensor, Tensor]:
        """Return features [N, D] (rows of unusable images arbitrary, D may be 0 if none loads) and status [N]."""
        ...

    def encode_texts(self, texts: Sequence[str]) -> Tensor:
        """Return features [N, D]."""
        ...


def load_image(ref: ImageRef) -> tuple[Image.Image | None, ImageStatus]:
    """Open an image as RGB and crop it to `ref.bbox` (x, y, w, h); report missing or unreadable files."""
    path = Path(ref.path)
    if not path.is_file():
        return None, ImageStatus.MISSING
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
        if ref.bbox is not None:
            x, y, w, h = ref.bbox
            img = img.crop((x, y, x + w, y + h))
        return img, ImageStatus.OK
    except Exception:  # noqa: BLE001 - any decoding failure means a corrupt file
        return None, ImageStatus.CORRUPT


class _ImageDataset(Dataset):
    """Loads and preprocesses images by index; a failure yields (index, None, status) instead of raising."""

    def __init__(self, refs: Sequence[ImageRef], preprocess: Callable[[Image.Image], Tensor]) -> None:
        self.refs = list(refs)
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int) -> tuple[int, Tensor | None, int]:
        img, status = load_image(self.refs[index])
        if img is None:
            return index, None, int(status)
        try:
            return index, self.preprocess(img), int(ImageStatus.OK)
        except Exception:  # noqa: BLE001 - e.g. an empty crop the transform cannot resize
            return index, None, int(ImageStatus.CORRUPT)


def _collate(batch: list[tuple[int, Tensor | None, int]]) -> tuple[Tensor, Tensor | None, Tensor]:
    ok = [(i, t) for i, t, s in batch if t is not None]
    indices = torch.tensor([i for i, _ in ok], dtype=torch.long)
    images = torch.stack([t for _, t in ok]) if ok else None
    status = torch.tensor([[i, s] for i, _, s in batch], dtype=torch.long)
    return indices, images, status


class ModelEncoder:
    """Batched encoding with an open_clip model, its val preprocess and tokenizer (images via a DataLoader)."""

    def __init__(
        self,
        model: nn.Module,
        preprocess: Callable[[Image.Image], Tensor],
        tokenizer: Callable[[list[str]], Tensor],
        device: str | torch.device | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        progress: bool = True,
    ) -> None:
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = torch.device(device) if device is not None else _model_device(model)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.progress = progress and _rank() == 0

    @torch.no_grad()
    def encode_images(self, refs: Sequence[ImageRef]) -> tuple[Tensor, Tensor]:
        """Encode images batch by batch; unusable ones keep a zero row and their status."""
        status = torch.full((len(refs),), int(ImageStatus.OK), dtype=torch.long)
        rows: list[tuple[Tensor, Tensor]] = []
        loader = DataLoader(
            _ImageDataset(refs, self.preprocess),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            collate_fn=_collate,
        )
        for indices, images, batch_status in tqdm(loader, desc="encode images", disable=not self.progress):
            status[batch_status[:, 0]] = batch_status[:, 1]
            if images is not None:
                feats = self.model.encode_image(images.to(self.device, dtype=self._dtype(), non_blocking=True))
                rows.append((indices, feats.float().cpu()))
        dim = rows[0][1].shape[1] if rows else 0
        features = torch.zeros(len(refs), dim)
        for indices, feats in rows:
            features[indices] = feats
        return features, status

    def _dtype(self) -> torch.dtype:
        """Floating dtype of the model's weights (images are cast to it, e.g. for bf16-true training)."""
        return next((p.dtype for p in self.model.parameters() if p.is_floating_point()), torch.float32)

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str]) -> Tensor:
        """Tokenise and encode captions in batches."""
        chunks = [list(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        feats = [
            self.model.encode_text(self.tokenizer(chunk).to(self.device)).float().cpu()
            for chunk in tqdm(chunks, desc="encode captions", disable=not self.progress)
        ]
        return torch.cat(feats) if feats else torch.zeros(0, 0)


def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Put a model in eval mode for the duration, then restore its training flag (the callback runs inside fit)."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


# ----------------------------------------------------------------------------------------------------------------------
# Distributed helpers
# ----------------------------------------------------------------------------------------------------------------------
def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """Contiguous, non-overlapping shard [start, end) of n items for `rank`; shards differ in size by at most one."""
    return n * rank // world_size, n * (rank + 1) // world_size


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def gather_rows(local: Tensor) -> Tensor:
    """All-gather 2-D shards of different lengths in rank order (padding only for transport, then cut off)."""
    world = dist.get_world_size()
    dev = _comm_device()
    shape = torch.tensor([local.shape[0], local.shape[1]], device=dev)
    shapes = [torch.zeros_like(shape) for _ in range(world)]
    dist.all_gather(shapes, shape)
    lengths = [int(s[0]) for s in shapes]
    dim = max(int(s[1]) for s in shapes)
    padded = torch.zeros(max(lengths), dim, dtype=local.dtype, device=dev)
    if local.shape[1] == dim:
        padded[: local.shape[0]] = local.to(dev)
    gathered = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded)
    return torch.cat([g[:n] for g, n in zip(gathered, lengths)]).cpu()


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


def _encode_sharded(encode: Callable[[list[Any]], Any], todo: list[Any]) -> Any:
    if not _distributed():
        return encode(todo)
    start, end = shard_bounds(len(todo), dist.get_rank(), dist.get_world_size())
    return encode(todo[start:end])


def _fix_dim(features: Tensor, n: int) -> Tensor:
    """Check an encoder's output is [n, D] (D may be 0 when nothing could be encoded)."""
    if features.dim() != 2 or features.shape[0] != n:
        raise ValueError(f"encoder returned features of shape {tuple(features.shape)} for {n} inputs, not [{n}, D]")
    return features


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
        feats, status = _encode_sharded(lambda refs: _encode_images_checked(encoder, refs), todo_images)
        if _distributed():
            status = gather_rows(status.view(-1, 1)).view(-1)
            feats = gather_rows(feats)
        feats = torch.nn.functional.normalize(feats.float(), dim=-1) if feats.shape[1] else feats
        for i, ref in enumerate(todo_images):
            cache.images[ref] = (feats[i], int(status[i]))
    if todo_texts:
        tfeats = _encode_sharded(lambda txt: _fix_dim(encoder.encode_texts(txt), len(txt)), todo_texts)
        if _distributed():
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


def _encode_images_checked(encoder: Encoder, refs: list[ImageRef]) -> tuple[Tensor, Tensor]:
    feats, status = encoder.encode_images(refs)
    return _fix_dim(feats, len(refs)), status.long().view(-1)


# ----------------------------------------------------------------------------------------------------------------------
# Scoring
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


def run_choice_benchmark(
    name: str,
    items: Sequence[ChoiceItem],
    aggregate: Aggregator,
    encoder: Encoder,
    tie_correct: Callable[[ChoiceItem], bool] = lambda item: False,
    bad_records: int = 0,
    cache: FeatureCache | None = None,
) -> BenchmarkResult:
    """Encode, score and aggregate a list of choice items; report missing/corrupt images and skipped items."""
    features = encode_distinct(encoder, (it.image for it in items), (o for it in items for o in it.options), cache)
    scored: list[ScoredItem] = []
    skipped: list[ChoiceItem] = []
    lenient = [it for it in items if tie_correct(it)]
    strict = [it for it in items if not tie_correct(it)]
    for group, rule in ((strict, False), (lenient, True)):
        s, k = score_choices(group, features, tie_correct=rule)
        scored += s
        skipped += k
    subsets, summary = with_world_splits(scored, aggregate)
    result = BenchmarkResult(name, subsets, summary)
    position = {id(it): i for i, it in enumerate(items)}
    result.items = [
        item_outcome(s.item.key, s.item.subset, s.item.split, s.correct, s.item.category)
        for s in sorted(scored, key=lambda s: position[id(s.item)])
    ]
    report_images(result, features, [it.image for it in items], len(skipped) + bad_records)
    return result


def report_images(result: BenchmarkResult, features: Features, refs: Sequence[ImageRef], skipped_items: int) -> None:
    """Fill in missing/corrupt image counts and log where they are (never silent)."""
    refs = list(dict.fromkeys(refs))
    result.missing_images = features.count_status(refs, ImageStatus.MISSING)
    result.corrupt_images = features.count_status(refs, ImageStatus.CORRUPT)
    result.skipped_items = skipped_items
    for status, count in ((ImageStatus.MISSING, result.missing_images), (ImageStatus.CORRUPT, result.corrupt_images)):
        if count and _rank() == 0:
            examples = [r.path for r in refs if features.status(r) == status][:LOG_EXAMPLES]
            log.warning("%s: %d %s image(s), e.g. %s", result.name, count, status.name.lower(), examples)
    if skipped_items and _rank() == 0:
        log.warning("%s: %d item(s) not scored (missing/corrupt image or malformed record)", result.name, skipped_items)


# ----------------------------------------------------------------------------------------------------------------------
# Files, paths, splits
# ----------------------------------------------------------------------------------------------------------------------
def bench_dir(data_root: str | Path, key: str, paths: Mapping[str, str] | None = None) -> Path:
    """`<data_root>/<key>` unless `paths[key]` overrides it (overrides are plain folder paths, settable in YAML)."""
    if paths and paths.get(key):
        return Path(paths[key])
    return Path(data_root) / key


def read_json(path: Path) -> Any:
    """Load a JSON file (utf-8)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def read_annotations(path: Path, expected: type, bad: BadRecords) -> Any:
    """An annotation file that must hold a JSON `expected` (list or dict); an unreadable or mistyped file is counted
    as one bad record and read as empty, so one broken file does not stop the evaluation."""
    try:
        data = read_json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        bad.add(str(path), repr(exc))
        return expected()
    if not isinstance(data, expected):
        bad.add(str(path), f"expected a JSON {expected.__name__}, got {type(data).__name__}")
        return expected()
    return data


def load_split_map(directory: Path) -> dict[str, str]:
    """The optional side file `<bench>/world_split.json` mapping item key -> split (empty when absent)."""
    path = directory / "world_split.json"
    if not path.is_file():
        return {}
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object mapping item key -> split, got {type(data).__name__}")
    return {str(k): str(v) for k, v in data.items()}


def record_split(record: Any, key: str, split_map: Mapping[str, str]) -> str | None:
    """A record's world split: its own `world_split` field, else the side file's entry for `key`, else None."""
    if isinstance(record, dict) and record.get("world_split") is not None:
        return str(record["world_split"])
    return split_map.get(key)


def apply_limit(items: list[Any], limit: int | None) -> list[Any]:
    """First `limit` items (quick runs); all when limit is None."""
    return items if limit is None else items[: max(limit, 0)]


def resolve_limit(limit: int | Mapping[str, int] | None, name: str) -> int | None:
    """A limit given for all benchmarks (int) or per benchmark name (mapping)."""
    if isinstance(limit, Mapping):
        value = limit.get(name)
        return None if value is None else int(value)
    return limit


class BadRecords:
    """Counts malformed annotation records and logs the first few with their location."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    def add(self, location: str, error: Exception | str) -> None:
        """Record one bad record found at `location` (file and key/index)."""
        self.count += 1
        if self.count <= LOG_EXAMPLES and _rank() == 0:
            log.warning("%s: skipping malformed record at %s: %s", self.name, location, error)


def skipped_result(name: str, reason: str) -> BenchmarkResult:
    """A benchmark that did not run (its folder is absent): one clear log line, no error."""
    if _rank() == 0:
        log.warning("skipping benchmark %s: %s", name, reason)
    return BenchmarkResult(name, skipped=reason)


@contextmanager
def encoding(
    model: nn.Module | None,
    preprocess: Callable[[Image.Image], Tensor] | None,
    tokenizer: Callable[[list[str]], Tensor] | None,
    encoder: Encoder | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = True,
) -> Iterator[Encoder]:
    """The encoder a benchmark uses (`encoder` if given, else a `ModelEncoder`), with the model in eval mode."""
    if encoder is None:
        if model is None or preprocess is None or tokenizer is None:
            raise ValueError("pass either an `encoder` or a `model`, `preprocess` and `tokenizer`")
        encoder = ModelEncoder(model, preprocess, tokenizer, device, batch_size, num_workers, progress)
    if model is None:
        yield encoder
        return
    with eval_mode(model):
        yield encoder
