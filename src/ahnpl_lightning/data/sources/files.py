"""`FileSource`: the shared machinery of annotation-file sources (checks, reading, negatives, datasets)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import Dataset

from ahnpl_lightning.data.errors import MissingDataError
from ahnpl_lightning.data.formats import CaptionRecord, ReadReport, read_captions
from ahnpl_lightning.types import NEGATIVE_TYPES
from ahnpl_lightning.data.sources.base import CaptionSource, NegativesMode
from ahnpl_lightning.data.sources.records import Draw, RecordDataset

#: What jsonargparse 4.5x delivers for `null` given on the command line two subclass levels deep (e.g.
#: `--data.init_args.source.init_args.val_annotations null`): the string "None". No annotation file is called that.
_NULL_STRINGS = frozenset({"None", "null"})


def optional_path(value: str | None) -> str | None:
    """`value`, or None for an empty path or the strings 'None' / 'null' (a `null` from the command line)."""
    return None if value is None or value.strip() == "" or value in _NULL_STRINGS else value


def default_cache_path(annotations: str | Path) -> Path:
    """`<dir>/<stem>.negatives.parquet` next to the annotations, or under ~/.cache when that folder is read-only."""
    path = Path(annotations)
    beside = path.with_name(f"{path.stem}.negatives.parquet")
    if beside.exists() or os.access(path.parent, os.W_OK):
        return beside
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    return Path.home() / ".cache" / "ahnpl_lightning" / "negatives" / f"{path.stem}-{digest}.negatives.parquet"


def path_problem(path: str | Path | None, what: str, is_dir: bool = False) -> str | None:
    """Why `path` cannot serve as `what` (missing, or a folder where a file is expected and vice versa), or None."""
    if path is None:
        return None
    path = Path(path)
    if is_dir:
        if path.is_dir():
            return None
        return f"{what} at {path.resolve()} is a file, not a folder" if path.exists() else \
            f"{what} not found at {path.resolve()}"
    if path.is_file():
        return None
    return f"{what} at {path.resolve()} is a directory; give the file itself" if path.is_dir() else \
        f"{what} not found at {path.resolve()}"


class FileSource(CaptionSource):
    """Shared machinery of the annotation-file sources: checks, reading, negatives (cache or source), datasets.

    Subclasses set `format` (a `formats.read_captions` format) and `expected` (what the annotation file is, for
    error messages) and may override `_source_negatives`, `_choices`, `_image_paths` and `_neg_image_rows`.
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
        self.val_annotations = optional_path(val_annotations)
        self.val_image_root = optional_path(val_image_root)
        self.negatives = negatives
        self.negatives_cache = optional_path(negatives_cache)
        self.val_negatives_cache = optional_path(val_negatives_cache)
        self.negatives_workers = negatives_workers
        self.seed = seed
        self.limit = limit
        self._issues: dict[str, list[str]] = {}
        self._read: dict[str, tuple[list[CaptionRecord], ReadReport]] = {}

    # checks and reading
    def check(self) -> None:
        problems = [
            path_problem(self.annotations, f"{self.expected} ({Path(self.annotations).name})"),
            path_problem(self.image_root, "image folder (image_root)", is_dir=True),
            path_problem(self.val_annotations, f"validation {self.expected} (val_annotations)"),
            path_problem(self.val_image_root, "validation image folder (val_image_root)", is_dir=True),
        ]
        problems = [p for p in problems if p]
        if problems:
            raise MissingDataError(f"{type(self).__name__}: " + "; ".join(problems))

    def _records(self, path: str) -> list[CaptionRecord]:
        """All records of `path` (read once per process); malformed rows go to `issues()`."""
        if path not in self._read:
            records, report = read_captions(path, fmt=self.format, **self._read_kwargs())
            for kind, locations in report.problems().items():
                self._issues.setdefault(f"malformed_{kind}", []).extend(locations)
            self._read[path] = (records, report)
        return self._read[path][0]

    def _read_kwargs(self) -> dict[str, Any]:
        return {}

    def issues(self) -> dict[str, list[str]]:
        return self._issues

    def reports(self) -> list[ReadReport]:
        return [report for _, report in self._read.values()]

    def describe(self, split: str) -> str:
        path = self.annotations if split == "train" else self.val_annotations
        report = self._read.get(str(path), (None, None))[1]
        if report is None:
            return f"{type(self).__name__} {split} data ({path})"
        rows = f" of {report.rows} rows" if report.rows is not None else ""
        return (f"{type(self).__name__} {split} data ({path}: {report.records} captions{rows}, "
                f"{report.n_malformed} malformed)")

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
        """The negatives cache of `annotations`: loaded when current and complete, else built (with a progress bar)
        by the negatives package's `ensure_negatives_cache`."""
        from ahnpl_lightning.data.negatives import ensure_negatives_cache

        cache = self._cache_path(annotations, explicit)
        rank_zero_info(f"negatives cache of {annotations} ({len(records)} captions): {cache}")
        return ensure_negatives_cache(list(records), cache, seed=self.seed, workers=self.negatives_workers,
                                      extra_metadata={"ahnpl_source": str(annotations)})

    def _negatives(self, annotations: str, explicit: str | None,
                   records: Sequence[CaptionRecord]) -> list[dict[str, str | None]]:
        """Per record, type -> text or None, by `self.negatives` mode."""
        if self.negatives == "none":
            return [dict.fromkeys(NEGATIVE_TYPES) for _ in records]
        if self.negatives == "source":
            return [self._source_negatives(r) for r in records]
        if not records:
            return []
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

    def _choices(self, records: Sequence[CaptionRecord]) -> list[dict[str, tuple[str, ...]]] | None:
        """Per record, negative type -> alternatives drawn from per sample (None: no choices)."""
        return None

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
                             neg_image_rows=self._neg_image_rows(records), neg_image_count=self._neg_image_count(),
                             choices=self._choices(records), draw=self._draw())

    def _neg_image_count(self) -> int | None:
        return None

    def _draw(self) -> Draw:
        return "first"

    def train_dataset(self) -> Dataset[dict[str, Any]]:
        self.check()
        return self._dataset(self.annotations, self.image_root, self.negatives_cache, "train")

    def val_dataset(self) -> Dataset[dict[str, Any]] | None:
        if self.val_annotations is None:
            return None
        return self._dataset(self.val_annotations, self.val_image_root or self.image_root,
                             self.val_negatives_cache, "val")
