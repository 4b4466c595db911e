"""Karpathy splits (``dataset_coco.json``): ``images[].{filepath, filename, split, sentences[].raw}``."""

from __future__ import annotations

from pathlib import Path

from ahnpl_lightning.data.errors import AnnotationError
from ahnpl_lightning.data.formats.records import CaptionRecord, ReadReport, clean_text, load_json


def read_karpathy(path: Path, report: ReadReport) -> list[CaptionRecord]:
    """One record per sentence, with the image's split; bad image entries and empty sentences are reported."""
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise AnnotationError(f"{path}: not a Karpathy split file (no 'images' list)")
    out = []
    for k, img in enumerate(data["images"]):
        loc = f"{path.name}:image {k}"
        sentences = img.get("sentences") if isinstance(img, dict) else None
        if not isinstance(img, dict) or not clean_text(img.get("filename")) or not isinstance(sentences, list):
            report.add("bad_image_entry", loc)
            continue
        image_path = f"{img['filepath']}/{img['filename']}" if clean_text(img.get("filepath")) else img["filename"]
        image_id = img.get("cocoid", img.get("imgid"))
        for j, sent in enumerate(img["sentences"]):
            caption = clean_text(sent.get("raw")) if isinstance(sent, dict) else None
            if caption is None:
                report.add("missing_caption", f"{loc} sentence {j}")
                continue
            out.append(CaptionRecord(caption, image_path, f"{loc} sentence {j}",
                                     image_id=None if image_id is None else str(image_id),
                                     caption_id=None if sent.get("sentid") is None else str(sent["sentid"]),
                                     split=img.get("split")))
    return out
