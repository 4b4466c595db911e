"""`ahnpl world --output DIR [--size N] [--seed S]`: export the world's benchmarks into an evaluation data root."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ahnpl_lightning.data.world.core import World
from ahnpl_lightning.data.world.export import export_benchmarks
from ahnpl_lightning.tools import ToolParser


def build_parser() -> ToolParser:
    """Arguments of `ahnpl world` (`--kebab-case`; `--out` and snake_case spellings still work)."""
    p = ToolParser(prog="ahnpl world", description=__doc__)
    p.add_flag("--output", "--out", type=Path, required=True, help="data root to write (aro/, coco/, sugarcrepe/, ...)")
    p.add_flag("--size", type=int, default=200, help="items per benchmark file (default 200)")
    p.add_flag("--seed", type=int, default=0, help="export seed: which test scenes and captions (default 0)")
    p.add_flag("--world-seed", type=int, default=0, help="World seed (must match the training world)")
    p.add_flag("--image-size", type=int, default=64, help="image side in pixels (default 64)")
    p.add_flag("--max-objects", type=int, default=3, help="objects per scene at most (default 3)")
    p.add_flag("--no-materials", action="store_true", help="a world without the solid/hollow/striped attribute")
    p.add_flag("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the export; prints the per-file counts and returns 0 (2 on bad arguments)."""
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        world = World(
            image_size=args.image_size,
            seed=args.world_seed,
            max_objects=args.max_objects,
            materials=not args.no_materials,
        )
        manifest = export_benchmarks(world, args.output, size=args.size, seed=args.seed, progress=not args.quiet)
    except ValueError as err:
        print(f"ahnpl world: {err}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    print(json.dumps(manifest["counts"], indent=1))
    print(f"wrote {manifest['images']} images and {len(manifest['counts'])} files to {args.output} in {elapsed:.1f} s")
    if manifest["shortfall"]:
        print(f"warning: files with fewer than {args.size} items: {manifest['shortfall']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
