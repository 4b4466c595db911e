"""Tiny fixtures in every real training format (COCO, Karpathy, BLIP, NegCLIP TSV, npy, CSV/JSONL), with bad rows.

Each builder writes under a folder and returns a dict of paths plus what was planted (missing/corrupt images,
malformed rows), so tests compare the DataModule's counts with the planted numbers.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from conftest import SHARED_DATA
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
NEGCLIP_TSV = SHARED_DATA / "negclip" / "valid_neg_clip_first300.tsv"
TYPES = ("relation", "adj_swap", "adj", "noun", "verb")


def make_image(path: Path, seed: int, size: int = 16) -> None:
    """A small random RGB image at `path` (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def unreadable_image(path: Path) -> None:
    """Bytes that are not an image, under an image name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")


def simple_transform(image: Image.Image) -> torch.Tensor:
    """PIL -> [3,8,8] float tensor (cheap stand-in for open_clip's preprocess)."""
    array = np.asarray(image.convert("RGB").resize((8, 8)), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def tokenizer() -> Any:
    """open_clip's tokenizer of the tiny model (context length 32)."""
    import open_clip

    from ahnpl_lightning.model import TINY_MODEL, register_model_configs

    register_model_configs()
    return open_clip.get_tokenizer(TINY_MODEL)


CAPTIONS = [
    "a red cube left of a blue ball", "a small dog sitting on a large sofa", "a man riding a brown horse",
    "a green bottle next to a white cup", "two cats sleeping on a wooden table", "a woman holding a yellow umbrella",
]


def coco_fixture(root: Path) -> dict[str, Any]:
    """captions_train2014.json: 6 images x 2 captions; image 4 missing, image 5 unreadable, 2 malformed annotations."""
    images_dir = root / "train2014"
    images, annotations = [], []
    for i in range(6):
        name = f"COCO_train2014_{i:012d}.jpg"
        images.append({"id": i, "file_name": name})
        if i == 4:
            pass  # missing on disk
        elif i == 5:
            unreadable_image(images_dir / name)
        else:
            make_image(images_dir / name, i)
        for j in range(2):
            caption = CAPTIONS[i] if j == 0 else f"{CAPTIONS[i]} again"
            annotations.append({"id": 10 * i + j, "image_id": i, "caption": caption})
    annotations.append({"id": 900, "image_id": 0, "caption": "   "})  # empty caption
    annotations.append({"id": 901, "image_id": 77, "caption": "an unknown image"})  # unknown image id
    path = root / "captions_train2014.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations}))
    return {"annotations": path, "image_root": images_dir, "good": 8, "missing_image": 2, "unreadable_image": 2,
            "malformed": {"malformed_missing_caption": 1, "malformed_unknown_image_id": 1}}


def karpathy_fixture(root: Path) -> dict[str, Any]:
    """dataset_coco.json with train/restval/val/test images (2 sentences each) and a BLIP-style train list."""
    images = []
    splits = ["train", "train", "restval", "val", "test", "train"]
    for i, split in enumerate(splits):
        folder = "val2014" if split in ("val", "test", "restval") else "train2014"
        make_image(root / folder / f"img{i}.jpg", i)
        images.append({"filepath": folder, "filename": f"img{i}.jpg", "split": split, "cocoid": i,
                       "sentences": [{"raw": CAPTIONS[i]}, {"raw": CAPTIONS[i] + " today"}]})
    images.append({"filepath": "train2014", "split": "train", "sentences": []})  # malformed: no filename
    path = root / "dataset_coco.json"
    path.write_text(json.dumps({"images": images}))
    blip = [{"image": f"train2014/img{i}.jpg", "caption": [CAPTIONS[i]], "image_id": str(i)} for i in (0, 1, 5)]
    blip_path = root / "coco_karpathy_train.json"
    blip_path.write_text(json.dumps(blip))
    return {"annotations": path, "blip": blip_path, "image_root": root, "train": 8, "val": 2}


def negclip_fixture(root: Path, rows: int = 40, missing_every: int = 5) -> dict[str, Any]:
    """The first `rows` rows of the real NegCLIP validation TSV, images created except every `missing_every`-th."""
    with open(NEGCLIP_TSV, encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh, delimiter="\t"))
    header, body = table[0], table[1:rows + 1]
    path = root / "negclip_train.tsv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t")
        writer.writerow(header)
        writer.writerows(body)
    image_root = root / "images"
    missing = []
    for k, row in enumerate(body):
        if k % missing_every == missing_every - 1:
            missing.append(k)
        else:
            make_image(image_root / row[header.index("filepath")], k)
    image_root.mkdir(parents=True, exist_ok=True)
    neg_images = [json.loads(row[header.index("neg_image")]) for row in body]
    return {"annotations": path, "image_root": image_root, "rows": body, "header": header, "missing": missing,
            "neg_images": neg_images}


def npy_fixture(root: Path) -> dict[str, Any]:
    """An authors'-style .npy: 5 items, '###' and valid_caption masking, one item without a caption."""
    items = []
    for i in range(5):
        item = {"caption": CAPTIONS[i], "image_id": 100 + i, "valid_caption": [1, 1, 1, 1, 1]}
        for t in TYPES:
            item[f"{t}_aug_caption"] = f"{t} negative of {i}"
        items.append(item)
        make_image(root / "train2014" / f"COCO_train2014_{100 + i:012d}.jpg", i)
    items[1]["relation_aug_caption"] = "###"
    items[2]["valid_caption"] = [1, 0, 1, 1, 0]
    items.append({"image_id": 200, "valid_caption": [1, 1, 1, 1, 1]})  # malformed: no caption
    path = root / "train_neg.npy"
    np.save(path, np.array(items, dtype=object), allow_pickle=True)
    return {"annotations": path, "image_root": root, "good": 5}


def table_fixtures(root: Path) -> dict[str, Any]:
    """A CSV with custom column names and negative columns (one row short of fields) and a JSONL with a bad line."""
    for i in range(4):
        make_image(root / "imgs" / f"{i}.png", i)
    csv_path = root / "pairs.csv"
    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text_a", "picture", "neg_rel", "neg_noun"])
        for i in range(4):
            writer.writerow([CAPTIONS[i], f"{i}.png", f"rel neg {i}", "" if i == 2 else f"noun neg {i}"])
        writer.writerow(["too", "few"])
    jsonl_path = root / "pairs.jsonl"
    lines = [json.dumps({"caption": CAPTIONS[i], "image": f"{i}.png"}) for i in range(3)] + ["{not json"]
    jsonl_path.write_text("\n".join(lines) + "\n")
    return {"csv": csv_path, "jsonl": jsonl_path, "image_root": root / "imgs"}
