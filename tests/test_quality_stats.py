"""The quality study's bootstrap (benchmarks/quality_stats.py) on synthetic per-item outcomes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import quality_stats as qs

GROUPS = {"relations": ["aro/vg_relation", "sugarcrepe/replace_rel"]}


def _items(subset: str, correct: list[bool], split: str = "held_out") -> list[dict]:
    return [{"key": f"k{i:04d}", "subset": subset, "split": split, "correct": c} for i, c in enumerate(correct)]


def test_run_outcomes_orders_items_by_key_and_fills_run_level_numbers() -> None:
    items = _items("vg_relation", [True, False, True]) + [
        {"key": "x", "subset": "vg_relation", "split": None, "correct": True}  # no split: left out
    ]
    items.reverse()
    results = {"benchmarks": {"aro": {"items": items}, "retrieval": {"subsets": {}}}}
    out = qs.run_outcomes(results, {"retrieval/coco/t2i_R@1@held_out": 0.25, "aro/vg_relation@held_out": 0.9})
    assert out["aro/vg_relation@held_out"].tolist() == [1.0, 0.0, 1.0]  # items win over the run-level number
    assert out["retrieval/coco/t2i_R@1@held_out"].tolist() == [0.25]
    assert qs.group_score(out, ["aro/vg_relation"], "held_out") == pytest.approx(200 / 3)
    assert math.isnan(qs.group_score(out, ["aro/vg_relation"], "in_distribution"))
    duplicated = {"benchmarks": {"aro": {"items": _items("vg_relation", [True]) * 2}}}
    with pytest.raises(ValueError, match="duplicate item keys"):
        qs.run_outcomes(duplicated)


def _outcomes(rng: np.random.Generator, p: float, n: int = 1000) -> qs.Outcomes:
    return {f"{m}@held_out": (rng.random(n) < p).astype(float) for m in GROUPS["relations"]}


def test_interval_width_matches_the_binomial_standard_error() -> None:
    rng = np.random.default_rng(1)
    runs = {"a": {0: _outcomes(rng, 0.7)}}
    result = qs.bootstrap(runs, GROUPS, ["held_out"], replicates=2000)
    ci = result.scores["a"]["relations [held_out]"]
    # two subsets of 1,000 items, p = 0.7: the mean of two proportions has se = sqrt(0.21 / 1000) / sqrt(2)
    se = 100 * math.sqrt(0.21 / 1000) / math.sqrt(2)
    assert ci.low < ci.value < ci.high
    assert (ci.high - ci.low) == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_differences_are_paired_over_items_and_seeds() -> None:
    rng = np.random.default_rng(2)
    base = {s: _outcomes(rng, 0.6) for s in (0, 1, 2)}
    better = {s: {k: np.maximum(v, (rng.random(v.size) < 0.03)) for k, v in o.items()} for s, o in base.items()}
    runs = {"NegCLIP": base, "same": {s: dict(o) for s, o in base.items()}, "better": better}
    result = qs.bootstrap(runs, GROUPS, ["held_out"], reference="NegCLIP", replicates=1000)
    same = result.differences["same"]["relations [held_out]"]
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)  # identical outcomes: every replicate agrees
    gain = result.differences["better"]["relations [held_out]"]
    assert 0 < gain.low < gain.value < gain.high
    # unpaired, the two scores' own intervals overlap: pairing is what makes the small gain visible
    assert result.scores["better"]["relations [held_out]"].low < result.scores["NegCLIP"]["relations [held_out]"].high
    assert "NegCLIP" not in result.differences


def test_seed_spread_widens_the_interval_and_single_run_methods_work() -> None:
    n = 500
    ones, zeros = np.ones(n), np.zeros(n)
    half = np.r_[ones[: n // 2], zeros[n // 2:]]
    steady = {s: {f"{m}@held_out": half for m in GROUPS["relations"]} for s in range(3)}
    erratic = {0: {f"{m}@held_out": ones for m in GROUPS["relations"]},
               1: {f"{m}@held_out": zeros for m in GROUPS["relations"]},
               2: {f"{m}@held_out": half for m in GROUPS["relations"]}}
    pretrained = {0: steady[0]}
    result = qs.bootstrap({"steady": steady, "erratic": erratic, "pretrained": pretrained}, GROUPS, ["held_out"],
                          replicates=1000)
    width = {m: r["relations [held_out]"].high - r["relations [held_out]"].low for m, r in result.scores.items()}
    assert width["erratic"] > 5 * width["steady"]
    assert result.scores["erratic"]["relations [held_out]"].value == pytest.approx(50.0)
    assert width["pretrained"] == pytest.approx(width["steady"], rel=0.3)


def test_runs_on_different_files_cannot_be_paired() -> None:
    runs = {"a": {0: {"aro/vg_relation@held_out": np.ones(10)}}, "b": {0: {"aro/vg_relation@held_out": np.ones(12)}}}
    with pytest.raises(ValueError, match="same files"):
        qs.bootstrap(runs, GROUPS, ["held_out"])
