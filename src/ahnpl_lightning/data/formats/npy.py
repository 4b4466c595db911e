"""The AHNPL / CE-CLIP authors' ``.npy``: a pickled list of dicts (``caption``, ``<type>_aug_caption`` for the 5
types, ``image_id``, ``valid_caption``), as ``training/data.py`` of nynu-BDAI/AHNPL reads it."""

from __future__ import annotations

from pathlib import Path

from ahnpl_lightning.data.errors import AnnotationError
from ahnpl_lightning.data.formats.records import CaptionRecord, ReadReport, clean_text

#: Column of each negative type in the authors' ``.npy`` files (training/data.py of nynu-BDAI/AHNPL).
NPY_NEGATIVE_COLUMNS: dict[str, str] = {
    "relation": "relation_aug_caption", "adj_swap": "adj_swap_aug_caption", "adj": "adj_aug_caption",
    "noun": "noun_aug_caption", "verb": "verb_aug_caption",
}
NPY_INVALID = "###"


def read_npy(path: Path, report: ReadReport) -> list[CaptionRecord]:
    """One record per item; ``"###"`` or a 0 in ``valid_caption`` makes that negative None."""
    import numpy as np

    try:
        items = np.load(path, allow_pickle=True).tolist()
    except (ValueError, OSError, EOFError) as exc:
        raise AnnotationError(f"{path}: not a readable .npy file ({exc}); is it truncated?") from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise AnnotationError(f"{path}: expected a pickled list of dicts, got {type(items).__name__}")
    out = []
    report.rows = len(items)
    for k, item in enumerate(items):
        loc = f"{path.name}:item {k}"
        if not isinstance(item, dict):
            report.add("not_a_dict", loc)
            continue
        caption = clean_text(item.get("caption"))
        if caption is None:
            report.add("missing_caption", loc)
            continue
        flags = _valid_flags(item.get("valid_caption"), report, loc)
        negatives: dict[str, str | None] = {}
        for t, (kind, column) in enumerate(NPY_NEGATIVE_COLUMNS.items()):
            text = clean_text(item.get(column))
            if text == NPY_INVALID or (flags is not None and not flags[t]):
                text = None
            negatives[kind] = text
        image_id = item.get("image_id")
        out.append(CaptionRecord(caption, clean_text(item.get("image_path")), loc,
                                 image_id=None if image_id is None else str(image_id), source_negatives=negatives))
    return out


def _valid_flags(valid: object, report: ReadReport, loc: str) -> list[bool] | None:
    """`valid_caption` as 5 booleans; anything else is reported (`bad_valid_caption`) and ignored."""
    if valid is None:
        return None
    try:
        flags = [bool(v) for v in list(valid)]  # type: ignore[call-overload]
    except TypeError:
        flags = None
    if flags is None or len(flags) != len(NPY_NEGATIVE_COLUMNS):
        report.add("bad_valid_caption", loc, loaded=True)
        return None
    return flags
