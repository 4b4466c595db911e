"""Integration: the project's benchmark loaders read a world export, and an oracle encoder scores 100 %."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from torch import Tensor

from ahnpl_lightning.data.world import Scene, World, export_benchmarks, verify
from ahnpl_lightning.evaluation import evaluate_benchmarks
from ahnpl_lightning.evaluation.scoring import ImageRef, ImageStatus, load_image

SIZE = 10


class OracleEncoder:
    """Image i -> one-hot e_i over the export's scenes; a caption -> the vector of its oracle truth values over those
    scenes. So score(caption, image) > 0 iff the caption is true of the image, and every false option scores 0."""

    def __init__(self, root: Path) -> None:
        data = json.loads((root / "world_scenes.json").read_text())
        self.root = root
        self.paths = list(data)
        self.index = {p: i for i, p in enumerate(self.paths)}
        self.scenes = [Scene.from_dict(data[p]) for p in self.paths]

    def encode_images(self, refs: Sequence[ImageRef]) -> tuple[Tensor, Tensor]:
        feats = torch.zeros(len(refs), len(self.paths))
        status = torch.zeros(len(refs), dtype=torch.long)
        for k, ref in enumerate(refs):
            _, st = load_image(ref)
            status[k] = int(st)
            if st == ImageStatus.OK:
                feats[k, self.index[Path(ref.path).resolve().relative_to(self.root.resolve()).as_posix()]] = 1.0
        return feats, status

    def encode_texts(self, texts: Sequence[str]) -> Tensor:
        return torch.tensor([[1.0 if verify(t, s) else 0.0 for s in self.scenes] for t in texts])


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("world_eval")
    export_benchmarks(World(), root, size=SIZE, progress=False)
    names = ["aro", "valse", "vl_checklist", "sugarcrepe", "winoground"]
    return evaluate_benchmarks(names, None, None, None, root, encoder=OracleEncoder(root), progress=False)["benchmarks"]


def test_loaders_read_every_world_file(results: dict) -> None:
    assert set(results) == {"aro", "valse", "vl_checklist", "sugarcrepe", "winoground"}
    for name, res in results.items():
        assert res["missing_images"] == 0 and res["corrupt_images"] == 0 and res["skipped_items"] == 0, name
    subsets = results["sugarcrepe"]["subsets"]
    for subset in ("add_obj", "add_att", "replace_obj", "replace_att", "replace_rel", "swap_obj", "swap_att"):
        assert subsets[subset]["count"] == SIZE
    assert results["winoground"]["subsets"]["group"]["count"] == SIZE
    assert results["aro"]["subsets"]["vg_relation"]["count"] == SIZE
    assert results["aro"]["subsets"]["coco_order"]["count"] > SIZE  # one item per (image, caption)


def test_oracle_scores_perfectly_and_world_splits_are_reported(results: dict) -> None:
    for name, res in results.items():
        for subset, m in res["subsets"].items():
            if subset.startswith("coco_order"):
                continue  # word-order perturbations are mostly outside the grammar (score 0) or rarely still true
            assert m["accuracy"] == 1.0, (name, subset, m)
    keys = set(results["sugarcrepe"]["subsets"])
    assert any(k.endswith("@held_out") for k in keys) and any(k.endswith("@in_distribution") for k in keys)
