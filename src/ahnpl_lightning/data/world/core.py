"""`World`: the vocabulary, the held-out compositions, scene sampling, captions, negatives and counterfactuals."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image

from ahnpl_lightning.seeding import stable_seed
from ahnpl_lightning.types import NEGATIVE_TYPES

from . import grammar as g
from .render import render_scene
from .scene import (
    COLOURS,
    MATERIALS,
    RELATIONS,
    SHAPES,
    SIZES,
    Scene,
    SceneObject,
    boxes_apart,
    relation_holds,
    side_for,
)

SPLITS: tuple[str, ...] = ("train", "val", "test")
DEFAULT_HELDOUT_PAIRS: tuple[tuple[str, str], ...] = (
    ("red", "circle"),
    ("blue", "triangle"),
    ("green", "square"),
    ("yellow", "star"),
)
DEFAULT_HELDOUT_RELATIONS: tuple[tuple[str, str, str], ...] = (
    ("circle", "above", "square"),
    ("triangle", "to the left of", "star"),
)


# How the world makes each negative type from a caption's logical form (an absent type cannot apply here: no verbs).
# A new negative type adds its edit to the grammar and one line here.
WORLD_EDITS: dict[str, Callable[[g.Statement, random.Random, dict[str, tuple[str, ...]]], list[g.Statement]]] = {
    "relation": lambda st, rng, vocab: g.swap_noun_phrases(st, rng),
    "adj_swap": lambda st, rng, vocab: g.swap_adjectives(st, rng),
    "adj": g.replace_adjective,
    "noun": g.replace_noun,
}


class World:
    """A seeded world of coloured shapes with held-out (colour, shape) pairs and (shape, relation, shape) patterns.

    Training and validation scenes never contain a held-out composition; a `heldout_fraction` of test scenes is
    built around one, so test over-represents them.
    """

    def __init__(
        self,
        image_size: int = 64,
        seed: int = 0,
        max_objects: int = 3,
        heldout_pairs: list[tuple[str, str]] | None = None,
        heldout_relations: list[tuple[str, str, str]] | None = None,
        materials: bool = True,
        heldout_fraction: float = 0.5,
    ) -> None:
        if image_size < 16:
            raise ValueError(f"image_size must be >= 16 pixels, got {image_size}")
        if not 1 <= max_objects <= 6:
            raise ValueError(f"max_objects must be in [1, 6] to fit non-overlapping objects, got {max_objects}")
        if not 0.0 <= heldout_fraction <= 1.0:
            raise ValueError(f"heldout_fraction must be in [0, 1], got {heldout_fraction}")
        pairs = DEFAULT_HELDOUT_PAIRS if heldout_pairs is None else heldout_pairs
        rels = DEFAULT_HELDOUT_RELATIONS if heldout_relations is None else heldout_relations
        for colour, shape in pairs:
            if colour not in COLOURS or shape not in SHAPES:
                raise ValueError(
                    f"held-out pair ({colour!r}, {shape!r}) is not in the vocabulary {list(COLOURS)} x {SHAPES}"
                )
        for a, rel, b in rels:
            if a not in SHAPES or b not in SHAPES or rel not in RELATIONS:
                raise ValueError(
                    f"held-out relation ({a!r}, {rel!r}, {b!r}) must be (shape, relation, shape) with "
                    f"relation in {list(RELATIONS)}"
                )
        self.image_size = image_size
        self.seed = seed
        self.max_objects = max_objects
        self.materials = materials
        self.heldout_fraction = heldout_fraction
        self.heldout_pairs: tuple[tuple[str, str], ...] = tuple((c, s) for c, s in pairs)
        self.heldout_relations: tuple[tuple[str, str, str], ...] = tuple((a, r, b) for a, r, b in rels)
        # A pattern and its converse ("circle above square" == "square below circle") are the same composition.
        self._heldout_rel_set = {p for a, r, b in rels for p in ((a, r, b), (b, RELATIONS[r], a))}
        self._heldout_pair_set = set(self.heldout_pairs)
        self.vocab: dict[str, tuple[str, ...]] = {
            "shape": SHAPES,
            "colour": tuple(COLOURS),
            "size": SIZES,
            "material": MATERIALS if materials else ("solid",),
        }

    # -- configuration and randomness ---------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-ready); `World(**config)` rebuilds an identical world."""
        return {
            "image_size": self.image_size,
            "seed": self.seed,
            "max_objects": self.max_objects,
            "heldout_pairs": [list(p) for p in self.heldout_pairs],
            "heldout_relations": [list(p) for p in self.heldout_relations],
            "materials": self.materials,
            "heldout_fraction": self.heldout_fraction,
        }

    def rng(self, *parts: object) -> random.Random:
        """A private `random.Random` for (world seed, *parts); never touches the global RNG."""
        return random.Random(stable_seed(self.seed, *parts))

    # -- held-out compositions ---------------------------------------------------------------------------------

    def is_heldout(self, scene: Scene) -> bool:
        """Whether the scene contains a held-out (colour, shape) pair or (shape, relation, shape) pattern."""
        objs = scene.objects
        if any((o.colour, o.shape) in self._heldout_pair_set for o in objs):
            return True
        return any((objs[i].shape, rel, objs[j].shape) in self._heldout_rel_set for i, rel, j in scene.relations())

    def mentions_heldout(self, caption: str) -> bool:
        """Whether a caption names a held-out pair or relation pattern (False outside the grammar)."""
        st = g.parse(caption)
        return st is not None and self._statement_heldout(st)

    def _statement_heldout(self, st: g.Statement) -> bool:
        if any((np_.colour, np_.shape) in self._heldout_pair_set for np_ in st.nps):
            return True
        return st.kind == g.REL and (st.nps[0].shape, st.relation, st.nps[1].shape) in self._heldout_rel_set

    # -- scenes ---------------------------------------------------------------------------------------------------

    def scene(
        self, index: int, split: str = "train", n_objects: int | None = None, palette: Sequence[str] | None = None
    ) -> Scene:
        """The deterministic scene number `index` of `split` ("train", "val" or "test").

        `n_objects` fixes the object count (default: 1 with probability 0.2, else uniform in [2, max_objects]).
        `palette` restricts the objects' colours to those names (a batch of same-palette scenes can only be told
        apart by shape, size, material or layout; the pre-training recipe builds such batches). The default scene
        stream (`palette=None`) is unchanged by this option.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if n_objects is not None and not 1 <= n_objects <= self.max_objects:
            raise ValueError(f"n_objects must be in [1, {self.max_objects}], got {n_objects}")
        colours = self._check_palette(palette)
        rng = self.rng("scene", split, index, n_objects) if colours is None else self.rng(
            "scene", split, index, n_objects, *colours
        )
        n = n_objects if n_objects is not None else self._sample_count(rng)
        force: tuple[str, tuple[str, ...]] | None = None
        if split == "test" and rng.random() < self.heldout_fraction:
            options: list[tuple[str, tuple[str, ...]]] = [("pair", p) for p in self.heldout_pairs]
            if n >= 2:
                options += [("relation", p) for p in self.heldout_relations]
            force = rng.choice(options) if options else None
        return self._sample_scene(rng, n, allow_heldout=(split == "test"), force=force, colours=colours)

    def _check_palette(self, palette: Sequence[str] | None) -> tuple[str, ...] | None:
        if palette is None:
            return None
        colours = tuple(palette)
        unknown = [c for c in colours if c not in self.vocab["colour"]]
        if not colours or unknown:
            raise ValueError(
                f"palette must be a non-empty list of colours from {list(self.vocab['colour'])}, got {list(colours)}"
            )
        return colours

    def _sample_count(self, rng: random.Random) -> int:
        if self.max_objects == 1 or rng.random() < 0.2:
            return 1
        return rng.randint(2, self.max_objects)

    def _sample_object_attrs(
        self, rng: random.Random, allow_heldout: bool, colours: tuple[str, ...] | None = None
    ) -> tuple[str, str, str, str]:
        while True:
            shape, colour = rng.choice(SHAPES), rng.choice(colours or self.vocab["colour"])
            if allow_heldout or (colour, shape) not in self._heldout_pair_set:
                return shape, colour, rng.choice(SIZES), rng.choice(self.vocab["material"])

    def _place(self, rng: random.Random, sides: Sequence[int]) -> list[tuple[int, int, int, int]] | None:
        """Random non-overlapping boxes (2 px apart, 1 px inside the border), or None after too many tries."""
        boxes: list[tuple[int, int, int, int]] = []
        for side in sides:
            for _ in range(40):
                x0 = rng.randint(1, self.image_size - 1 - side)
                y0 = rng.randint(1, self.image_size - 1 - side)
                box = (x0, y0, x0 + side, y0 + side)
                if all(boxes_apart(box, b) for b in boxes):
                    boxes.append(box)
                    break
            else:
                return None
        return boxes

    def _sample_scene(
        self,
        rng: random.Random,
        n: int,
        allow_heldout: bool,
        force: tuple[str, tuple[str, ...]] | None,
        colours: tuple[str, ...] | None = None,
    ) -> Scene:
        for _ in range(500):
            attrs = [self._sample_object_attrs(rng, allow_heldout, colours) for _ in range(n)]
            if force is not None and force[0] == "pair":
                colour, shape = force[1]
                attrs[0] = (shape, colour, attrs[0][2], attrs[0][3])
            elif force is not None:
                a, _, b = force[1]
                attrs[0] = (a, *attrs[0][1:])
                attrs[1] = (b, *attrs[1][1:])
            boxes = self._place(rng, [side_for(size, self.image_size) for _, _, size, _ in attrs])
            if boxes is None:
                continue
            scene = Scene(self.image_size, tuple(SceneObject(*a, bbox=b) for a, b in zip(attrs, boxes)))
            if (
                force is not None
                and force[0] == "relation"
                and not relation_holds(scene.objects[0], force[1][1], scene.objects[1])
            ):
                continue
            if not allow_heldout and self.is_heldout(scene):
                continue
            return scene
        raise RuntimeError(f"could not place {n} objects in a {self.image_size} px image; lower max_objects")

    def render(self, scene: Scene) -> Image.Image:
        """RGB PIL image of the scene (deterministic, ImageDraw primitives only)."""
        return render_scene(scene)

    # -- captions and the oracle ----------------------------------------------------------------------------------

    def describe(self, obj: SceneObject, rng: random.Random, p_size: float = 0.5, p_material: float = 0.3) -> g.NP:
        """A true noun phrase for `obj`: shape and colour (90 %), sometimes size and material."""
        return g.NP(
            shape=obj.shape,
            size=obj.size if rng.random() < p_size else None,
            colour=obj.colour if rng.random() < 0.9 else None,
            material=obj.material if self.materials and rng.random() < p_material else None,
        )

    def caption_statement(
        self,
        scene: Scene,
        rng: random.Random,
        p_size: float = 0.5,
        p_material: float = 0.3,
        p_position: float = 0.0,
    ) -> g.Statement:
        """A random true Statement about the scene (relations dominate when there are two or more objects).

        `p_size` / `p_material`: how often a noun phrase mentions the object's size / material; `p_position`: how
        often the caption is an absolute position ("a red circle on the left") instead, when an object lies in an
        outer third. The benchmarks and the fine-tuning data use the defaults (and no positions); the stand-in's
        pre-training asks for more detail.
        """
        objs = scene.objects
        if p_position > 0 and rng.random() < p_position:
            placed = [(o, pos) for o in objs for pos in g.POSITIONS if g.position_holds(o, pos, scene.image_size)]
            if placed:
                obj, pos = rng.choice(placed)
                template = rng.randrange(len(g.TEMPLATES[g.POS]))
                return g.Statement(g.POS, (self.describe(obj, rng, p_size, p_material),), template, relation=pos)
        if len(objs) >= 2:
            kind = rng.choices([g.REL, g.AND, g.COUNT, g.EXISTS], weights=[0.6, 0.15, 0.1, 0.15])[0]
        else:
            kind = rng.choices([g.EXISTS, g.COUNT], weights=[0.7, 0.3])[0]
        template = rng.choice(g.CAPTION_TEMPLATES[kind])
        if kind == g.REL:
            i, rel, j = rng.choice(scene.relations())
            nps = (self.describe(objs[i], rng, p_size, p_material), self.describe(objs[j], rng, p_size, p_material))
            return g.Statement(kind, nps, template, relation=rel)
        if kind == g.AND:
            i, j = rng.sample(range(len(objs)), 2)
            nps = (self.describe(objs[i], rng, p_size, p_material), self.describe(objs[j], rng, p_size, p_material))
            return g.Statement(kind, nps, template)
        obj = rng.choice(objs)
        if kind == g.COUNT:
            np_ = g.NP(obj.shape, colour=obj.colour if rng.random() < 0.5 else None)
            n = sum(np_.matches(o) for o in objs)
            return g.Statement(kind, (np_,), template, count=n)
        return g.Statement(kind, (self.describe(obj, rng, p_size, p_material),), template)

    def caption(
        self, scene: Scene, rng: random.Random, p_size: float = 0.5, p_material: float = 0.3, p_position: float = 0.0
    ) -> str:
        """A random caption that is true of the scene (several natural templates; see `caption_statement`)."""
        return g.realise(self.caption_statement(scene, rng, p_size, p_material, p_position))

    @staticmethod
    def parse(caption: str) -> g.Statement | None:
        """The caption's logical form, or None outside the grammar."""
        return g.parse(caption)

    @staticmethod
    def verify(caption: str, scene: Scene) -> bool | None:
        """The oracle: True/False for a caption of the grammar, None when it is outside the grammar."""
        return g.verify(caption, scene)

    # -- hard negatives and counterfactuals -----------------------------------------------------------------------

    def _first_false(self, candidates: list[g.Statement], scene: Scene, allow_heldout: bool) -> str | None:
        for st in candidates:
            if not allow_heldout and self._statement_heldout(st):
                continue
            if not g.evaluate(st, scene):
                return g.realise(st)
        return None

    def hard_negatives(
        self, scene: Scene, caption: str, rng: random.Random, allow_heldout: bool | None = None
    ) -> dict[str, str | None]:
        """One oracle-verified false caption per type of NEGATIVE_TYPES (None where the type cannot apply).

        relation: swap subject and object (or the two nouns); adj_swap: exchange adjectives between the two noun
        phrases; adj: replace a size/colour/material; noun: replace a shape; verb: always None (no verbs here).
        Negatives never name a held-out composition unless the scene contains one (or `allow_heldout=True`), so
        training data cannot leak held-out compositions through its negatives.
        """
        st = g.parse(caption)
        if st is None:
            raise ValueError(f"caption {caption!r} is outside the world grammar; cannot build negatives")
        allow = self.is_heldout(scene) if allow_heldout is None else allow_heldout
        negatives: dict[str, str | None] = {}
        for kind in NEGATIVE_TYPES:  # in the K axis order (the edits draw from `rng` in turn)
            edit = WORLD_EDITS.get(kind)
            negatives[kind] = None if edit is None else self._first_false(edit(st, rng, self.vocab), scene, allow)
        return negatives

    def counterfactual(self, scene: Scene, caption: str, negative: str) -> Scene | None:
        """A minimally edited scene in which `negative` is true, or None if no simple edit works.

        The edited scene stays valid (objects inside the image, 2 px apart) and contains no held-out composition
        unless `scene` already did.
        """
        cap, neg = g.parse(caption), g.parse(negative)
        if cap is None or neg is None:
            return None
        if g.evaluate(neg, scene):
            return scene
        allow = self.is_heldout(scene)
        for cand in g.counterfactual_candidates(cap, neg, scene):
            if cand.is_valid() and g.evaluate(neg, cand) and (allow or not self.is_heldout(cand)):
                return cand
        return None

    def sample(self, index: int, split: str = "train") -> dict[str, Any]:
        """Scene, caption and text negatives of item `index` (deterministic per (seed, split, index))."""
        scene = self.scene(index, split)
        rng = self.rng("sample", split, index)
        caption = self.caption(scene, rng)
        return {"scene": scene, "caption": caption, "negatives": self.hard_negatives(scene, caption, rng)}
