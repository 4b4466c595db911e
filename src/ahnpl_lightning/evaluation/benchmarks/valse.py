"""VALSE (Parcalabescu et al., ACL 2022): 11 pieces, pairwise accuracy caption vs foil (docs/METHOD.md section 4).

Layout: `<root>/valse/<piece>.json` (`{id: record}`), images `<root>/valse/images/<record.dataset>/<record.image_file>`.
Filter (the official rule): keep records with `mturk.caption >= 2`. The official scripts read `mturk` for VALSE pieces
and treat data without annotator validation as accepted ("pretend like the sample was accepted by annotators"); we do
the same for records that have no `mturk` field at all (e.g. synthetic exports): they are kept, and their number is
logged. A record whose `mturk.caption` is not a number is malformed (counted, skipped).
Correct iff score(caption) > score(foil); a tie is wrong. List-valued captions/foils use their first entry.
Subsets: one per piece present. Summary: `mean_pieces` (mean over pieces), `category/<name>` for the 7 categories
(Counting, Actions and Coreference average their pieces) and `mean_categories`.
World-split side-file key: `<piece>/<record id>`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
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
from ahnpl_lightning.evaluation.metrics import Metric, accuracy, mean_of, put
from ahnpl_lightning.evaluation.spec import BenchmarkSpec, Request, WorldWriter

if TYPE_CHECKING:
    from ahnpl_lightning.data.world.export import WorldExport

NAME = "valse"
CATEGORIES: dict[str, tuple[str, ...]] = {
    "Existence": ("existence",),
    "Plurality": ("plurals",),
    "Counting": ("counting-hard", "counting-small-quant", "counting-adversarial"),
    "Relations": ("relations",),
    "Actions": ("action-replacement", "actant-swap"),
    "Coreference": ("coreference-standard", "coreference-hard"),
    "Foil-it": ("foil-it",),
}
PIECES: tuple[str, ...] = tuple(p for pieces in CATEGORIES.values() for p in pieces)
MIN_MTURK_CAPTION = 2


def _first(value: Any) -> str:
    return str(value[0]) if isinstance(value, list) else str(value)


def keep_record(record: Mapping[str, Any]) -> bool:
    """The official filter: `mturk.caption >= 2`; a record without `mturk` counts as accepted (see module doc)."""
    if "mturk" not in record:
        return True
    return float(record["mturk"]["caption"]) >= MIN_MTURK_CAPTION


def load_piece(
    path: Path, images_dir: Path, limit: int | None = None, bad: BadRecords | None = None
) -> list[ChoiceItem]:
    """One piece file -> items (caption first, foil second) passing the mturk filter."""
    piece = path.stem
    split_map = load_split_map(path.parent)
    unvalidated = [0]

    def parse(rec_id: str, rec: Any, count: int) -> list[ChoiceItem]:
        if not keep_record(rec):
            return []
        image = ImageRef(str(images_dir / str(rec["dataset"]) / str(rec["image_file"])))
        options = (_first(rec["caption"]), _first(rec["foil"]))
        unvalidated[0] += "mturk" not in rec
        key = f"{piece}/{rec_id}"
        return [ChoiceItem(image, options, piece, None, record_split(rec, key, split_map), key)]

    bad = bad or BadRecords(NAME)
    items = parse_records(json_records(path, dict, bad, marker="foil"), parse, bad, limit)
    if unvalidated[0]:
        log.info("valse: %s: %d record(s) without an mturk field kept as accepted", path, unvalidated[0])
    return items


def aggregate(scored: Sequence[ScoredItem]) -> tuple[dict[str, Metric], dict[str, Metric]]:
    """Per-piece accuracy, mean of pieces, per-category means and their mean."""
    flags: dict[str, list[bool]] = defaultdict(list)
    for s in scored:
        flags[s.item.subset].append(s.correct)
    subsets: dict[str, Metric] = {}
    for piece in sorted(flags, key=lambda p: PIECES.index(p) if p in PIECES else len(PIECES)):
        put(subsets, piece, accuracy(flags[piece]))
    summary: dict[str, Metric] = {}
    put(summary, "mean_pieces", mean_of(subsets.values()))
    for category, pieces in CATEGORIES.items():
        put(summary, f"category/{category}", mean_of(subsets.get(p) for p in pieces))
    put(summary, "mean_categories", mean_of(summary.get(f"category/{c}") for c in CATEGORIES))
    return subsets, summary


def files(where: Location) -> list[Path]:
    """One file per piece."""
    return [where.dir(NAME) / f"{piece}.json" for piece in PIECES]


def load(request: Request) -> list[ChoiceItem]:
    """Items of every known piece present under `<root>/valse/` (images under `valse_images` override if given)."""
    paths = request.where.paths
    images = Path(paths["valse_images"]) if paths.get("valse_images") else request.where.dir(NAME) / "images"
    items: list[ChoiceItem] = []
    for path in files(request.where):
        if path.is_file():
            items += load_piece(path, images, request.limit, request.bad)
        else:
            log.info("valse: piece %s skipped, %s not found", path.stem, path)
    return items



# ----------------------------------------------------------------------------------------------------------------------
# The synthetic world's VALSE pieces
# ----------------------------------------------------------------------------------------------------------------------
WORLD_PIECES: dict[str, str] = {  # piece file -> linguistic_phenomena
    "existence": "existence",
    "counting-small-quant": "counting",
    "relations": "relations",
    "plurals": "plurals",
    "actant-swap": "actions",
}
TRUE_VOTES = {"foil": 0, "caption": 3, "other": 0}  # VALSE mturk votes: passes the `caption >= 2` filter


def count_scene(ex: WorldExport, bench: str, attempt: int, rng: random.Random) -> tuple[Any, Any, int]:
    """A scene with k in [1, n] objects of one shape (others of other shapes); returns (scene, NP, k)."""
    from ahnpl_lightning.data.world import grammar as g
    from ahnpl_lightning.data.world.scene import SHAPES

    scene = ex.scene(bench, attempt, ex.world.max_objects)
    n = len(scene.objects)
    k = rng.randint(1, n)
    shape = rng.choice(SHAPES)
    others = [s for s in SHAPES if s != shape]
    objs = [replace(o, shape=shape if i < k else rng.choice(others)) for i, o in enumerate(scene.objects)]
    return replace(scene, objects=tuple(objs)), g.NP(shape), k


def world_pair(ex: WorldExport, piece: str, attempt: int, rng: random.Random) -> tuple[Any, ...] | None:
    """(scene, caption statement, foil statement, extra record fields) for one world item of `piece`."""
    from ahnpl_lightning.data.world import grammar as g
    from ahnpl_lightning.data.world.scene import SHAPES

    if piece in ("counting-small-quant", "plurals"):
        scene, np_, k = count_scene(ex, piece, attempt, rng)
        if piece == "counting-small-quant":
            foil_n = rng.choice([m for m in range(1, 5) if m != k])
            return (
                scene,
                g.Statement(g.COUNT, (np_,), 0, count=k),
                g.Statement(g.COUNT, (np_,), 0, count=foil_n),
                {"classes": k, "classes_foil": foil_n},
            )
        one, many = g.Statement(g.COUNT, (np_,), 0, count=1), g.Statement(g.PLURAL, (np_,), 0)
        return (scene, one, many, {}) if k == 1 else (scene, many, one, {})
    scene = ex.scene(piece, attempt)
    if piece == "existence":
        obj = rng.choice(scene.objects)
        present = g.NP(obj.shape, colour=obj.colour)
        absent = [g.NP(s, colour=c) for s in SHAPES for c in ex.world.vocab["colour"]]
        np_ = present if rng.random() < 0.5 else rng.choice(absent)
        yes, no = g.Statement(g.EXISTS, (np_,), 1), g.Statement(g.NONE, (np_,), 0)
        return (scene, yes, no, {}) if g.evaluate(yes, scene) else (scene, no, yes, {})
    base = ex.statement(scene, rng, (g.REL,))
    if base is None:
        return None
    cands = g.replace_relation(base, rng) if piece == "relations" else g.swap_noun_phrases(base, rng)[:1]
    foil = ex.first_false(cands, scene)
    return None if foil is None else (scene, base, foil, {})


def write_world(ex: WorldExport) -> None:
    """Five pieces (existence, counting-small-quant, relations, plurals, actant-swap), oracle-checked."""
    from ahnpl_lightning.data.world import grammar as g

    for piece, phenomenon in WORLD_PIECES.items():

        def build(attempt: int, piece: str = piece) -> tuple[Any, ...] | None:
            item = world_pair(ex, piece, attempt, ex.rng(f"valse_{piece}", attempt))
            if item is None or not g.evaluate(item[1], item[0]) or g.evaluate(item[2], item[0]):
                return None
            return item

        relpath = f"valse/{piece}.json"
        records: dict[str, dict[str, Any]] = {}
        for scene, caption_st, foil_st, extra in ex.collect(relpath, build):
            idx = ex.new_id()
            caption, foil = g.realise(caption_st), g.realise(foil_st)
            image_file = f"world_{idx:06d}.png"
            ex.save(scene, ex.out / "valse" / "images" / "world" / image_file)
            records[f"{piece}_world_{idx}"] = {
                "dataset": "world",
                "dataset_idx": str(idx),
                "image_file": image_file,
                "linguistic_phenomena": phenomenon,
                "caption": caption,
                "foil": foil,
                "mturk": dict(TRUE_VOTES),
                **extra,
                "world_split": ex.tag([scene], [caption, foil]),
            }
        ex.write_records(relpath, records)


def describe(name: str) -> tuple[str, str]:
    """What a VALSE figure measures and what its count counts."""
    if name == "mean_pieces":
        return "mean of the piece accuracies", "items of those pieces"
    if name.startswith("category/"):
        return "mean of the category's piece accuracies", "items of those pieces"
    if name == "mean_categories":
        return "mean of the category means", "items of those categories"
    return "accuracy", "items (records passing the mturk filter)"


SPEC = BenchmarkSpec(NAME, files, load, aggregate, describe=describe,
                    world=WorldWriter(write_world, files=lambda world: len(WORLD_PIECES), order=3))
evaluate, load_items = SPEC.evaluate, SPEC.load_items
