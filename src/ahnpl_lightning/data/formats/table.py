"""CSV, TSV (header row required, read line by line: `delimited`) or JSONL, with a named caption column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ahnpl_lightning.data.errors import AnnotationError
from ahnpl_lightning.data.formats.delimited import read_delimited
from ahnpl_lightning.data.formats.records import CaptionRecord, ReadReport, clean_text
from ahnpl_lightning.jsonl import iter_jsonl

CAPTION_COLUMNS = ("caption", "title", "text", "sentence", "raw")
IMAGE_COLUMNS = ("filepath", "image_path", "image", "file_name", "filename", "path")


def _pick(names: list[str], wanted: str | None, defaults: tuple[str, ...], path: Path, what: str) -> str | None:
    if wanted is not None:
        if wanted not in names:
            raise AnnotationError(f"{path}: no {what} column {wanted!r}; columns are {names}")
        return wanted
    return next((c for c in defaults if c in names), None)


def _jsonl_rows(path: Path, report: ReadReport) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    rows: list[tuple[str, dict[str, Any]]] = []
    report.rows = 0
    for line_no, obj, problem in iter_jsonl(path):
        loc = f"{path.name}:line {line_no}"
        report.rows += 1
        if problem is None and not isinstance(obj, dict):
            problem = "bad_json"
        if problem is not None:
            report.add(problem, loc)
            continue
        rows.append((loc, obj))
    return sorted({k for _, obj in rows for k in obj}), rows


def read_table(path: Path, report: ReadReport, column: str | None = None,
               image_column: str | None = None) -> list[CaptionRecord]:
    """One record per row with a caption in ``column`` (default: the first of `CAPTION_COLUMNS` present).

    Each record keeps the row's raw columns in ``fields`` (for the sources' negative columns).
    """
    if path.suffix.lower() == ".jsonl":
        names, rows = _jsonl_rows(path, report)
    else:
        header, lines = read_delimited(path, "\t" if path.suffix.lower() == ".tsv" else ",", report)
        names = header
        rows = [(loc, dict(zip(header, fields))) for loc, fields in lines]
    caption_col = _pick(names, column, CAPTION_COLUMNS, path, "caption")
    if caption_col is None:
        raise AnnotationError(f"{path}: no caption column among {names}; name it (caption_column / --column NAME)")
    image_col = _pick(names, image_column, IMAGE_COLUMNS, path, "image")
    out: list[CaptionRecord] = []
    for k, (loc, row) in enumerate(rows):
        caption = clean_text(row.get(caption_col))
        if caption is None:
            report.add("missing_caption", loc)
            continue
        image = row.get(image_col) if image_col else None
        image_id = row.get("image_id")
        out.append(CaptionRecord(caption, clean_text(image) if isinstance(image, str) else None, loc,
                                 image_id=None if image_id in (None, "") else str(image_id), caption_id=str(k),
                                 fields=row))
    return out
