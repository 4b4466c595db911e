"""NegCLIP's TSV: an unnamed index column, ``title``, ``filepath``, ``neg_caption`` (a Python list literal) and
``neg_image`` (3 row indices into the same file), read line by line (`delimited`: no quote runs over rows)."""

from __future__ import annotations

from pathlib import Path

from ahnpl_lightning.data.errors import AnnotationError
from ahnpl_lightning.data.formats.delimited import read_delimited
from ahnpl_lightning.data.formats.records import CaptionRecord, ReadReport, clean_text, literal


def read_negclip(path: Path, report: ReadReport) -> list[CaptionRecord]:
    """One record per row; a row with the wrong field count, no title or unparsable lists is reported by line.

    ``caption_id`` is the index column (what ``neg_image`` indices refer to; in NegCLIP's files it equals the row
    position that NegCLIP's own loader indexes), else the row position.
    """
    header, rows = read_delimited(path, "\t", report)
    if not {"title", "filepath"} <= set(header):
        raise AnnotationError(f"{path}: not a NegCLIP TSV (header {header!r} lacks title/filepath)")
    col = {name: i for i, name in enumerate(header)}
    out = []
    for position, (loc, row) in enumerate(rows):
        caption = clean_text(row[col["title"]])
        if caption is None:
            report.add("missing_caption", loc)
            continue
        negs = None
        if "neg_caption" in col:
            parsed = literal(row[col["neg_caption"]])
            if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
                negs = tuple(parsed)
            else:
                report.add("bad_neg_caption", loc, loaded=True)
        neg_image = None
        if "neg_image" in col:
            parsed = literal(row[col["neg_image"]])
            if isinstance(parsed, list) and parsed and all(isinstance(x, int) and x >= 0 for x in parsed):
                neg_image = tuple(parsed)
            else:
                report.add("bad_neg_image", loc, loaded=True)
        out.append(CaptionRecord(caption, clean_text(row[col["filepath"]]), loc,
                                 caption_id=row[0] if header[0] == "" else str(position),
                                 neg_captions=negs, neg_image=neg_image))
    return out
