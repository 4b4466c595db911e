"""Pretrained tags that live in this package (checked before open_clip's registry): no download, works offline.

`world` of `AHNPL-RN-64` is the synthetic world's stand-in for a pre-trained CLIP (plain contrastive loss on the
world's training split; `python -m benchmarks.pretrain` rebuilds it, `weights/README.md` gives its figures).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class LocalTag:
    """A pretrained tag whose weights file ships with (or is built into) the package."""

    model: str
    tag: str
    path: Path
    rebuild: str  # the command that writes `path`

    def check(self) -> Path:
        """The weights file, or a FileNotFoundError that says how to rebuild it."""
        if not self.path.is_file():
            raise FileNotFoundError(
                f"weights of pretrained tag '{self.tag}' for model '{self.model}' are missing: {self.path}; "
                f"rebuild them with `{self.rebuild}` (from the repository root)"
            )
        return self.path


LOCAL_TAGS: dict[tuple[str, str], LocalTag] = {}


def local_weights_path(model: str, tag: str) -> Path:
    """Where the package keeps the weights of `model`'s local tag `tag`."""
    return WEIGHTS_DIR / f"{model}-{tag}.pt"


def register_local_tag(model: str, tag: str, path: str | Path | None = None, rebuild: str = "") -> LocalTag:
    """Make `tag` of `model` resolve to a local weights file (default: the package's weights folder)."""
    entry = LocalTag(model, tag, Path(path) if path is not None else local_weights_path(model, tag), rebuild)
    LOCAL_TAGS[(model, tag)] = entry
    return entry


def find_local_tag(model: str, tag: str) -> LocalTag | None:
    """The registered local tag, or None (then open_clip's registry decides)."""
    return LOCAL_TAGS.get((model, tag))


def list_local_tags(model: str) -> list[str]:
    """The local tags registered for `model`."""
    return sorted(t for m, t in LOCAL_TAGS if m == model)


register_local_tag("AHNPL-RN-64", "world", rebuild="python -m benchmarks.pretrain")
