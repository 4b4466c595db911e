"""The caption-source interface: where (image, caption, hard negatives) samples come from.

A source builds map-style datasets whose items are dicts: `image` (PIL image), `caption` (str), `negatives` (dict
type -> str | None), `location` (str, for error reports) and, where the source has them, `image_negatives` (list
aligned with the negative types) with `image_negatives_valid` (list of bool: the world's counterfactual renders),
or `neg_images` / `neg_image_captions` / `neg_image_negatives` (NegCLIP's hard-negative images: other rows of the
same file, with their titles and hard negatives). `issues` lists (kind, location) problems of an otherwise usable
item (e.g. a missing hard-negative image). A sample that cannot be read is `{"skipped": kind, "location": ...}`, so
it is counted, never lost silently.

Image negatives have one switch, on the source that makes them (`WorldSource.image_negatives`,
`NegCLIPSource.image_negatives`); the DataModule reads `has_image_negatives` and validates it at `setup()`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

from torch.utils.data import Dataset

from ahnpl_lightning.data.errors import DataError
from ahnpl_lightning.data.formats import ReadReport

NegativesMode = Literal["cache", "source", "none"]
#: Above this many strings (captions x (1 + K)) the DataModule tokenises per sample instead of up front (auto mode):
#: open_clip's tokenizer runs at about 0.2 ms per string on one core, so this bounds setup to about 40 s.
PRETOKENIZE_LIMIT = 200_000


class CaptionSource(ABC):
    """Base class of the DataModule's `source` argument (chosen by `class_path` in YAML)."""

    #: Whether this kind of source can make image hard negatives at all (when asked through its own argument).
    supports_image_negatives: ClassVar[bool] = False

    @property
    def has_image_negatives(self) -> bool:
        """Whether this source, as configured, puts image hard negatives into its samples."""
        return False

    def request_image_negatives(self) -> None:
        """Turn image negatives on (for the deprecated `AHNPLDataModule(image_negatives=True)` spelling)."""
        raise DataError(f"{type(self).__name__} has no image hard negatives (only WorldSource, with "
                        "image_negatives: true, and NegCLIPSource, with image_negatives: 1-3, make them); "
                        "remove data.init_args.image_negatives")

    def check(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Raise `FileNotFoundError` naming each missing input and what was expected there."""

    def prepare(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Download-free preparation done once per node (e.g. building a negatives cache)."""

    @abstractmethod
    def train_dataset(self) -> Dataset[dict[str, Any]]:
        """The training samples."""

    def val_dataset(self) -> Dataset[dict[str, Any]] | None:
        """Held-out samples for validation loss and in-batch accuracy, if the source has them."""
        return None

    def issues(self) -> dict[str, list[str]]:
        """Rows found unusable while building the datasets: kind -> locations (reported once at setup)."""
        return {}

    def reports(self) -> list[ReadReport]:
        """What reading each annotation file found (rows, records, malformed rows); empty for generated data."""
        return []

    def describe(self, split: str) -> str:
        """Where the samples of `split` come from, for error messages."""
        return f"{type(self).__name__} ({split})"
