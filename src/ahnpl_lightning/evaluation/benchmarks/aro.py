"""ARO (arXiv 2210.01936): VG-Relation, VG-Attribution, COCO-Order and Flickr30k-Order (docs/METHOD.md section 4).

Layout: `<root>/aro/visual_genome_{relation,attribution}.json` with images under `<root>/aro/images/`, and the Karpathy
test files `<root>/coco/coco_karpathy_test.json`, `<root>/flickr30k/flickr30k_test.json` for the order tasks.

Subsets (accuracy in [0, 1]):
- `vg_relation`: macro mean of per-relation accuracy over relations NOT in `VG_RELATION_EXCLUDED` (the 157 symmetric or
  ambiguous relation names of ARO's evaluation, the number papers report); `vg_relation_all`: over every relation.
- `vg_attribution`: macro mean over attribute pairs `f"{a[0]}_{a[1]}"` with >= 25 items.
- `coco_order`, `flickr30k_order`: precision@1 of the true caption among itself and its 4 ARO perturbations
  (`evaluation.perturbations.order_perturbations(caption, seed + item_index)`, `--seed` in `ahnpl eval`), every option
  passed through `pre_caption`; here a tie counts as correct (ARO's argmax picks the first, true, option). VG: a tie
  is wrong.
World-split side-file keys: `visual_genome_<kind>#<index>` for VG items, the record's `image` for order items.
The world's export writes the two VG files (the Karpathy file is retrieval's).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ahnpl_lightning.evaluation.files import (
    BadRecords,
    Location,
    json_records,
    load_split_map,
    log,
    parse_records,
    record_split,
)
from ahnpl_lightning.evaluation.items import ChoiceItem, ImageRef, ScoredItem
from ahnpl_lightning.evaluation.metrics import Metric, accuracy, macro, mean_of, put
from ahnpl_lightning.evaluation.perturbations import ORDER_MAX_WORDS, order_perturbations, pre_caption  # noqa: F401
from ahnpl_lightning.evaluation.spec import BenchmarkSpec, Request, WorldWriter

if TYPE_CHECKING:
    from ahnpl_lightning.data.world.export import WorldExport
    from ahnpl_lightning.data.world.scene import Scene

NAME = "aro"
VG_FILES = {"vg_relation": "visual_genome_relation.json", "vg_attribution": "visual_genome_attribution.json"}
ORDER_FILES = {
    "coco_order": ("coco", "coco_karpathy_test.json"),
    "flickr30k_order": ("flickr30k", "flickr30k_test.json"),
}
ORDER_SUBSETS = frozenset(ORDER_FILES)
VG_ATTRIBUTION_MIN_COUNT = 25

# The 157 relation names ARO's evaluation drops from VG-Relation (symmetric or ambiguous relations), as listed in the
# ARO evaluation code and reused by later work (e.g. the ARO dataset wrappers of the compositionality benchmarks).
VG_RELATION_EXCLUDED: tuple[str, ...] = (
    "adjusting", "attached to", "between", "bigger than", "biting", "boarding", "brushing", "chewing", "cleaning",
    "climbing", "close to", "coming from", "coming out of", "contain", "crossing", "dragging", "draped over",
    "drinking", "drinking from", "driving", "driving down", "driving on", "eating from", "eating in", "enclosing",
    "exiting", "facing", "filled with", "floating in", "floating on", "flying", "flying above", "flying in",
    "flying over", "flying through", "full of", "going down", "going into", "going through", "grazing in",
    "growing in", "growing on", "guiding", "hanging from", "hanging in", "hanging off", "hanging over",
    "higher than", "holding onto", "hugging", "in between", "jumping off", "jumping on", "jumping over",
    "kept in", "larger than", "leading", "leaning over", "leaving", "licking", "longer than", "looking in",
    "looking into", "looking out", "looking over", "looking through", "lying next to", "lying on top of", "making",
    "mixed with", "mounted on", "moving", "on the back of", "on the edge of", "on the front of",
    "on the other side of", "opening", "painted on", "parked at", "parked beside", "parked by", "parked in",
    "parked in front of", "parked near", "parked next to", "perched on", "petting", "piled on", "playing",
    "playing in", "playing on", "playing with", "pouring", "reaching for", "reading", "reflected on", "riding on",
    "running in", "running on", "running through", "seen through", "sitting behind", "sitting beside",
    "sitting by", "sitting in front of", "sitting near", "sitting next to", "sitting under", "skiing down",
    "skiing on", "sleeping in", "sleeping on", "smiling at", "sniffing", "splashing", "sprinkled on", "stacked on",
    "standing against", "standing around", "standing behind", "standing beside", "standing in front of",
    "standing near", "standing next to", "staring at", "stuck in", "surrounding", "swimming in", "swinging",
    "talking to", "topped with", "touching", "traveling down", "traveling on", "tying", "typing on", "underneath",
    "wading in", "waiting for", "walking across", "walking by", "walking down", "walking next to",
    "walking through", "working in", "working on", "worn on", "wrapped around", "wrapped in", "by", "of", "near",
    "next to", "with", "beside", "on the side of", "around",
)


def load_vg_items(
    path: Path, images_dir: Path, subset: str, limit: int | None = None, bad: BadRecords | None = None
) -> list[ChoiceItem]:
    """VG-Relation / VG-Attribution records -> items (true caption first), image cropped to the record's bbox."""
    split_map = load_split_map(path.parent)

    def parse(index: int, rec: Any, count: int) -> list[ChoiceItem]:
        key = f"{path.stem}#{index}"
        if subset == "vg_relation":
            category = str(rec["relation_name"])
        else:
            category = f"{rec['attributes'][0]}_{rec['attributes'][1]}"
        bbox = (float(rec["bbox_x"]), float(rec["bbox_y"]), float(rec["bbox_w"]), float(rec["bbox_h"]))
        image = ImageRef(str(images_dir / rec["image_path"]), bbox)
        options = (str(rec["true_caption"]), str(rec["false_caption"]))
        return [ChoiceItem(image, options, subset, category, record_split(rec, key, split_map), key)]

    bad = bad or BadRecords(NAME)
    return parse_records(json_records(path, list, bad, marker="true_caption"), parse, bad, limit)


def load_order_items(
    path: Path,
    images_dir: Path,
    subset: str,
    perturb: Callable[[str, int], list[str]],
    seed: int = 0,
    limit: int | None = None,
    bad: BadRecords | None = None,
) -> list[ChoiceItem]:
    """Karpathy records -> one item per (image, caption): the cleaned caption first, then its cleaned perturbations
    (seeded by `seed` + the item's index, so a run is reproducible and `--seed` varies it)."""
    bad = bad or BadRecords(NAME)
    split_map = load_split_map(path.parent)

    def parse(index: int, rec: Any, count: int) -> list[ChoiceItem]:
        image = ImageRef(str(images_dir / rec["image"]))
        captions = rec["caption"] if isinstance(rec["caption"], list) else [rec["caption"]]
        split = record_split(rec, str(rec["image"]), split_map)
        items = []
        for caption in captions:
            perturbed = [pre_caption(p) for p in perturb(str(caption), seed + count + len(items))]
            if not perturbed:
                bad.add(f"{path}[{index}]", f"no perturbation for caption {caption!r}")
                continue
            key = f"{rec['image']}#{count + len(items)}"
            items.append(ChoiceItem(image, (pre_caption(str(caption)), *perturbed), subset, None, split, key))
        return items

    return parse_records(json_records(path, list, bad, marker="caption"), parse, bad, limit)


def aggregate(scored: Sequence[ScoredItem]) -> tuple[dict[str, Metric], dict[str, Metric]]:
    """Per-subset numbers as described in the module docstring; summary `vg_mean` = mean of VG-R and VG-A."""
    groups: dict[str, dict[str | None, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for s in scored:
        groups[s.item.subset][s.item.category].append(s.correct)
    relations = groups.get("vg_relation", {})
    excluded = set(VG_RELATION_EXCLUDED)
    subsets: dict[str, Metric] = {}
    put(subsets, "vg_relation", macro({r: f for r, f in relations.items() if r not in excluded}))
    put(subsets, "vg_relation_all", macro(relations))
    put(subsets, "vg_attribution", macro(groups.get("vg_attribution", {}), min_count=VG_ATTRIBUTION_MIN_COUNT))
    for subset in ORDER_FILES:
        put(subsets, subset, accuracy([c for flags in groups.get(subset, {}).values() for c in flags]))
    summary: dict[str, Metric] = {}
    if "vg_relation" in subsets and "vg_attribution" in subsets:
        put(summary, "vg_mean", mean_of([subsets["vg_relation"], subsets["vg_attribution"]]))
    return subsets, summary


MEASURES = {
    "vg_relation": ("macro accuracy over relations, the 157 ambiguous ones excluded",
                    "items of the relations averaged"),
    "vg_relation_all": ("macro accuracy over all relations", "items"),
    "vg_attribution": (f"macro accuracy over attribute pairs with >= {VG_ATTRIBUTION_MIN_COUNT} items",
                       "items of the pairs averaged"),
    "vg_mean": ("mean of vg_relation and vg_attribution", "items of both"),
}
ORDER_MEASURE = ("precision@1 of the caption among itself and its 4 order perturbations (a tie counts as correct)",
                 "(image, caption) items")


def describe(name: str) -> tuple[str, str]:
    """What an ARO figure measures and what its count counts."""
    return MEASURES.get(name, ORDER_MEASURE)


def files(where: Location) -> list[Path]:
    """The two VG files and the two Karpathy test files the order tasks read."""
    return [where.dir(NAME) / f for f in VG_FILES.values()] + [where.dir(d) / f for d, f in ORDER_FILES.values()]


def load(request: Request) -> list[ChoiceItem]:
    """All ARO items found under the data root (parts whose file is absent are skipped with a log line)."""
    aro_dir, items = request.where.dir(NAME), []
    for subset, filename in VG_FILES.items():
        path = aro_dir / filename
        if path.is_file():
            items += load_vg_items(path, aro_dir / "images", subset, request.limit, request.bad)
        else:
            log.info("aro: %s skipped, %s not found", subset, path)
    perturb = functools.partial(order_perturbations, tagger=request.tagger)
    for subset, (folder, filename) in ORDER_FILES.items():
        path = request.where.dir(folder) / filename
        if path.is_file():
            items += load_order_items(path, path.parent, subset, perturb, request.seed, request.limit, request.bad)
        else:
            log.info("aro: %s skipped, %s not found", subset, path)
    return items



# ----------------------------------------------------------------------------------------------------------------------
# The synthetic world's VG-Relation and VG-Attribution files
# ----------------------------------------------------------------------------------------------------------------------
VG_ATTRIBUTION_COLOUR_PAIRS: tuple[tuple[str, str], ...] = (
    ("blue", "red"),
    ("green", "yellow"),
    ("black", "white"),
    ("orange", "purple"),
)


def union_box(scene: Scene, indices: Sequence[int], pad: int = 2) -> dict[str, int]:
    """ARO bbox fields: the padded union of the objects' boxes, clamped to the image."""
    boxes = [scene.objects[i].bbox for i in indices]
    x0 = max(0, min(b[0] for b in boxes) - pad)
    y0 = max(0, min(b[1] for b in boxes) - pad)
    x1 = min(scene.image_size, max(b[2] for b in boxes) + pad)
    y1 = min(scene.image_size, max(b[3] for b in boxes) + pad)
    return {"bbox_x": x0, "bbox_y": y0, "bbox_w": x1 - x0, "bbox_h": y1 - y0}


def attribution_categories(materials: bool) -> list[tuple[str, tuple[str, str]]]:
    """VG-Attribution's (attribute, (value_0, value_1)) categories: sizes, materials, four colour pairs."""
    cats: list[tuple[str, tuple[str, str]]] = [("size", ("large", "small"))]
    if materials:
        cats += [("material", p) for p in (("hollow", "solid"), ("hollow", "striped"), ("solid", "striped"))]
    cats += [("colour", p) for p in VG_ATTRIBUTION_COLOUR_PAIRS]
    return cats


def write_world(ex: WorldExport) -> None:
    """VG-Relation (a true spatial relation vs its argument swap) and VG-Attribution (two objects' attribute values
    vs the values exchanged), each oracle-checked, with the padded union box of the two objects."""
    from ahnpl_lightning.data.world import grammar as g

    def relation(attempt: int) -> tuple[Any, ...] | None:
        rng = ex.rng("aro_relation", attempt)
        scene = ex.scene("aro_relation", attempt, rng.randint(2, max(2, ex.world.max_objects)))
        i, rel, j = rng.choice(scene.relations())
        a, b = scene.objects[i], scene.objects[j]
        for attrs in (("colour",), ("size", "colour"), ("size", "colour", "material")):
            np_a = g.NP(a.shape, **{x: a.attribute(x) for x in attrs})
            np_b = g.NP(b.shape, **{x: b.attribute(x) for x in attrs})
            true = g.Statement(g.REL, (np_a, np_b), 3, relation=rel)
            false = replace(true, nps=(np_b, np_a))
            if np_a != np_b and g.evaluate(true, scene) and not g.evaluate(false, scene):
                return scene, (i, j), rel, g.realise(true), g.realise(false)
        return None

    categories = attribution_categories(ex.world.materials)
    made = [0]

    def attribution(attempt: int) -> tuple[Any, ...] | None:
        # Round-robin over a few attribute pairs, so each category f"{a0}_{a1}" gets size / len(categories) items
        # and passes ARO's >= 25 items rule at the default size (200 items, 8 categories).
        attr, (va, vb) = categories[made[0] % len(categories)]
        rng = ex.rng("aro_attribution", attempt)
        scene = ex.scene("aro_attribution", attempt, rng.randint(2, max(2, ex.world.max_objects)))
        i, j = rng.sample(range(len(scene.objects)), 2)
        a, b = scene.objects[i], scene.objects[j]
        if a.shape == b.shape:
            return None
        if attr == "size":
            a, b = a.resized(va, scene.image_size), b.resized(vb, scene.image_size)
        else:
            a, b = replace(a, **{attr: va}), replace(b, **{attr: vb})
        scene = scene.with_object(i, a).with_object(j, b)
        true = g.Statement(g.AND, (g.NP(a.shape, **{attr: va}), g.NP(b.shape, **{attr: vb})), 3)
        false = g.Statement(g.AND, (g.NP(a.shape, **{attr: vb}), g.NP(b.shape, **{attr: va})), 3)
        if not scene.is_valid() or not g.evaluate(true, scene) or g.evaluate(false, scene):
            return None
        made[0] += 1
        return scene, (i, j), [va, vb], g.realise(true), g.realise(false)

    for name, build, extra in (
        ("visual_genome_relation.json", relation, "relation_name"),
        ("visual_genome_attribution.json", attribution, "attributes"),
    ):
        records = []
        for scene, pair, value, true, false in ex.collect(f"aro/{name}", build):
            image_id = ex.new_id()
            ex.save(scene, ex.out / "aro" / "images" / f"{image_id}.jpg")
            records.append(
                {
                    "image_id": str(image_id),
                    "image_path": f"{image_id}.jpg",
                    **union_box(scene, pair),
                    extra: value,
                    "true_caption": true,
                    "false_caption": false,
                    "world_split": ex.tag([scene], [true, false]),
                }
            )
        ex.write_records(f"aro/{name}", records)


SPEC = BenchmarkSpec(NAME, files, load, aggregate, tie_correct=lambda item: item.subset in ORDER_SUBSETS,
                    world=WorldWriter(write_world, files=lambda world: len(VG_FILES), order=0), describe=describe,
                    min_items={"vg_attribution": (VG_ATTRIBUTION_MIN_COUNT, "attribute pair")})
evaluate, load_items = SPEC.evaluate, SPEC.load_items
