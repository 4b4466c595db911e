"""Readers for caption annotation formats, shared by `ahnpl negatives` and the DataModule's sources.

Formats (REFERENCE.md section 4, "Training sources"): ``coco`` (``captions_*.json``), ``karpathy``
(``dataset_coco.json``), ``blip`` (BLIP-style Karpathy JSON list), ``negclip`` (the NegCLIP TSV), ``npy`` (the
AHNPL/CE-CLIP pickled list of dicts) and ``csv`` (CSV, TSV or JSONL with a named caption column). Every reader
returns ``CaptionRecord``s plus a ``ReadReport`` that counts malformed rows per kind with their locations, so bad
rows are neither fatal nor silently dropped.
"""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FORMATS",
    "NPY_NEGATIVE_COLUMNS",
    "CaptionRecord",
    "ReadReport",
    "detect_format",
    "read_captions",
]

FORMATS: tuple[str, ...] = ("coco", "karpathy", "blip", "negclip", "npy", "csv")
#: Column of each negative type in the authors' ``.npy`` files (training/data.py of nynu-BDAI/AHNPL).
NPY_NEGATIVE_COLUMNS: dict[str, str] = {
    "relation": "relation_aug_caption", "adj_swap": "adj_swap_aug_caption", "adj": "adj_aug_caption",
    "noun": "noun_aug_caption", "verb": "verb_aug_caption",
}
NPY_INVALID = "###"
_CAPTION_COLUMNS = ("caption", "title", "text", "sentence", "raw")
_IMAGE_COLUMNS = ("filepath", "image_path", "image", "file_name", "filename", "path")


@dataclass(frozen=True)
class CaptionRecord:
    """One (image, caption) pair from any format.

    ``image_path`` is as written in the file (relative to the dataset's image root); ``location`` is
    ``"<file>:<row|item> N"`` for error messages; ``source_negatives`` holds negatives shipped with the data
    (``.npy``: type -> text or None); ``neg_captions``/``neg_image`` are NegCLIP's caption list and the 3 row
    indices (into the same file) of its hard-negative images.
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


@dataclass
class ReadReport:
    """What a reader saw: rows read, records produced, and malformed rows per kind with their locations."""

    path: str
    format: str
    records: int = 0
    malformed: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, location: str) -> None:
        """Count one malformed row of ``kind`` at ``location``."""
        self.malformed.setdefault(kind, []).append(location)

    @property
    def n_malformed(self) -> int:
        """Total malformed rows of all kinds."""
        return sum(len(v) for v in self.malformed.values())

    def summary(self, max_locations: int = 5) -> str:
        """Human-readable summary: counts per kind and the first locations of each."""
        lines = [f"{self.path} ({self.format}): {self.records} captions, {self.n_malformed} malformed rows"]
        for kind, locations in sorted(self.malformed.items()):
            shown = ", ".join(locations[:max_locations])
            more = f" (+{len(locations) - max_locations} more)" if len(locations) > max_locations else ""
            lines.append(f"  {kind}: {len(locations)} at {shown}{more}")
        return "\n".join(lines)


def _text(value: Any) -> str | None:
    """A non-empty stripped caption, or None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def detect_format(path: str | Path) -> str:
    """Guess one of ``FORMATS`` from the extension and the first bytes (for ``--format auto``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return "npy"
    if suffix in {".jsonl", ".csv"}:
        return "csv"
    if suffix == ".tsv":
        with open(path, encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh, delimiter="\t"), [])
        return "negclip" if {"title", "neg_caption"} <= set(header) else "csv"
    if suffix == ".json":
        with open(path, encoding="utf-8") as fh:
            head = fh.read(65536).lstrip()
        if head.startswith("["):
            return "blip"
        if '"sentences"' in head:
            return "karpathy"
        if any(k in head for k in ('"annotations"', '"info"', '"licenses"', '"file_name"')):
            return "coco"
        raise ValueError(f"{path}: cannot tell the JSON format; pass --format coco|karpathy|blip")
    raise ValueError(f"{path}: unknown extension {suffix!r}; pass --format explicitly ({', '.join(FORMATS)})")


def read_captions(path: str | Path, fmt: str = "auto", column: str | None = None,
                  image_column: str | None = None) -> tuple[list[CaptionRecord], ReadReport]:
    """Read ``path`` in format ``fmt`` (``auto`` detects it); ``column``/``image_column`` for ``csv``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    fmt = detect_format(path) if fmt == "auto" else fmt
    readers: dict[str, Callable[..., list[CaptionRecord]]] = {
        "coco": _read_coco, "karpathy": _read_karpathy, "blip": _read_blip, "negclip": _read_negclip,
        "npy": _read_npy, "csv": _read_table,
    }
    if fmt not in readers:
        raise ValueError(f"unknown format {fmt!r}; expected auto or one of {', '.join(FORMATS)}")
    report = ReadReport(str(path), fmt)
    if fmt == "csv":
        records = _read_table(path, report, column=column, image_column=image_column)
    else:
        records = readers[fmt](path, report)
    report.records = len(records)
    return records, report


def _load_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _read_coco(path: Path, report: ReadReport) -> list[CaptionRecord]:
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise ValueError(f"{path}: not a COCO captions file (no 'annotations' list)")
    images = {}
    for k, img in enumerate(data.get("images", [])):
        if isinstance(img, dict) and "id" in img and _text(img.get("file_name")):
            images[img["id"]] = img["file_name"]
        else:
            report.add("bad_image_entry", f"{path.name}:images {k}")
    out = []
    for k, ann in enumerate(data["annotations"]):
        loc = f"{path.name}:annotation {k}"
        caption = _text(ann.get("caption")) if isinstance(ann, dict) else None
        if caption is None:
            report.add("missing_caption", loc)
            continue
        if ann.get("image_id") not in images:
            report.add("unknown_image_id", loc)
            continue
        out.append(CaptionRecord(caption, images[ann["image_id"]], loc, image_id=str(ann["image_id"]),
                                 caption_id=None if ann.get("id") is None else str(ann["id"])))
    return out


def _read_karpathy(path: Path, report: ReadReport) -> list[CaptionRecord]:
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(f"{path}: not a Karpathy split file (no 'images' list)")
    out = []
    for k, img in enumerate(data["images"]):
        loc = f"{path.name}:image {k}"
        if not isinstance(img, dict) or not _text(img.get("filename")) or not isinstance(img.get("sentences"), list):
            report.add("bad_image_entry", loc)
            continue
        image_path = f"{img['filepath']}/{img['filename']}" if _text(img.get("filepath")) else img["filename"]
        image_id = img.get("cocoid", img.get("imgid"))
        for j, sent in enumerate(img["sentences"]):
            caption = _text(sent.get("raw")) if isinstance(sent, dict) else None
            if caption is None:
                report.add("missing_caption", f"{loc} sentence {j}")
                continue
            out.append(CaptionRecord(caption, image_path, f"{loc} sentence {j}",
                                     image_id=None if image_id is None else str(image_id),
                                     caption_id=None if sent.get("sentid") is None else str(sent["sentid"]),
                                     split=img.get("split")))
    return out


def _read_blip(path: Path, report: ReadReport) -> list[CaptionRecord]:
    data = _load_json(path)
    if not isinstance(data, list):
        raise ValueError(f"{path}: not a BLIP-style Karpathy file (expected a JSON list)")
    out = []
    for k, item in enumerate(data):
        loc = f"{path.name}:item {k}"
        if not isinstance(item, dict) or not _text(item.get("image")):
            report.add("bad_item", loc)
            continue
        captions = item.get("caption")
        many = isinstance(captions, list)
        for j, raw in enumerate(captions if many else [captions]):
            where = f"{loc} caption {j}" if many else loc
            caption = _text(raw)
            if caption is None:
                report.add("missing_caption", where)
                continue
            image_id = item.get("image_id")
            out.append(CaptionRecord(caption, item["image"], where,
                                     image_id=None if image_id is None else str(image_id),
                                     caption_id=f"{k}_{j}" if many else str(k)))
    return out


def _literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _read_negclip(path: Path, report: ReadReport) -> list[CaptionRecord]:
    """NegCLIP TSV: unnamed index column, title, filepath, neg_caption (list literal), neg_image (3 row indices)."""
    out = []
    with open(path, encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t")
        header = next(rows, None)
        if header is None or not {"title", "filepath"} <= set(header):
            raise ValueError(f"{path}: not a NegCLIP TSV (header {header!r} lacks title/filepath)")
        col = {name: i for i, name in enumerate(header)}
        for row_no, row in enumerate(rows):
            loc = f"{path.name}:row {row_no}"
            if len(row) != len(header):
                report.add("wrong_field_count", loc)
                continue
            caption = _text(row[col["title"]])
            if caption is None:
                report.add("missing_caption", loc)
                continue
            negs = None
            if "neg_caption" in col:
                parsed = _literal(row[col["neg_caption"]])
                if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
                    negs = tuple(parsed)
                else:
                    report.add("bad_neg_caption", loc)
            neg_image = None
            if "neg_image" in col:
                parsed = _literal(row[col["neg_image"]])
                if isinstance(parsed, list) and parsed and all(isinstance(x, int) and x >= 0 for x in parsed):
                    neg_image = tuple(parsed)
                else:
                    report.add("bad_neg_image", loc)
            out.append(CaptionRecord(caption, _text(row[col["filepath"]]), loc,
                                     caption_id=row[0] if header[0] == "" else str(row_no),
                                     neg_captions=negs, neg_image=neg_image))
    return out


def _read_npy(path: Path, report: ReadReport) -> list[CaptionRecord]:
    """The authors' ``.npy``: a pickled list of dicts (caption, <type>_aug_caption, image_id, valid_caption)."""
    import numpy as np

    array = np.load(path, allow_pickle=True)
    items = array.tolist()
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a pickled list of dicts, got {type(items).__name__}")
    out = []
    for k, item in enumerate(items):
        loc = f"{path.name}:item {k}"
        if not isinstance(item, dict):
            report.add("not_a_dict", loc)
            continue
        caption = _text(item.get("caption"))
        if caption is None:
            report.add("missing_caption", loc)
            continue
        valid = item.get("valid_caption")
        flags: list[bool] | None = None
        if valid is not None:
            try:
                flags = [bool(v) for v in list(valid)]
            except TypeError:
                flags = None
            if flags is None or len(flags) != len(NPY_NEGATIVE_COLUMNS):
                report.add("bad_valid_caption", loc)
                flags = None
        negatives: dict[str, str | None] = {}
        for t, (kind, column) in enumerate(NPY_NEGATIVE_COLUMNS.items()):
            text = _text(item.get(column))
            if text == NPY_INVALID or (flags is not None and not flags[t]):
                text = None
            negatives[kind] = text
        image_id = item.get("image_id")
        out.append(CaptionRecord(caption, _text(item.get("image_path")), loc,
                                 image_id=None if image_id is None else str(image_id), source_negatives=negatives))
    return out


def _pick(names: list[str], wanted: str | None, defaults: tuple[str, ...], path: Path, what: str) -> str | None:
    if wanted is not None:
        if wanted not in names:
            raise ValueError(f"{path}: no {what} column {wanted!r}; columns are {names}")
        return wanted
    return next((c for c in defaults if c in names), None)


def _read_table(path: Path, report: ReadReport, column: str | None = None,
                image_column: str | None = None) -> list[CaptionRecord]:
    """CSV/TSV (by extension; header row required) or JSONL, with a named caption column."""
    out: list[CaptionRecord] = []
    if path.suffix.lower() == ".jsonl":
        with open(path, encoding="utf-8") as fh:
            lines = list(fh)
        rows: list[tuple[str, dict[str, Any]]] = []
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                report.add("bad_json", f"{path.name}:line {line_no}")
                continue
            if not isinstance(obj, dict):
                report.add("bad_json", f"{path.name}:line {line_no}")
                continue
            rows.append((f"{path.name}:line {line_no}", obj))
        names = sorted({k for _, obj in rows for k in obj})
    else:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{path}: empty file")
            names = header
            rows = []
            for row_no, row in enumerate(reader):
                if len(row) != len(header):
                    report.add("wrong_field_count", f"{path.name}:row {row_no}")
                    continue
                rows.append((f"{path.name}:row {row_no}", dict(zip(header, row))))
    caption_col = _pick(names, column, _CAPTION_COLUMNS, path, "caption")
    if caption_col is None:
        raise ValueError(f"{path}: no caption column among {names}; pass --column NAME")
    image_col = _pick(names, image_column, _IMAGE_COLUMNS, path, "image")
    for k, (loc, row) in enumerate(rows):
        caption = _text(row.get(caption_col))
        if caption is None:
            report.add("missing_caption", loc)
            continue
        image = row.get(image_col) if image_col else None
        image_id = row.get("image_id")
        out.append(CaptionRecord(caption, _text(image) if isinstance(image, str) else None, loc,
                                 image_id=None if image_id in (None, "") else str(image_id), caption_id=str(k)))
    return out
