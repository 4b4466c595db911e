"""`ahnpl eval`: run the compositional benchmarks on a checkpoint or an open_clip model and write the results.

    ahnpl eval --benchmarks aro,valse --data-root DIR (--ckpt_path FILE | --model NAME [--pretrained FILE_OR_TAG])
               --output results.json [--csv FILE] [--markdown FILE] [--batch-size N] [--device cpu]
               [--path KEY=DIR ...] [--limit N]

Result JSON: `{"model": str, "benchmarks": {NAME: {"subsets": {SUBSET: {"accuracy", "count"}}, "summary": {...},
"missing_images": int, "corrupt_images": int, "skipped_items": int}}}`; benchmarks whose data is absent are left out
(one log line each). Accuracies are fractions in [0, 1].
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from ahnpl_lightning.evaluation import aro, retrieval, sugarcrepe, valse, vl_checklist, winoground
from ahnpl_lightning.evaluation.scoring import BenchmarkResult, Encoder, FeatureCache, resolve_limit

if TYPE_CHECKING:
    import pandas

log = logging.getLogger(__name__)

BENCHMARKS: dict[str, Callable[..., BenchmarkResult]] = {
    "aro": aro.evaluate,
    "valse": valse.evaluate,
    "vl_checklist": vl_checklist.evaluate,
    "sugarcrepe": sugarcrepe.evaluate,
    "winoground": winoground.evaluate,
    "retrieval": retrieval.evaluate,
}


def evaluate_benchmarks(
    names: Sequence[str],
    model: nn.Module | None,
    preprocess: Callable[[Any], Tensor] | None,
    tokenizer: Callable[[list[str]], Tensor] | None,
    data_root: str | Path,
    *,
    paths: Mapping[str, str] | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    limit: int | Mapping[str, int] | None = None,
    device: str | torch.device | None = None,
    encoder: Encoder | None = None,
    progress: bool = True,
    model_name: str = "",
    keep_items: bool = False,
) -> dict[str, Any]:
    """Run the named benchmarks sharing one feature cache (each distinct image/caption encoded once in all) and
    return the result JSON object; absent benchmarks are logged and left out. `keep_items` adds each benchmark's
    per-item outcomes `"items": [{"key", "subset", "split", "correct", "category"}]` (scored items only; keys are
    stable across runs, so two runs' items pair up by key)."""
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; known: {sorted(BENCHMARKS)}")
    cache = FeatureCache()
    out: dict[str, Any] = {"model": model_name, "benchmarks": {}}
    for name in names:
        result = BENCHMARKS[name](
            model, preprocess, tokenizer, data_root, paths=paths, batch_size=batch_size, num_workers=num_workers,
            limit=resolve_limit(limit, name), device=device, encoder=encoder, cache=cache, progress=progress,
        )
        if result.skipped is None:
            out["benchmarks"][name] = result.to_dict(keep_items)
    return out


def results_table(results: Mapping[str, Any]) -> pandas.DataFrame:
    """One row per (benchmark, subset or summary entry): benchmark, subset, accuracy, count."""
    import pandas as pd

    rows = [
        {"benchmark": bench, "subset": name, "accuracy": m["accuracy"], "count": m["count"]}
        for bench, res in results["benchmarks"].items()
        for section in ("subsets", "summary")
        for name, m in res[section].items()
    ]
    return pd.DataFrame(rows, columns=["benchmark", "subset", "accuracy", "count"])


def to_markdown(table: pandas.DataFrame) -> str:
    """A GitHub markdown table (no `tabulate` dependency); accuracy shown as a percentage."""
    lines = ["| benchmark | subset | accuracy (%) | count |", "|---|---|---:|---:|"]
    for row in table.itertuples(index=False):
        lines.append(f"| {row.benchmark} | {row.subset} | {100 * row.accuracy:.2f} | {row.count} |")
    return "\n".join(lines) + "\n"


def _parse_paths(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--path expects KEY=DIR, got {pair!r}")
        out[key] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    """The `ahnpl eval` argument parser."""
    p = argparse.ArgumentParser(prog="ahnpl eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--benchmarks", default=",".join(BENCHMARKS), help="comma-separated: " + ",".join(BENCHMARKS))
    p.add_argument("--data-root", required=True, help="folder with one sub-folder per benchmark")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ckpt_path", "--ckpt-path", dest="ckpt_path", help="AHNPLModule Lightning checkpoint")
    src.add_argument("--model", help="open_clip model name (built-in, AHNPL-Tiny-64, local-dir:FOLDER, hf-hub:...)")
    p.add_argument("--pretrained", default=None, help="weights file or open_clip tag for --model")
    p.add_argument("--output", required=True, help="results JSON path")
    p.add_argument("--csv", default=None, help="also write the table as CSV")
    p.add_argument("--markdown", default=None, help="also write the table as markdown")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--limit", type=int, default=None, help="at most N items per subset file (quick runs)")
    p.add_argument("--path", action="append", default=[], metavar="KEY=DIR",
                   help="override a benchmark folder, e.g. coco=/data/coco, sugarcrepe_images=/data/val2017")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument("--keep-items", action="store_true",
                   help="add each benchmark's per-item outcomes (key, subset, split, correct) to the JSON")
    return p


def load_model(args: argparse.Namespace) -> tuple[nn.Module, Callable[[Any], Tensor], Callable[..., Tensor], str]:
    """(model, preprocess_val, tokenizer, name) from a checkpoint or an open_clip model name."""
    if args.ckpt_path:
        from ahnpl_lightning.module import AHNPLModule

        module = AHNPLModule.load_from_checkpoint(args.ckpt_path, map_location="cpu")
        return module.model, module.preprocess_val, module.tokenizer, str(args.ckpt_path)
    from ahnpl_lightning.model import create_model_and_transforms

    bundle = create_model_and_transforms(args.model, args.pretrained)
    name = args.model if not args.pretrained else f"{args.model}:{args.pretrained}"
    return bundle.model, bundle.preprocess_val, bundle.tokenizer, name


def main(argv: list[str] | None = None) -> int:
    """Entry point of `ahnpl eval`; returns the process exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    names = [n.strip() for n in args.benchmarks.split(",") if n.strip()]
    try:
        paths = _parse_paths(args.path)
        model, preprocess, tokenizer, model_name = load_model(args)
        model.to(args.device)
        results = evaluate_benchmarks(
            names, model, preprocess, tokenizer, args.data_root, paths=paths, batch_size=args.batch_size,
            num_workers=args.num_workers, limit=args.limit, device=args.device, progress=not args.no_progress,
            model_name=model_name, keep_items=args.keep_items,
        )
    except (ValueError, FileNotFoundError, argparse.ArgumentTypeError) as exc:
        print(f"ahnpl eval: error: {exc}", file=sys.stderr)
        return 2
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = results_table(results)
    if args.csv:
        table.to_csv(args.csv, index=False)
    if args.markdown:
        Path(args.markdown).write_text(to_markdown(table), encoding="utf-8")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}") if len(table) else "no accuracy to report")
    for name, res in results["benchmarks"].items():
        if res["missing_images"] or res["corrupt_images"] or res["skipped_items"]:
            print(f"{name}: {res['missing_images']} missing image(s), {res['corrupt_images']} corrupt, "
                  f"{res['skipped_items']} item(s) not scored")
    return 0


if __name__ == "__main__":
    sys.exit(main())
