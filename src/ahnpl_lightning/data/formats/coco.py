"""COCO captions JSON (``captions_train2014.json``): ``images[].{id, file_name}``,
``annotations[].{image_id, caption}``."""

from __future__ import annotations

from pathlib import Path

from ahnpl_lightning.data.errors import AnnotationError
from ahnpl_lightning.data.formats.records import CaptionRecord, ReadReport, clean_text, load_json


def read_coco(path: Path, report: ReadReport) -> list[CaptionRecord]:
    """One record per caption; bad image entries, empty captions and unknown image ids are reported."""
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise AnnotationError(f"{path}: not a COCO captions file (no 'annotations' list)")
    images = {}
    for k, img in enumerate(data.get("images", [])):
        if isinstance(img, dict) and "id" in img and clean_text(img.get("file_name")):
            images[img["id"]] = img["file_name"]
        else:
            report.add("bad_image_entry", f"{path.name}:images {k}")
    out = []
    report.rows = len(data["annotations"])
    for k, ann in enumerate(data["annotations"]):
        loc = f"{path.name}:annotation {k}"
        caption = clean_text(ann.get("caption")) if isinstance(ann, dict) else None
        if caption is None:
            report.add("missing_caption", loc)
            continue
        if ann.get("image_id") not in images:
            report.add("unknown_image_id", loc)
            continue
        out.append(CaptionRecord(caption, images[ann["image_id"]], loc, image_id=str(ann["image_id"]),
                                 caption_id=None if ann.get("id") is None else str(ann["id"])))
    return out
