"""NegCLIP's training TSV as a source, with its hard captions and hard-negative images drawn as NegCLIP does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from ahnpl_lightning.data.errors import DataError
from ahnpl_lightning.data.formats import CaptionRecord
from ahnpl_lightning.types import NEGATIVE_TYPES
from ahnpl_lightning.data.sources.files import FileSource
from ahnpl_lightning.data.sources.records import Draw


class NegCLIPSource(FileSource):
    """The NegCLIP TSV (`title`, `filepath`, `neg_caption` list, `neg_image` row indices) + its image folder.

    As NegCLIP's own loader (vinid/neg_clip `src/training/data.py`, `CsvDataset`) does, each sample draws one of its
    row's `neg_caption`s at random, and `image_negatives` (0-3; NegCLIP uses 1) of its row's `neg_image` rows; each
    drawn row enters the batch as an extra (image, caption) row that carries its own drawn hard caption as a text
    negative (NegCLIP scores the extra images against it too). Draws are random per (seed, epoch, sample index),
    reproducible and resumable; `negative_draw: first` takes the first caption and the first rows instead.

    Text negatives: NegCLIP's drawn `neg_caption` fills the `relation` slot. With `negatives="source"` the other
    types are invalid; with `"cache"` they come from the negatives cache (and `relation` too where a row has no
    `neg_caption`). An index that points past the loaded rows is masked and reported as `neg_image_out_of_range`
    with the row's location.
    """

    format = "negclip"
    expected = "NegCLIP TSV"
    modes = ("cache", "source", "none")
    supports_image_negatives: ClassVar[bool] = True

    def __init__(
        self,
        annotations: str,
        image_root: str,
        image_negatives: int = 0,
        negative_draw: Literal["random", "first"] = "random",
        **kwargs: Any,
    ) -> None:
        super().__init__(annotations, image_root, **kwargs)
        if not 0 <= image_negatives <= 3:
            raise ValueError(f"image_negatives must be in 0..3 (NegCLIP rows list 3), got {image_negatives}")
        if negative_draw not in ("random", "first"):
            raise ValueError(f"negative_draw must be 'random' or 'first', got {negative_draw!r}")
        self.image_negatives = image_negatives
        self.negative_draw = negative_draw

    @property
    def has_image_negatives(self) -> bool:
        return self.image_negatives > 0

    def request_image_negatives(self) -> None:
        if not self.has_image_negatives:
            raise DataError("NegCLIPSource makes image negatives through its own argument: set "
                            "data.init_args.source.init_args.image_negatives to 1-3 (NegCLIP uses 1) instead of "
                            "data.init_args.image_negatives")

    def _source_negatives(self, record: CaptionRecord) -> dict[str, str | None]:
        negs: dict[str, str | None] = dict.fromkeys(NEGATIVE_TYPES)
        if record.neg_captions:
            negs["relation"] = record.neg_captions[0]
        return negs

    def _merge_cache(self, record: CaptionRecord, cached: dict[str, str | None]) -> dict[str, str | None]:
        if record.neg_captions:
            return {**cached, "relation": record.neg_captions[0]}
        return cached

    def _choices(self, records: Sequence[CaptionRecord]) -> list[dict[str, tuple[str, ...]]] | None:
        """Each row's `neg_caption`s: one is drawn per sample for the `relation` slot."""
        if self.negatives == "none":
            return None
        return [{"relation": r.neg_captions} if r.neg_captions and len(r.neg_captions) > 1 else {} for r in records]

    def _draw(self) -> Draw:
        return self.negative_draw

    def _neg_image_count(self) -> int | None:
        return self.image_negatives

    def _neg_image_rows(self, records: Sequence[CaptionRecord]) -> list[list[int | None]] | None:
        """Dataset positions of each record's candidate `neg_image` rows (None: out of range, reported here).

        Candidates are all of a row's indices when drawing at random, else its first `image_negatives`.
        """
        if self.image_negatives == 0:
            return None
        position: dict[int, int] = {}
        for i, record in enumerate(records):
            key = record.caption_id if record.caption_id is not None else ""
            if key.lstrip("-").isdigit():
                position[int(key)] = i
        rows: list[list[int | None]] = []
        for record in records:
            wanted = list(record.neg_image or ())
            if self.negative_draw == "first":
                wanted = wanted[: self.image_negatives]
            found: list[int | None] = []
            for index in wanted:
                found.append(position.get(index))
                if found[-1] is None:
                    self._issues.setdefault("neg_image_out_of_range", []).append(
                        f"{record.location} (neg_image {index}, {len(records)} rows loaded)")
            rows.append(found)
        return rows
