"""`ahnpl export --ckpt-path CKPT --output OUT`: a training checkpoint -> plain open_clip weights.

`OUT` ending in .pt/.bin/.pth is a weights file (open_clip `pretrained=OUT`); anything else is a folder with weights and
an open_clip config (`local-dir:OUT`). `--ckpt_path` is kept as a hidden alias of `--ckpt-path`.
"""

from __future__ import annotations

import argparse
import sys

from ahnpl_lightning.export import export_checkpoint
from ahnpl_lightning.tools.checkpoint import check_checkpoint


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `ahnpl export` (kebab-case flags; old spellings as hidden aliases)."""
    parser = argparse.ArgumentParser(prog="ahnpl export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt-path", help="(required) Lightning checkpoint written by `lightning fit`")
    parser.add_argument("--ckpt_path", dest="ckpt_path", help=argparse.SUPPRESS)
    parser.add_argument("--output", help="(required) a .pt/.bin/.pth file, or a folder for local-dir: loading")
    parser.add_argument("--out", dest="output", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `ahnpl export`; 0 on success, 2 with a message naming the file when the checkpoint cannot be used."""
    parser = build_parser()
    args = parser.parse_args(argv)
    missing = [flag for flag, value in (("--ckpt-path", args.ckpt_path), ("--output", args.output)) if not value]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)}")
    try:
        path = export_checkpoint(check_checkpoint(args.ckpt_path), args.output)
    except (FileNotFoundError, ValueError) as exc:
        print(f"ahnpl export: {exc}", file=sys.stderr)
        return 2
    print(f"open_clip weights written to {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
