"""Caption sources on tiny fixtures of each real format: records, images, negatives, bad rows and missing inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from ahnpl_lightning.data.negatives import NegativeGenerator, load_negatives_cache
from ahnpl_lightning.data.sources import (
    CocoSource,
    KarpathySource,
    NegCLIPSource,
    NpySource,
    RecordDataset,
    TableSource,
    default_cache_path,
    tokenize_table,
)
from tests._data_fixtures import (
    NEGCLIP_TSV,
    TYPES,
    coco_fixture,
    karpathy_fixture,
    negclip_fixture,
    npy_fixture,
    table_fixtures,
    tokenizer,
)


def kinds(dataset: RecordDataset) -> dict[str, int]:
    """Skip kinds over a whole dataset."""
    out: dict[str, int] = {}
    for i in range(len(dataset)):
        item = dataset[i]
        if "skipped" in item:
            out[item["skipped"]] = out.get(item["skipped"], 0) + 1
    return out


def test_coco_one_sample_per_caption_and_bad_images_are_skip_markers(tmp_path: Path) -> None:
    fx = coco_fixture(tmp_path)
    source = CocoSource(str(fx["annotations"]), str(fx["image_root"]), negatives="none")
    dataset = source.train_dataset()
    assert len(dataset) == 12  # 6 images x 2 captions; the 2 malformed annotations are not samples
    assert kinds(dataset) == {"missing_image": fx["missing_image"], "unreadable_image": fx["unreadable_image"]}
    good = dataset[0]
    assert isinstance(good["image"], Image.Image) and good["caption"] == "a red cube left of a blue ball"
    assert good["negatives"] == dict.fromkeys(TYPES)
    marker = dataset[8]  # image 4, first caption
    assert marker["skipped"] == "missing_image"
    assert "captions_train2014.json:annotation 8" in marker["location"]
    assert "COCO_train2014_000000000004.jpg" in marker["location"]
    assert {k: len(v) for k, v in source.issues().items()} == fx["malformed"]
    assert source.issues()["malformed_missing_caption"] == ["captions_train2014.json:annotation 12"]


def test_missing_inputs_fail_at_check_with_path_and_what(tmp_path: Path) -> None:
    fx = coco_fixture(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"COCO captions JSON \(captions_train2014.json\) not found at .*nope"):
        CocoSource(str(tmp_path / "nope" / "captions_train2014.json"), str(fx["image_root"])).check()
    with pytest.raises(FileNotFoundError, match=r"image folder \(image_root\) not found at .*no_images"):
        CocoSource(str(fx["annotations"]), str(tmp_path / "no_images")).check()
    with pytest.raises(ValueError, match="supports"):
        CocoSource(str(fx["annotations"]), str(fx["image_root"]), negatives="source")


def test_karpathy_splits_and_blip_list(tmp_path: Path) -> None:
    fx = karpathy_fixture(tmp_path)
    source = KarpathySource(str(fx["annotations"]), str(fx["image_root"]), negatives="none")
    train, val = source.train_dataset(), source.val_dataset()
    assert len(train) == fx["train"] and val is not None and len(val) == fx["val"]
    assert [train[i]["caption"] for i in (0, 4)] == ["a red cube left of a blue ball", "a man riding a brown horse"]
    assert all("skipped" not in train[i] for i in range(len(train)))
    assert source.issues() == {"malformed_bad_image_entry": ["dataset_coco.json:image 6"]}
    blip = KarpathySource(str(fx["blip"]), str(fx["image_root"]), negatives="none")
    assert [blip.train_dataset()[i]["caption"] for i in range(3)] == [
        "a red cube left of a blue ball", "a small dog sitting on a large sofa", "a woman holding a yellow umbrella"]
    assert blip.val_dataset() is None


def test_negclip_source_negatives_image_negatives_and_out_of_range(tmp_path: Path) -> None:
    fx = negclip_fixture(tmp_path, rows=40)
    source = NegCLIPSource(str(fx["annotations"]), str(fx["image_root"]), negatives="source", image_negatives=3)
    dataset = source.train_dataset()
    assert len(dataset) == 40
    header = fx["header"]
    expected_out = [(k, i) for k, negs in enumerate(fx["neg_images"]) for i in negs if i >= 40]
    out_of_range = source.issues()["neg_image_out_of_range"]
    assert len(out_of_range) == len(expected_out)
    k0, i0 = expected_out[0]
    assert out_of_range[0] == f"negclip_train.tsv:line {k0 + 2} (neg_image {i0}, 40 rows loaded)"
    for k in range(40):
        item = dataset[k]
        if k in fx["missing"]:
            assert item["skipped"] == "missing_image" and f"negclip_train.tsv:line {k + 2} " in item["location"]
            continue
        first_neg = eval(fx["rows"][k][header.index("neg_caption")])[0]  # noqa: S307 - our own fixture
        assert item["negatives"] == {**dict.fromkeys(TYPES), "relation": first_neg}
        assert len(item["neg_images"]) == 3
        for m, index in enumerate(fx["neg_images"][k]):
            in_range = index < 40
            present = in_range and index not in fx["missing"]
            assert (item["neg_images"][m] is not None) == present, (k, m, index)
            if present:
                assert item["neg_image_captions"][m] == fx["rows"][index][header.index("title")]
        missing_negs = [i for i in fx["neg_images"][k] if i < 40 and i in fx["missing"]]
        assert len(item.get("issues", [])) == len(missing_negs)


def test_real_negclip_file_reports_every_out_of_range_index(tmp_path: Path) -> None:
    source = NegCLIPSource(str(NEGCLIP_TSV), str(tmp_path), negatives="none", image_negatives=3)
    dataset = source.train_dataset()
    assert len(dataset) == 300
    # counted independently from the file: indices that point past its 300 rows
    import csv
    import json

    with open(NEGCLIP_TSV, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    expected = sum(1 for row in rows for i in json.loads(row["neg_image"]) if i >= 300)
    assert len(source.issues()["neg_image_out_of_range"]) == expected == 900 - 104
    assert dataset[0]["skipped"] == "missing_image"  # no image folder content here


def test_npy_source_negatives_and_image_template(tmp_path: Path) -> None:
    fx = npy_fixture(tmp_path)
    source = NpySource(str(fx["annotations"]), str(fx["image_root"]))
    dataset = source.train_dataset()
    assert len(dataset) == fx["good"]
    assert all("skipped" not in dataset[i] for i in range(len(dataset)))
    assert dataset[0]["negatives"] == {t: f"{t} negative of 0" for t in TYPES}
    assert dataset[1]["negatives"]["relation"] is None  # '###'
    assert [t for t, v in dataset[2]["negatives"].items() if v is None] == ["adj_swap", "verb"]  # valid_caption 0
    assert source.issues() == {"malformed_missing_caption": ["train_neg.npy:item 5"]}


def test_table_sources_with_custom_columns(tmp_path: Path) -> None:
    fx = table_fixtures(tmp_path)
    source = TableSource(str(fx["csv"]), str(fx["image_root"]), caption_column="text_a", image_column="picture",
                         negative_columns={"relation": "neg_rel", "noun": "neg_noun"}, negatives="source")
    dataset = source.train_dataset()
    assert len(dataset) == 4
    assert dataset[1]["negatives"] == {**dict.fromkeys(TYPES), "relation": "rel neg 1", "noun": "noun neg 1"}
    assert dataset[2]["negatives"]["noun"] is None  # empty cell
    assert source.issues() == {"malformed_wrong_field_count": ["pairs.csv:line 6"]}
    jsonl = TableSource(str(fx["jsonl"]), str(fx["image_root"]), negatives="none")
    assert len(jsonl.train_dataset()) == 3
    assert jsonl.issues() == {"malformed_bad_json": ["pairs.jsonl:line 4"]}
    with pytest.raises(ValueError, match="negative_columns"):
        TableSource(str(fx["csv"]), str(fx["image_root"]), negatives="source")


def test_negatives_cache_is_built_on_first_use_and_merged_with_negclip(tmp_path: Path) -> None:
    fx = negclip_fixture(tmp_path, rows=4, missing_every=99)
    source = NegCLIPSource(str(fx["annotations"]), str(fx["image_root"]), negatives="cache", seed=3)
    source.prepare()
    cache = tmp_path / "negclip_train.negatives.parquet"
    assert cache.exists() and len(load_negatives_cache(cache)) == 4
    mtime = os.path.getmtime(cache)
    dataset = source.train_dataset()  # loads, does not rebuild
    assert os.path.getmtime(cache) == mtime
    generator = NegativeGenerator(seed=3)
    for k in range(4):
        caption = fx["rows"][k][fx["header"].index("title")]
        expected = {t: generator.generate(caption)[t] for t in TYPES}
        expected["relation"] = eval(fx["rows"][k][fx["header"].index("neg_caption")])[0]  # noqa: S307
        assert dataset[k]["negatives"] == expected


def test_default_cache_path_falls_back_when_read_only() -> None:
    assert default_cache_path(NEGCLIP_TSV).parent != NEGCLIP_TSV.parent or os.access(NEGCLIP_TSV.parent, os.W_OK)
    assert default_cache_path(NEGCLIP_TSV).name.endswith(".negatives.parquet")


def test_pretokenized_rows_equal_the_tokenizer(tmp_path: Path) -> None:
    fx = npy_fixture(tmp_path)
    dataset = NpySource(str(fx["annotations"]), str(fx["image_root"])).train_dataset()
    tok = tokenizer()
    dataset.pretokenize(tok, TYPES)
    assert dataset.tokens is not None and dataset.tokens.dtype.name == "uint16"
    item = dataset[2]
    texts = [item["caption"]] + [item["negatives"][t] or "" for t in TYPES]
    reference = tok(texts)
    assert item["caption_tokens"].tolist() == reference[0].tolist()
    for k, t in enumerate(TYPES):
        if item["negatives"][t] is None:
            assert not item["negative_tokens"][k].any()
        else:
            assert item["negative_tokens"][k].tolist() == reference[1 + k].tolist()
    table, context = tokenize_table(tok, ["a", None])
    assert context == 32 and table.shape == (2, 3) and not table[1].any()
