"""``ahnpl negatives INPUT --output OUT.parquet``: build a text hard-negative cache from caption annotations."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["build_parser", "main"]

#: Old spellings kept as hidden aliases (one flag style for every tool: --kebab-case).
_ALIASES: dict[str, str] = {"--out": "output", "--no_progress": "no_progress"}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ahnpl negatives``."""
    from ahnpl_lightning.data.formats import FORMATS

    parser = argparse.ArgumentParser(prog="ahnpl negatives", description="Build a text hard-negative cache.")
    parser.add_argument("input", type=Path, help="caption annotations (COCO, Karpathy, BLIP, NegCLIP TSV, npy, ...)")
    parser.add_argument("--output", "-o", type=Path, default=None, help="Parquet file to write (required)")
    parser.add_argument("--out", dest="output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--format", default="auto", choices=("auto", *FORMATS), help="annotation format")
    parser.add_argument("--column", default=None, help="caption column for csv/tsv/jsonl input")
    parser.add_argument("--workers", type=int, default=1, help="generator processes")
    parser.add_argument("--seed", type=int, default=0, help="mixes into every random choice")
    parser.add_argument("--tagger", default="auto", choices=("auto", "nltk", "builtin"), help="POS tagger")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no_progress", action="store_true", dest="no_progress", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``ahnpl negatives``; returns the exit code (0 written, 1 nothing usable, 2 bad input or output)."""
    from ahnpl_lightning.data.formats import read_captions
    from ahnpl_lightning.data.negatives.cache import build_negatives_cache, check_writable, load_negatives_cache
    from ahnpl_lightning.types import ALL_TYPES

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.output is None:
        parser.error("the following arguments are required: --output")
    try:  # an unwritable destination fails now, not after the whole corpus is processed
        fd, tmp = check_writable(args.output)
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        records, report = read_captions(args.input, fmt=args.format, column=args.column)
    except (OSError, ValueError) as err:
        message = str(err)
        where = "" if str(args.input) in message else f"{args.input}: "  # always name the file
        print(f"error: {where}{message}", file=sys.stderr)
        return 2
    print(report.summary(), file=sys.stderr)
    if not records:
        print(f"error: no usable captions in {args.input}", file=sys.stderr)
        return 1
    out = build_negatives_cache(records, args.output, workers=args.workers, seed=args.seed, tagger=args.tagger,
                                progress=not args.no_progress,
                                extra_metadata={"ahnpl_source": str(args.input), "ahnpl_format": report.format})
    frame = load_negatives_cache(out)
    coverage = ", ".join(f"{k} {frame[k].notna().mean():.1%}" for k in ALL_TYPES)
    print(f"wrote {len(frame)} rows to {out} (valid: {coverage})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
