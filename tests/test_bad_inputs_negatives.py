"""Bad inputs to ``ahnpl negatives``: every kind gets an exit code, a count and a location (issue 16)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ahnpl_lightning.data.negatives import load_negatives_cache
from ahnpl_lightning.tools import negatives as tool

GOOD = '{"caption": "A dog chasing a cat on the grass.", "image": "a.jpg"}\n'


@dataclass(frozen=True)
class Case:
    """One kind of bad input: how to lay it out, and the exit code, rows written and location it must give."""

    name: str
    files: dict[str, str]  # relative path -> content ("<dir>" makes a folder)
    input: str
    output: str
    code: int
    rows: int  # rows in the written cache (0: no cache written)
    location: str  # must appear in stderr


CASES = [
    Case("missing input", {}, "nope.jsonl", "out.parquet", 2, 0, "nope.jsonl: no such file"),
    Case("input is a folder", {"folder": "<dir>"}, "folder", "out.parquet", 2, 0, "folder"),
    Case("unknown extension", {"caps.txt": "A dog.\n"}, "caps.txt", "out.parquet", 2, 0, "caps.txt"),
    Case("truncated JSON", {"caps.json": '[{"image": "a.jpg", "caption": ["A dog on a be'}, "caps.json",
         "out.parquet", 2, 0, "caps.json"),
    Case("malformed rows among good ones", {"caps.jsonl": GOOD + "not json\n" + '{"caption": ""}\n' + GOOD},
         "caps.jsonl", "out.parquet", 0, 2, "caps.jsonl:line 2"),
    Case("no usable row", {"caps.jsonl": "not json\n{\"caption\": \"\"}\n"}, "caps.jsonl", "out.parquet", 1, 0,
         "caps.jsonl:line 1"),
    Case("header-only TSV", {"caps.tsv": "caption\timage\n"}, "caps.tsv", "out.parquet", 1, 0, "caps.tsv"),
    Case("output under a file", {"caps.jsonl": GOOD, "blocker": "a file"}, "caps.jsonl", "blocker/out.parquet", 2,
         0, "blocker/out.parquet: cannot write the negatives cache there"),
    Case("output is a folder", {"caps.jsonl": GOOD, "outdir": "<dir>"}, "caps.jsonl", "outdir", 2, 0,
         "outdir: is a folder"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name, content in case.files.items():
        path = tmp_path / name
        if content == "<dir>":
            path.mkdir()
        else:
            path.write_text(content, encoding="utf-8")
    if case.code == 2:  # refused before any work: no generator is ever built
        import ahnpl_lightning.data.negatives.cache as cache

        def no_work(*args: object, **kwargs: object) -> None:
            raise AssertionError("negatives were generated for an input or output that was refused")

        monkeypatch.setattr(cache, "NegativeGenerator", no_work)
    out = tmp_path / case.output
    code = tool.main([str(tmp_path / case.input), "--output", str(out), "--no-progress", "--tagger", "builtin"])
    err = capsys.readouterr().err
    assert code == case.code, err
    assert case.location in err.replace(str(tmp_path) + "/", "")
    if case.rows:
        assert len(load_negatives_cache(out)) == case.rows
    else:
        assert not out.is_file()


def test_old_flag_spellings_are_hidden_aliases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "caps.jsonl"
    src.write_text(GOOD, encoding="utf-8")
    assert tool.main([str(src), "--out", str(tmp_path / "a.parquet"), "--no_progress", "--tagger", "builtin"]) == 0
    assert len(load_negatives_cache(tmp_path / "a.parquet")) == 1
    help_text = tool.build_parser().format_help()
    assert "--output" in help_text and "--no-progress" in help_text
    assert "--out " not in help_text and "--no_progress" not in help_text


def test_a_read_only_folder_fails_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An --output folder the user may not write to (simulated: the suite may run as root, who can write anywhere)
    fails with exit code 2 naming the path, before a generator is built or a caption read."""
    import tempfile

    import ahnpl_lightning.data.negatives.cache as cache

    src = tmp_path / "caps.jsonl"
    src.write_text(GOOD * 3, encoding="utf-8")
    locked = tmp_path / "shared" / "negatives"
    locked.mkdir(parents=True)

    def refuse(*args: object, dir: str | None = None, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied", str(dir))

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("negatives were generated for an output that cannot be written")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(cache, "NegativeGenerator", no_work)
    code = tool.main([str(src), "--output", str(locked / "neg.parquet"), "--no-progress", "--tagger", "builtin"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{locked / 'neg.parquet'}: cannot write the negatives cache there (Permission denied)" in err
    assert "--output" in err and not list(locked.iterdir())  # nothing written, nothing left behind
