"""SugarCrepe (Hsieh et al., NeurIPS 2023): 7 subsets over COCO val2017 (docs/METHOD.md section 4).

Layout: `<root>/sugarcrepe/<subset>.json` = `{key: {filename, caption, negative_caption}}` (keys need not be
contiguous), images `<root>/coco/val2017/<filename>` (override: `paths["sugarcrepe_images"]`, or `paths["coco"]`).
Correct iff score(caption) > score(negative_caption); a tie is wrong. Subsets: the 7 files present. Summary:
`replace`, `swap`, `add` pooled over the items of their subsets (not a mean of subset accuracies).
World-split side-file key: `<subset>/<key>`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
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
from ahnpl_lightning.evaluation.metrics import Metric, accuracy, put
from ahnpl_lightning.evaluation.spec import BenchmarkSpec, Request, WorldWriter

if TYPE_CHECKING:
    from ahnpl_lightning.data.world.export import WorldExport
    from ahnpl_lightning.data.world.grammar import Statement
    from ahnpl_lightning.data.world.scene import Scene

NAME = "sugarcrepe"
SUBSETS = ("replace_obj", "replace_att", "replace_rel", "swap_obj", "swap_att", "add_obj", "add_att")
GROUPS = ("replace", "swap", "add")


def images_dir(data_root: str | Path, paths: dict[str, str] | None = None) -> Path:
    """Where SugarCrepe's COCO val2017 images live."""
    where = Location(Path(data_root), paths or {})
    if where.paths.get("sugarcrepe_images"):
        return Path(where.paths["sugarcrepe_images"])
    return where.dir("coco") / "val2017"


def load_subset(
    path: Path, image_dir: Path, limit: int | None = None, bad: BadRecords | None = None
) -> list[ChoiceItem]:
    """One subset file -> items (caption first, negative second), in file order."""
    subset = path.stem
    split_map = load_split_map(path.parent)

    def parse(key: str, rec: Any, count: int) -> list[ChoiceItem]:
        image = ImageRef(str(image_dir / str(rec["filename"])))
        options = (str(rec["caption"]), str(rec["negative_caption"]))
        item_key = f"{subset}/{key}"
        return [ChoiceItem(image, options, subset, subset.split("_")[0], record_split(rec, item_key, split_map),
                           item_key)]

    bad = bad or BadRecords(NAME)
    return parse_records(json_records(path, dict, bad, marker="negative_caption"), parse, bad, limit)


def aggregate(scored: Sequence[ScoredItem]) -> tuple[dict[str, Metric], dict[str, Metric]]:
    """Per-subset accuracy and replace / swap / add pooled over items."""
    by_subset: dict[str, list[bool]] = defaultdict(list)
    by_group: dict[str | None, list[bool]] = defaultdict(list)
    for s in scored:
        by_subset[s.item.subset].append(s.correct)
        by_group[s.item.category].append(s.correct)
    subsets: dict[str, Metric] = {}
    for subset in SUBSETS:
        put(subsets, subset, accuracy(by_subset.get(subset, [])))
    summary: dict[str, Metric] = {}
    for group in GROUPS:
        put(summary, group, accuracy(by_group.get(group, [])))
    return subsets, summary


def files(where: Location) -> list[Path]:
    """The seven subset files."""
    return [where.dir(NAME) / f"{subset}.json" for subset in SUBSETS]


def load(request: Request) -> list[ChoiceItem]:
    """Items of the subset files present."""
    items: list[ChoiceItem] = []
    image_dir = images_dir(request.where.data_root, dict(request.where.paths))
    for path in files(request.where):
        if path.is_file():
            items += load_subset(path, image_dir, request.limit, request.bad)
        else:
            log.info("sugarcrepe: subset %s skipped, %s not found", path.stem, path)
    return items



# ----------------------------------------------------------------------------------------------------------------------
# The synthetic world's SugarCrepe files (images under coco/val2017, as in the real layout)
# ----------------------------------------------------------------------------------------------------------------------
WORLD_SUBSETS = ("add_obj", "add_att", "replace_obj", "replace_att", "replace_rel", "swap_obj", "swap_att")


def world_pair(ex: WorldExport, subset: str, scene: Scene, rng: random.Random) -> tuple[Statement, Statement] | None:
    """A true caption of `scene` and its oracle-false SugarCrepe-style edit of kind `subset`."""
    from ahnpl_lightning.data.world import grammar as g
    from ahnpl_lightning.data.world.scene import SHAPES

    vocab = ex.world.vocab
    if subset == "add_obj":
        base = ex.statement(scene, rng, (g.EXISTS,))
        if base is None or base.template == 2:  # "a picture of ..." has no conjunction template
            return None
        absent = [g.NP(s, colour=c) for s in SHAPES for c in vocab["colour"]]
        rng.shuffle(absent)
        cands = [g.Statement(g.AND, (base.nps[0], np_), {0: 0, 1: 1, 3: 2}[base.template]) for np_ in absent]
    elif subset == "replace_rel":
        base = ex.statement(scene, rng, (g.REL,))
        cands = g.replace_relation(base, rng) if base else []
    elif subset in ("swap_obj", "swap_att"):
        base = ex.statement(scene, rng, (g.REL, g.AND))
        if base is None:
            return None
        if subset == "swap_obj":  # swap the two nouns, adjectives stay in place
            cands = [
                c
                for c in g.swap_noun_phrases(base, rng)
                if c.nps[0].size == base.nps[0].size
                and c.nps[0].colour == base.nps[0].colour
                and c.nps[0].material == base.nps[0].material
            ]
        else:
            cands = g.swap_adjectives(base, rng)
    else:
        base = ex.statement(scene, rng, (g.REL, g.AND, g.EXISTS))
        if base is None:
            return None
        edit = {"add_att": g.add_adjective, "replace_obj": g.replace_noun, "replace_att": g.replace_adjective}[subset]
        cands = edit(base, rng, vocab)
    if base is None:
        return None
    neg = ex.first_false(cands, scene)
    return (base, neg) if neg is not None else None


def write_world(ex: WorldExport) -> None:
    """The seven subset files, `size` oracle-checked (caption, negative) pairs each."""
    from ahnpl_lightning.data.world import grammar as g

    for subset in WORLD_SUBSETS:

        def build(attempt: int, subset: str = subset) -> tuple[Any, ...] | None:
            rng = ex.rng(f"sugarcrepe_{subset}", attempt)
            scene = ex.scene(f"sugarcrepe_{subset}", attempt)
            pair = world_pair(ex, subset, scene, rng)
            return None if pair is None else (scene, g.realise(pair[0]), g.realise(pair[1]))

        relpath = f"sugarcrepe/{subset}.json"
        records: dict[str, dict[str, Any]] = {}
        for k, (scene, caption, negative) in enumerate(ex.collect(relpath, build)):
            filename = f"{ex.new_id():012d}.jpg"
            ex.save(scene, ex.out / "coco" / "val2017" / filename)
            records[str(k)] = {
                "filename": filename,
                "caption": caption,
                "negative_caption": negative,
                "world_split": ex.tag([scene], [caption, negative]),
            }
        ex.write_records(relpath, records)


def describe(name: str) -> tuple[str, str]:
    """What a SugarCrepe figure measures and what its count counts."""
    return ("accuracy pooled over the items of its subsets", "items") if name in GROUPS else ("accuracy", "items")


SPEC = BenchmarkSpec(NAME, files, load, aggregate, describe=describe,
                    world=WorldWriter(write_world, files=lambda world: len(WORLD_SUBSETS), order=2))
evaluate, load_items = SPEC.evaluate, SPEC.load_items
