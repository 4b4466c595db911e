"""`ahnpl eval`: run the compositional benchmarks on a checkpoint or an open_clip model and write the results.

    ahnpl eval --benchmarks aro,valse --data-root DIR (--ckpt-path FILE | --model NAME [--pretrained FILE_OR_TAG])
               --output results.json [--csv FILE] [--markdown FILE] [--batch-size N] [--device cpu]
               [--path KEY=DIR ...] [--limit N] [--seed S] [--tagger auto|nltk|builtin] [--keep-items]
               [--allow-partial]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ahnpl_lightning.evaluation.provenance import now
from ahnpl_lightning.evaluation.run import BENCHMARKS, evaluate_benchmarks, results_table, shortfalls, to_markdown
from ahnpl_lightning.tools import ToolParser


def parse_paths(pairs: Sequence[str]) -> dict[str, str]:
    """`--path KEY=DIR` pairs -> {KEY: DIR}."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--path expects KEY=DIR, got {pair!r}")
        out[key] = value
    return out


def build_parser() -> ToolParser:
    """The `ahnpl eval` argument parser (`--kebab-case`; `--ckpt_path` and other snake_case spellings still work)."""
    p = ToolParser(prog="ahnpl eval", description=__doc__.split("\n\n")[0])
    p.add_flag("--benchmarks", default=",".join(BENCHMARKS), help="comma-separated: " + ",".join(BENCHMARKS))
    p.add_flag("--data-root", required=True, help="folder with one sub-folder per benchmark")
    src = p.add_mutually_exclusive_group(required=True)
    p.add_flag("--ckpt-path", group=src, help="AHNPLModule Lightning checkpoint")
    p.add_flag("--model", group=src,
               help="open_clip model name (built-in, AHNPL-Tiny-64, local-dir:FOLDER, hf-hub:...)")
    p.add_flag("--pretrained", default=None, help="weights file or open_clip tag for --model")
    p.add_flag("--output", "--out", required=True, help="results JSON path")
    p.add_flag("--csv", default=None, help="also write the table as CSV")
    p.add_flag("--markdown", default=None, help="also write the table as markdown")
    p.add_flag("--batch-size", type=int, default=64)
    p.add_flag("--num-workers", type=int, default=0)
    p.add_flag("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_flag("--limit", type=int, default=None, help="at most N items per subset file (quick runs)")
    p.add_flag("--seed", type=int, default=0, help="seed of ARO's COCO/Flickr-Order perturbations (default 0)")
    p.add_flag("--tagger", default="auto", choices=("auto", "nltk", "builtin"),
               help="part-of-speech tagger for ARO's order perturbations (auto: nltk when installed)")
    p.add_flag("--path", action="append", default=[], metavar="KEY=DIR",
               help="override a benchmark folder, e.g. coco=/data/coco, sugarcrepe_images=/data/val2017")
    p.add_flag("--no-progress", action="store_true", help="hide the progress bars")
    p.add_flag("--allow-partial", action="store_true",
               help="exit 0 even when a requested benchmark is absent or a file unreadable (not when nothing ran)")
    p.add_flag("--keep-items", action="store_true",
               help="add each benchmark's per-item outcomes (key, subset, split, correct) to the JSON")
    return p


def load_model(args: argparse.Namespace) -> tuple[nn.Module, Callable[[Any], Tensor], Callable[..., Tensor], str]:
    """(model, preprocess_val, tokenizer, name) from a checkpoint or an open_clip model name."""
    if args.ckpt_path:
        from ahnpl_lightning.module import AHNPLModule
        from ahnpl_lightning.tools.checkpoint import check_checkpoint

        module = AHNPLModule.load_from_checkpoint(str(check_checkpoint(args.ckpt_path)), map_location="cpu")
        return module.model, module.preprocess_val, module.tokenizer, str(args.ckpt_path)
    from ahnpl_lightning.model import create_model_and_transforms

    bundle = create_model_and_transforms(args.model, args.pretrained)
    name = args.model if not args.pretrained else f"{args.model}:{args.pretrained}"
    return bundle.model, bundle.preprocess_val, bundle.tokenizer, name


def main(argv: list[str] | None = None) -> int:
    """Entry point of `ahnpl eval`. Exit status: 0 when every requested benchmark was evaluated from readable files
    (malformed records and missing images are counted and located, and allowed); 1 when a requested benchmark is
    absent, a file is unreadable or a benchmark scored nothing (0 with `--allow-partial`, unless nothing at all was
    evaluated); 2 on bad arguments. The result JSON is written in every case but the last."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    names = [n.strip() for n in args.benchmarks.split(",") if n.strip()]
    from ahnpl_lightning.model import PretrainedUnavailableError  # here, not at import: `--help` stays fast

    try:
        if not Path(args.data_root).is_dir():
            raise FileNotFoundError(f"--data-root {args.data_root} is not a folder (it should hold one sub-folder per "
                                    f"benchmark: aro/, coco/, sugarcrepe/, ...; `ahnpl world --output DIR` writes one)")
        paths = parse_paths(args.path)
        model, preprocess, tokenizer, model_name = load_model(args)
        model.to(args.device)
        results = evaluate_benchmarks(
            names, model, preprocess, tokenizer, args.data_root, paths=paths, batch_size=args.batch_size,
            num_workers=args.num_workers, limit=args.limit, device=args.device, progress=not args.no_progress,
            model_name=model_name, keep_items=args.keep_items, seed=args.seed, tagger=args.tagger,
        )
    except (ValueError, FileNotFoundError, argparse.ArgumentTypeError, PretrainedUnavailableError) as exc:
        print(f"ahnpl eval: error: {exc}", file=sys.stderr)
        return 2
    missing = shortfalls(results)
    status = 1 if (missing and not args.allow_partial) or not results["benchmarks"] else 0
    results["run"].update(model_source(args), command=["ahnpl", "eval", *(sys.argv[1:] if argv is None else argv)],
                          allow_partial=args.allow_partial, complete=not missing, shortfalls=missing,
                          finished=now(), exit_status=status)
    write_outputs(args, results)
    report(results, missing, status, args.allow_partial)
    return status


def model_source(args: argparse.Namespace) -> dict[str, Any]:
    """What was evaluated: a checkpoint (its absolute path) or an open_clip model name and pretrained tag/file."""
    if args.ckpt_path:
        return {"checkpoint": str(Path(args.ckpt_path).resolve()), "model_name": None, "pretrained": None}
    return {"checkpoint": None, "model_name": args.model, "pretrained": args.pretrained}


def write_outputs(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """The result JSON, and the table as CSV / markdown when asked."""
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = results_table(results)
    if args.csv:
        table.to_csv(args.csv, index=False)
    if args.markdown:
        Path(args.markdown).write_text(to_markdown(table), encoding="utf-8")
    print(console_table(table) if len(table) else "no figure to report")


def console_table(table: Any) -> str:
    """benchmark, subset, value, count, measure: names left-aligned, numbers right-aligned, the long text last."""
    rows = [("benchmark", "subset", "value", "count", "measure")]
    rows += [(r.benchmark, r.subset, f"{r.value:.4f}", str(r.count), r.measure) for r in table.itertuples(index=False)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(f"{b:<{widths[0]}}  {s:<{widths[1]}}  {v:>{widths[2]}}  {c:>{widths[3]}}  {m}"
                     for b, s, v, c, m in rows)


def report(results: dict[str, Any], missing: list[str], status: int, allow_partial: bool) -> None:
    """Say on stderr what was lost and where, what the notes say, and why the exit status is what it is."""
    for name, res in results["benchmarks"].items():
        if res["skipped_items"]:
            about = "about " if res["skipped_items_estimated"] else ""
            causes = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in res["unscored"].items() if n)
            print(f"{name}: {about}{res['skipped_items']} item(s) not scored ({causes}); e.g. "
                  + "; ".join(f"{p['location']}: {p['error']}" for p in res["problems"][:3]), file=sys.stderr)
        for note in res["notes"]:
            print(f"{name}: note: {note}", file=sys.stderr)
    for line in missing:
        print(f"ahnpl eval: {line}", file=sys.stderr)
    if status:
        why = "nothing was evaluated" if not results["benchmarks"] else "the evaluation is incomplete"
        hint = "" if not results["benchmarks"] else " (--allow-partial accepts a partial run)"
        print(f"ahnpl eval: {why}{hint}; exit status {status}", file=sys.stderr)
    elif missing and allow_partial:
        print("ahnpl eval: partial run accepted (--allow-partial); see `shortfalls` in the result JSON",
              file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
