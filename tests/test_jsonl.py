"""The one JSON-lines reader that training sources and evaluation share: every line accounted for, none raises."""

from __future__ import annotations

from ahnpl_lightning.jsonl import iter_jsonl


def test_every_line_is_reported_with_its_number(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"a": \n[1, 2]\n\xff\xfe\n{"b": "\xc3\xa9"}\r\n')
    rows = list(iter_jsonl(path))
    assert [(n, p) for n, _, p in rows] == [(1, None), (2, "empty_line"), (3, "bad_json"), (4, None),
                                            (5, "bad_json"), (6, None)]
    assert rows[0][1] == {"a": 1} and rows[3][1] == [1, 2] and rows[5][1] == {"b": "é"}
