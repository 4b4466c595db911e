"""Benchmarks are specs in a registry: adding one is one spec (and one registry line), evaluation and the world's
export both read the registry, and the old per-benchmark import paths still work (with a DeprecationWarning)."""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path

import pytest
from _eval_helpers import RIGHT, WRONG, BowEncoder, dump, image

from ahnpl_lightning.data.world import World, export_benchmarks, read_manifest
from ahnpl_lightning.evaluation import BENCHMARKS, evaluate_benchmarks
from ahnpl_lightning.evaluation.benchmarks import MODULES, REGISTRY, get
from ahnpl_lightning.evaluation.files import Location, json_records, parse_records
from ahnpl_lightning.evaluation.items import ChoiceItem, ImageRef
from ahnpl_lightning.evaluation.metrics import accuracy, put
from ahnpl_lightning.evaluation.spec import BenchmarkSpec, Request, WorldWriter

NAMES = ("aro", "valse", "vl_checklist", "sugarcrepe", "winoground", "retrieval")


def toy_spec() -> BenchmarkSpec:
    """A complete new benchmark in a few lines: `<root>/toy/pairs.json` = [{image, good, bad}], good must win."""

    def files(where: Location) -> list[Path]:
        return [where.dir("toy") / "pairs.json"]

    def load(request: Request) -> list[ChoiceItem]:
        path = files(request.where)[0]
        return parse_records(
            json_records(path, list, request.bad),
            lambda i, rec, n: [ChoiceItem(ImageRef(str(path.parent / rec["image"])), (rec["good"], rec["bad"]),
                                          "pairs", key=f"pairs#{i}")],
            request.bad, request.limit,
        )

    def aggregate(scored):
        subsets: dict = {}
        put(subsets, "pairs", accuracy([s.correct for s in scored]))
        return subsets, {}

    def write_world(ex) -> None:
        ex.write_records("toy/pairs.json", [{"image": "none.png", "good": "a", "bad": "b"}] * ex.size)

    return BenchmarkSpec("toy", files, load, aggregate, world=WorldWriter(write_world, files=lambda world: 1))


def test_registry_order_and_the_live_benchmarks_view():
    assert tuple(REGISTRY) == MODULES == NAMES
    assert list(BENCHMARKS) == list(NAMES) and BENCHMARKS["aro"] == REGISTRY["aro"].evaluate
    with pytest.raises(ValueError, match="unknown benchmark 'nope'"):
        get("nope")


def test_a_new_benchmark_is_one_spec(tmp_path, monkeypatch):
    monkeypatch.setitem(REGISTRY, "toy", toy_spec())
    image(tmp_path / "toy" / "red_cat.jpg")
    dump(tmp_path / "toy" / "pairs.json", [{"image": "red_cat.jpg", "good": RIGHT[0], "bad": RIGHT[1]},
                                           {"image": "red_cat.jpg", "good": WRONG[0], "bad": WRONG[1]},
                                           {"image": "red_cat.jpg", "good": "red cat"}])  # malformed: counted
    res = evaluate_benchmarks(["toy", "sugarcrepe"], None, None, None, tmp_path, encoder=BowEncoder(),
                              progress=False, keep_items=True)["benchmarks"]
    assert set(res) == {"toy"}  # sugarcrepe: no files, skipped
    assert res["toy"]["subsets"]["pairs"] == {"accuracy": 0.5, "count": 2}
    assert res["toy"]["skipped_items"] == 1
    assert [it["key"] for it in res["toy"]["items"]] == ["pairs#0", "pairs#1"]
    assert "toy" in BENCHMARKS  # the public view follows the registry


def test_the_world_export_is_driven_by_the_registry(tmp_path, monkeypatch):
    monkeypatch.setitem(REGISTRY, "toy", toy_spec())
    manifest = export_benchmarks(World(), tmp_path, size=2, progress=False)
    assert manifest["counts"]["toy/pairs.json"] == 2 and len(json.loads((tmp_path / "toy/pairs.json").read_text())) == 2
    written = set(manifest["counts"])
    for name in NAMES:  # every built-in benchmark that writes world files wrote them
        spec = REGISTRY[name]
        assert spec.world is not None
        present = [p for p in spec.files(Location(tmp_path)) if p.is_file()]
        assert present, name
    assert read_manifest(tmp_path) is not None and "winoground/examples.jsonl" in written


@pytest.mark.parametrize("name", NAMES)
def test_old_import_paths_warn_and_forward(name):
    old = importlib.import_module(f"ahnpl_lightning.evaluation.{name}")
    new = importlib.import_module(f"ahnpl_lightning.evaluation.benchmarks.{name}")
    with pytest.warns(DeprecationWarning, match=f"benchmarks.{name}"):
        assert old.evaluate is new.evaluate
    with pytest.warns(DeprecationWarning):
        assert old.load_items is new.load_items


def test_moved_world_export_constants_warn():
    from ahnpl_lightning.data.world import export
    from ahnpl_lightning.evaluation.benchmarks import sugarcrepe

    with pytest.warns(DeprecationWarning, match="WORLD_SUBSETS"):
        assert export.SUGARCREPE_SUBSETS == sugarcrepe.WORLD_SUBSETS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert export.MANIFEST == "world_manifest.json"  # names that stayed do not warn


def test_a_misspelt_option_is_an_error(tmp_path):
    with pytest.raises(TypeError, match="batchsize"):
        evaluate_benchmarks(["sugarcrepe"], None, None, None, tmp_path, encoder=BowEncoder(), batchsize=4)
