"""Export world test scenes as compositional benchmarks in the real file formats (REFERENCE.md section 4).

Every true caption is verified true and every false option verified false by the oracle before it is written.
Items whose image contains, or whose texts name, a composition held out of training are tagged
`"world_split": "held_out"`, others `"in_distribution"`. `world_scenes.json` maps every image path to its scene.
The manifest `world_manifest.json` is written last: a data root without it comes from an interrupted export.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import grammar as g
from .core import World, stable_seed
from .scene import SHAPES, Scene

MANIFEST = "world_manifest.json"
SCENES = "world_scenes.json"  # image path (relative to the root) -> Scene.to_dict(), to re-check items with the oracle
SUGARCREPE_SUBSETS: tuple[str, ...] = (
    "add_obj",
    "add_att",
    "replace_obj",
    "replace_att",
    "replace_rel",
    "swap_obj",
    "swap_att",
)
VALSE_PIECES: dict[str, str] = {  # piece file -> linguistic_phenomena
    "existence": "existence",
    "counting-small-quant": "counting",
    "relations": "relations",
    "plurals": "plurals",
    "actant-swap": "actions",
}
# VL-CheckList: (corpus directory under corpus/v1, data file under data/) per sub-category.
VL_CHECKLIST: dict[str, tuple[str, str]] = {
    "Object/Location/center": ("Object/Location/center", "Object/Location/world/center.json"),
    "Object/Location/margin": ("Object/Location/margin", "Object/Location/world/margin.json"),
    "Object/Size/large": ("Object/Size/large", "Object/Size/world/large.json"),
    "Object/Size/small": ("Object/Size/small", "Object/Size/world/small.json"),
    "Attribute/color": ("Attribute/color", "Attribute/world/color.json"),
    "Attribute/size": ("Attribute/size", "Attribute/world/size.json"),
    "Attribute/material": ("Attribute/material", "Attribute/world/material.json"),
    "Relation/spatial": ("Relation/spatial", "Relation/world/spatial.json"),
}
VG_ATTRIBUTION_COLOUR_PAIRS: tuple[tuple[str, str], ...] = (
    ("blue", "red"),
    ("green", "yellow"),
    ("black", "white"),
    ("orange", "purple"),
)
TRUE_VOTES = {"foil": 0, "caption": 3, "other": 0}  # VALSE mturk votes: passes the `caption >= 2` filter
# Attribute type -> Winoground tag for an adjective swap.
WINOGROUND_ADJ_TAGS = {"colour": "Adjective-Color", "size": "Adjective-Size", "material": "Adjective-Material"}

Item = tuple[Any, ...]


def _write_json(path: Path, data: Any) -> None:
    """Write JSON via a temporary file and an atomic rename (no half-written file survives an interruption)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _union_box(scene: Scene, indices: Iterable[int], pad: int = 2) -> dict[str, int]:
    """ARO bbox fields: the padded union of the objects' boxes, clamped to the image."""
    boxes = [scene.objects[i].bbox for i in indices]
    x0 = max(0, min(b[0] for b in boxes) - pad)
    y0 = max(0, min(b[1] for b in boxes) - pad)
    x1 = min(scene.image_size, max(b[2] for b in boxes) + pad)
    y1 = min(scene.image_size, max(b[3] for b in boxes) + pad)
    return {"bbox_x": x0, "bbox_y": y0, "bbox_w": x1 - x0, "bbox_h": y1 - y0}


class _Exporter:
    """Builds every benchmark from seeded test scenes; one instance per export."""

    def __init__(self, world: World, out_dir: Path, size: int, seed: int, progress: bool) -> None:
        self.world = world
        self.out = out_dir
        self.size = size
        self.seed = seed
        self.next_id = 0
        self.counts: dict[str, int] = {}
        self.held_out: dict[str, int] = {}
        self.skipped: dict[str, int] = {}
        # 16 files plus one VL-CheckList group per attribute family and object/relation group
        self.bar = tqdm(
            total=size * (21 + int(world.materials)), desc="world export", unit="item", disable=not progress
        )
        self.scenes: dict[str, dict[str, Any]] = {}  # image path under the root -> scene (for audits and tests)

    # -- shared helpers -----------------------------------------------------------------------------------------

    def _scene(self, bench: str, attempt: int, n_objects: int | None = None) -> Scene:
        return self.world.scene(stable_seed(self.seed, bench, attempt) % 2**62, "test", n_objects)

    def _rng(self, bench: str, attempt: int) -> random.Random:
        return self.world.rng("export", self.seed, bench, attempt)

    def _tag(self, scenes: Iterable[Scene], texts: Iterable[str]) -> str:
        """held_out iff an image contains, or a text names, a composition held out of training."""
        held = any(self.world.is_heldout(s) for s in scenes) or any(self.world.mentions_heldout(t) for t in texts)
        return "held_out" if held else "in_distribution"

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _save(self, scene: Scene, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        img = self.world.render(scene)
        self.scenes[path.relative_to(self.out).as_posix()] = scene.to_dict()
        if path.suffix == ".jpg":
            img.save(path, quality=95, subsampling=0)
        else:
            img.save(path, compress_level=1)

    def _collect(self, name: str, build: Callable[[int], Item | None]) -> list[Item]:
        """Call `build(attempt)` until `size` items exist (at most 50 attempts per item); count the skips."""
        items: list[Item] = []
        attempt = 0
        while len(items) < self.size and attempt < 50 * max(self.size, 1):
            item = build(attempt)
            attempt += 1
            if item is None:
                continue
            items.append(item)
            self.bar.update(1)
        self.skipped[name] = attempt - len(items)
        return items

    def _record(self, relpath: str, records: list[dict[str, Any]] | dict[str, dict[str, Any]]) -> None:
        values = records.values() if isinstance(records, dict) else records
        self.counts[relpath] = len(values)
        self.held_out[relpath] = sum(r.get("world_split") == "held_out" for r in values)

    def _statement(self, scene: Scene, rng: random.Random, kinds: tuple[str, ...]) -> g.Statement | None:
        """A random true caption Statement of one of `kinds` (None if 20 draws miss)."""
        for _ in range(20):
            st = self.world.caption_statement(scene, rng)
            if st.kind in kinds:
                return st
        return None

    def _first_false(self, cands: list[g.Statement], scene: Scene) -> g.Statement | None:
        return next((c for c in cands if not g.evaluate(c, scene)), None)

    def _count_scene(self, bench: str, attempt: int, rng: random.Random) -> tuple[Scene, g.NP, int]:
        """A scene with k in [1, n] objects of one shape (others of other shapes); returns (scene, NP, k)."""
        scene = self._scene(bench, attempt, self.world.max_objects)
        n = len(scene.objects)
        k = rng.randint(1, n)
        shape = rng.choice(SHAPES)
        others = [s for s in SHAPES if s != shape]
        objs = [replace(o, shape=shape if i < k else rng.choice(others)) for i, o in enumerate(scene.objects)]
        return replace(scene, objects=tuple(objs)), g.NP(shape), k

    def _attribution_categories(self) -> list[tuple[str, tuple[str, str]]]:
        """VG-Attribution's (attribute, (value_0, value_1)) categories: sizes, materials, four colour pairs."""
        cats: list[tuple[str, tuple[str, str]]] = [("size", ("large", "small"))]
        if self.world.materials:
            cats += [("material", p) for p in (("hollow", "solid"), ("hollow", "striped"), ("solid", "striped"))]
        cats += [("colour", p) for p in VG_ATTRIBUTION_COLOUR_PAIRS]
        return cats

    # -- ARO ------------------------------------------------------------------------------------------------------

    def aro(self) -> None:
        def relation(attempt: int) -> Item | None:
            rng = self._rng("aro_relation", attempt)
            scene = self._scene("aro_relation", attempt, rng.randint(2, max(2, self.world.max_objects)))
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

        categories = self._attribution_categories()
        made = [0]

        def attribution(attempt: int) -> Item | None:
            # Round-robin over a few attribute pairs, so each category f"{a0}_{a1}" gets size / len(categories) items
            # and passes ARO's >= 25 items rule at the default size (200 items, 8 categories).
            attr, (va, vb) = categories[made[0] % len(categories)]
            rng = self._rng("aro_attribution", attempt)
            scene = self._scene("aro_attribution", attempt, rng.randint(2, max(2, self.world.max_objects)))
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
            for scene, pair, value, true, false in self._collect(f"aro/{name}", build):
                image_id = self._new_id()
                self._save(scene, self.out / "aro" / "images" / f"{image_id}.jpg")
                records.append(
                    {
                        "image_id": str(image_id),
                        "image_path": f"{image_id}.jpg",
                        **_union_box(scene, pair),
                        extra: value,
                        "true_caption": true,
                        "false_caption": false,
                        "world_split": self._tag([scene], [true, false]),
                    }
                )
            _write_json(self.out / "aro" / name, records)
            self._record(f"aro/{name}", records)

    # -- COCO (Order and retrieval) ---------------------------------------------------------------------------------

    def coco(self) -> None:
        def build(attempt: int) -> Item | None:
            rng = self._rng("coco", attempt)
            scene = self._scene("coco", attempt)
            captions: list[str] = []
            for _ in range(30):
                c = self.world.caption(scene, rng)
                if c not in captions:
                    captions.append(c)
                if len(captions) == 5:
                    break
            return (scene, captions) if len(captions) >= 2 else None

        records = []
        for scene, captions in self._collect("coco/coco_karpathy_test.json", build):
            rel = f"val2014/COCO_val2014_{self._new_id():012d}.jpg"
            self._save(scene, self.out / "coco" / rel)
            records.append({"image": rel, "caption": captions, "world_split": self._tag([scene], captions)})
        _write_json(self.out / "coco" / "coco_karpathy_test.json", records)
        self._record("coco/coco_karpathy_test.json", records)

    # -- SugarCrepe -----------------------------------------------------------------------------------------------

    def _sugarcrepe_pair(self, subset: str, scene: Scene, rng: random.Random) -> tuple[g.Statement, g.Statement] | None:
        vocab = self.world.vocab
        if subset == "add_obj":
            base = self._statement(scene, rng, (g.EXISTS,))
            if base is None or base.template == 2:  # "a picture of ..." has no conjunction template
                return None
            absent = [g.NP(s, colour=c) for s in SHAPES for c in vocab["colour"]]
            rng.shuffle(absent)
            cands = [g.Statement(g.AND, (base.nps[0], np_), {0: 0, 1: 1, 3: 2}[base.template]) for np_ in absent]
        elif subset == "replace_rel":
            base = self._statement(scene, rng, (g.REL,))
            cands = g.replace_relation(base, rng) if base else []
        elif subset in ("swap_obj", "swap_att"):
            base = self._statement(scene, rng, (g.REL, g.AND))
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
            base = self._statement(scene, rng, (g.REL, g.AND, g.EXISTS))
            if base is None:
                return None
            edit = {"add_att": g.add_adjective, "replace_obj": g.replace_noun, "replace_att": g.replace_adjective}[
                subset
            ]
            cands = edit(base, rng, vocab)
        if base is None:
            return None
        neg = self._first_false(cands, scene)
        return (base, neg) if neg is not None else None

    def sugarcrepe(self) -> None:
        for subset in SUGARCREPE_SUBSETS:

            def build(attempt: int, subset: str = subset) -> Item | None:
                rng = self._rng(f"sugarcrepe_{subset}", attempt)
                scene = self._scene(f"sugarcrepe_{subset}", attempt)
                pair = self._sugarcrepe_pair(subset, scene, rng)
                return None if pair is None else (scene, g.realise(pair[0]), g.realise(pair[1]))

            relpath = f"sugarcrepe/{subset}.json"
            records: dict[str, dict[str, Any]] = {}
            for k, (scene, caption, negative) in enumerate(self._collect(relpath, build)):
                filename = f"{self._new_id():012d}.jpg"
                self._save(scene, self.out / "coco" / "val2017" / filename)
                records[str(k)] = {
                    "filename": filename,
                    "caption": caption,
                    "negative_caption": negative,
                    "world_split": self._tag([scene], [caption, negative]),
                }
            _write_json(self.out / relpath, records)
            self._record(relpath, records)

    # -- VALSE ----------------------------------------------------------------------------------------------------

    def _valse_pair(self, piece: str, attempt: int, rng: random.Random) -> Item | None:
        world = self.world
        if piece in ("counting-small-quant", "plurals"):
            scene, np_, k = self._count_scene(piece, attempt, rng)
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
        scene = self._scene(piece, attempt)
        if piece == "existence":
            obj = rng.choice(scene.objects)
            present = g.NP(obj.shape, colour=obj.colour)
            absent = [g.NP(s, colour=c) for s in SHAPES for c in world.vocab["colour"]]
            np_ = present if rng.random() < 0.5 else rng.choice(absent)
            yes, no = g.Statement(g.EXISTS, (np_,), 1), g.Statement(g.NONE, (np_,), 0)
            return (scene, yes, no, {}) if g.evaluate(yes, scene) else (scene, no, yes, {})
        base = self._statement(scene, rng, (g.REL,))
        if base is None:
            return None
        cands = g.replace_relation(base, rng) if piece == "relations" else g.swap_noun_phrases(base, rng)[:1]
        foil = self._first_false(cands, scene)
        return None if foil is None else (scene, base, foil, {})

    def valse(self) -> None:
        for piece, phenomenon in VALSE_PIECES.items():

            def build(attempt: int, piece: str = piece) -> Item | None:
                item = self._valse_pair(piece, attempt, self._rng(f"valse_{piece}", attempt))
                if item is None or not g.evaluate(item[1], item[0]) or g.evaluate(item[2], item[0]):
                    return None
                return item

            relpath = f"valse/{piece}.json"
            records: dict[str, dict[str, Any]] = {}
            for scene, caption_st, foil_st, extra in self._collect(relpath, build):
                idx = self._new_id()
                caption, foil = g.realise(caption_st), g.realise(foil_st)
                image_file = f"world_{idx:06d}.png"
                self._save(scene, self.out / "valse" / "images" / "world" / image_file)
                records[f"{piece}_world_{idx}"] = {
                    "dataset": "world",
                    "dataset_idx": str(idx),
                    "image_file": image_file,
                    "linguistic_phenomena": phenomenon,
                    "caption": caption,
                    "foil": foil,
                    "mturk": dict(TRUE_VOTES),
                    **extra,
                    "world_split": self._tag([scene], [caption, foil]),
                }
            _write_json(self.out / relpath, records)
            self._record(relpath, records)

    # -- Winoground -----------------------------------------------------------------------------------------------

    def winoground(self) -> None:
        def build(attempt: int) -> Item | None:
            rng = self._rng("winoground", attempt)
            scene0 = self._scene("winoground", attempt, rng.randint(2, max(2, self.world.max_objects)))
            base = self._statement(scene0, rng, (g.REL,))
            if base is None:
                return None
            if rng.random() < 0.5:
                cands, tag, collapsed = g.swap_noun_phrases(base, rng)[:1], "Noun", "Object"
            else:
                # true exchanges only (same words, new order), not adjectives moved to the other noun
                cands = [c for c in g.swap_adjectives(base, rng) if c.nps[0].mentioned() == base.nps[0].mentioned()]
                tag, collapsed = "Adjective", "Relation"
            neg = self._first_false(cands, scene0)
            if neg is None:
                return None
            if tag == "Adjective":
                attr = next(
                    a for a in ("colour", "size", "material") if getattr(neg.nps[0], a) != getattr(base.nps[0], a)
                )
                tag = WINOGROUND_ADJ_TAGS[attr]
            cap0, cap1 = g.realise(base), g.realise(neg)
            scene1 = self.world.counterfactual(scene0, cap0, cap1)
            if scene1 is None or g.evaluate(base, scene1):
                return None
            return scene0, scene1, cap0, cap1, tag, collapsed

        lines = []
        for k, (scene0, scene1, cap0, cap1, tag, collapsed) in enumerate(self._collect("winoground", build)):
            for j, scene in enumerate((scene0, scene1)):
                self._save(scene, self.out / "winoground" / "images" / f"ex_{k}_img_{j}.png")
            lines.append(
                {
                    "id": k,
                    "image_0": f"ex_{k}_img_0",
                    "image_1": f"ex_{k}_img_1",
                    "caption_0": cap0,
                    "caption_1": cap1,
                    "tag": tag,
                    "secondary_tag": "",
                    "num_main_preds": 1,
                    "collapsed_tag": collapsed,
                    "world_split": self._tag([scene0, scene1], [cap0, cap1]),
                }
            )
        _write_text(self.out / "winoground" / "examples.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
        self._record("winoground/examples.jsonl", lines)

    # -- VL-CheckList ---------------------------------------------------------------------------------------------

    def _vlc_pair(self, group: str, scene: Scene, rng: random.Random) -> tuple[str, g.Statement, g.Statement] | None:
        """(sub-category, POS, NEG) for one scene of `group` (Object/Location, Object/Size, Attribute/x, Relation)."""
        vocab = self.world.vocab
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
        neg = self._first_false(cands, scene)
        return None if neg is None else (sub, base, neg)

    def vl_checklist(self) -> None:
        groups = ["Object/Location", "Object/Size", "Attribute/color", "Attribute/size", "Relation/spatial"]
        if self.world.materials:
            groups.insert(4, "Attribute/material")
        per_sub: dict[str, list[list[Any]]] = {}
        for group in groups:

            def build(attempt: int, group: str = group) -> Item | None:
                rng = self._rng(f"vlc_{group}", attempt)
                scene = self._scene(f"vlc_{group}", attempt)
                out = self._vlc_pair(group, scene, rng)
                return None if out is None else (scene, *out)

            for scene, sub, pos, neg in self._collect(f"vl_checklist/{group}", build):
                rel = f"images/{self._new_id()}.png"
                self._save(scene, self.out / "vl_checklist" / "world" / rel)
                texts = [g.realise(pos), g.realise(neg)]
                per_sub.setdefault(sub, []).append(
                    [rel, {"POS": texts[:1], "NEG": texts[1:], "world_split": self._tag([scene], texts)}]
                )
        for sub, records in sorted(per_sub.items()):
            corpus_dir, data_file = VL_CHECKLIST[sub]
            yaml_text = f'ANNO_PATH: "data/{data_file}"\nIMG_ROOT: "world/"\nTYPE: "TUPLE_JSON"\n'
            _write_json(self.out / "vl_checklist" / "data" / data_file, records)
            _write_text(self.out / "vl_checklist" / "corpus" / "v1" / corpus_dir / "world.yaml", yaml_text)
            relpath = f"vl_checklist/data/{data_file}"
            self.counts[relpath] = len(records)
            self.held_out[relpath] = sum(r[1]["world_split"] == "held_out" for r in records)


def export_benchmarks(
    world: World, out_dir: Path, size: int = 200, seed: int = 0, progress: bool = True
) -> dict[str, Any]:
    """Write ARO, COCO-Order, SugarCrepe, VALSE, Winoground and VL-CheckList files under the data root `out_dir`.

    `size` items per file (per VL-CheckList group, split into its sub-categories); returns the manifest, which is
    also written last to `out_dir/world_manifest.json` (its absence marks an interrupted export).
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if world.max_objects < 2:
        raise ValueError(f"benchmarks need scenes with two objects; world.max_objects is {world.max_objects}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    ex = _Exporter(world, out_dir, size, seed, progress)
    try:
        ex.aro()
        ex.coco()
        ex.sugarcrepe()
        ex.valse()
        ex.winoground()
        ex.vl_checklist()
    finally:
        ex.bar.close()
    manifest = {
        "format_version": 1,
        "world": world.config(),
        "seed": seed,
        "size": size,
        "counts": ex.counts,
        "held_out": ex.held_out,
        "skipped_attempts": ex.skipped,
        "images": len(ex.scenes),
        "complete": True,
    }
    shortfall = {k: n for k, n in ex.counts.items() if n < size and not k.startswith("vl_checklist/")}
    manifest["shortfall"] = shortfall
    _write_json(out_dir / SCENES, ex.scenes)
    _write_json(out_dir / MANIFEST, manifest)
    return manifest


def read_manifest(root: Path) -> dict[str, Any] | None:
    """The manifest of a complete export under `root`, or None if absent (no export, or an interrupted one)."""
    path = Path(root) / MANIFEST
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data if data.get("complete") else None
