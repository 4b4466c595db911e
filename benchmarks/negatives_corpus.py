"""The real captions available offline, and the slot-count table shipped with the package built from them.

``real_captions()``: the 501 COCO Karpathy-test captions, the 300 NegCLIP validation captions and the 666 SugarCrepe
swap_att captions (COCO val2017) of ``tests/fixtures/data``: 1,467 captions, each with an image key (captions of one
image share it). ``python -m benchmarks.negatives_corpus`` rebuilds
``src/ahnpl_lightning/data/negatives/slot_counts.json.gz`` from them.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from benchmarks import SHARED_DATA

__all__ = ["real_captions", "build_shipped_table"]

SOURCES = {
    "coco": SHARED_DATA / "coco" / "coco_karpathy_test_first100.json",
    "negclip": SHARED_DATA / "negclip" / "valid_neg_clip_first300.tsv",
    "sugarcrepe": SHARED_DATA / "sugarcrepe" / "swap_att.json",
}


def real_captions(sources: tuple[str, ...] = ("coco", "negclip", "sugarcrepe")) -> list[tuple[str, str]]:
    """(image key, caption) for every real caption of ``sources``, in file order."""
    out: list[tuple[str, str]] = []
    if "coco" in sources:
        for item in json.loads(SOURCES["coco"].read_text(encoding="utf-8")):
            out += [(f"coco:{item['image']}", c) for c in item["caption"]]
    if "negclip" in sources:
        with open(SOURCES["negclip"], newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                out.append((f"negclip:{row['filepath']}", row["title"]))
    if "sugarcrepe" in sources:
        items = json.loads(SOURCES["sugarcrepe"].read_text(encoding="utf-8"))
        for key in sorted(items, key=int):
            out.append((f"sugarcrepe:{items[key]['filename']}", items[key]["caption"]))
    return out


def build_shipped_table(output: Path | None = None) -> Path:
    """Count the slots of ``real_captions()`` into the package's shipped table."""
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator
    from ahnpl_lightning.data.negatives.slots import SHIPPED_TABLE, SlotModel, fit_slot_model

    pairs = real_captions()
    generator = NegativeGenerator(seed=0, tagger="builtin", slots=SlotModel())
    model = fit_slot_model(generator, [c for _, c in pairs], [g for g, _ in pairs])
    model.sources = [str(p.relative_to(SHARED_DATA)) for p in SOURCES.values()]
    return model.save(output or SHIPPED_TABLE)


if __name__ == "__main__":
    path = build_shipped_table(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    print(f"wrote {path}")
