"""Evaluation test helpers: a bag-of-words fake encoder whose scores are hand-computable, and fixture data roots in
every benchmark format (solid-colour images generated with PIL)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from PIL import Image
from torch import Tensor

from ahnpl_lightning.evaluation.scoring import ImageRef, ImageStatus, load_image

VOCAB = ("red", "blue", "green", "white", "cat", "dog", "bird", "thing")
COLOURS = {"red": (255, 0, 0), "blue": (0, 0, 255), "green": (0, 255, 0), "white": (255, 255, 255)}


class BowEncoder:
    """Fake encoder: a caption is its bag of VOCAB words; an image is the bag of words of its file stem
    (`red_cat.jpg` -> "red cat"), so every score is a cosine of word counts. Records what it was asked to encode."""

    def __init__(self, vocab: Sequence[str] = VOCAB) -> None:
        self.index = {w: i for i, w in enumerate(vocab)}
        self.images_seen: list[ImageRef] = []
        self.texts_seen: list[str] = []

    def bow(self, text: str) -> Tensor:
        """Word-count vector over the vocabulary."""
        vec = torch.zeros(len(self.index))
        for word in re.findall(r"[a-z]+", text.lower()):
            if word in self.index:
                vec[self.index[word]] += 1
        return vec

    def encode_images(self, refs: Sequence[ImageRef]) -> tuple[Tensor, Tensor]:
        self.images_seen += list(refs)
        feats, status = torch.zeros(len(refs), len(self.index)), torch.zeros(len(refs), dtype=torch.long)
        for i, ref in enumerate(refs):
            _, st = load_image(ref)
            status[i] = int(st)
            if st == ImageStatus.OK:
                feats[i] = self.bow(Path(ref.path).stem.replace("_", " "))
        return feats, status

    def encode_texts(self, texts: Sequence[str]) -> Tensor:
        self.texts_seen += list(texts)
        return torch.stack([self.bow(t) for t in texts]) if texts else torch.zeros(0, len(self.index))


def image(path: Path, colour: str = "red", size: tuple[int, int] = (64, 64)) -> Path:
    """Write a solid-colour image (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, COLOURS[colour]).save(path)
    return path


def corrupt(path: Path) -> Path:
    """Write a file with an image suffix that PIL cannot decode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not an image")
    return path


def dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


RIGHT = ("the red cat", "the blue cat")  # (option 0, option 1) on a red_cat image: option 0 wins (1 vs 0.5)
WRONG = ("the blue cat", "the red cat")  # option 0 loses
TIE = ("the red cat", "the red cat")  # identical captions: a tie


def vg_record(relation_or_attrs: Any, options: tuple[str, str], bbox: tuple[int, int, int, int] = (0, 0, 32, 32),
              **extra: Any) -> dict[str, Any]:
    rec = {"image_path": "red_cat.jpg", "bbox_x": bbox[0], "bbox_y": bbox[1], "bbox_w": bbox[2], "bbox_h": bbox[3],
           "true_caption": options[0], "false_caption": options[1], **extra}
    key = "attributes" if isinstance(relation_or_attrs, list) else "relation_name"
    rec[key] = relation_or_attrs
    return rec


def build_aro(root: Path) -> None:
    """VG-R: on = [right, wrong], under = [right], with (excluded) = [wrong] -> headline 0.75 (3), all 0.5 (4).
    VG-A: red_blue 20 right + 5 wrong (0.8), green_white 3 right (< 25 items, dropped) -> 0.8 (25)."""
    image(root / "aro/images/red_cat.jpg")
    dump(root / "aro/visual_genome_relation.json", [
        vg_record("on", RIGHT), vg_record("on", WRONG, (32, 32, 32, 32)), vg_record("under", RIGHT),
        vg_record("with", WRONG),
    ])
    attr = [vg_record(["red", "blue"], RIGHT if i < 20 else WRONG) for i in range(25)]
    attr += [vg_record(["green", "white"], RIGHT) for _ in range(3)]
    dump(root / "aro/visual_genome_attribution.json", attr)


def build_coco(root: Path) -> None:
    """Karpathy test file for COCO-Order and retrieval: 3 images + 1 missing one (6 captions, 5 usable)."""
    for name in ("red_cat", "blue_dog", "green_bird"):
        image(root / f"coco/val2014/{name}.jpg", name.split("_")[0])
    dump(root / "coco/coco_karpathy_test.json", [
        {"image": "val2014/red_cat.jpg", "caption": ["A red cat.", "red cat sitting"]},
        {"image": "val2014/blue_dog.jpg", "caption": ["a blue dog"]},
        {"image": "val2014/green_bird.jpg", "caption": ["green bird", "a red bird"]},
        {"image": "val2014/white_cat.jpg", "caption": ["a white cat"]},
    ])


def build_valse(root: Path) -> None:
    """existence: right (mturk 3), filtered (mturk 1), wrong (no mturk: kept), tie (mturk 2), corrupt image (skipped)
    -> 1/3 of 3; plurals 2 right; counting-hard 1 right; counting-small-quant 1 wrong."""
    image(root / "valse/images/visual7w/red_cat.jpg")
    corrupt(root / "valse/images/visual7w/broken.jpg")

    def rec(options: tuple[str, str], mturk: int | None = 3, image_file: str = "red_cat.jpg") -> dict[str, Any]:
        r = {"dataset": "visual7w", "image_file": image_file, "caption": options[0], "foil": options[1]}
        if mturk is not None:
            r["mturk"] = {"foil": 0, "caption": mturk, "other": 0}
        return r

    dump(root / "valse/existence.json", {
        "e1": rec(RIGHT), "e2": rec(RIGHT, mturk=1), "e3": rec(WRONG, mturk=None), "e4": rec(TIE, mturk=2),
        "e5": rec(RIGHT, image_file="broken.jpg"),
    })
    dump(root / "valse/plurals.json", {"p1": rec(RIGHT), "p2": rec(RIGHT)})
    dump(root / "valse/counting-hard.json", {"c1": rec(RIGHT)})
    dump(root / "valse/counting-small-quant.json", {"c1": rec(WRONG)})


def build_vl_checklist(root: Path) -> None:
    """Attribute/color/vg 2 right (1.0); Attribute/state/vg right + wrong + missing image (0.5, 1 missing);
    Object/Location/center: vg right, hake wrong (0.5); Relation/action/swig wrong (0.0)."""
    vl = root / "vl_checklist"
    image(vl / "vg/VG_100K/red_cat.jpg")
    image(vl / "swig/red_cat.jpg")

    def corpus(rel: str, anno: str, img_root: str, items: list[Any]) -> None:
        (vl / "corpus" / rel).parent.mkdir(parents=True, exist_ok=True)
        (vl / "corpus" / rel).write_text(yaml.safe_dump({"ANNO_PATH": anno, "IMG_ROOT": img_root,
                                                         "TYPE": "TUPLE_JSON"}))
        dump(vl / anno, items)

    def it(options: tuple[str, str], path: str = "VG_100K/red_cat.jpg") -> list[Any]:
        return [path, {"POS": [options[0]], "NEG": [options[1]]}]

    corpus("v1/Attribute/color/vg.yaml", "data/Attribute/vg/color.json", "vg/", [it(RIGHT), it(RIGHT)])
    corpus("v1/Attribute/state/vg.yaml", "data/Attribute/vg/state.json", "vg/",
           [it(RIGHT), it(WRONG), it(RIGHT, "VG_100K/nowhere.jpg")])
    corpus("v1/Object/Location/center/vg.yaml", "data/Object/vg/center.json", "vg/", [it(RIGHT)])
    corpus("v1/Object/Location/center/hake.yaml", "data/Object/hake/center.json", "vg/", [it(WRONG)])
    corpus("v1/Relation/action/swig.yaml", "data/Relation/swig/action.json", "swig/", [it(WRONG, "red_cat.jpg")])


def build_sugarcrepe(root: Path) -> None:
    """replace_obj {0: right (in_distribution), 2: wrong (held_out)}, replace_att {5: right}, swap_att {1: right,
    3: tie}, add_obj {0: right}: replace pooled 2/3, swap 1/2, add 1/1."""
    image(root / "coco/val2017/red_cat.jpg")

    def rec(options: tuple[str, str], **extra: Any) -> dict[str, Any]:
        return {"filename": "red_cat.jpg", "caption": options[0], "negative_caption": options[1], **extra}

    dump(root / "sugarcrepe/replace_obj.json", {"0": rec(RIGHT, world_split="in_distribution"),
                                                "2": rec(WRONG, world_split="held_out")})
    dump(root / "sugarcrepe/replace_att.json", {"5": rec(RIGHT)})
    dump(root / "sugarcrepe/swap_att.json", {"1": rec(RIGHT), "3": rec(TIE)})
    dump(root / "sugarcrepe/add_obj.json", {"0": rec(RIGHT)})


def build_winoground(root: Path) -> None:
    """ex0 all right (Object); ex1 identical captions, all wrong (Relation); ex2 text right, image wrong (Object).
    Side file: ex0, ex1 held_out; ex2 in_distribution."""
    for name in ("red_cat", "blue_dog"):
        image(root / f"winoground/images/{name}.png", name.split("_")[0])
    examples = [
        {"id": 0, "image_0": "red_cat", "image_1": "blue_dog", "caption_0": "red cat", "caption_1": "blue dog",
         "collapsed_tag": "Object"},
        {"id": 1, "image_0": "red_cat", "image_1": "blue_dog", "caption_0": "red cat", "caption_1": "red cat",
         "collapsed_tag": "Relation"},
        {"id": 2, "image_0": "red_cat", "image_1": "blue_dog", "caption_0": "red cat", "caption_1": "red dog",
         "collapsed_tag": "Object"},
    ]
    (root / "winoground/examples.jsonl").write_text("\n".join(json.dumps(e) for e in examples) + "\n")
    dump(root / "winoground/world_split.json", {"0": "held_out", "1": "held_out", "2": "in_distribution"})


def build_all(root: Path) -> Path:
    """A data root with every benchmark's fixture."""
    for build in (build_aro, build_coco, build_valse, build_vl_checklist, build_sugarcrepe, build_winoground):
        build(root)
    return root
