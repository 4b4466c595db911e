"""Benchmarks for text hard negatives: throughput per core and coverage on real COCO captions (issue 4 targets).

Run ``python -m benchmarks.negatives``. Targets: >= 2,000 captions/s per core; on the 500 real
captions of ``coco_karpathy_test_first100.json``: >= 97% get a ``noun`` negative, >= 80% of captions with two or
more nouns get a ``relation`` negative, and every emitted negative differs from its caption.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import SHARED_DATA
from ahnpl_lightning.data.negatives import ALL_TYPES, NegativeGenerator

COCO_SAMPLE = SHARED_DATA / "coco" / "coco_karpathy_test_first100.json"


def coco_captions(path: Path = COCO_SAMPLE) -> list[str]:
    """The real COCO captions of the shared Karpathy-test sample (100 images x 5)."""
    with open(path, encoding="utf-8") as fh:
        return [c for item in json.load(fh) for c in item["caption"]]


def synthetic_captions(n: int, seed: int = 0) -> list[str]:
    """``n`` COCO-like captions with a COCO-train-sized vocabulary: the real captions with each content word
    replaced, with probability 0.6, by a random sense-tagged WordNet word of the same class (~18k distinct words)."""
    from ahnpl_lightning.data.negatives import inflect_verb, pluralize
    from ahnpl_lightning.data.negatives.lexicon.words import get_lexicon
    from ahnpl_lightning.data.negatives.tagger import get_tagger, tokenize

    lexicon = get_lexicon()
    pools = {pos: sorted(w for (w, p), c in lexicon.counts.items() if p == pos and c > 0 and w.isalpha()
                         and w.islower() and len(w) > 2) for pos in "nva"}
    tag = get_tagger("builtin")
    rng = random.Random(seed)
    templates = []
    for caption in coco_captions():
        tokens = tokenize(caption)
        templates.append((caption, tokens, tag([t.text for t in tokens])))
    out = []
    for _ in range(n):
        caption, tokens, tags = templates[rng.randrange(len(templates))]
        pieces, last = [], 0
        for token, t in zip(tokens, tags):
            pos = "n" if t in {"NN", "NNS"} else "a" if t == "JJ" else "v" if t.startswith("VB") else None
            if pos is None or not token.text.isalpha() or rng.random() >= 0.6:
                continue
            word = pools[pos][rng.randrange(len(pools[pos]))]
            new = pluralize(word) if t == "NNS" else inflect_verb(word, t, lexicon) if pos == "v" else word
            pieces.append(caption[last:token.start] + new)
            last = token.end
        out.append("".join(pieces) + caption[last:])
    return out


def _fresh_process(call: str) -> dict:
    """Evaluate ``call`` (an expression over this module returning a dict) in a new interpreter and return its
    result: nothing is loaded or cached there yet, as in each worker of ``ahnpl negatives --workers N``."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    code = f"import json; from benchmarks import negatives as b; print(json.dumps(b.{call}))"
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, env=env,
                         cwd=root, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cold_then_warm(captions: list[str], n_warm: int, seed: int) -> dict:
    """In this (fresh) process: set-up, one cold pass over ``captions``, then ``n_warm`` captions cycling through
    them with new seeds per cycle (fresh random choices, as in a long run over a large corpus)."""
    cpu0 = time.process_time()
    generator = NegativeGenerator(seed=seed)  # lexicon and tagger; WordNet files are read on first use
    setup_cpu = time.process_time() - cpu0
    cpu1 = time.process_time()
    generator.generate_many(captions)
    cold_cpu = time.process_time() - cpu1
    done, cycle = 0, 0
    cpu2, wall2 = time.process_time(), time.perf_counter()
    while done < n_warm:
        cycle += 1
        generator.seed = seed + cycle
        batch = captions[: n_warm - done]
        generator.generate_many(batch)
        done += len(batch)
    warm_cpu, warm_wall = time.process_time() - cpu2, time.perf_counter() - wall2
    return {
        "n_cold": len(captions),
        "setup_cpu_s": round(setup_cpu, 3),
        "cold_captions_per_cpu_s": round(len(captions) / cold_cpu, 1),
        "cold_captions_per_cpu_s_incl_setup": round(len(captions) / (cold_cpu + setup_cpu), 1),
        "distinct_lemmas": len(generator.alternatives._cache),
        "warm_captions_per_cpu_s": round(n_warm / warm_cpu, 1),
        "warm_captions_per_wall_s": round(n_warm / warm_wall, 1),
        "n_warm": n_warm,
    }


def bench_negatives(n: int = 5000, seed: int = 0) -> dict:
    """Captions per CPU-second of one process (per core), in a fresh interpreter: cold = the first pass over the 500
    real captions (every word's first WordNet look-up), without and with the one-off set-up; warm = ``n`` more."""
    return _fresh_process(f"_cold_then_warm(b.coco_captions(), {n}, {seed})")


def _cold_from_file(path: str, seed: int) -> dict:
    with open(path, encoding="utf-8") as fh:
        captions = json.load(fh)
    return _cold_then_warm(captions, len(captions), seed)


def estimate_coco_train(n_synthetic: int = 20000, n_captions: int = 414_000, workers: int = 2, seed: int = 0) -> dict:
    """Wall time of ``ahnpl negatives --workers 2`` on COCO train (414k captions, ~25k-word vocabulary), from a cold
    run over ``synthetic_captions`` (COCO-sized vocabulary) and the warm rate on real captions, in fresh processes.

    Each worker pays the set-up and the whole vocabulary's first look-ups (pessimistic: rare words reach only one),
    then its share of captions at the warm rate: seconds = setup + vocabulary + (n_captions / workers) / warm.
    """
    captions = synthetic_captions(n_synthetic, seed)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(captions, fh)
    try:
        synthetic = _fresh_process(f"_cold_from_file({fh.name!r}, {seed})")
    finally:
        os.unlink(fh.name)
    real = bench_negatives(n=5000, seed=seed)
    # the one-off cost of the vocabulary: the cold pass minus what the same captions cost warm
    vocabulary_cpu = n_synthetic * (1 / synthetic["cold_captions_per_cpu_s"] - 1 / synthetic["warm_captions_per_cpu_s"])
    per_worker = synthetic["setup_cpu_s"] + vocabulary_cpu + n_captions / workers / real["warm_captions_per_cpu_s"]
    return {
        "synthetic_captions": n_synthetic,
        "synthetic_distinct_lemmas": synthetic["distinct_lemmas"],
        "synthetic_cold_captions_per_cpu_s": synthetic["cold_captions_per_cpu_s"],
        "synthetic_cold_captions_per_cpu_s_incl_setup": synthetic["cold_captions_per_cpu_s_incl_setup"],
        "vocabulary_cpu_s": round(vocabulary_cpu, 1),
        "real_warm_captions_per_cpu_s": real["warm_captions_per_cpu_s"],
        "coco_train_seconds_estimate": round(per_worker, 1),
        "coco_train_captions_per_cpu_s_estimate": round(n_captions / (workers * per_worker), 1),
        "workers": workers,
    }


def quality_report(seed: int = 0) -> dict:
    """Coverage per type on the 500 real captions, against the issue-4 targets."""
    generator = NegativeGenerator(seed=seed)
    captions = coco_captions()
    results = generator.generate_many(captions)
    n = len(captions)
    multi_noun = [i for i, c in enumerate(captions) if len(generator.parse(c).noun_units()) >= 2]
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
    print(json.dumps(estimate_coco_train(), indent=2))
