"""The bad-input matrix: every kind of bad training input, through the command line where users meet it.

One parametrised test; each case builds a tiny dataset (a handful of rows, 2 steps, no workers) with one kind of bad
input and asserts the exit code, the count and the location the run reports. Kinds that skip a row or an image run
to the end (exit 0) and count it (`data/skipped_<kind>`); inputs that leave nothing to train fail with exit code 1
and a message naming the file, the counts and example locations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ahnpl_lightning import cli
from tests._data_fixtures import make_image, unreadable_image

ROOT = Path(__file__).resolve().parents[1]
SRC = "--data.init_args.source.init_args."
NEGCLIP_HEADER = "\ttitle\tfilepath\tneg_caption\tneg_image"


@dataclass
class Result:
    code: int
    out: str
    run: Any | None  # the CLI object of a run that got that far

    @property
    def skipped(self) -> dict[str, int]:
        return dict(self.run.datamodule.skipped)

    def where(self, kind: str) -> list[str]:
        return self.run.datamodule.examples[kind]


# ------------------------------------------------------------------------------------------------ tiny datasets
def coco(root: Path, n: int = 6, missing: tuple[int, ...] = (), unreadable: tuple[int, ...] = (),
         extra: list[dict[str, Any]] | None = None, images_dir: str = "images") -> list[str]:
    """captions.json with n images (one caption each) under root/images; returns CLI overrides for CocoSource."""
    images, annotations = [], []
    for i in range(n):
        name = f"{i}.jpg"
        images.append({"id": i, "file_name": name})
        annotations.append({"id": i, "image_id": i, "caption": f"a red cube number {i}"})
        if i in unreadable:
            unreadable_image(root / images_dir / name)
        elif i not in missing:
            make_image(root / images_dir / name, i)
    (root / "captions.json").write_text(json.dumps({"images": images, "annotations": annotations + (extra or [])}))
    return ["coco.yaml", f"{SRC}annotations={root / 'captions.json'}", f"{SRC}image_root={root / images_dir}",
            f"{SRC}val_annotations=null", f"{SRC}val_image_root=null", f"{SRC}negatives=none"]


def negclip(root: Path, lines: list[str], n_images: int = 8) -> list[str]:
    """A NegCLIP TSV from raw lines (after the header), images 0..n_images-1 present."""
    for i in range(n_images):
        make_image(root / "images" / f"{i}.jpg", i)
    path = root / "train_neg_clip.tsv"
    path.write_text("\n".join([NEGCLIP_HEADER, *lines]) + "\n")
    return ["negclip.yaml", f"{SRC}annotations={path}", f"{SRC}image_root={root}", f"{SRC}val_annotations=null",
            f"{SRC}negatives=source"]


def row(k: int, caption: str | None = None, image: int | None = None, neg_image: str = "[1, 2, 3]") -> str:
    image = k if image is None else image
    return f"{k}\t{caption or f'a red cube number {k}.'}\timages/{image}.jpg\t['a cube red number {k}.']\t{neg_image}"


def rows(n: int = 8) -> list[str]:
    return [row(k) for k in range(n)]


def fit(tmp_path: Path, overrides: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Result:
    """`ahnpl fit -c configs/ahnpl.yaml -c configs/data/<config> ...` in-process: exit code, output, the CLI object."""
    config, *source_args = overrides
    runs: list[Any] = []
    real = cli.run_cli

    def spy(args: list[str] | None = None, run: bool = True) -> Any:
        runs.append(None)
        runs[-1] = real(args, run)
        return runs[-1]

    monkeypatch.setattr(cli, "run_cli", spy)
    args = ["fit", "-c", str(ROOT / "configs" / "ahnpl.yaml"), "-c", str(ROOT / "configs" / "data" / config),
            "--trainer.max_steps=2", "--trainer.limit_val_batches=1", "--trainer.num_sanity_val_steps=0",
            "--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false", "--trainer.callbacks=[]",
            f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}",
            "--data.init_args.num_workers=0", "--data.init_args.batch_size=2", *source_args]
    try:
        code = cli.main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return Result(code, captured.out + captured.err, runs[-1] if runs else None)


def logged(tmp_path: Path) -> dict[str, float]:
    """The largest value of every scalar in the run's TensorBoard files (skip counts only grow)."""
    from ahnpl_lightning.analysis import read_scalars

    folder = next(p.parent for p in (tmp_path / "logs").rglob("events.out.tfevents.*"))
    return read_scalars(folder).groupby("tag")["value"].max().to_dict()


# ------------------------------------------------------------------------------------------------ the cases
def missing_image(tmp: Path) -> list[str]:
    return coco(tmp, missing=(3,))


def check_missing_image(r: Result, tmp: Path) -> None:
    assert r.skipped["missing_image"] == 1
    assert "captions.json:annotation 3" in r.where("missing_image")[0] and "3.jpg" in r.where("missing_image")[0]


def unreadable(tmp: Path) -> list[str]:
    return coco(tmp, unreadable=(2,))


def check_unreadable(r: Result, tmp: Path) -> None:
    assert r.skipped == {"unreadable_image": 1}
    assert "captions.json:annotation 2" in r.where("unreadable_image")[0]
    with pytest.warns(DeprecationWarning):
        assert r.run.datamodule.skipped["corrupt_image"] == 1  # the pre-0.2 name still reads
    assert logged(tmp)["data/skipped_unreadable_image"] == 1


def empty_caption(tmp: Path) -> list[str]:
    return coco(tmp, extra=[{"id": 99, "image_id": 0, "caption": "   "}])


def check_empty_caption(r: Result, tmp: Path) -> None:
    assert r.skipped == {"malformed_missing_caption": 1}
    assert r.where("malformed_missing_caption") == ["captions.json:annotation 6"]


def unknown_image_id(tmp: Path) -> list[str]:
    return coco(tmp, extra=[{"id": 98, "image_id": 77, "caption": "a ghost"}])


def check_unknown_image_id(r: Result, tmp: Path) -> None:
    assert r.skipped == {"malformed_unknown_image_id": 1}
    assert r.where("malformed_unknown_image_id") == ["captions.json:annotation 6"]


def malformed_row(tmp: Path) -> list[str]:
    lines = rows()
    lines[4] = "4\tonly three\tfields"
    return negclip(tmp, lines)


def check_malformed_row(r: Result, tmp: Path) -> None:
    assert r.skipped["malformed_wrong_field_count"] == 1
    assert r.where("malformed_wrong_field_count") == ["train_neg_clip.tsv:line 6"]  # header = line 1


def unclosed_quote(tmp: Path) -> list[str]:
    lines = rows()
    lines[2] = row(2, caption='"a red cube with an unclosed quote.')
    lines[6] = "6\tonly three\tfields"
    return negclip(tmp, lines)


def check_unclosed_quote(r: Result, tmp: Path) -> None:
    report = r.run.datamodule.source.reports()[0]
    assert report.rows == 8 and report.records + report.n_malformed == 8  # nothing swallowed
    assert r.where("malformed_wrong_field_count") == ["train_neg_clip.tsv:line 8"]


def neg_image_out_of_range(tmp: Path) -> list[str]:
    lines = rows()
    lines[5] = row(5, neg_image="[1, 2, 40]")
    return [*negclip(tmp, lines), f"{SRC}image_negatives=1"]


def check_neg_image_out_of_range(r: Result, tmp: Path) -> None:
    assert r.skipped == {"neg_image_out_of_range": 1}
    assert r.where("neg_image_out_of_range") == ["train_neg_clip.tsv:line 7 (neg_image 40, 8 rows loaded)"]


def neg_image_missing(tmp: Path) -> list[str]:
    lines = [row(k, neg_image="[7, 7, 7]") for k in range(8)]
    overrides = [*negclip(tmp, lines), f"{SRC}image_negatives=1"]
    (tmp / "images" / "7.jpg").unlink()
    return overrides


def check_neg_image_missing(r: Result, tmp: Path) -> None:
    assert r.skipped["neg_image_missing"] >= 1
    assert r.where("neg_image_missing")[0].startswith("train_neg_clip.tsv:line ")
    assert "-> train_neg_clip.tsv:line 9" in r.where("neg_image_missing")[0]


def null_val_annotations(tmp: Path) -> list[str]:
    return [*coco(tmp), f"{SRC}val_annotations", "null"]


def check_null_val_annotations(r: Result, tmp: Path) -> None:
    assert r.run.datamodule.source.val_annotations is None and r.run.datamodule.val_set is None
    assert r.skipped == {} and r.run.trainer.global_step == 2


def missing_annotations(tmp: Path) -> list[str]:
    overrides = coco(tmp)
    return [*overrides, f"{SRC}annotations={tmp / 'nope' / 'captions.json'}"]


def directory_annotations(tmp: Path) -> list[str]:
    (tmp / "annotations").mkdir()
    return [*coco(tmp), f"{SRC}annotations={tmp / 'annotations'}"]


def missing_image_folder(tmp: Path) -> list[str]:
    return [*coco(tmp), f"{SRC}image_root={tmp / 'no_images'}"]


def truncated_json(tmp: Path) -> list[str]:
    overrides = coco(tmp)
    path = tmp / "captions.json"
    path.write_text(path.read_text()[:-40])
    return overrides


def check_directory_annotations(r: Result, tmp: Path) -> None:
    names("annotations", "COCO captions JSON (annotations) at")(r, tmp)
    assert "not found" not in r.out  # a directory is not reported as missing


def header_only(tmp: Path) -> list[str]:
    return negclip(tmp, [])


def mostly_malformed(tmp: Path) -> list[str]:
    return negclip(tmp, [row(0), row(1), *(f"{k}\tbroken" for k in range(2, 8))])


def image_root_one_level_off(tmp: Path) -> list[str]:
    overrides = coco(tmp, images_dir="images/train2014")
    return [*overrides, f"{SRC}image_root={tmp / 'images'}"]


def all_unreadable(tmp: Path) -> list[str]:
    return coco(tmp, n=8, unreadable=tuple(range(8)))


def check_all_unreadable(r: Result, tmp: Path) -> None:
    # the counts reach the logger although no batch succeeded (Lightning counts a step for a batch without a loss,
    # so max_steps=2 ends the epoch after 2 batches of 2)
    assert logged(tmp)["data/skipped_unreadable_image"] == 4


def nothing_trained(tmp: Path) -> list[str]:
    return [*coco(tmp, n=8, unreadable=tuple(range(8))), "--data.init_args.max_skip_fraction=1.0"]


def names(relative: str, *more: str) -> Callable[[Result, Path], None]:
    """A check that the message names the offending path in full (under the case's data folder), plus `more`."""

    def check(r: Result, tmp: Path) -> None:
        assert str(tmp / "data" / relative) in r.out, r.out[-3000:]
        for text in more:
            assert text in r.out, (text, r.out[-3000:])

    return check


CASES: dict[str, tuple[Callable[[Path], list[str]], int, list[str], Callable[[Result, Path], None] | None]] = {
    # kind: (build, exit code, what the output must say (counts, locations), further checks)
    "missing_image": (missing_image, 0, [], check_missing_image),
    "unreadable_image": (unreadable, 0, [], check_unreadable),
    "empty_caption": (empty_caption, 0, [], check_empty_caption),
    "unknown_image_id": (unknown_image_id, 0, [], check_unknown_image_id),
    "malformed_row": (malformed_row, 0, [], check_malformed_row),
    "unclosed_quote": (unclosed_quote, 0, [], check_unclosed_quote),
    "neg_image_out_of_range": (neg_image_out_of_range, 0, [], check_neg_image_out_of_range),
    "neg_image_missing": (neg_image_missing, 0, [], check_neg_image_missing),
    "null_val_annotations": (null_val_annotations, 0, [], check_null_val_annotations),
    "missing_annotation_file": (missing_annotations, 1, ["COCO captions JSON (captions.json) not found at",
                                                         "nope/captions.json"], names("nope/captions.json")),
    "annotation_path_is_a_directory": (directory_annotations, 1, ["is a directory; give the file itself"],
                                       check_directory_annotations),
    "missing_image_folder": (missing_image_folder, 1, ["image folder (image_root) not found at", "no_images"],
                             names("no_images")),
    "truncated_json": (truncated_json, 1, ["captions.json: not valid JSON (", "truncated"],
                       names("captions.json", "at line 1, column ")),
    "header_only_tsv": (header_only, 1, ["train_neg_clip.tsv: 0 captions of 0 rows", "no usable samples"],
                        names("train_neg_clip.tsv", "0 malformed")),
    "mostly_malformed_rows": (mostly_malformed, 1, ["6 of the 8 rows of", "wrong_field_count: 6 at",
                                                    "train_neg_clip.tsv:line 4"], names("train_neg_clip.tsv")),
    "image_root_one_level_off": (image_root_one_level_off, 1, ["none of 6 sample images exists",
                                                               "images/0.jpg", "exists under",
                                                               "images/train2014; set image_root"], None),
    "all_images_unreadable": (all_unreadable, 1, ["training samples of epoch 0 were skipped",
                                                  "max_skip_fraction = 0.5", "unreadable_image: ",
                                                  "captions.json:annotation"], check_all_unreadable),
    "no_optimizer_step": (nothing_trained, 1, ["completed no optimizer step", "unreadable_image: 4",
                                               "captions.json:annotation"], None),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_bad_input(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> None:
    build, code, says, check = CASES[kind]
    data = tmp_path / "data"
    data.mkdir()
    result = fit(tmp_path, build(data), monkeypatch, capsys)
    assert result.code == code, result.out[-3000:]
    for text in says:
        assert text in result.out, (text, result.out[-3000:])
    if code:
        assert "Traceback" not in result.out and "error: " in result.out  # a message, not a stack trace
    if check is not None:
        check(result, tmp_path)
