"""What a benchmark hands to the scoring core: images to encode (`ImageRef`) and choice items (`ChoiceItem`: one
image, caption options, option 0 correct), and what comes back (`ScoredItem`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


@dataclass(frozen=True)
class ImageRef:
    """A distinct image to encode: its file and an optional crop box (x, y, w, h) applied before preprocessing."""

    path: str
    bbox: tuple[float, float, float, float] | None = None


class ImageStatus(IntEnum):
    """Outcome of loading one image (`CORRUPT`: the file exists but cannot be decoded or cropped)."""

    OK = 0
    MISSING = 1
    CORRUPT = 2


@dataclass(frozen=True)
class ChoiceItem:
    """One image and its caption options; option 0 is the correct one (benchmarks reorder their files to this)."""

    image: ImageRef
    options: tuple[str, ...]
    subset: str
    category: str | None = None
    split: str | None = None
    key: str = ""


@dataclass(frozen=True)
class ScoredItem:
    """A `ChoiceItem` with its verdict and option scores."""

    item: ChoiceItem
    correct: bool
    scores: tuple[float, ...]
