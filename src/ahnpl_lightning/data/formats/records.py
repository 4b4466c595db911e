"""What every annotation reader returns: `CaptionRecord`s and a `ReadReport`, plus the small parsing helpers."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ahnpl_lightning.data.errors import AnnotationError

__all__ = ["CaptionRecord", "ReadReport", "clean_text", "literal", "load_json"]


@dataclass(frozen=True)
class CaptionRecord:
    """One (image, caption) pair from any format.

    ``image_path`` is as written in the file (relative to the dataset's image root); ``location`` is
    ``"<file>:line N"`` for line-based files (the file's own line number, the header being line 1) and
    ``"<file>:<annotation|image|item> N"`` for JSON and ``.npy`` files, for error messages; ``source_negatives``
    holds negatives shipped with the data (``.npy``: type -> text or None); ``neg_captions``/``neg_image`` are
    NegCLIP's caption list and the 3 row indices (into the same file) of its hard-negative images; ``fields`` the
    row's raw columns (CSV/TSV/JSONL tables), so no file is parsed twice.
    """

    caption: str
    image_path: str | None
    location: str
    image_id: str | None = None
    caption_id: str | None = None
    split: str | None = None
    source_negatives: dict[str, str | None] | None = None
    neg_captions: tuple[str, ...] | None = None
    neg_image: tuple[int, ...] | None = None
    fields: dict[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass
class ReadReport:
    """What a reader saw: rows read, records produced, and bad rows per kind with their locations.

    ``malformed`` holds rows that were not loaded; ``partial`` rows that were loaded with a defect (e.g. a NegCLIP
    row whose ``neg_caption`` list does not parse: its caption and image still train). For line-based formats
    (NegCLIP TSV, CSV, TSV, JSONL) ``rows`` counts the file's data rows, and ``records + n_malformed == rows``
    always holds: every row is either loaded or reported as skipped.
    """

    path: str
    format: str
    records: int = 0
    malformed: dict[str, list[str]] = field(default_factory=dict)
    rows: int | None = None
    partial: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, location: str, loaded: bool = False) -> None:
        """Count one bad row of ``kind`` at ``location`` (``loaded``: it is still a record, with a defect)."""
        (self.partial if loaded else self.malformed).setdefault(kind, []).append(location)

    @property
    def n_malformed(self) -> int:
        """Rows not loaded, all kinds together."""
        return sum(len(v) for v in self.malformed.values())

    def problems(self) -> dict[str, list[str]]:
        """Every bad row, skipped or loaded with a defect: kind -> locations."""
        out = {kind: list(locations) for kind, locations in self.malformed.items()}
        for kind, locations in self.partial.items():
            out.setdefault(kind, []).extend(locations)
        return out

    def summary(self, max_locations: int = 5) -> str:
        """Human-readable summary: counts per kind and the first locations of each."""
        rows = f" of {self.rows} rows" if self.rows is not None else ""
        partial = sum(len(v) for v in self.partial.values())
        loaded = f" ({partial} loaded with a defect)" if partial else ""
        lines = [f"{self.path} ({self.format}): {self.records} captions{rows}, {self.n_malformed} malformed rows"
                 f"{loaded}"]
        for kind, locations in sorted(self.problems().items()):
            shown = ", ".join(locations[:max_locations])
            more = f" (+{len(locations) - max_locations} more)" if len(locations) > max_locations else ""
            lines.append(f"  {kind}: {len(locations)} at {shown}{more}")
        return "\n".join(lines)


def clean_text(value: Any) -> str | None:
    """A non-empty stripped caption, or None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def literal(value: str) -> Any:
    """A Python literal (NegCLIP's list columns), or None when it is not one."""
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None


def load_json(path: Path) -> Any:
    """The parsed JSON file; an `AnnotationError` naming the file and the position when it is not valid JSON."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise AnnotationError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); the file is probably "
            "truncated or not a JSON file: download or export it again") from None
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); is this the "
                              "annotation file?") from None
