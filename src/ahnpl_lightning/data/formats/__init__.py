"""Readers for caption annotation formats, shared by `ahnpl negatives` and the DataModule's sources.

One module per format (docs/METHOD.md section 4, "Training sources"): ``coco`` (``captions_*.json``), ``karpathy``
(``dataset_coco.json``), ``blip`` (BLIP-style Karpathy JSON list), ``negclip`` (the NegCLIP TSV), ``npy`` (the
AHNPL/CE-CLIP pickled list of dicts) and ``csv`` (CSV, TSV or JSONL with a named caption column). Every reader
returns ``CaptionRecord``s plus a ``ReadReport`` that counts malformed rows per kind with their locations, so bad
rows are neither fatal nor silently dropped; a file that cannot be read at all raises an error naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ahnpl_lightning.data.errors import AnnotationError, MissingDataError
from ahnpl_lightning.data.formats.blip import read_blip
from ahnpl_lightning.data.formats.coco import read_coco
from ahnpl_lightning.data.formats.delimited import split_quoted
from ahnpl_lightning.data.formats.karpathy import read_karpathy
from ahnpl_lightning.data.formats.negclip import read_negclip
from ahnpl_lightning.data.formats.npy import NPY_INVALID, NPY_NEGATIVE_COLUMNS, read_npy
from ahnpl_lightning.data.formats.records import CaptionRecord, ReadReport
from ahnpl_lightning.data.formats.table import read_table

__all__ = [
    "FORMATS",
    "NPY_INVALID",
    "NPY_NEGATIVE_COLUMNS",
    "READERS",
    "CaptionRecord",
    "ReadReport",
    "check_annotation_path",
    "detect_format",
    "read_captions",
]

#: Format name -> reader(path, report) (``csv`` also takes ``column`` and ``image_column``).
READERS: dict[str, Callable[..., list[CaptionRecord]]] = {
    "coco": read_coco, "karpathy": read_karpathy, "blip": read_blip, "negclip": read_negclip, "npy": read_npy,
    "csv": read_table,
}
FORMATS: tuple[str, ...] = tuple(READERS)


def check_annotation_path(path: str | Path, what: str = "annotation file") -> Path:
    """`path` as a Path if it is a file; a `MissingDataError` saying whether it is missing or a directory."""
    path = Path(path)
    if path.is_dir():
        raise MissingDataError(f"{path}: is a directory, expected the {what} itself (a file)")
    if not path.exists():
        raise MissingDataError(f"{path}: no such file ({what})")
    return path


def detect_format(path: str | Path) -> str:
    """Guess one of ``FORMATS`` from the extension and the first bytes (for ``--format auto``)."""
    path = check_annotation_path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return "npy"
    if suffix in {".jsonl", ".csv"}:
        return "csv"
    if suffix == ".tsv":
        with open(path, encoding="utf-8", newline="") as fh:
            first = fh.readline().rstrip("\r\n")
        header = split_quoted(first, "\t")
        header = header if isinstance(header, list) else first.split("\t")
        return "negclip" if {"title", "neg_caption"} <= set(header) else "csv"
    if suffix == ".json":
        with open(path, encoding="utf-8") as fh:
            head = fh.read(65536).lstrip()
        if not head:
            raise AnnotationError(f"{path}: empty file")
        if head.startswith("["):
            return "blip"
        if '"sentences"' in head:
            return "karpathy"
        if any(k in head for k in ('"annotations"', '"info"', '"licenses"', '"file_name"')):
            return "coco"
        raise AnnotationError(f"{path}: cannot tell the JSON format; pass --format coco|karpathy|blip")
    raise AnnotationError(f"{path}: unknown extension {suffix!r}; pass --format explicitly ({', '.join(FORMATS)})")


def read_captions(path: str | Path, fmt: str = "auto", column: str | None = None,
                  image_column: str | None = None) -> tuple[list[CaptionRecord], ReadReport]:
    """Read ``path`` in format ``fmt`` (``auto`` detects it); ``column``/``image_column`` for ``csv``."""
    path = check_annotation_path(path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in READERS:
        raise AnnotationError(f"unknown format {fmt!r}; expected auto or one of {', '.join(FORMATS)}")
    report = ReadReport(str(path), fmt)
    if fmt == "csv":
        records = read_table(path, report, column=column, image_column=image_column)
    else:
        records = READERS[fmt](path, report)
    report.records = len(records)
    return records, report

