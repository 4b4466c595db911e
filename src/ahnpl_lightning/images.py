"""One image loader for training and evaluation: an RGB image, or a named problem (never an exception).

`load_image(path, box)` returns a PIL image (cropped to `box` when given) or an `ImageProblem` whose `kind` is one of
`IMAGE_PROBLEMS`: `missing_image_path` (the annotation names no image), `missing_image` (no file there),
`unreadable_image` (the file exists but does not decode, or the crop box is empty). Callers count problems by kind
and report their paths; nothing here raises on bad images.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

__all__ = ["IMAGE_PROBLEMS", "LEGACY_PROBLEM_NAMES", "ImageProblem", "load_image", "resolve_image"]

IMAGE_PROBLEMS: tuple[str, ...] = ("missing_image_path", "missing_image", "unreadable_image")
#: Names used before 0.2, still accepted where users read counts (`AHNPLDataModule.skipped`).
LEGACY_PROBLEM_NAMES: dict[str, str] = {
    "corrupt_image": "unreadable_image", "neg_image_corrupt": "neg_image_unreadable",
}


@dataclass(frozen=True)
class ImageProblem:
    """Why an image could not be used: `kind` (one of `IMAGE_PROBLEMS`), the path tried, and a detail."""

    kind: str
    path: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} at {self.path}" + (f" ({self.detail})" if self.detail else "")


def resolve_image(root: str | os.PathLike[str], relative: str | None) -> Path | None:
    """`root / relative`, or None when the annotation names no image."""
    return Path(root) / relative if relative else None


def load_image(
    path: str | os.PathLike[str] | None, box: tuple[float, float, float, float] | None = None
) -> Image.Image | ImageProblem:
    """The RGB image at `path`, cropped to `box` = (x, y, width, height) when given, or the `ImageProblem`.

    The whole file is decoded here (so a truncated file is found now, not inside a transform).
    """
    if path is None or str(path) == "":
        return ImageProblem("missing_image_path", "", "the annotation names no image")
    path = Path(path)
    if not path.is_file():
        return ImageProblem("missing_image", str(path), "is a directory" if path.is_dir() else "")
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return ImageProblem("unreadable_image", str(path), f"{type(exc).__name__}: {exc}")
    if box is not None:
        x, y, w, h = box
        if w <= 0 or h <= 0:
            return ImageProblem("unreadable_image", str(path), f"empty crop box {tuple(box)}")
        image = image.crop((x, y, x + w, y + h))
    return image
