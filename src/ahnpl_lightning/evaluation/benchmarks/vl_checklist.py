"""VL-CheckList (Zhao et al. 2022): every corpus YAML under `<root>/vl_checklist/corpus/` (docs/METHOD.md section 4).

Each YAML has `ANNO_PATH` (data file) and `IMG_ROOT`, both relative to `<root>/vl_checklist/`; the data file is a list
of `[image_relpath, {"POS": [...], "NEG": [...]}]`. Correct iff score(POS[0]) > score(NEG[0]) (a tie is wrong). Items
whose image is missing are dropped, as the official loader does, and counted (`missing_images`, `skipped_items`).
Subsets: one per YAML, named by its path under `corpus/` without the extension (e.g. `v1/Attribute/state/vg`).
Summary: `subcategory/<Type>/<...>` = mean over that sub-category's YAML files (e.g. `Object/Location/center`,
`Attribute/color`, `Relation/spatial`: 13 in the full corpus), `Object` / `Attribute` / `Relation` = mean of their
sub-categories, `mean` = mean of the three.
World-split side-file key: `<subset>#<index in the data file>`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

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
from ahnpl_lightning.evaluation.metrics import Metric, accuracy, mean_of, put
from ahnpl_lightning.evaluation.problems import UNREADABLE_FILE
from ahnpl_lightning.evaluation.spec import BenchmarkSpec, Request, WorldWriter

if TYPE_CHECKING:
    from ahnpl_lightning.data.world.export import WorldExport
    from ahnpl_lightning.data.world.scene import Scene

NAME = "vl_checklist"
TYPES = ("Object", "Attribute", "Relation")


def subcategory_of(subset: str) -> str | None:
    """`v1/Object/Location/center/vg` -> `Object/Location/center`; None when no known type is in the path."""
    parts = subset.split("/")[:-1]
    for i, part in enumerate(parts):
        for type_name in TYPES:
            if part.lower() == type_name.lower():
                return "/".join([type_name, *parts[i + 1 :]])
    return None


def load_corpus_file(
    yaml_path: Path, root: Path, limit: int | None = None, bad: BadRecords | None = None
) -> list[ChoiceItem]:
    """One corpus YAML and its data file -> items (POS[0] first, NEG[0] second)."""
    bad = bad or BadRecords(NAME)
    subset = yaml_path.relative_to(root / "corpus").with_suffix("").as_posix()
    try:
        spec = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
        anno_path = root / str(spec["ANNO_PATH"])
        img_root = root / str(spec["IMG_ROOT"])
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as exc:
        bad.add(str(yaml_path), repr(exc), estimated=True, kind=UNREADABLE_FILE)
        return []
    if not anno_path.is_file():
        bad.add(str(yaml_path), f"its ANNO_PATH {anno_path} is not a file", estimated=True, kind=UNREADABLE_FILE)
        return []
    split_map = load_split_map(root)
    category = subcategory_of(subset)

    def parse(index: int, rec: Any, count: int) -> list[ChoiceItem]:
        key = f"{subset}#{index}"
        image_rel, texts = rec[0], rec[1]
        options = (str(texts["POS"][0]), str(texts["NEG"][0]))
        image = ImageRef(str(img_root / str(image_rel)))
        return [ChoiceItem(image, options, subset, category, record_split(texts, key, split_map), key)]

    return parse_records(json_records(anno_path, list, bad, marker="POS"), parse, bad, limit)


def aggregate(scored: Sequence[ScoredItem]) -> tuple[dict[str, Metric], dict[str, Metric]]:
    """Per-file accuracy, sub-category / type means, and the mean of the three types."""
    flags: dict[str, list[bool]] = defaultdict(list)
    category: dict[str, str | None] = {}
    for s in scored:
        flags[s.item.subset].append(s.correct)
        category[s.item.subset] = s.item.category
    subsets: dict[str, Metric] = {}
    for subset in sorted(flags):
        put(subsets, subset, accuracy(flags[subset]))
    by_sub: dict[str, list[Metric]] = defaultdict(list)
    for subset, m in subsets.items():
        if category[subset] is not None:
            by_sub[category[subset]].append(m)
    summary: dict[str, Metric] = {}
    for sub in sorted(by_sub):
        put(summary, f"subcategory/{sub}", mean_of(by_sub[sub]))
    for type_name in TYPES:
        put(summary, type_name, mean_of(summary[f"subcategory/{s}"] for s in by_sub if s.split("/")[0] == type_name))
    put(summary, "mean", mean_of(summary.get(t) for t in TYPES))
    return subsets, summary


def files(where: Location) -> list[Path]:
    """Every corpus YAML (sorted, so every rank sees the same order)."""
    return sorted((where.dir(NAME) / "corpus").rglob("*.yaml"))


def load(request: Request) -> list[ChoiceItem]:
    """Items of every YAML under `corpus/`."""
    root, items = request.where.dir(NAME), []
    for yaml_path in files(request.where):
        file_items = load_corpus_file(yaml_path, root, request.limit, request.bad)
        if file_items and file_items[0].category is None:
            log.warning("vl_checklist: %s names no Object/Attribute/Relation folder; reported per file only", yaml_path)
        items += file_items
    return items



# ----------------------------------------------------------------------------------------------------------------------
# The synthetic world's VL-CheckList corpus
# ----------------------------------------------------------------------------------------------------------------------
# (corpus directory under corpus/v1, data file under data/) per sub-category
WORLD_FILES: dict[str, tuple[str, str]] = {
    "Object/Location/center": ("Object/Location/center", "Object/Location/world/center.json"),
    "Object/Location/margin": ("Object/Location/margin", "Object/Location/world/margin.json"),
    "Object/Size/large": ("Object/Size/large", "Object/Size/world/large.json"),
    "Object/Size/small": ("Object/Size/small", "Object/Size/world/small.json"),
    "Attribute/color": ("Attribute/color", "Attribute/world/color.json"),
    "Attribute/size": ("Attribute/size", "Attribute/world/size.json"),
    "Attribute/material": ("Attribute/material", "Attribute/world/material.json"),
    "Relation/spatial": ("Relation/spatial", "Relation/world/spatial.json"),
}


def world_groups(materials: bool) -> list[str]:
    """The groups the export draws `size` items for each (a group splits into sub-categories by what it drew)."""
    groups = ["Object/Location", "Object/Size", "Attribute/color", "Attribute/size", "Relation/spatial"]
    if materials:
        groups.insert(4, "Attribute/material")
    return groups


def world_pair(ex: WorldExport, group: str, scene: Scene, rng: random.Random) -> tuple[str, Any, Any] | None:
    """(sub-category, POS, NEG) for one scene of `group` (Object/Location, Object/Size, Attribute/x, Relation)."""
    from ahnpl_lightning.data.world import grammar as g

    vocab = ex.world.vocab
    obj = rng.choice(scene.objects)
    if group.startswith("Object"):
        base = g.Statement(g.EXISTS, (g.NP(obj.shape, colour=obj.colour),), 4)
        if group == "Object/Location":
            cx, cy = obj.center
            quarter = scene.image_size / 4
            central = abs(cx - scene.image_size / 2) < quarter and abs(cy - scene.image_size / 2) < quarter
            sub = "Object/Location/" + ("center" if central else "margin")
        else:
            sub = f"Object/Size/{obj.size}"
        cands = g.replace_noun(base, rng, vocab)
    elif group.startswith("Attribute"):
        attr = {"color": "colour", "size": "size", "material": "material"}[group.split("/")[1]]
        base = g.Statement(g.EXISTS, (g.NP(obj.shape, **{attr: obj.attribute(attr)}),), 4)
        sub = group
        cands = g.replace_adjective(base, rng, vocab)
    else:
        i, rel, j = rng.choice(scene.relations()) if len(scene.objects) > 1 else (0, None, 0)
        if rel is None:
            return None
        a, b = scene.objects[i], scene.objects[j]
        base = g.Statement(g.REL, (g.NP(a.shape, colour=a.colour), g.NP(b.shape, colour=b.colour)), 4, relation=rel)
        sub = group
        cands = g.replace_relation(base, rng)
    neg = ex.first_false(cands, scene)
    return None if neg is None else (sub, base, neg)


def write_world(ex: WorldExport) -> None:
    """One corpus YAML and data file per sub-category drawn (`size` items per group), oracle-checked."""
    from ahnpl_lightning.data.world import grammar as g

    per_sub: dict[str, list[list[Any]]] = {}
    for group in world_groups(ex.world.materials):

        def build(attempt: int, group: str = group) -> tuple[Any, ...] | None:
            rng = ex.rng(f"vlc_{group}", attempt)
            scene = ex.scene(f"vlc_{group}", attempt)
            out = world_pair(ex, group, scene, rng)
            return None if out is None else (scene, *out)

        for scene, sub, pos, neg in ex.collect(f"vl_checklist/{group}", build):
            rel = f"images/{ex.new_id()}.png"
            ex.save(scene, ex.out / "vl_checklist" / "world" / rel)
            texts = [g.realise(pos), g.realise(neg)]
            per_sub.setdefault(sub, []).append(
                [rel, {"POS": texts[:1], "NEG": texts[1:], "world_split": ex.tag([scene], texts)}]
            )
    for sub, records in sorted(per_sub.items()):
        corpus_dir, data_file = WORLD_FILES[sub]
        yaml_text = f'ANNO_PATH: "data/{data_file}"\nIMG_ROOT: "world/"\nTYPE: "TUPLE_JSON"\n'
        ex.write_records(f"vl_checklist/data/{data_file}", records, split_of=lambda r: r[1]["world_split"])
        ex.write_text(ex.out / "vl_checklist" / "corpus" / "v1" / corpus_dir / "world.yaml", yaml_text)


def describe(name: str) -> tuple[str, str]:
    """What a VL-CheckList figure measures and what its count counts."""
    if name.startswith("subcategory/"):
        return "mean of the accuracies of the sub-category's files", "items of those files"
    if name in TYPES:
        return "mean of the type's sub-category means", "items of those sub-categories"
    if name == "mean":
        return "mean of Object, Attribute and Relation", "items of the three"
    return "accuracy", "items"


SPEC = BenchmarkSpec(NAME, files, load, aggregate, describe=describe,
                    world=WorldWriter(write_world, files=lambda world: len(world_groups(world.materials)), order=5))
evaluate, load_items = SPEC.evaluate, SPEC.load_items
