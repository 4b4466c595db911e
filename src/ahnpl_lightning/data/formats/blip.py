"""BLIP-style Karpathy JSON list (``coco_karpathy_train.json``): ``[{image, caption (str or list), image_id}]``."""

from __future__ import annotations

from pathlib import Path

from ahnpl_lightning.data.errors import AnnotationError
from ahnpl_lightning.data.formats.records import CaptionRecord, ReadReport, clean_text, load_json


def read_blip(path: Path, report: ReadReport) -> list[CaptionRecord]:
    """One record per caption; items without an image and empty captions are reported."""
    data = load_json(path)
    if not isinstance(data, list):
        raise AnnotationError(f"{path}: not a BLIP-style Karpathy file (expected a JSON list)")
    out = []
    for k, item in enumerate(data):
        loc = f"{path.name}:item {k}"
        if not isinstance(item, dict) or not clean_text(item.get("image")):
            report.add("bad_item", loc)
            continue
        captions = item.get("caption")
        many = isinstance(captions, list)
        for j, raw in enumerate(captions if many else [captions]):
            where = f"{loc} caption {j}" if many else loc
            caption = clean_text(raw)
            if caption is None:
                report.add("missing_caption", where)
                continue
            image_id = item.get("image_id")
            out.append(CaptionRecord(caption, item["image"], where,
                                     image_id=None if image_id is None else str(image_id),
                                     caption_id=f"{k}_{j}" if many else str(k)))
    return out
