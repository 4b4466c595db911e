"""COCO captions as a training source (the paper's training set)."""

from __future__ import annotations

from ahnpl_lightning.data.sources.files import FileSource


class CocoSource(FileSource):
    """COCO 2014/2017 captions JSON (`captions_train2014.json`) + image folder; one sample per caption, as the paper.

    `image_root` is the folder holding the `file_name`s (e.g. `.../train2014`). Negatives: the cache or none.
    """

    format = "coco"
    expected = "COCO captions JSON"
