"""Benchmarks for text hard negatives: throughput per core and coverage on real COCO captions (issue 4 targets).

Run ``PYTHONPATH=src python benchmarks/negatives.py``. Targets: >= 2,000 captions/s per core; on the 500 real
captions of ``coco_karpathy_test_first100.json``: >= 97% get a ``noun`` negative, >= 80% of captions with two or
more nouns get a ``relation`` negative, and every emitted negative differs from its caption.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ahnpl_lightning.data.negatives import ALL_TYPES, NegativeGenerator

SHARED_DATA = Path(os.environ.get("AHNPL_SHARED_DATA", "/work/shared/data"))
COCO_SAMPLE = SHARED_DATA / "coco" / "coco_karpathy_test_first100.json"


def coco_captions(path: Path = COCO_SAMPLE) -> list[str]:
    """The real COCO captions of the shared Karpathy-test sample (100 images x 5)."""
    with open(path, encoding="utf-8") as fh:
        return [c for item in json.load(fh) for c in item["caption"]]


def bench_negatives(n: int = 5000, seed: int = 0) -> dict:
    """Captions per CPU-second of one process (per core): cold (first pass, empty per-word caches) and warm.

    The sample has 500 distinct captions, so ``n`` cycles through them with distinct seeds per cycle (fresh random
    choices, warm WordNet caches, as in a long run over a large corpus). WordNet loading is timed separately.
    """
    captions = coco_captions()
    start = time.perf_counter()
    generator = NegativeGenerator(seed=seed)
    _ = generator.alternatives.wn  # load WordNet now so that it is not billed to the first captions
    load_s = time.perf_counter() - start
    cpu0 = time.process_time()
    generator.generate_many(captions)
    cold_cpu = time.process_time() - cpu0
    done = 0
    cpu1 = time.process_time()
    t0 = time.perf_counter()
    cycle = 0
    while done < n:
        cycle += 1
        generator.seed = seed + cycle
        batch = captions[: n - done]
        generator.generate_many(batch)
        done += len(batch)
    warm_wall = time.perf_counter() - t0
    warm_cpu = time.process_time() - cpu1
    return {
        "wordnet_load_s": round(load_s, 2),
        "cold_captions_per_cpu_s": round(len(captions) / cold_cpu, 1),
        "warm_captions_per_cpu_s": round(n / warm_cpu, 1),
        "warm_captions_per_wall_s": round(n / warm_wall, 1),
        "n_warm": n,
    }


def quality_report(seed: int = 0) -> dict:
    """Coverage per type on the 500 real captions, against the issue-4 targets."""
    generator = NegativeGenerator(seed=seed)
    captions = coco_captions()
    results = generator.generate_many(captions)
    n = len(captions)
    multi_noun = [i for i, c in enumerate(captions) if len(generator._noun_units(generator.parse(c))) >= 2]
    emitted = [(c, r[k]) for c, r in zip(captions, results) for k in ALL_TYPES if r[k] is not None]
    report = {f"{k}_coverage": round(sum(r[k] is not None for r in results) / n, 4) for k in ALL_TYPES}
    report.update({
        "n_captions": n,
        "n_with_2plus_nouns": len(multi_noun),
        "relation_coverage_2plus_nouns": round(sum(results[i]["relation"] is not None for i in multi_noun)
                                               / max(1, len(multi_noun)), 4),
        "emitted": len(emitted),
        "differs_fraction": round(sum(neg != cap for cap, neg in emitted) / max(1, len(emitted)), 4),
    })
    report["targets_met"] = (report["noun_coverage"] >= 0.97 and report["relation_coverage_2plus_nouns"] >= 0.80
                             and report["differs_fraction"] == 1.0)
    return report


if __name__ == "__main__":
    print(json.dumps(quality_report(), indent=2))
    print(json.dumps(bench_negatives(), indent=2))
