"""`make bench`: every performance figure of the project as a ratio or rate with its target and a pass/miss mark.

Ratios are measured side by side in the same run (these machines are noisy; an absolute time means little).
Prints a table and writes `benchmarks/out/bench.json`. `python -m benchmarks --quick` runs smaller sizes.
`--device cuda` runs the model benchmarks on a GPU (bf16 autocast for the training step).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from benchmarks.figures import Figure

OUT = Path(__file__).resolve().parent / "out"


def machine() -> dict[str, object]:
    """Where the figures came from."""
    info: dict[str, object] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def run(quick: bool, device: str) -> list[Figure]:
    """Run every benchmark and return its figures."""
    from benchmarks import ddp, evaluation, loss, negatives, training, world

    figures: list[Figure] = []

    step = training.bench_step(batch_size=32, repeats=3 if quick else 8, device=device)
    figures += [
        Figure("step tiny: AHNPL / NegCLIP", step["ahnpl_over_negclip"], 1.10, "<=",
               note=f"B=32, K=5; AHNPL {step['ahnpl_step_s'] * 1e3:.0f} ms"),
        Figure("step tiny: NegCLIP / CLIP", step["negclip_over_clip"], None, note="6x the captions per image"),
    ]
    if not quick:
        big_batch = 4 if device == "cpu" else 64
        big = training.bench_step("ViT-B-32", batch_size=big_batch, repeats=3, device=device)
        figures += [
            Figure("step ViT-B-32: AHNPL / NegCLIP", big["ahnpl_over_negclip"], 1.10, "<=",
                   note=f"B={big_batch}, K=5; AHNPL {big['ahnpl_step_s']:.2f} s"),
            Figure("step ViT-B-32: NegCLIP / CLIP", big["negclip_over_clip"], None),
        ]

    lo = loss.bench_loss(repeats=5 if quick else 20, device=device)
    figures.append(Figure("AHNPLLoss fwd+bwd / released computation", lo["ratio"], 1.0, "<=",
                          note=f"B=128 K=5 D=512; ours {lo['ours_corrected_ms']:.1f} ms, "
                               f"released-variant diff {lo['released_max_abs_diff']:.1e}"))

    text = training.bench_text_length(repeats=3 if quick else 6, device=device)
    figures += [
        Figure("text encoding: full context / dynamic length", text["speedup"], 1.8, ">=",
               note=f"ViT-B-32 text tower, 77 -> {int(text['longest_tokens'])} tokens"),
        Figure("text encoding: max |dynamic - full|", text["max_abs_diff"], 1e-5, "<=", unit=""),
    ]

    load = training.bench_loader(batches=6 if quick else 12)
    figures += [
        Figure(f"loader {n} workers / tiny AHNPL step", load[f"loader_{n}w_over_step"], 1.0 if n == 2 else None,
               ">=", note=f"{load[f'loader_{n}w_samples_per_s']:.0f} samples/s vs "
                         f"{load['step_samples_per_s']:.0f} consumed")
        for n in (0, 1, 2)
    ]

    figures += [Figure(**f) for f in negatives.bench_figures(quick)]

    render = world.bench_render(seconds=1.0 if quick else 3.0)
    figures.append(Figure("world rendering, 64 px, one core", render["images_per_s"], 2000, ">=", unit="img/s"))

    ev = evaluation.bench_eval()
    figures += [
        Figure("evaluation images / s (tiny model)", ev["images_per_s"], None, unit="/s"),
        Figure("evaluation captions / s (tiny model)", ev["captions_per_s"], None, unit="/s"),
    ]
    for key, label in (("sugarcrepe_like", "SugarCrepe-like"), ("real_swap_att", "real swap_att"),
                       ("real_coco_order_first100", "real COCO-Order")):
        if key in ev:
            counts = ev[key]
            figures.append(Figure(f"evaluation encodes saved by dedup, {label}", counts["ratio_naive_over_dedup"],
                                  None, note=f"{counts['naive_encodes']} -> {counts['dedup_encodes']} encodes"))
    for config, res in ddp.run_configs().items():
        figures.append(Figure(f"DDP fit, 2 CPU processes + eval callback: {config}", float(res["finished"]), 1.0,
                              ">=", unit="", note=f"exit {res['returncode']} in {res['seconds']:.0f} s; "
                                                  f"eval JSONs {res['eval_json']}"))
    return figures


def render_table(figures: list[Figure]) -> str:
    rows = [f"{'figure':<58} {'value':>12} {'target':>10}  mark  note"]
    for f in figures:
        value = f"{f.value:.3g}{f.unit}" if f.unit in ("x", "", " s") else f"{f.value:,.0f}{f.unit}"
        target = "" if f.target is None else f"{f.op}{f.target:g}"
        rows.append(f"{f.name:<58} {value:>12} {target:>10}  {f.mark:<4}  {f.note}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a third of the time)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: comparable across machines)")
    parser.add_argument("--output", type=Path, default=OUT / "bench.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    figures = run(args.quick, args.device)
    print(render_table(figures))
    report = {"machine": machine(), "seconds": time.perf_counter() - start, "quick": args.quick,
              "figures": [{**asdict(f), "mark": f.mark} for f in figures]}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{len(figures)} figures in {report['seconds']:.0f} s on {report['machine']}; written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
