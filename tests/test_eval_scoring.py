"""The shared scoring core: encode-once deduplication, tie rules, crops, missing/corrupt images, aggregation."""

from __future__ import annotations

import pytest
import torch
from _eval_helpers import RIGHT, TIE, BowEncoder, build_all, build_coco, build_sugarcrepe, corrupt, image
from PIL import Image

from ahnpl_lightning.evaluation import evaluate_benchmarks
from ahnpl_lightning.evaluation.scoring import (
    ChoiceItem,
    ImageRef,
    ImageStatus,
    ModelEncoder,
    accuracy,
    encode_distinct,
    macro,
    mean_of,
    score_choices,
    shard_bounds,
)
from ahnpl_lightning.model import create_model_and_transforms


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_model_and_transforms("AHNPL-Tiny-64", pretrained=None)


def test_shard_bounds_partition_without_duplicates():
    for n in (0, 1, 5, 17):
        for world in (1, 2, 3):
            bounds = [shard_bounds(n, r, world) for r in range(world)]
            assert [i for a, b in bounds for i in range(a, b)] == list(range(n))
            assert max(b - a for a, b in bounds) - min(b - a for a, b in bounds) <= 1


def test_aggregation_helpers_hand_values():
    assert accuracy([True, False, True, True]) == {"accuracy": 0.75, "count": 4}
    assert accuracy([]) is None
    groups = {"a": [True] * 25 + [False] * 5, "b": [False] * 24, "c": [True]}
    assert macro(groups) == {"accuracy": pytest.approx((25 / 30 + 0 + 1) / 3), "count": 55}
    assert macro(groups, min_count=25) == {"accuracy": pytest.approx(25 / 30), "count": 30}
    assert mean_of([{"accuracy": 1.0, "count": 2}, None, {"accuracy": 0.0, "count": 3}]) == {"accuracy": 0.5,
                                                                                              "count": 5}


def test_each_distinct_image_and_caption_encoded_once(tmp_path):
    build_sugarcrepe(tmp_path)  # 6 items, 12 caption slots, all on one image
    enc = BowEncoder()
    out = evaluate_benchmarks(["sugarcrepe"], None, None, None, tmp_path, encoder=enc, progress=False)
    assert out["benchmarks"]["sugarcrepe"]["summary"]["replace"]["count"] == 3
    assert len(enc.images_seen) == 1
    assert sorted(enc.texts_seen) == sorted({"the red cat", "the blue cat"})


def test_feature_cache_shared_across_benchmarks(tmp_path):
    build_coco(tmp_path)
    enc = BowEncoder()
    evaluate_benchmarks(["aro", "retrieval"], None, None, None, tmp_path, encoder=enc, progress=False)
    # COCO-Order and retrieval read the same 4 images (one missing): each is looked at once in all
    assert len(enc.images_seen) == len(set(enc.images_seen)) == 4
    assert len(enc.texts_seen) == len(set(enc.texts_seen))


def test_identical_captions_tie_and_tie_rule(tmp_path, tiny):
    ref = ImageRef(str(image(tmp_path / "red_cat.jpg")))
    items = [ChoiceItem(ref, TIE, "s"), ChoiceItem(ref, ("a red cat", "a blue cat"), "s")]
    enc = ModelEncoder(tiny.model, tiny.preprocess_val, tiny.tokenizer, "cpu", batch_size=2, progress=False)
    feats = encode_distinct(enc, [ref], [o for it in items for o in it.options])
    strict, _ = score_choices(items, feats)
    assert strict[0].scores[0] == strict[0].scores[1]  # bit-identical
    assert strict[0].correct is False
    lenient, _ = score_choices(items, feats, tie_correct=True)
    assert lenient[0].correct is True
    # the non-tied item's verdict follows its scores
    assert strict[1].correct == (strict[1].scores[0] > strict[1].scores[1])


def test_features_are_normalised_dot_products(tmp_path, tiny):
    ref = ImageRef(str(image(tmp_path / "red_cat.jpg")))
    enc = ModelEncoder(tiny.model, tiny.preprocess_val, tiny.tokenizer, "cpu", progress=False)
    feats = encode_distinct(enc, [ref], RIGHT)
    scored, _ = score_choices([ChoiceItem(ref, RIGHT, "s")], feats)
    with torch.no_grad():
        v = tiny.model.encode_image(tiny.preprocess_val(Image.open(ref.path).convert("RGB"))[None])
        t = tiny.model.encode_text(tiny.tokenizer(list(RIGHT)))
    expected = torch.nn.functional.normalize(v, dim=-1) @ torch.nn.functional.normalize(t, dim=-1).T
    assert torch.allclose(torch.tensor(scored[0].scores), expected[0], atol=1e-5)


def test_crop_to_bbox_before_preprocessing(tmp_path, tiny):
    two = Image.new("RGB", (64, 32), (255, 0, 0))
    two.paste((0, 0, 255), (32, 0, 64, 32))  # left half red, right half blue
    two.save(tmp_path / "two.png")
    image(tmp_path / "red.png", "red", (32, 32))
    image(tmp_path / "blue.png", "blue", (32, 32))
    refs = [ImageRef(str(tmp_path / "two.png"), (0, 0, 32, 32)), ImageRef(str(tmp_path / "two.png"), (32, 0, 32, 32)),
            ImageRef(str(tmp_path / "red.png")), ImageRef(str(tmp_path / "blue.png"))]
    enc = ModelEncoder(tiny.model, tiny.preprocess_val, tiny.tokenizer, "cpu", batch_size=3, progress=False)
    feats = encode_distinct(enc, refs, ["x"])
    f = feats.image_features
    assert torch.allclose(f[0], f[2], atol=1e-5) and torch.allclose(f[1], f[3], atol=1e-5)
    assert not torch.allclose(f[0], f[1], atol=1e-3)


def test_missing_and_corrupt_images_are_reported_not_fatal(tmp_path, tiny):
    good = ImageRef(str(image(tmp_path / "ok.jpg")))
    missing = ImageRef(str(tmp_path / "nope.jpg"))
    bad = ImageRef(str(corrupt(tmp_path / "bad.jpg")))
    empty_crop = ImageRef(str(tmp_path / "ok.jpg"), (10, 10, 0, 0))
    enc = ModelEncoder(tiny.model, tiny.preprocess_val, tiny.tokenizer, "cpu", batch_size=2, progress=False)
    feats = encode_distinct(enc, [good, missing, bad, empty_crop], ["a"])
    assert [feats.status(r) for r in (good, missing, bad, empty_crop)] == [
        ImageStatus.OK, ImageStatus.MISSING, ImageStatus.CORRUPT, ImageStatus.CORRUPT]
    items = [ChoiceItem(r, RIGHT, "s") for r in (good, missing, bad)]
    feats = encode_distinct(enc, [good, missing, bad], RIGHT)
    scored, skipped = score_choices(items, feats)
    assert [s.item.image for s in scored] == [good] and len(skipped) == 2


def test_full_fixture_with_tiny_model_and_worker_loader(tmp_path, tiny):
    build_all(tmp_path)
    names = ["aro", "valse", "vl_checklist", "sugarcrepe", "winoground", "retrieval"]
    out = evaluate_benchmarks(names, tiny.model, tiny.preprocess_val, tiny.tokenizer, tmp_path, batch_size=4,
                              num_workers=1, device="cpu", progress=False)
    assert set(out["benchmarks"]) == set(names)
    b = out["benchmarks"]
    assert (b["valse"]["corrupt_images"], b["vl_checklist"]["missing_images"], b["retrieval"]["missing_images"]) == (
        1, 1, 1)
    assert b["sugarcrepe"]["summary"]["replace"]["count"] == 3
    assert all(0.0 <= m["accuracy"] <= 1.0 for r in b.values() for m in r["subsets"].values())
    assert tiny.model.training  # restored after evaluation (create_model_and_transforms leaves it in train mode)
