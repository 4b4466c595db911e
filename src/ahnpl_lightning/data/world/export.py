"""Export world test scenes as compositional benchmarks in the real file formats (docs/METHOD.md section 4).

Each benchmark's spec (`ahnpl_lightning.evaluation.benchmarks`, the same registry `ahnpl eval` reads) owns the writer
of its format; this module runs them over one `WorldExport`, which holds what they share: seeded test scenes, the
held-out tag, image saving, the per-file counts and the progress bar.

Every true caption is verified true and every false option verified false by the oracle before it is written.
Items whose image contains, or whose texts name, a composition held out of training are tagged
`"world_split": "held_out"`, others `"in_distribution"`. `world_scenes.json` maps every image path to its scene.
The manifest `world_manifest.json` is written last: a data root without it comes from an interrupted export.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import grammar as g
from .core import World, stable_seed
from .scene import Scene

MANIFEST = "world_manifest.json"
SCENES = "world_scenes.json"  # image path (relative to the root) -> Scene.to_dict(), to re-check items with the oracle
Item = tuple[Any, ...]


def write_text(path: Path, text: str) -> None:
    """Write a file via a temporary file and an atomic rename (no half-written file survives an interruption)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    """Write JSON (indent 1) atomically, as `write_text`."""
    write_text(path, json.dumps(data, indent=1))


class WorldExport:
    """What every benchmark's world writer shares during one export: the world, the output root, `size` items per
    file, the seed, seeded test scenes, the held-out tag, image saving, per-file counts and the progress bar."""

    def __init__(self, world: World, out_dir: Path, size: int, seed: int, progress: bool, total_files: int) -> None:
        self.world = world
        self.out = out_dir
        self.size = size
        self.seed = seed
        self.next_id = 0
        self.counts: dict[str, int] = {}
        self.held_out: dict[str, int] = {}
        self.skipped: dict[str, int] = {}
        self.bar = tqdm(total=size * total_files, desc="world export", unit="item", disable=not progress)
        self.scenes: dict[str, dict[str, Any]] = {}  # image path under the root -> scene (for audits and tests)

    def scene(self, bench: str, attempt: int, n_objects: int | None = None) -> Scene:
        """The test scene of (bench, attempt): seeded, so an export is reproducible."""
        return self.world.scene(stable_seed(self.seed, bench, attempt) % 2**62, "test", n_objects)

    def rng(self, bench: str, attempt: int) -> random.Random:
        """The random stream of (bench, attempt)."""
        return self.world.rng("export", self.seed, bench, attempt)

    def tag(self, scenes: Iterable[Scene], texts: Iterable[str]) -> str:
        """held_out iff an image contains, or a text names, a composition held out of training."""
        held = any(self.world.is_heldout(s) for s in scenes) or any(self.world.mentions_heldout(t) for t in texts)
        return "held_out" if held else "in_distribution"

    def new_id(self) -> int:
        """The next image number (numbered across the whole export, in writer order)."""
        self.next_id += 1
        return self.next_id

    def save(self, scene: Scene, path: Path) -> None:
        """Render `scene` to `path` (JPEG at quality 95, else PNG) and remember its scene."""
        path.parent.mkdir(parents=True, exist_ok=True)
        img = self.world.render(scene)
        self.scenes[path.relative_to(self.out).as_posix()] = scene.to_dict()
        if path.suffix == ".jpg":
            img.save(path, quality=95, subsampling=0)
        else:
            img.save(path, compress_level=1)

    def collect(self, name: str, build: Callable[[int], Item | None]) -> list[Item]:
        """Call `build(attempt)` until `size` items exist (at most 50 attempts per item); count the skips."""
        items: list[Item] = []
        attempt = 0
        while len(items) < self.size and attempt < 50 * max(self.size, 1):
            item = build(attempt)
            attempt += 1
            if item is None:
                continue
            items.append(item)
            self.bar.update(1)
        self.skipped[name] = attempt - len(items)
        return items

    def record(
        self,
        relpath: str,
        records: list[Any] | dict[str, dict[str, Any]],
        split_of: Callable[[Any], str | None] = lambda r: r.get("world_split"),
    ) -> None:
        """Count a written file's records and its held-out ones for the manifest."""
        values = list(records.values()) if isinstance(records, dict) else records
        self.counts[relpath] = len(values)
        self.held_out[relpath] = sum(split_of(r) == "held_out" for r in values)

    def statement(self, scene: Scene, rng: random.Random, kinds: tuple[str, ...]) -> g.Statement | None:
        """A random true caption Statement of one of `kinds` (None if 20 draws miss)."""
        for _ in range(20):
            st = self.world.caption_statement(scene, rng)
            if st.kind in kinds:
                return st
        return None

    def first_false(self, cands: list[g.Statement], scene: Scene) -> g.Statement | None:
        """The first candidate the oracle finds false of `scene`."""
        return next((c for c in cands if not g.evaluate(c, scene)), None)

    def write_records(
        self,
        relpath: str,
        records: list[Any] | dict[str, dict[str, Any]],
        split_of: Callable[[Any], str | None] = lambda r: r.get("world_split"),
    ) -> None:
        """Write a JSON annotation file under the root and count it (`record`)."""
        write_json(self.out / relpath, records)
        self.record(relpath, records, split_of)

    write_json = staticmethod(write_json)
    write_text = staticmethod(write_text)


def export_benchmarks(
    world: World, out_dir: Path, size: int = 200, seed: int = 0, progress: bool = True
) -> dict[str, Any]:
    """Write every registered benchmark's world files (ARO, COCO, SugarCrepe, VALSE, Winoground, VL-CheckList) under
    the data root `out_dir`.

    `size` items per file (per VL-CheckList group, split into its sub-categories); returns the manifest, which is
    also written last to `out_dir/world_manifest.json` (its absence marks an interrupted export).
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if world.max_objects < 2:
        raise ValueError(f"benchmarks need scenes with two objects; world.max_objects is {world.max_objects}")
    from ahnpl_lightning.evaluation.benchmarks import REGISTRY

    writers = sorted((spec.world for spec in REGISTRY.values() if spec.world is not None), key=lambda w: w.order)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    ex = WorldExport(world, out_dir, size, seed, progress, sum(w.files(world) for w in writers))
    try:
        for writer in writers:
            writer.write(ex)
    finally:
        ex.bar.close()
    manifest = {
        "format_version": 1,
        "world": world.config(),
        "seed": seed,
        "size": size,
        "counts": ex.counts,
        "held_out": ex.held_out,
        "skipped_attempts": ex.skipped,
        "images": len(ex.scenes),
        "complete": True,
    }
    shortfall = {k: n for k, n in ex.counts.items() if n < size and not k.startswith("vl_checklist/")}
    manifest["shortfall"] = shortfall
    write_json(out_dir / SCENES, ex.scenes)
    write_json(out_dir / MANIFEST, manifest)
    return manifest


def read_manifest(root: Path) -> dict[str, Any] | None:
    """The manifest of a complete export under `root`, or None if absent (no export, or an interrupted one)."""
    path = Path(root) / MANIFEST
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data if data.get("complete") else None


# Names that moved to the benchmark that owns them (kept for one release).
_MOVED = {
    "SUGARCREPE_SUBSETS": ("sugarcrepe", "WORLD_SUBSETS"),
    "VALSE_PIECES": ("valse", "WORLD_PIECES"),
    "TRUE_VOTES": ("valse", "TRUE_VOTES"),
    "VL_CHECKLIST": ("vl_checklist", "WORLD_FILES"),
    "VG_ATTRIBUTION_COLOUR_PAIRS": ("aro", "VG_ATTRIBUTION_COLOUR_PAIRS"),
    "WINOGROUND_ADJ_TAGS": ("winoground", "WORLD_ADJECTIVE_TAGS"),
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        module, attr = _MOVED[name]
        new = f"ahnpl_lightning.evaluation.benchmarks.{module}"
        warnings.warn(f"{__name__}.{name} moved to {new}.{attr}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(new), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
