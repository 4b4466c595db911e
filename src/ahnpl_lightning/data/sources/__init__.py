"""Caption sources: where (image, caption, hard negatives) samples come from. One class per source, one interface.

`base` defines the interface (`CaptionSource`), `records` the dataset over annotation records, `files` the shared
machinery of file sources; then one module per source: `world` (the default), `coco`, `karpathy`, `negclip`, `npy`,
`table`. File sources read their annotations with `ahnpl_lightning.data.formats` (docs/METHOD.md section 4,
"Training sources"); rows malformed at read time are reported by `issues()` with their locations. Their text hard
negatives come from the negatives cache (`negatives="cache"`, built on first use), from the file's own negative
columns (`"source"`), or not at all (`"none"`). Images load through `ahnpl_lightning.images.load_image`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ahnpl_lightning.data.sources.base import PRETOKENIZE_LIMIT, CaptionSource, NegativesMode
from ahnpl_lightning.data.sources.coco import CocoSource
from ahnpl_lightning.data.sources.files import FileSource, default_cache_path, optional_path
from ahnpl_lightning.data.sources.karpathy import KarpathySource
from ahnpl_lightning.data.sources.negclip import NegCLIPSource
from ahnpl_lightning.data.sources.npy import NpySource
from ahnpl_lightning.data.sources.records import RecordDataset, tokenize_table
from ahnpl_lightning.data.sources.table import TableSource
from ahnpl_lightning.data.sources.world import WorldSource

__all__ = [
    "PRETOKENIZE_LIMIT",
    "CaptionSource",
    "CocoSource",
    "FileSource",
    "KarpathySource",
    "NegCLIPSource",
    "NegativesMode",
    "NpySource",
    "RecordDataset",
    "TableSource",
    "WorldSource",
    "default_cache_path",
    "optional_path",
    "tokenize_table",
]


def _load_image(root: Path, relative: str | None) -> Any:
    """The pre-0.2 `load_image(root, relative)`: an image or the problem's kind (a string)."""
    from ahnpl_lightning.images import ImageProblem, load_image, resolve_image

    result = load_image(resolve_image(root, relative))
    return result.kind if isinstance(result, ImageProblem) else result


def _read_table_rows(path: Path) -> dict[str, dict[str, Any]]:
    """The pre-0.2 `read_table_rows(path)`: every row keyed by its location (now file line numbers)."""
    from ahnpl_lightning.data.formats import read_captions

    records, _ = read_captions(path, fmt="csv")
    return {record.location: dict(record.fields or {}) for record in records}


_MOVED = {
    "load_image": (_load_image, "ahnpl_lightning.images.load_image (it returns an ImageProblem, not a string)"),
    "read_table_rows": (_read_table_rows, "ahnpl_lightning.data.formats.read_captions (records carry `fields`)"),
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        value, instead = _MOVED[name]
        warnings.warn(f"ahnpl_lightning.data.sources.{name} is deprecated and will be removed in the next release; "
                      f"use {instead}", DeprecationWarning, stacklevel=2)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
