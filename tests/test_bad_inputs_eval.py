"""Bad inputs to `ahnpl eval` (issue 16): one case per input kind, each checking the exit status, how many items were
lost (the count) and where (the location), as the result JSON and stderr report them.

Exit status: 0 = every requested benchmark evaluated from readable files (malformed records and missing or unreadable
images are counted and located); 1 = a benchmark absent, a file unreadable or nothing scored (0 with
--allow-partial unless nothing ran at all); 2 = bad arguments.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from _eval_helpers import RIGHT, build_aro, build_sugarcrepe, build_winoground, corrupt, dump, image, vg_record

from ahnpl_lightning.tools.eval import main

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "data"


@dataclass
class Case:
    """`build(root)` writes a data root and returns the extra arguments; `check(result, stderr, root)` asserts the
    count and the location (`result` is None when no JSON is written)."""

    build: Callable[[Path], list[str]]
    status: int
    check: Callable[[dict[str, Any] | None, str, Path], None]


def sugarcrepe_plus(edit: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    """The SugarCrepe fixture (6 good items over 4 files) with one more file edited by `edit`."""

    def build(root: Path) -> list[str]:
        build_sugarcrepe(root)
        edit(root / "sugarcrepe")
        return ["--benchmarks", "sugarcrepe"]

    return build


def problems(result: dict[str, Any], bench: str, kind: str) -> list[dict[str, Any]]:
    return [p for p in result["benchmarks"][bench]["problems"] if p["kind"] == kind]


def truncated_records(folder: Path) -> None:
    record = {"filename": "red_cat.jpg", "caption": RIGHT[0], "negative_caption": RIGHT[1]}
    records = {str(k): record for k in range(40)}
    text = json.dumps(records)
    (folder / "replace_rel.json").write_text(text[: text.index('"20":') + 10])  # 20 whole records and a partial one


def check_truncated(result, err, root):
    res = result["benchmarks"]["sugarcrepe"]
    assert res["unreadable_files"] == [str(root / "sugarcrepe/replace_rel.json")]
    assert res["unscored"]["in_unreadable_files"] == 21 and res["skipped_items_estimated"] is True
    assert res["skipped_items"] == 21 and res["subsets"]["replace_obj"]["count"] == 2  # the other files still count
    assert "about 21 item(s) not scored" in err and "replace_rel.json" in err


def truncate_real(root: Path) -> list[str]:
    text = (FIXTURES / "sugarcrepe/swap_att.json").read_text()
    (root / "sugarcrepe").mkdir(parents=True)
    (root / "sugarcrepe/swap_att.json").write_text(text[: len(text) // 2])
    return ["--benchmarks", "sugarcrepe"]


def check_truncated_real(result, err, root):
    cut = (root / "sugarcrepe/swap_att.json").read_text()
    started = cut.count('"filename"')  # records whose text begins in the truncated file
    res = result["benchmarks"]["sugarcrepe"]
    assert res["skipped_items"] in (started, started + 1) and 300 < res["skipped_items"] < 666
    assert res["skipped_items_estimated"] and res["unreadable_files"] == [str(root / "sugarcrepe/swap_att.json")]


def check_skipped(names: set[str], path_part: str):
    def check(result, err, root):
        assert set(result["skipped"]) == names and path_part in " ".join(result["skipped"].values())
        assert str(root) in " ".join(result["skipped"].values())
        assert result["run"]["complete"] is False and len(result["run"]["shortfalls"]) == len(names)

    return check


def build_vg_crop(root: Path) -> list[str]:
    image(root / "aro/images/red_cat.jpg")
    dump(root / "aro/visual_genome_relation.json", [vg_record("on", RIGHT), vg_record("on", RIGHT, (10, 10, 0, 0))])
    return ["--benchmarks", "aro"]


def build_vlc_missing_anno(root: Path) -> list[str]:
    corpus = root / "vl_checklist/corpus/v1/Attribute/color/vg.yaml"
    corpus.parent.mkdir(parents=True)
    corpus.write_text(yaml.safe_dump({"ANNO_PATH": "data/none.json", "IMG_ROOT": "vg/", "TYPE": "TUPLE_JSON"}))
    return ["--benchmarks", "vl_checklist"]


def build_bad_jsonl(root: Path) -> list[str]:
    build_winoground(root)
    path = root / "winoground/examples.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1][:25], lines[2]]) + "\n")
    return ["--benchmarks", "winoground"]


def build_bad_mturk(root: Path) -> list[str]:
    image(root / "valse/images/visual7w/red_cat.jpg")
    rec = {"dataset": "visual7w", "image_file": "red_cat.jpg", "caption": RIGHT[0], "foil": RIGHT[1]}
    dump(root / "valse/existence.json", {"ok": {**rec, "mturk": {"caption": 3}}, "bad": {**rec, "mturk": {"caption":
                                                                                                        "many"}}})
    return ["--benchmarks", "valse"]


def sugarcrepe_result(result: dict[str, Any]) -> dict[str, Any]:
    return result["benchmarks"]["sugarcrepe"]


def check_wrong_root(result, err, root):
    assert result is None and str(root / "nope") in err and "not a folder" in err


def check_unknown(result, err, root):
    assert result is None and "unknown benchmark(s) ['nope']" in err


def check_malformed(result, err, root):
    assert sugarcrepe_result(result)["unscored"]["malformed_records"] == 1
    location = problems(result, "sugarcrepe", "malformed_record")[0]["location"]
    assert location == f"{root / 'sugarcrepe/add_att.json'}['0']"


def check_wrong_type(result, err, root):
    res = sugarcrepe_result(result)
    assert res["unscored"]["in_unreadable_files"] == 2 and not res["skipped_items_estimated"]  # len of the list
    bad = problems(result, "sugarcrepe", "unreadable_file")[0]
    assert bad["location"] == str(root / "sugarcrepe/replace_rel.json") and "expected a JSON dict" in bad["error"]


def check_not_utf8(result, err, root):
    res = sugarcrepe_result(result)
    assert res["unreadable_files"] == [str(root / "sugarcrepe/swap_obj.json")]
    assert res["unscored"]["in_unreadable_files"] == 1


def check_directory(result, err, root):
    assert sugarcrepe_result(result)["unreadable_files"] == [str(root / "sugarcrepe/add_att.json")]
    assert "directory" in problems(result, "sugarcrepe", "unreadable_file")[0]["error"]


def check_missing_image(result, err, root):
    res = sugarcrepe_result(result)
    assert res["missing_images"] == 1 and res["skipped_items"] == 1
    assert problems(result, "sugarcrepe", "missing_image")[0]["location"] == str(root / "coco/val2017/gone.jpg")


def check_unreadable_image(result, err, root):
    res = sugarcrepe_result(result)
    assert res["unreadable_images"] == res["corrupt_images"] == 1 and res["skipped_items"] == 2
    assert problems(result, "sugarcrepe", "unreadable_image") == [
        {"kind": "unreadable_image", "location": str(root / "coco/val2017/bad.jpg"),
         "error": "cannot be decoded or cropped", "items": 2, "estimated": False}]


def check_empty_crop(result, err, root):
    res = result["benchmarks"]["aro"]
    assert res["unreadable_images"] == 1 and res["skipped_items"] == 1
    assert "crop (10.0, 10.0, 0.0, 0.0)" in problems(result, "aro", "unreadable_image")[0]["location"]


def check_every_image_missing(result, err, root):
    res = sugarcrepe_result(result)
    assert res["skipped_items"] == 6 and res["subsets"] == {}
    assert "no item could be scored" in " ".join(result["run"]["shortfalls"])
    assert str(root / "elsewhere/red_cat.jpg") in err


def check_limit_below_threshold(result, err, root):
    res = result["benchmarks"]["aro"]
    assert "vg_attribution" not in res["subsets"] and "vg_relation" in res["subsets"]
    assert "--limit 10" in res["notes"][0] and "25 items per attribute pair" in err
    assert result["run"]["limit"] == 10


def check_small_categories(result, err, root):
    res = result["benchmarks"]["aro"]
    assert res["subsets"]["vg_attribution"]["count"] == 25
    assert "1 of 2 attribute pairs have fewer than 25 items" in res["notes"][0] and "green_white" in err


def check_bad_jsonl(result, err, root):
    res = result["benchmarks"]["winoground"]
    assert res["unscored"]["malformed_records"] == 1 and res["subsets"]["text"]["count"] == 2
    location = problems(result, "winoground", "malformed_record")[0]["location"]
    assert location == f"{root / 'winoground/examples.jsonl'}:2"


def check_missing_anno(result, err, root):
    res = result["benchmarks"]["vl_checklist"]
    assert res["unreadable_files"] == [str(root / "vl_checklist/corpus/v1/Attribute/color/vg.yaml")]
    assert "data/none.json" in err


def check_bad_mturk(result, err, root):
    res = result["benchmarks"]["valse"]
    assert res["skipped_items"] == 1 and res["subsets"]["existence"]["count"] == 1
    assert problems(result, "valse", "malformed_record")[0]["location"] == f"{root / 'valse/existence.json'}['bad']"


def with_sugarcrepe(*args: str) -> Callable[[Path], list[str]]:
    def build(root: Path) -> list[str]:
        build_sugarcrepe(root)
        return [*args] if "{root}" not in " ".join(args) else [a.format(root=root) for a in args]

    return build


def one_file(name: str, data: Any) -> Callable[[Path], None]:
    return lambda folder: dump(folder / name, data)


def corrupt_image_file(folder: Path) -> None:
    corrupt(folder.parent / "coco/val2017/bad.jpg")
    dump(folder / "add_att.json", {"0": {"filename": "bad.jpg", "caption": RIGHT[0], "negative_caption": RIGHT[1]},
                                   "1": {"filename": "bad.jpg", "caption": RIGHT[1], "negative_caption": RIGHT[0]}})


def with_aro(*args: str) -> Callable[[Path], list[str]]:
    def build(root: Path) -> list[str]:
        build_aro(root)
        return ["--benchmarks", "aro", *args]

    return build


def check_pretrained_offline(result, err, root):
    assert result is None and "Traceback" not in err
    assert "pretrained tag 'openai'" in err and "--pretrained FILE" in err


GONE = {"0": {"filename": "gone.jpg", "caption": RIGHT[0], "negative_caption": RIGHT[1]}}
CASES: dict[str, Case] = {
    "wrong_data_root": Case(lambda root: ["--benchmarks", "sugarcrepe", "--data-root", str(root / "nope")], 2,
                            check_wrong_root),
    "unknown_benchmark": Case(lambda root: ["--benchmarks", "nope"], 2, check_unknown),
    "data_root_without_benchmarks": Case(lambda root: ["--benchmarks", "sugarcrepe,winoground"], 1,
                                         check_skipped({"sugarcrepe", "winoground"}, "examples.jsonl")),
    "nothing_evaluated_even_with_allow_partial": Case(lambda root: ["--benchmarks", "winoground", "--allow-partial"],
                                                      1, check_skipped({"winoground"}, "winoground/examples.jsonl")),
    "absent_benchmark": Case(with_sugarcrepe("--benchmarks", "sugarcrepe,winoground"), 1,
                             check_skipped({"winoground"}, "winoground/examples.jsonl")),
    "absent_benchmark_allowed": Case(with_sugarcrepe("--benchmarks", "sugarcrepe,winoground", "--allow-partial"), 0,
                                     check_skipped({"winoground"}, "winoground/examples.jsonl")),
    "truncated_json": Case(sugarcrepe_plus(truncated_records), 1, check_truncated),
    "truncated_real_file": Case(truncate_real, 1, check_truncated_real),
    "malformed_record": Case(sugarcrepe_plus(one_file("add_att.json", {"0": {"filename": "red_cat.jpg",
                                                                            "caption": "x"}})), 0, check_malformed),
    "wrong_json_type": Case(sugarcrepe_plus(one_file("replace_rel.json", [1, 2])), 1, check_wrong_type),
    "not_utf8": Case(sugarcrepe_plus(lambda d: (d / "swap_obj.json").write_bytes(b'{"0": {"caption": "\xff\xfe"}}')),
                     1, check_not_utf8),
    "directory_for_a_file": Case(sugarcrepe_plus(lambda d: (d / "add_att.json").mkdir()), 1, check_directory),
    "missing_image": Case(sugarcrepe_plus(one_file("add_att.json", GONE)), 0, check_missing_image),
    "unreadable_image": Case(sugarcrepe_plus(corrupt_image_file), 0, check_unreadable_image),
    "empty_crop": Case(build_vg_crop, 0, check_empty_crop),
    "every_image_missing": Case(with_sugarcrepe("--benchmarks", "sugarcrepe", "--path",
                                                "sugarcrepe_images={root}/elsewhere"), 1, check_every_image_missing),
    "limit_below_threshold": Case(with_aro("--limit", "10"), 0, check_limit_below_threshold),
    "categories_below_threshold": Case(with_aro(), 0, check_small_categories),
    "malformed_jsonl_line": Case(build_bad_jsonl, 0, check_bad_jsonl),
    "corpus_yaml_without_data": Case(build_vlc_missing_anno, 1, check_missing_anno),
    "non_numeric_mturk": Case(build_bad_mturk, 0, check_bad_mturk),
    "pretrained_tag_offline": Case(with_sugarcrepe("--benchmarks", "sugarcrepe", "--model", "ViT-B-32",
                                                   "--pretrained", "openai"), 2, check_pretrained_offline),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_bad_input(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES[kind]
    root = tmp_path / "root"
    root.mkdir()
    extra = case.build(root)
    out = tmp_path / "result.json"
    args = ["--data-root", str(root), "--model", "AHNPL-Tiny-64", "--device", "cpu", "--no-progress",
            "--output", str(out), "--tagger", "builtin", *extra]
    if "--data-root" in extra:  # the case brings its own (wrong) data root
        args = args[2:]
    status = main(args)
    err = capsys.readouterr().err
    assert status == case.status, err
    result = json.loads(out.read_text()) if out.exists() else None
    if result is not None:
        assert result["run"]["exit_status"] == status
    case.check(result, err, root)


def test_result_says_how_it_was_made(tmp_path: Path) -> None:
    """Issue 16.9: the JSON records the model, data root, --limit, seed, tagger, package versions and times; a skipped
    benchmark appears with its reason; recall figures are labelled recall, and every count says what it counts."""
    from _eval_helpers import build_coco

    root = tmp_path / "root"
    build_sugarcrepe(root)
    build_coco(root)
    build_aro(root)
    out = tmp_path / "result.json"
    status = main(["--data-root", str(root), "--model", "AHNPL-Tiny-64", "--device", "cpu", "--no-progress",
                   "--output", str(out), "--tagger", "builtin", "--seed", "7", "--limit", "50",
                   "--benchmarks", "sugarcrepe,retrieval,aro,winoground", "--allow-partial"])
    assert status == 0
    result = json.loads(out.read_text())
    run = result["run"]
    assert run["model_name"] == "AHNPL-Tiny-64" and run["pretrained"] is None and run["checkpoint"] is None
    assert run["data_root"] == str(root.resolve()) and run["limit"] == 50 and run["seed"] == 7
    assert run["tagger"] == "builtin" and run["command"][:2] == ["ahnpl", "eval"]  # the tagger of ARO's orders
    assert {"python", "ahnpl_lightning", "torch", "open_clip_torch", "lightning"} <= set(run["versions"])
    assert all(run["versions"][k] for k in ("python", "torch", "open_clip_torch", "lightning"))
    assert run["started"] <= run["finished"] and "T" in run["started"]  # ISO 8601 times
    assert run["benchmarks_requested"] == ["sugarcrepe", "retrieval", "aro", "winoground"]
    assert "winoground/examples.jsonl" in result["skipped"]["winoground"]  # skipped, with its reason
    measures = result["benchmarks"]["retrieval"]["measures"]
    assert measures and all(m["measure"].startswith(("recall@", "mean of the six recalls")) for m in measures.values())
    assert {m["count_of"] for m in measures.values()} <= {"image queries", "caption queries", "images"}
    for bench in result["benchmarks"].values():
        figures = {**bench["subsets"], **bench["summary"]}
        assert set(bench["measures"]) == set(figures) and all(m["count_of"] for m in bench["measures"].values())
