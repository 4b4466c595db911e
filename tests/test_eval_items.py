"""Per-item outcomes (`evaluate_benchmarks(..., keep_items=True)`): one record per scored item with a stable key, so
two runs pair up item by item, and the items reproduce the pooled figures they come from."""

from __future__ import annotations

from collections import defaultdict

import pytest
from _eval_helpers import BowEncoder, build_all

from ahnpl_lightning.evaluation import evaluate_benchmarks
from ahnpl_lightning.model import create_model_and_transforms

NAMES = ["aro", "valse", "vl_checklist", "sugarcrepe", "winoground", "retrieval"]
POOLED = {  # benchmark -> subsets whose accuracy is the plain mean over their items
    "valse": ("existence", "plurals", "counting-hard", "counting-small-quant"),
    "vl_checklist": ("v1/Attribute/color/vg", "v1/Attribute/state/vg", "v1/Relation/action/swig"),
    "sugarcrepe": ("replace_obj", "replace_att", "swap_att", "add_obj"),
    "winoground": ("text", "image", "group"),
    "retrieval": ("coco/i2t_R@1", "coco/t2i_R@1"),
    "aro": ("coco_order",),
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory):
    return build_all(tmp_path_factory.mktemp("items"))


def by_subset(items: list[dict]) -> dict[str, list[bool]]:
    out: dict[str, list[bool]] = defaultdict(list)
    for item in items:
        out[item["subset"]].append(item["correct"])
    return out


def test_items_reproduce_the_pooled_figures(root):
    res = evaluate_benchmarks(NAMES, None, None, None, root, encoder=BowEncoder(), progress=False,
                              keep_items=True)["benchmarks"]
    for name, subsets in POOLED.items():
        items = res[name]["items"]
        assert all(set(it) == {"key", "subset", "split", "correct", "category"} for it in items)
        assert all(isinstance(it["correct"], bool) and isinstance(it["key"], str) for it in items)
        assert len({it["key"] for it in items}) == len(items), name  # keys are unique within a benchmark
        flags = by_subset(items)
        for subset in subsets:
            metric = res[name]["subsets"][subset]
            assert len(flags[subset]) == metric["count"], (name, subset)
            assert sum(flags[subset]) / len(flags[subset]) == pytest.approx(metric["accuracy"]), (name, subset)
    # ARO's VG-Relation is a macro mean over relation categories: the items carry the category to rebuild it
    vg = defaultdict(list)
    for it in res["aro"]["items"]:
        if it["subset"] == "vg_relation_all" or it["subset"] == "vg_relation":
            vg[it["category"]].append(it["correct"])
    macro = sum(sum(f) / len(f) for f in vg.values()) / len(vg)
    assert macro == pytest.approx(res["aro"]["subsets"]["vg_relation_all"]["accuracy"])
    # the world split travels with each item
    splits = {it["key"]: it["split"] for it in res["sugarcrepe"]["items"]}
    assert splits["replace_obj/0"] == "in_distribution" and splits["replace_obj/2"] == "held_out"
    assert {it["key"] for it in res["winoground"]["items"]} >= {"0:text", "0:image", "0:group"}
    assert {it["key"] for it in res["retrieval"]["items"] if it["subset"] == "coco/i2t_R@1"} == {
        "val2014/red_cat.jpg", "val2014/blue_dog.jpg", "val2014/green_bird.jpg"}  # white_cat.jpg: missing, left out


def test_item_keys_pair_up_across_runs_and_are_off_by_default(root):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tiny = create_model_and_transforms("AHNPL-Tiny-64", pretrained=None)
    bow = evaluate_benchmarks(NAMES, None, None, None, root, encoder=BowEncoder(), progress=False, keep_items=True)
    real = evaluate_benchmarks(NAMES, tiny.model, tiny.preprocess_val, tiny.tokenizer, root, device="cpu",
                               progress=False, keep_items=True)
    for name in NAMES:
        a = [(it["key"], it["subset"]) for it in bow["benchmarks"][name]["items"]]
        b = [(it["key"], it["subset"]) for it in real["benchmarks"][name]["items"]]
        assert a == b and a, name  # same items in the same order: paired comparisons match item by item
    plain = evaluate_benchmarks(["sugarcrepe"], None, None, None, root, encoder=BowEncoder(), progress=False)
    assert "items" not in plain["benchmarks"]["sugarcrepe"]


def test_cli_keep_items_flag(root, tmp_path):
    import json

    from ahnpl_lightning.tools.eval import main

    out = tmp_path / "r.json"
    assert main(["--benchmarks", "sugarcrepe", "--data-root", str(root), "--model", "AHNPL-Tiny-64", "--output",
                 str(out), "--device", "cpu", "--no-progress", "--keep-items"]) == 0
    items = json.loads(out.read_text())["benchmarks"]["sugarcrepe"]["items"]
    assert [it["key"] for it in items] == ["replace_obj/0", "replace_obj/2", "replace_att/5", "swap_att/1",
                                           "swap_att/3", "add_obj/0"]
