"""Annotation readers: every format, malformed rows counted with locations, format detection."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA

from ahnpl_lightning.data.formats import CaptionRecord, ReadReport, detect_format, read_captions

SHARED = SHARED_DATA


def _write_negclip(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t")
        writer.writerow(["", "title", "filepath", "neg_caption", "neg_image"])
        writer.writerows(rows)


def test_coco_captions(tmp_path: Path) -> None:
    path = tmp_path / "captions_train2014.json"
    path.write_text(json.dumps({
        "info": {}, "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}, {"id": 3}],
        "annotations": [{"id": 10, "image_id": 1, "caption": " A dog. "}, {"id": 11, "image_id": 2, "caption": ""},
                        {"id": 12, "image_id": 9, "caption": "Ghost."}, {"id": 13, "image_id": 2, "caption": "A cat."}],
    }))
    assert detect_format(path) == "coco"
    records, report = read_captions(path)
    assert [(r.caption, r.image_path, r.image_id, r.caption_id) for r in records] == [
        ("A dog.", "a.jpg", "1", "10"), ("A cat.", "b.jpg", "2", "13")]
    assert report.malformed == {"bad_image_entry": ["captions_train2014.json:images 2"],
                                "missing_caption": ["captions_train2014.json:annotation 1"],
                                "unknown_image_id": ["captions_train2014.json:annotation 2"]}
    assert report.records == 2 and report.n_malformed == 3


def test_karpathy(tmp_path: Path) -> None:
    path = tmp_path / "dataset_coco.json"
    path.write_text(json.dumps({"dataset": "coco", "images": [
        {"filepath": "val2014", "filename": "x.jpg", "split": "test", "cocoid": 5,
         "sentences": [{"raw": "A man.", "sentid": 0}, {"raw": "  ", "sentid": 1}]},
        {"filename": "", "sentences": []},
    ]}))
    assert detect_format(path) == "karpathy"
    records, report = read_captions(path)
    assert records == [CaptionRecord("A man.", "val2014/x.jpg", "dataset_coco.json:image 0 sentence 0",
                                     image_id="5", caption_id="0", split="test")]
    assert report.malformed == {"missing_caption": ["dataset_coco.json:image 0 sentence 1"],
                                "bad_image_entry": ["dataset_coco.json:image 1"]}


def test_blip_real_sample_and_malformed(tmp_path: Path) -> None:
    real = SHARED / "coco" / "coco_karpathy_test_first100.json"
    if real.exists():
        records, report = read_captions(real)
        assert report.format == "blip" and report.n_malformed == 0
        assert len(records) == sum(len(x["caption"]) for x in json.loads(real.read_text()))
        assert records[0].image_path == "val2014/COCO_val2014_000000391895.jpg"
        assert records[0].location == "coco_karpathy_test_first100.json:item 0 caption 0"
    path = tmp_path / "train.json"
    path.write_text(json.dumps([{"image": "a.jpg", "caption": "A dog.", "image_id": "coco_1"}, {"caption": "x"},
                                {"image": "b.jpg", "caption": None}]))
    records, report = read_captions(path, fmt="blip")
    assert [(r.caption, r.image_id) for r in records] == [("A dog.", "coco_1")]
    assert report.malformed == {"bad_item": ["train.json:item 1"], "missing_caption": ["train.json:item 2"]}


def test_negclip_real_sample() -> None:
    path = SHARED / "negclip" / "valid_neg_clip_first300.tsv"
    assert detect_format(path) == "negclip"
    records, report = read_captions(path)
    assert len(records) == 300 and report.n_malformed == 0
    first = records[0]
    assert first.caption == "A child holding a flowered umbrella and petting a yak."
    assert first.image_path == "coco/val2014/COCO_val2014_000000184613.jpg"
    assert first.neg_captions == ("A umbrella holding a flowered child and petting a yak .",
                                  "A child petting a flowered umbrella and holding a yak .")
    assert first.neg_image == (2973, 1515, 2235) and first.location == "valid_neg_clip_first300.tsv:line 2"


def test_negclip_reader_equals_negclips_own_loader_on_the_real_file() -> None:
    """NegCLIP reads its TSV with pandas (quote processing on); the file quotes 6 of these 300 `neg_caption`s."""
    import ast

    import pandas as pd

    path = SHARED / "negclip" / "valid_neg_clip_first300.tsv"
    frame = pd.read_csv(path, sep="\t", converters={"neg_caption": ast.literal_eval, "neg_image": ast.literal_eval})
    records, report = read_captions(path)
    assert report.rows == len(frame) == len(records) == 300
    assert sum('"' in line for line in path.read_text().splitlines()) == 6  # the quoted rows are in this sample
    for position, (record, row) in enumerate(zip(records, frame.itertuples())):
        assert record.caption == row.title.strip() and record.image_path == row.filepath
        assert list(record.neg_captions) == row.neg_caption and list(record.neg_image) == row.neg_image
        assert record.caption_id == str(position)
        assert record.location == f"valid_neg_clip_first300.tsv:line {position + 2}"


def test_negclip_quoted_newlines_and_malformed(tmp_path: Path) -> None:
    path = tmp_path / "neg.tsv"
    _write_negclip(path, [
        ["0", "A dog\non a bed.", "a.jpg", "['A bed on a dog.']", "[1, 2, 0]"],
        ["1", "A cat.", "b.jpg", "['x'", "[0, 0, 0]"],
        ["2", "", "c.jpg", "[]", "[0, 1, 2]"],
        ["3", "A cow.", "d.jpg", "['A wow.']", "oops"],
    ])
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("4\tonly two\n")
    records, report = read_captions(path)
    assert [r.caption for r in records] == ["A dog\non a bed.", "A cat.", "A cow."]
    assert records[0].neg_captions == ("A bed on a dog.",) and records[0].neg_image == (1, 2, 0)
    assert records[0].location == "neg.tsv:lines 2-3"  # a quoted newline: one row over two lines
    assert records[1].neg_captions is None and records[2].neg_image is None
    assert report.malformed == {"missing_caption": ["neg.tsv:line 5"], "wrong_field_count": ["neg.tsv:line 7"]}
    assert report.partial == {"bad_neg_caption": ["neg.tsv:line 4"], "bad_neg_image": ["neg.tsv:line 6"]}
    assert "wrong_field_count: 1 at neg.tsv:line 7" in report.summary()
    assert report.rows == 5 == len(records) + report.n_malformed  # loaded + skipped = rows (one spans two lines)


def _negclip_lines(n: int) -> list[str]:
    return [f"{k}\tcaption number {k}.\timg{k}.jpg\t['negative {k}']\t[0, 1, 2]" for k in range(n)]


@pytest.mark.parametrize("bad", [
    '"A dog on a bed.',            # an unclosed quote opening the caption (what swallowed 39 of 200 rows)
    'A "dog on a bed.',            # a stray quote inside the caption
    '"A" dog on a bed.',           # a closed quote followed by text
])
def test_negclip_stray_quotes_never_swallow_rows(tmp_path: Path, bad: str) -> None:
    lines = _negclip_lines(200)
    lines[7] = f"7\t{bad}\timg7.jpg\t['negative 7']\t[0, 1, 2]"
    lines[120] = "120\tonly three\tfields"
    path = tmp_path / "train_neg_clip.tsv"
    path.write_text("\ttitle\tfilepath\tneg_caption\tneg_image\n" + "\n".join(lines) + "\n")
    records, report = read_captions(path)
    assert len(records) + report.n_malformed == report.rows == 200  # loaded + skipped = rows in the file
    assert report.malformed == {"wrong_field_count": ["train_neg_clip.tsv:line 122"]}  # file line numbers
    assert records[7].caption == bad and records[7].location == "train_neg_clip.tsv:line 9"
    assert records[8].caption == "caption number 8." and records[8].location == "train_neg_clip.tsv:line 10"
    assert records[-1].location == "train_neg_clip.tsv:line 201"


def test_unreadable_annotation_files_name_the_file(tmp_path: Path) -> None:
    truncated = tmp_path / "captions_train2014.json"
    truncated.write_text('{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"caption": "A do')
    with pytest.raises(ValueError, match=r"captions_train2014.json: not valid JSON \(Unterminated string.*truncated"):
        read_captions(truncated, fmt="coco")
    folder = tmp_path / "annotations"
    folder.mkdir()
    with pytest.raises(FileNotFoundError, match="annotations: is a directory, expected the annotation file"):
        read_captions(folder)
    header_only = tmp_path / "valid.tsv"
    header_only.write_text("\ttitle\tfilepath\tneg_caption\tneg_image\n")
    records, report = read_captions(header_only)
    assert records == [] and report.rows == 0 and report.format == "negclip"


def test_npy_authors_format(tmp_path: Path) -> None:
    items = [
        {"caption": "A dog on a bed.", "relation_aug_caption": "###", "adj_swap_aug_caption": "A bed on a dog.",
         "adj_aug_caption": "A big dog.", "noun_aug_caption": "A cat on a bed.", "verb_aug_caption": "A dog ran.",
         "image_id": 42, "valid_caption": [0, 1, 1, 1, 0]},
        {"relation_aug_caption": "x"},
        "junk",
        {"caption": "A cow.", "image_path": "cc3m/1.jpg", "valid_caption": [1, 1]},
    ]
    path = tmp_path / "train_coco_aug.npy"
    np.save(path, np.array(items, dtype=object), allow_pickle=True)
    assert detect_format(path) == "npy"
    records, report = read_captions(path)
    assert records[0].source_negatives == {"relation": None, "adj_swap": "A bed on a dog.", "adj": "A big dog.",
                                           "noun": "A cat on a bed.", "verb": None}
    assert records[0].image_id == "42" and records[1].image_path == "cc3m/1.jpg"
    assert records[1].source_negatives == dict.fromkeys(("relation", "adj_swap", "adj", "noun", "verb"))
    assert report.malformed == {"missing_caption": ["train_coco_aug.npy:item 1"],
                                "not_a_dict": ["train_coco_aug.npy:item 2"]}
    assert report.partial == {"bad_valid_caption": ["train_coco_aug.npy:item 3"]}


def test_csv_tsv_jsonl_named_column(tmp_path: Path) -> None:
    csv_path = tmp_path / "caps.csv"
    csv_path.write_text('image,text\na.jpg,"A dog, running."\nb.jpg\nc.jpg,\n')
    records, report = read_captions(csv_path, column="text")
    assert [(r.caption, r.image_path, r.location) for r in records] == [("A dog, running.", "a.jpg", "caps.csv:line 2")]
    assert records[0].fields == {"image": "a.jpg", "text": "A dog, running."}
    assert report.malformed == {"wrong_field_count": ["caps.csv:line 3"], "missing_caption": ["caps.csv:line 4"]}
    tsv_path = tmp_path / "caps.tsv"
    tsv_path.write_text("filepath\tcaption\nx.jpg\tA cat.\n")
    assert detect_format(tsv_path) == "csv"
    assert [r.caption for r in read_captions(tsv_path)[0]] == ["A cat."]
    jsonl = tmp_path / "caps.jsonl"
    jsonl.write_text('{"sentence": "A cow.", "image_path": "c.jpg"}\n[1]\n{bad\n\n')
    records, report = read_captions(jsonl)
    assert [(r.caption, r.image_path) for r in records] == [("A cow.", "c.jpg")]
    assert report.malformed == {"bad_json": ["caps.jsonl:line 2", "caps.jsonl:line 3"],
                                "empty_line": ["caps.jsonl:line 4"]}
    assert report.rows == 4 == len(records) + report.n_malformed
    with pytest.raises(ValueError, match="no caption column"):
        bad = tmp_path / "nocap.csv"
        bad.write_text("a,b\n1,2\n")
        read_captions(bad)
    with pytest.raises(ValueError, match="no caption column 'nope'"):
        read_captions(csv_path, column="nope")


def test_detection_errors(tmp_path: Path) -> None:
    odd = tmp_path / "x.txt"
    odd.write_text("hello")
    with pytest.raises(ValueError, match="unknown extension"):
        detect_format(odd)
    with pytest.raises(FileNotFoundError):
        read_captions(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="unknown format"):
        read_captions(odd, fmt="parquet")
    assert isinstance(ReadReport("p", "csv").summary(), str)
