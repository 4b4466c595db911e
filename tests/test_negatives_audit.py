"""The audit tooling: labels keyed by (caption, type, negative), only new outputs to label, rates per type."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks import negatives_audit as audit  # noqa: E402

sys.path.remove(str(ROOT))


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    return audit.write_rows(path, rows)


def test_the_committed_sample_and_labels_are_well_formed() -> None:
    captions = audit.read_captions()
    assert len(captions) >= 300 and len(set(captions)) >= 295
    assert captions == [row["caption"] for row in audit.sample_captions()]  # reproducible from the fixtures
    audit.read_labels()  # parses: every label is one of the five


def test_todo_lists_only_new_outputs_and_merge_adds_them(tmp_path: Path) -> None:
    emitted = [("A dog.", "noun", "A cat."), ("A dog.", "adj", "A red dog."), ("A man.", "noun", "A woman.")]
    labels = _write(tmp_path / "labels.csv", [
        {"caption": "A dog.", "type": "noun", "negative": "A cat.", "label": "valid", "note": ""},
        {"caption": "A dog.", "type": "noun", "negative": "A horse.", "label": "nonsense", "note": "old output"},
    ])
    known = audit.read_labels(labels)
    assert [key for key in emitted if key not in known] == emitted[1:]
    filled = _write(tmp_path / "todo.csv", [
        {"caption": "A dog.", "type": "adj", "negative": "A red dog.", "label": "False negative", "note": "dog is red"},
        {"caption": "A man.", "type": "noun", "negative": "A woman.", "label": "", "note": ""},  # not labelled yet
    ])
    assert audit.merge(filled, labels) == 1
    merged = audit.read_labels(labels)
    assert merged[("A dog.", "adj", "A red dog.")] == ("false_negative", "dog is red") and len(merged) == 3
    table = audit.report(emitted, merged)
    assert table["noun"] == {"emitted": 2, "labelled": 1, "valid": 1.0, "false_negative": 0.0, "ungrammatical": 0.0,
                             "obscure": 0.0, "nonsense": 0.0}  # the label of an output no longer emitted is ignored
    assert table["adj"]["false_negative"] == 1.0 and table["verb"]["labelled"] == 0
    assert not audit.targets_met(table)


def test_bad_labels_are_located(tmp_path: Path) -> None:
    bad = _write(tmp_path / "labels.csv", [
        {"caption": "A dog.", "type": "noun", "negative": "A cat.", "label": "meh", "note": ""}])
    with pytest.raises(ValueError, match=r"labels.csv:2: unknown label 'meh'"):
        audit.read_labels(bad)
    clash = _write(tmp_path / "clash.csv", [
        {"caption": "A dog.", "type": "noun", "negative": "A cat.", "label": "valid", "note": ""},
        {"caption": "A dog.", "type": "noun", "negative": "A cat.", "label": "nonsense", "note": ""}])
    with pytest.raises(ValueError, match="clash.csv:3"):
        audit.read_labels(clash)
    assert audit.main(["report", "--labels", str(bad)]) == 2


def test_the_export_holds_every_output_of_the_generator() -> None:
    with open(audit.TODO, newline="", encoding="utf-8") as fh:
        exported = {(r["caption"], r["type"], r["negative"]) for r in csv.DictReader(fh)}
    labelled = set(audit.read_labels())
    assert set(audit.outputs()) <= exported | labelled  # regenerate with `todo` when the generator changes
