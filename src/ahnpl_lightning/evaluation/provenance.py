"""How a result was made, recorded in every result JSON (`"run"`): what was evaluated where, with which limit, seed
and tagger, the package versions and the source revision, and when."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "torchvision", "open_clip_torch", "lightning", "numpy", "pillow", "nltk")


def versions() -> dict[str, str | None]:
    """Python, this package and its main dependencies (None when not installed); no import of any of them."""
    import ahnpl_lightning

    out: dict[str, str | None] = {"python": platform.python_version(), "ahnpl_lightning": ahnpl_lightning.__version__}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def source_revision() -> str | None:
    """The git commit of this package's source tree (with `+dirty` when it has local changes), if it is a checkout."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None


def now() -> str:
    """The current time, ISO 8601 with the UTC offset."""
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


def run_info(names: Sequence[str], data_root: str | Path, paths: Mapping[str, str] | None, limit: Any, seed: int,
             tagger: str | None) -> dict[str, Any]:
    """The `"run"` block of a result JSON (the tool adds the model source and its command line)."""
    return {
        "benchmarks_requested": list(names),
        "data_root": str(Path(data_root).resolve()),
        "paths": dict(paths or {}),
        "limit": dict(limit) if isinstance(limit, Mapping) else limit,
        "seed": seed,
        "tagger": tagger,
        "versions": versions(),
        "source_revision": source_revision(),
        "started": now(),
    }
