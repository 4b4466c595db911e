"""Caption sources: where (image, caption, hard negatives) samples come from. One class per source, one interface.

A source builds map-style datasets whose items are dicts:
`image` (PIL image), `caption` (str), `negatives` (dict type -> str | None), `location` (str "file:row N", for error
reports) and, where the source has them, `image_negatives` (list aligned with the negative types) with
`image_negatives_valid` (list of bool: the world's counterfactual renders), or `neg_images` / `neg_image_captions`
(NegCLIP's hard-negative images: other rows of the same file, and their titles). `issues` lists (kind, location)
problems of an otherwise usable item (e.g. a missing hard-negative image).
A sample that cannot be read is returned as `{"skipped": kind, "location": ...}` so it is counted, never lost silently.

File sources (COCO, Karpathy/BLIP, NegCLIP TSV, the authors' `.npy`, CSV/TSV/JSONL) read their annotations with
`formats.read_captions` (REFERENCE.md section 4, "Training sources"); rows malformed at read time are reported by
`issues()` with their locations. Their text hard negatives come from the negatives cache (`negatives="cache"`, built
on first use with `negatives.build_negatives_cache`), from the file's own negative columns (`"source"`), or not at all
(`"none"`).
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from ahnpl_lightning.data.formats import CaptionRecord, ReadReport, read_captions
from ahnpl_lightning.data.negatives import NEGATIVE_TYPES

NegativesMode = Literal["cache", "source", "none"]
#: Above this many strings (captions x (1 + K)) the DataModule tokenises per sample instead of up front (auto mode):
#: open_clip's tokenizer runs at about 0.2 ms per string on one core, so this bounds setup to about 40 s.
PRETOKENIZE_LIMIT = 200_000


class CaptionSource(ABC):
    """Base class of the DataModule's `source` argument (chosen by `class_path` in YAML)."""

    has_image_negatives: bool = False

    def check(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Raise `FileNotFoundError` naming each missing input and what was expected there."""

    def prepare(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Download-free preparation done once per node (e.g. building a negatives cache)."""

    @abstractmethod
    def train_dataset(self) -> Dataset[dict[str, Any]]:
        """The training samples."""

    def val_dataset(self) -> Dataset[dict[str, Any]] | None:
        """Held-out samples for validation loss and in-batch accuracy, if the source has them."""
        return None

    def issues(self) -> dict[str, list[str]]:
        """Rows found unusable while building the datasets: kind -> locations (reported once at setup)."""
        return {}


class WorldSource(CaptionSource):
    """The synthetic compositional world (the default): captions always true, negatives verified false."""

    has_image_negatives = True

    def __init__(
        self,
        train_size: int = 8192,
        val_size: int = 512,
        image_size: int = 64,
        seed: int = 0,
        image_negatives: bool = False,
    ) -> None:
        self.train_size = train_size
        self.val_size = val_size
        self.image_size = image_size
        self.seed = seed
        self.image_negatives = image_negatives

    def _world(self) -> Any:
        from ahnpl_lightning.data.world import World

        return World(image_size=self.image_size, seed=self.seed)

    def train_dataset(self) -> Dataset[dict[str, Any]]:
        from ahnpl_lightning.data.world import WorldDataset

        return WorldDataset(self._world(), self.train_size, split="train", image_negatives=self.image_negatives)

    def val_dataset(self) -> Dataset[dict[str, Any]] | None:
        if self.val_size <= 0:
            return None
        from ahnpl_lightning.data.world import WorldDataset

        return WorldDataset(self._world(), self.val_size, split="val", image_negatives=self.image_negatives)


# --- images --------------------------------------------------------------------------------------------------------
def load_image(root: Path, relative: str | None) -> Image.Image | str:
    """The RGB image at `root / relative`, or the skip kind: `missing_image_path`, `missing_image`, `corrupt_image`."""
    if not relative:
        return "missing_image_path"
    path = root / relative
    if not path.is_file():
        return "missing_image"
    try:
        with Image.open(path) as image:
            return image.convert("RGB")  # forces the full decode, so truncated files fail here
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return "corrupt_image"


# --- tokens --------------------------------------------------------------------------------------------------------
def tokenize_table(
    tokenizer: Callable[[list[str]], Tensor], texts: Sequence[str | None], chunk: int = 4096
) -> tuple[np.ndarray, int]:
    """Tokenise `texts` once into a compact array [N, L'] (L' = longest real sequence; None -> all-zero row).

    Stored as uint16 when every token id fits (open_clip's BPE vocabulary has 49,408 ids), else int32; returns the
    array and the tokenizer's full context length, to pad rows back at load time.
    """
    index = [i for i, t in enumerate(texts) if t is not None]
    rows: list[Tensor] = []
    context = 0
    for start in range(0, len(index), chunk):
        batch = tokenizer([texts[i] for i in index[start:start + chunk]])  # type: ignore[misc]
        context = batch.shape[1]
        rows.append(batch)
    if not rows:
        context = int(tokenizer([""]).shape[1])
        return np.zeros((len(texts), 1), dtype=np.uint16), context
    tokens = torch.cat(rows)
    used = (tokens != 0).any(dim=0).nonzero()
    width = int(used.max()) + 1 if used.numel() else 1
    dtype = np.uint16 if int(tokens.max()) < 2**16 and int(tokens.min()) >= 0 else np.int32
    out = np.zeros((len(texts), width), dtype=dtype)
    out[np.asarray(index, dtype=np.int64)] = tokens[:, :width].numpy().astype(dtype)
    return out, context


def _row_tokens(table: np.ndarray, rows: Any, context: int) -> Tensor:
    """Rows of a `tokenize_table` array as int64 tokens padded back to `context` columns."""
    part = torch.from_numpy(np.asarray(table[rows], dtype=np.int64))
    pad = [0, context - part.shape[-1]]
    return torch.nn.functional.pad(part, pad)


class RecordDataset(Dataset[dict[str, Any]]):
    """Samples from `CaptionRecord`s: the image under `image_root`, the caption and its text negatives.

    `negatives[i]` maps each type to a text or None. `neg_image_rows[i]` (NegCLIP) lists the dataset positions of
    the rows whose images are sample i's hard-negative images (None: index out of range, already reported by the
    source). `pretokenize` replaces per-sample tokenisation by one pass over the whole table.
    """

    def __init__(
        self,
        records: Sequence[CaptionRecord],
        image_root: str | Path,
        negatives: Sequence[dict[str, str | None]],
        image_paths: Sequence[str | None] | None = None,
        neg_image_rows: Sequence[Sequence[int | None]] | None = None,
    ) -> None:
        if len(negatives) != len(records):
            raise ValueError(f"{len(negatives)} negative rows for {len(records)} records")
        self.records = list(records)
        self.image_root = Path(image_root)
        self.negatives = list(negatives)
        self.image_paths = list(image_paths) if image_paths is not None else [r.image_path for r in self.records]
        self.neg_image_rows = [list(r) for r in neg_image_rows] if neg_image_rows is not None else None
        self.tokens: np.ndarray | None = None  # [N, 1 + K, L'] after pretokenize
        self.context = 0
        self.negative_types: tuple[str, ...] = NEGATIVE_TYPES

    def __len__(self) -> int:
        return len(self.records)

    def pretokenize(self, tokenizer: Callable[[list[str]], Tensor], negative_types: Sequence[str]) -> None:
        """Tokenise every caption and negative once (an array [N, 1 + K, L'], uint16 for open_clip's BPE)."""
        self.negative_types = tuple(negative_types)
        texts: list[str | None] = []
        for record, negs in zip(self.records, self.negatives):
            texts.append(record.caption)
            texts.extend(negs.get(t) for t in self.negative_types)
        table, self.context = tokenize_table(tokenizer, texts)
        self.tokens = table.reshape(len(self.records), 1 + len(self.negative_types), -1)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        image = load_image(self.image_root, self.image_paths[index])
        if isinstance(image, str):
            where = self.image_root / (self.image_paths[index] or "")
            return {"skipped": image, "location": f"{record.location} ({where})"}
        item: dict[str, Any] = {
            "image": image,
            "caption": record.caption,
            "negatives": self.negatives[index],
            "location": record.location,
        }
        if self.tokens is not None:
            tokens = _row_tokens(self.tokens, index, self.context)
            item["caption_tokens"] = tokens[0]
            item["negative_tokens"] = tokens[1:]
        if self.neg_image_rows is not None:
            self._add_image_negatives(item, self.neg_image_rows[index], record.location)
        return item

    def _add_image_negatives(self, item: dict[str, Any], rows: Sequence[int | None], location: str) -> None:
        """NegCLIP: the images and titles of the rows `rows`; a missing/corrupt one is None and an issue."""
        images: list[Image.Image | None] = []
        captions: list[str | None] = []
        issues: list[tuple[str, str]] = []
        for row in rows:
            if row is None:
                images.append(None)
                captions.append(None)
                continue
            picture = load_image(self.image_root, self.image_paths[row])
            if isinstance(picture, str):
                kind = "neg_image_corrupt" if picture == "corrupt_image" else "neg_image_missing"
                issues.append((kind, f"{location} -> {self.records[row].location}"))
                picture = None
            images.append(picture)
            captions.append(self.records[row].caption if picture is not None else None)
        item["neg_images"] = images
        item["neg_image_captions"] = captions
        if self.tokens is not None:
            item["neg_image_tokens"] = _row_tokens(self.tokens, ([r if r is not None else 0 for r in rows], 0),
                                                   self.context)
        if issues:
            item["issues"] = issues


# --- file sources ----------------------------------------------------------------------------------------------------
def default_cache_path(annotations: str | Path) -> Path:
    """`<dir>/<stem>.negatives.parquet` next to the annotations, or under ~/.cache when that folder is read-only."""
    path = Path(annotations)
    beside = path.with_name(f"{path.stem}.negatives.parquet")
    if beside.exists() or os.access(path.parent, os.W_OK):
        return beside
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    return Path.home() / ".cache" / "ahnpl_lightning" / "negatives" / f"{path.stem}-{digest}.negatives.parquet"


def _missing(path: str | Path | None, what: str, is_dir: bool = False) -> str | None:
    if path is None:
        return None
    ok = Path(path).is_dir() if is_dir else Path(path).is_file()
    return None if ok else f"{what} not found at {Path(path).resolve()}"


class FileSource(CaptionSource):
    """Shared machinery of the annotation-file sources: checks, reading, negatives (cache or source), datasets.

    Subclasses set `format` (a `formats.read_captions` format) and `expected` (what the annotation file is, for
    error messages) and may override `_source_negatives`, `_image_paths` and `_neg_image_rows`.
    """

    format: ClassVar[str] = "auto"
    expected: ClassVar[str] = "annotation file"
    modes: ClassVar[tuple[str, ...]] = ("cache", "none")

    def __init__(
        self,
        annotations: str,
        image_root: str,
        val_annotations: str | None = None,
        val_image_root: str | None = None,
        negatives: NegativesMode | None = None,
        negatives_cache: str | None = None,
        val_negatives_cache: str | None = None,
        negatives_workers: int = 1,
        seed: int = 0,
        limit: int | None = None,
    ) -> None:
        """`negatives`: `cache` (generated negatives), `source` (the file's own), `none`; None = `modes[0]`, the
        source's natural choice. Subclasses forward these shared arguments through `**kwargs`."""
        negatives = negatives or self.modes[0]
        if negatives not in self.modes:
            raise ValueError(f"{type(self).__name__}: negatives={negatives!r}; this source supports {self.modes}")
        self.annotations = annotations
        self.image_root = image_root
        self.val_annotations = val_annotations
        self.val_image_root = val_image_root
        self.negatives = negatives
        self.negatives_cache = negatives_cache
        self.val_negatives_cache = val_negatives_cache
        self.negatives_workers = negatives_workers
        self.seed = seed
        self.limit = limit
        self._issues: dict[str, list[str]] = {}
        self._read: dict[str, tuple[list[CaptionRecord], ReadReport]] = {}

    # checks and reading
    def check(self) -> None:
        problems = [
            _missing(self.annotations, f"{self.expected} ({Path(self.annotations).name})"),
            _missing(self.image_root, "image folder (image_root)", is_dir=True),
            _missing(self.val_annotations, f"validation {self.expected} (val_annotations)"),
            _missing(self.val_image_root, "validation image folder (val_image_root)", is_dir=True),
        ]
        problems = [p for p in problems if p]
        if problems:
            raise FileNotFoundError(f"{type(self).__name__}: " + "; ".join(problems))

    def _records(self, path: str) -> list[CaptionRecord]:
        """All records of `path` (read once per process); malformed rows go to `issues()`."""
        if path not in self._read:
            records, report = read_captions(path, fmt=self.format, **self._read_kwargs())
            for kind, locations in report.malformed.items():
                self._issues.setdefault(f"malformed_{kind}", []).extend(locations)
            self._read[path] = (records, report)
        return self._read[path][0]

    def _read_kwargs(self) -> dict[str, Any]:
        return {}

    def issues(self) -> dict[str, list[str]]:
        return self._issues

    def _cache_path(self, annotations: str, explicit: str | None) -> Path:
        return Path(explicit) if explicit else default_cache_path(annotations)

    # negatives
    def prepare(self) -> None:
        """Build the negatives caches that are missing (Lightning runs this on local rank 0 only)."""
        self.check()
        if self.negatives != "cache":
            return
        for path, explicit in ((self.annotations, self.negatives_cache),
                               (self.val_annotations, self.val_negatives_cache)):
            if path is not None:
                self._cache_frame(path, explicit, self._records(path))

    def _cache_frame(self, annotations: str, explicit: str | None, records: Sequence[CaptionRecord]) -> Any:
        """The negatives cache of `annotations`, built (with a progress bar) if missing or missing captions."""
        from ahnpl_lightning.data.negatives import build_negatives_cache, load_negatives_cache

        cache = self._cache_path(annotations, explicit)
        if cache.exists():
            frame = load_negatives_cache(cache)
            if frame.attrs.get("ahnpl_negatives_seed", str(self.seed)) == str(self.seed) and set(
                    r.caption for r in records) <= set(frame["caption"]):
                return frame
            rank_zero_info(f"negatives cache {cache} does not cover these captions (or another seed): rebuilding")
        rank_zero_info(f"building the negatives cache of {annotations} ({len(records)} captions) at {cache}")
        unique = list(dict.fromkeys(r.caption for r in records))
        build_negatives_cache(unique, cache, workers=self.negatives_workers, seed=self.seed,
                              extra_metadata={"ahnpl_source": str(annotations)})
        return load_negatives_cache(cache)

    def _negatives(self, annotations: str, explicit: str | None,
                   records: Sequence[CaptionRecord]) -> list[dict[str, str | None]]:
        """Per record, type -> text or None, by `self.negatives` mode."""
        if self.negatives == "none":
            return [dict.fromkeys(NEGATIVE_TYPES) for _ in records]
        if self.negatives == "source":
            return [self._source_negatives(r) for r in records]
        frame = self._cache_frame(annotations, explicit, records)
        columns = {t: frame[t].tolist() for t in NEGATIVE_TYPES}
        position = {caption: i for i, caption in enumerate(frame["caption"].tolist())}
        out = []
        for record in records:
            row = position[record.caption]
            negs = {t: (v if isinstance(v, str) and v else None) for t in NEGATIVE_TYPES for v in [columns[t][row]]}
            out.append(self._merge_cache(record, negs))
        return out

    def _source_negatives(self, record: CaptionRecord) -> dict[str, str | None]:
        return dict(record.source_negatives or dict.fromkeys(NEGATIVE_TYPES))

    def _merge_cache(self, record: CaptionRecord, cached: dict[str, str | None]) -> dict[str, str | None]:
        return cached

    # datasets
    def _image_paths(self, records: Sequence[CaptionRecord], split: str) -> list[str | None]:
        return [r.image_path for r in records]

    def _neg_image_rows(self, records: Sequence[CaptionRecord]) -> list[list[int | None]] | None:
        return None

    def _select(self, records: list[CaptionRecord], split: str) -> list[CaptionRecord]:
        """The records of `split` (all of them for single-split files), capped at `limit`."""
        return records[: self.limit] if self.limit is not None else records

    def _dataset(self, annotations: str, image_root: str, explicit: str | None, split: str) -> RecordDataset:
        records = self._select(self._records(annotations), split)
        return RecordDataset(records, image_root, self._negatives(annotations, explicit, records),
                             image_paths=self._image_paths(records, split),
                             neg_image_rows=self._neg_image_rows(records))

    def train_dataset(self) -> Dataset[dict[str, Any]]:
        self.check()
        return self._dataset(self.annotations, self.image_root, self.negatives_cache, "train")

    def val_dataset(self) -> Dataset[dict[str, Any]] | None:
        if self.val_annotations is None:
            return None
        return self._dataset(self.val_annotations, self.val_image_root or self.image_root,
                             self.val_negatives_cache, "val")


class CocoSource(FileSource):
    """COCO 2014/2017 captions JSON (`captions_train2014.json`) + image folder; one sample per caption, as the paper.

    `image_root` is the folder holding the `file_name`s (e.g. `.../train2014`). Negatives: the cache or none.
    """

    format = "coco"
    expected = "COCO captions JSON"


class KarpathySource(FileSource):
    """Karpathy `dataset_coco.json` (splits inside) or a BLIP-style Karpathy JSON list (one file per split).

    Image paths are `<filepath>/<filename>` (Karpathy) or `image` (BLIP), relative to `image_root`. With a
    Karpathy file, training uses `train_splits` and validation `val_splits` of the same file unless
    `val_annotations` names another file.
    """

    expected = "Karpathy split JSON"

    def __init__(
        self,
        annotations: str,
        image_root: str,
        format: Literal["auto", "karpathy", "blip"] = "auto",  # noqa: A002 - the name the YAML uses
        train_splits: list[str] | None = None,
        val_splits: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(annotations, image_root, **kwargs)
        self.format = format  # type: ignore[misc]
        self.train_splits = list(train_splits) if train_splits is not None else ["train", "restval"]
        self.val_splits = list(val_splits) if val_splits is not None else ["val"]

    def _select(self, records: list[CaptionRecord], split: str) -> list[CaptionRecord]:
        wanted = self.train_splits if split == "train" else self.val_splits
        chosen = [r for r in records if r.split is None or r.split in wanted]
        return chosen[: self.limit] if self.limit is not None else chosen

    def val_dataset(self) -> Dataset[dict[str, Any]] | None:
        if self.val_annotations is not None:
            return super().val_dataset()
        records = self._records(self.annotations)
        if not any(r.split in self.val_splits for r in records):
            return None
        return self._dataset(self.annotations, self.image_root, self.negatives_cache, "val")


class NegCLIPSource(FileSource):
    """The NegCLIP TSV (`title`, `filepath`, `neg_caption` list, `neg_image` row indices) + its image folder.

    Text negatives: NegCLIP's `neg_caption` are swap negatives, so with `negatives="source"` the first one fills the
    `relation` slot and the other types are invalid; with `"cache"` the first one still fills `relation` (the cache's
    relation negative where the row has none) and the other types come from the negatives cache.
    `image_negatives` (0-3) keeps that many of each row's `neg_image` indices: the images and titles of those rows
    become `neg_images`/`neg_image_captions` (NegCLIP's image hard negatives). An index that points past the loaded
    rows is masked and reported as `neg_image_out_of_range` with the row's location.
    """

    format = "negclip"
    expected = "NegCLIP TSV"
    modes = ("cache", "source", "none")

    def __init__(
        self,
        annotations: str,
        image_root: str,
        image_negatives: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(annotations, image_root, **kwargs)
        if not 0 <= image_negatives <= 3:
            raise ValueError(f"image_negatives must be in 0..3 (NegCLIP rows list 3), got {image_negatives}")
        self.image_negatives = image_negatives
        self.has_image_negatives = image_negatives > 0

    def _source_negatives(self, record: CaptionRecord) -> dict[str, str | None]:
        negs: dict[str, str | None] = dict.fromkeys(NEGATIVE_TYPES)
        if record.neg_captions:
            negs["relation"] = record.neg_captions[0]
        return negs

    def _merge_cache(self, record: CaptionRecord, cached: dict[str, str | None]) -> dict[str, str | None]:
        if record.neg_captions:
            return {**cached, "relation": record.neg_captions[0]}
        return cached

    def _neg_image_rows(self, records: Sequence[CaptionRecord]) -> list[list[int | None]] | None:
        """Dataset positions of each record's first `image_negatives` `neg_image` rows (None: out of range)."""
        if self.image_negatives == 0:
            return None
        position: dict[int, int] = {}
        for i, record in enumerate(records):
            key = record.caption_id if record.caption_id is not None else ""
            if key.lstrip("-").isdigit():
                position[int(key)] = i
        rows: list[list[int | None]] = []
        for record in records:
            wanted = list(record.neg_image or ())[: self.image_negatives]
            found: list[int | None] = []
            for index in wanted:
                found.append(position.get(index))
                if found[-1] is None:
                    self._issues.setdefault("neg_image_out_of_range", []).append(
                        f"{record.location} (neg_image {index}, {len(records)} rows loaded)")
            rows.append(found + [None] * (self.image_negatives - len(found)))
        return rows


class NpySource(FileSource):
    """The authors' `.npy` (pickled list of dicts: `caption`, `<type>_aug_caption` x 5, `image_id`, `valid_caption`).

    Negatives default to the file's own 5 columns (`"###"` or `valid_caption = 0` -> invalid). Images are found as
    the authors' loader does: `image_template.format(image_id=...)` under `image_root` (an `image_path` field, when
    present, wins).
    """

    format = "npy"
    expected = "AHNPL .npy captions"
    modes = ("source", "cache", "none")

    def __init__(
        self,
        annotations: str,
        image_root: str,
        image_template: str = "train2014/COCO_train2014_{image_id:0>12}.jpg",
        val_image_template: str = "val2014/COCO_val2014_{image_id:0>12}.jpg",
        **kwargs: Any,
    ) -> None:
        super().__init__(annotations, image_root, **kwargs)
        self.image_template = image_template
        self.val_image_template = val_image_template

    def _image_paths(self, records: Sequence[CaptionRecord], split: str) -> list[str | None]:
        template = self.image_template if split == "train" else self.val_image_template
        return [r.image_path or (template.format(image_id=r.image_id) if r.image_id is not None else None)
                for r in records]


class TableSource(FileSource):
    """CSV, TSV or JSONL with configurable column names (`caption_column`, `image_column`).

    `negative_columns` maps negative types to columns holding them (used with `negatives="source"`; an empty cell
    is invalid); otherwise negatives come from the cache.
    """

    format = "csv"
    expected = "caption table (CSV/TSV/JSONL)"
    modes = ("cache", "source", "none")

    def __init__(
        self,
        annotations: str,
        image_root: str,
        caption_column: str | None = None,
        image_column: str | None = None,
        negative_columns: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(annotations, image_root, **kwargs)
        unknown = set(negative_columns or {}) - set(NEGATIVE_TYPES)
        if unknown:
            raise ValueError(f"negative_columns: unknown types {sorted(unknown)}; expected some of {NEGATIVE_TYPES}")
        if self.negatives == "source" and not negative_columns:
            raise ValueError("negatives='source' needs negative_columns (type -> column name)")
        self.caption_column = caption_column
        self.image_column = image_column
        self.negative_columns = dict(negative_columns or {})
        self._rows: dict[str, dict[str, Any]] = {}

    def _read_kwargs(self) -> dict[str, Any]:
        return {"column": self.caption_column, "image_column": self.image_column}

    def _records(self, path: str) -> list[CaptionRecord]:
        records = super()._records(path)
        if self.negative_columns and not any(r.location in self._rows for r in records[:1]):
            self._rows.update(read_table_rows(Path(path)))
        return records

    def _source_negatives(self, record: CaptionRecord) -> dict[str, str | None]:
        row = self._rows.get(record.location, {})
        negs: dict[str, str | None] = dict.fromkeys(NEGATIVE_TYPES)
        for kind, column in self.negative_columns.items():
            value = row.get(column)
            negs[kind] = value.strip() if isinstance(value, str) and value.strip() else None
        return negs


def read_table_rows(path: Path) -> dict[str, dict[str, Any]]:
    """Every row of a CSV/TSV/JSONL keyed by the location string `formats` gives it (`name:row N`/`name:line N`)."""
    import csv
    import json

    rows: dict[str, dict[str, Any]] = {}
    if path.suffix.lower() == ".jsonl":
        with open(path, encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, start=1):
                try:
                    obj = json.loads(line) if line.strip() else None
                except json.JSONDecodeError:
                    obj = None
                if isinstance(obj, dict):
                    rows[f"{path.name}:line {line_no}"] = obj
        return rows
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, [])
        for row_no, row in enumerate(reader):
            if len(row) == len(header):
                rows[f"{path.name}:row {row_no}"] = dict(zip(header, row))
    return rows
