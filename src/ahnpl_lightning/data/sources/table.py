"""Any CSV, TSV or JSONL of (image path, caption) as a training source."""

from __future__ import annotations

from typing import Any

from ahnpl_lightning.data.formats import CaptionRecord
from ahnpl_lightning.types import NEGATIVE_TYPES
from ahnpl_lightning.data.sources.files import FileSource, optional_path


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
        self.caption_column = optional_path(caption_column)
        self.image_column = optional_path(image_column)
        self.negative_columns = dict(negative_columns or {})

    def _read_kwargs(self) -> dict[str, Any]:
        return {"column": self.caption_column, "image_column": self.image_column}

    def _source_negatives(self, record: CaptionRecord) -> dict[str, str | None]:
        row = record.fields or {}
        negs: dict[str, str | None] = dict.fromkeys(NEGATIVE_TYPES)
        for kind, column in self.negative_columns.items():
            value = row.get(column)
            negs[kind] = value.strip() if isinstance(value, str) and value.strip() else None
        return negs
