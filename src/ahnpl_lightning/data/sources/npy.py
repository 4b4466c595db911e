"""The AHNPL / CE-CLIP authors' `.npy` caption files as a training source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ahnpl_lightning.data.formats import CaptionRecord
from ahnpl_lightning.data.sources.files import FileSource


class NpySource(FileSource):
    """The authors' `.npy` (pickled list of dicts: `caption`, `<type>_aug_caption` x 5, `image_id`, `valid_caption`).

    Negatives default to the file's own 5 columns (`"###"` or `valid_caption = 0` -> invalid). Images are found as
    the authors' loader does: `image_template.format(image_id=...)` under `image_root` (an `image_path` field, when
    present, wins).
    """

    format = "npy"
    expected = "AHNPL .npy captions"
    modes = ("source", "cache", "none")

    def __init__(
        self,
        annotations: str,
        image_root: str,
        image_template: str = "train2014/COCO_train2014_{image_id:0>12}.jpg",
        val_image_template: str = "val2014/COCO_val2014_{image_id:0>12}.jpg",
        **kwargs: Any,
    ) -> None:
        super().__init__(annotations, image_root, **kwargs)
        self.image_template = image_template
        self.val_image_template = val_image_template

    def _image_paths(self, records: Sequence[CaptionRecord], split: str) -> list[str | None]:
        template = self.image_template if split == "train" else self.val_image_template
        return [r.image_path or (template.format(image_id=r.image_id) if r.image_id is not None else None)
                for r in records]
