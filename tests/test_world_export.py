"""World benchmark export: the real file formats, counts, oracle-checked options, manifest and CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from PIL import Image

from ahnpl_lightning.data.world import (
    Scene,
    World,
    export_benchmarks,
    read_manifest,
    verify,
)
from ahnpl_lightning.tools.world import main
from ahnpl_lightning.evaluation.benchmarks import REGISTRY

SIZE = 12
SUGARCREPE = ("add_obj", "add_att", "replace_obj", "replace_att", "replace_rel", "swap_obj", "swap_att")
VALSE = ("existence", "counting-small-quant", "relations", "plurals", "actant-swap")
SPLITS = {"in_distribution", "held_out"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world_root")
    export_benchmarks(World(), out, size=SIZE, seed=0, progress=False)
    return out


@pytest.fixture(scope="module")
def scenes(root: Path) -> dict[str, Scene]:
    return {k: Scene.from_dict(v) for k, v in json.loads((root / "world_scenes.json").read_text()).items()}


def check_pair(root: Path, scenes: dict[str, Scene], image: str, true: str, false: str) -> None:
    """The image exists under `root`, and the oracle finds `true` true and `false` false in its scene."""
    with Image.open(root / image) as img:
        assert img.size == (64, 64)
    scene = scenes[image]
    assert verify(true, scene) is True, (image, true)
    assert verify(false, scene) is False, (image, false)


def words(text: str) -> list[str]:
    return sorted(text.lower().rstrip(".").split())


def rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def test_aro(root: Path, scenes: dict[str, Scene]) -> None:
    for name, extra in (("relation", "relation_name"), ("attribution", "attributes")):
        records = json.loads((root / "aro" / f"visual_genome_{name}.json").read_text())
        assert len(records) == SIZE
        for r in records:
            assert set(r) == {
                "image_id",
                "image_path",
                "bbox_x",
                "bbox_y",
                "bbox_w",
                "bbox_h",
                extra,
                "true_caption",
                "false_caption",
                "world_split",
            }
            assert r["world_split"] in SPLITS
            image = root / "aro" / "images" / r["image_path"]
            with Image.open(image) as img:
                img.load()
            scene = scenes[rel(root, image)]
            assert verify(r["true_caption"], scene) is True and verify(r["false_caption"], scene) is False
            x0, y0, x1, y1 = r["bbox_x"], r["bbox_y"], r["bbox_x"] + r["bbox_w"], r["bbox_y"] + r["bbox_h"]
            assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
            # the crop contains both objects the captions talk about
            inside = [
                o for o in scene.objects if x0 <= o.bbox[0] and y0 <= o.bbox[1] and o.bbox[2] <= x1 and o.bbox[3] <= y1
            ]
            assert len(inside) >= 2
            if name == "relation":
                assert r["relation_name"] in {"to the left of", "to the right of", "above", "below"}
                assert r["relation_name"] in r["true_caption"]
            else:
                assert len(r["attributes"]) == 2 and all(a in r["true_caption"] for a in r["attributes"])
                assert r["attributes"][0] < r["attributes"][1]


def test_coco_karpathy(root: Path, scenes: dict[str, Scene]) -> None:
    records = json.loads((root / "coco" / "coco_karpathy_test.json").read_text())
    assert len(records) == SIZE and len({r["image"] for r in records}) == SIZE
    for r in records:
        assert set(r) == {"image", "caption", "world_split"} and r["image"].startswith("val2014/COCO_val2014_")
        assert 2 <= len(r["caption"]) == len(set(r["caption"])) <= 5
        scene = scenes[f"coco/{r['image']}"]
        assert all(verify(c, scene) is True for c in r["caption"])


def test_sugarcrepe(root: Path, scenes: dict[str, Scene]) -> None:
    for subset in SUGARCREPE:
        data = json.loads((root / "sugarcrepe" / f"{subset}.json").read_text())
        assert list(data) == [str(k) for k in range(SIZE)]
        for item in data.values():
            assert set(item) == {"filename", "caption", "negative_caption", "world_split"}
            check_pair(root, scenes, f"coco/val2017/{item['filename']}", item["caption"], item["negative_caption"])
            if subset.startswith("swap"):
                assert words(item["caption"]) == words(item["negative_caption"])
            if subset.startswith("add"):
                assert len(item["negative_caption"].split()) > len(item["caption"].split())


def test_valse(root: Path, scenes: dict[str, Scene]) -> None:
    for piece in VALSE:
        data = json.loads((root / "valse" / f"{piece}.json").read_text())
        assert len(data) == SIZE
        for item in data.values():
            assert {"dataset", "image_file", "caption", "foil", "mturk", "linguistic_phenomena", "world_split"} <= set(
                item
            )
            assert item["dataset"] == "world" and item["mturk"]["caption"] >= 2
            assert set(item["mturk"]) == {"foil", "caption", "other"}
            check_pair(root, scenes, f"valse/images/world/{item['image_file']}", item["caption"], item["foil"])


def test_winoground(root: Path, scenes: dict[str, Scene]) -> None:
    lines = (root / "winoground" / "examples.jsonl").read_text().splitlines()
    assert len(lines) == SIZE
    for line in lines:
        ex = json.loads(line)
        assert set(ex) == {
            "id",
            "image_0",
            "image_1",
            "caption_0",
            "caption_1",
            "tag",
            "secondary_tag",
            "num_main_preds",
            "collapsed_tag",
            "world_split",
        }
        assert ex["collapsed_tag"] in {"Object", "Relation"}
        img0, img1 = (f"winoground/images/{ex[k]}.png" for k in ("image_0", "image_1"))
        check_pair(root, scenes, img0, ex["caption_0"], ex["caption_1"])  # text score pairs of Winoground both hold
        check_pair(root, scenes, img1, ex["caption_1"], ex["caption_0"])
        assert words(ex["caption_0"]) == words(ex["caption_1"])  # same words, different order


def test_vl_checklist(root: Path, scenes: dict[str, Scene]) -> None:
    base = root / "vl_checklist"
    yamls = sorted(base.glob("corpus/v1/**/world.yaml"))
    subs = {p.parent.relative_to(base / "corpus" / "v1").as_posix() for p in yamls}
    assert subs == {
        "Object/Location/center",
        "Object/Location/margin",
        "Object/Size/large",
        "Object/Size/small",
        "Attribute/color",
        "Attribute/size",
        "Attribute/material",
        "Relation/spatial",
    }
    totals: dict[str, int] = {}
    for path in yamls:
        cfg = yaml.safe_load(path.read_text())
        assert (
            set(cfg) == {"ANNO_PATH", "IMG_ROOT", "TYPE"}
            and cfg["TYPE"] == "TUPLE_JSON"
            and cfg["IMG_ROOT"] == "world/"
        )
        assert path.read_text().startswith('ANNO_PATH: "data/')  # quoted like the official vg.yaml
        records = json.loads((base / cfg["ANNO_PATH"]).read_text())
        group = "/".join(path.parent.relative_to(base / "corpus" / "v1").parts[:2])
        totals[group] = totals.get(group, 0) + len(records)
        for image, texts in records:
            assert set(texts) == {"POS", "NEG", "world_split"} and len(texts["POS"]) == len(texts["NEG"]) == 1
            check_pair(root, scenes, f"vl_checklist/{cfg['IMG_ROOT']}{image}", texts["POS"][0], texts["NEG"][0])
    assert totals == {
        "Object/Location": SIZE,
        "Object/Size": SIZE,
        "Attribute/color": SIZE,
        "Attribute/size": SIZE,
        "Attribute/material": SIZE,
        "Relation/spatial": SIZE,
    }


def test_manifest_counts_and_splits(root: Path) -> None:
    manifest = read_manifest(root)
    assert manifest is not None and manifest["complete"] and manifest["world"] == World().config()
    for relpath, count in manifest["counts"].items():
        path = root / relpath
        if path.suffix == ".jsonl":
            records = [json.loads(x) for x in path.read_text().splitlines()]
        else:
            data = json.loads(path.read_text())
            records = list(data.values()) if isinstance(data, dict) else data
        assert len(records) == count
        tags = [r[1]["world_split"] if isinstance(r, list) else r["world_split"] for r in records]
        assert sum(t == "held_out" for t in tags) == manifest["held_out"][relpath]
    assert manifest["shortfall"] == {}
    assert manifest["images"] == len(json.loads((root / "world_scenes.json").read_text()))
    assert 0 < sum(manifest["held_out"].values()) < sum(manifest["counts"].values())


def test_export_is_deterministic(root: Path, tmp_path: Path) -> None:
    export_benchmarks(World(), tmp_path, size=SIZE, seed=0, progress=False)
    for name in ("sugarcrepe/swap_att.json", "winoground/examples.jsonl", "world_scenes.json"):
        assert (tmp_path / name).read_text() == (root / name).read_text()


def test_interrupted_export_has_no_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ex: object) -> None:
        raise KeyboardInterrupt

    export_benchmarks(World(), tmp_path, size=2, progress=False)
    assert read_manifest(tmp_path) is not None
    spec = REGISTRY["winoground"]  # the writers moved from export.py to each benchmark's spec
    monkeypatch.setitem(REGISTRY, "winoground", replace(spec, world=replace(spec.world, write=boom)))
    with pytest.raises(KeyboardInterrupt):
        export_benchmarks(World(), tmp_path, size=2, progress=False)
    assert read_manifest(tmp_path) is None and not (tmp_path / "world_manifest.json").exists()


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--size", "20"]) == 0
    manifest = read_manifest(tmp_path)
    assert manifest is not None and manifest["size"] == 20
    assert manifest["counts"]["sugarcrepe/replace_rel.json"] == 20
    assert "wrote" in capsys.readouterr().out
    assert main(["--out", str(tmp_path), "--size", "0"]) == 2
    assert main(["--out", str(tmp_path), "--max-objects", "1"]) == 2
    assert "two objects" in capsys.readouterr().err
