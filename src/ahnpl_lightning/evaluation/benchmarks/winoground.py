"""Winoground (Thrush et al., CVPR 2022): 400 examples of 2 images x 2 captions (docs/METHOD.md section 4).

Layout: `<root>/winoground/examples.jsonl`, images `<root>/winoground/images/<image_k>.png`. With s(c, i) the score:
text = s(c0,i0) > s(c1,i0) and s(c1,i1) > s(c0,i1); image = s(c0,i0) > s(c0,i1) and s(c1,i1) > s(c1,i0);
group = text and image (strict: a tie is wrong). Subsets: `text`, `image`, `group`, and `<collapsed_tag>/<metric>`
for each collapsed tag (Object, Relation, Both). An example with a missing/corrupt image is not scored (counted).
World-split side-file key: the example's `id`. Per-item outcomes (`keep_items`): three per example, keys `<id>:text`,
`<id>:image`, `<id>:group`, subset the metric, category the collapsed tag.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ahnpl_lightning.evaluation.files import Location, jsonl_records, load_split_map, parse_records, record_split
from ahnpl_lightning.evaluation.items import ImageRef, ImageStatus
from ahnpl_lightning.evaluation.metrics import Metric, accuracy, item_outcome, put
from ahnpl_lightning.evaluation.scoring import Features, pair_scores, with_world_splits
from ahnpl_lightning.evaluation.spec import BenchmarkSpec, Request, Scores, WorldWriter

if TYPE_CHECKING:
    from ahnpl_lightning.data.world.export import WorldExport

NAME = "winoground"
METRICS = ("text", "image", "group")


@dataclass(frozen=True)
class WinogroundItem:
    """One example: images (i0, i1), captions (c0, c1), its collapsed tag and world split."""

    key: str
    images: tuple[ImageRef, ImageRef]
    captions: tuple[str, str]
    tag: str | None = None
    split: str | None = None


@dataclass(frozen=True)
class WinogroundScore:
    """An example's verdicts and its score matrix s[c][i]."""

    item: WinogroundItem
    text: bool
    image: bool
    scores: tuple[tuple[float, float], tuple[float, float]]

    @property
    def group(self) -> bool:
        """Both text and image correct."""
        return self.text and self.image


def verdicts(s: Sequence[Sequence[float]]) -> tuple[bool, bool]:
    """(text, image) correctness from the 2x2 score matrix s[caption][image], strict inequalities."""
    text = s[0][0] > s[1][0] and s[1][1] > s[0][1]
    image = s[0][0] > s[0][1] and s[1][1] > s[1][0]
    return bool(text), bool(image)


def files(where: Location) -> list[Path]:
    """The examples file."""
    return [where.dir(NAME) / "examples.jsonl"]


def load(request: Request) -> list[WinogroundItem]:
    """Parse `examples.jsonl` (one JSON object per line)."""
    directory = request.where.dir(NAME)
    split_map = load_split_map(directory)

    def parse(line_no: int, rec: Any, count: int) -> list[WinogroundItem]:
        images = tuple(ImageRef(str(directory / "images" / f"{rec[k]}.png")) for k in ("image_0", "image_1"))
        captions = (str(rec["caption_0"]), str(rec["caption_1"]))
        key = str(rec["id"])
        return [WinogroundItem(key, images, captions, rec.get("collapsed_tag"),  # type: ignore[arg-type]
                               record_split(rec, key, split_map))]

    return parse_records(jsonl_records(files(request.where)[0], request.bad), parse, request.bad, request.limit)



def score_items(items: Sequence[WinogroundItem], features: Features) -> tuple[list[WinogroundScore], int]:
    """Score examples whose two images loaded; returns (scores, number of examples skipped)."""
    usable = [it for it in items if all(features.status(r) == ImageStatus.OK for r in it.images)]
    if not usable:
        return [], len(items)
    img = torch.tensor([[features.image_index[r] for r in it.images] for it in usable])  # [N, 2]
    txt = torch.tensor([[features.text_index[c] for c in it.captions] for it in usable])  # [N, 2]
    s = pair_scores(features, img.unsqueeze(1).expand(-1, 2, -1), txt.unsqueeze(2).expand(-1, -1, 2))  # s[n, c, i]
    out = []
    for it, mat in zip(usable, s.tolist()):
        text, image = verdicts(mat)
        out.append(WinogroundScore(it, text, image, (tuple(mat[0]), tuple(mat[1]))))  # type: ignore[arg-type]
    return out, len(items) - len(usable)


def aggregate(scored: Sequence[WinogroundScore]) -> tuple[dict[str, Metric], dict[str, Metric]]:
    """text / image / group accuracy, overall and per collapsed tag (no summary beyond them)."""
    subsets: dict[str, Metric] = {}
    for m in METRICS:
        put(subsets, m, accuracy([getattr(s, m) for s in scored]))
    by_tag: dict[str, list[WinogroundScore]] = defaultdict(list)
    for s in scored:
        if s.item.tag is not None:
            by_tag[s.item.tag].append(s)
    for tag in sorted(by_tag):
        for m in METRICS:
            put(subsets, f"{tag}/{m}", accuracy([getattr(s, m) for s in by_tag[tag]]))
    return subsets, {}


def score(spec: BenchmarkSpec, items: Sequence[WinogroundItem], features: Features) -> Scores:
    """Text / image / group verdicts per example, aggregated overall and per world split."""
    scored, skipped = score_items(items, features)
    subsets, summary = with_world_splits(scored, aggregate)
    outcomes = [item_outcome(f"{s.item.key}:{m}", m, s.item.split, getattr(s, m), s.item.tag)
                for s in scored for m in METRICS]
    return Scores(subsets, summary, outcomes, skipped)


# ----------------------------------------------------------------------------------------------------------------------
# The synthetic world's Winoground file: a true relational caption, its word-swapped negative, and the counterfactual
# image in which the negative is true and the caption false
# ----------------------------------------------------------------------------------------------------------------------
WORLD_ADJECTIVE_TAGS = {"colour": "Adjective-Color", "size": "Adjective-Size", "material": "Adjective-Material"}


def write_world(ex: WorldExport) -> None:
    """`size` examples (noun swaps tagged Object, adjective exchanges tagged Relation), oracle-checked both ways."""
    from ahnpl_lightning.data.world import grammar as g

    def build(attempt: int) -> tuple[Any, ...] | None:
        rng = ex.rng("winoground", attempt)
        scene0 = ex.scene("winoground", attempt, rng.randint(2, max(2, ex.world.max_objects)))
        base = ex.statement(scene0, rng, (g.REL,))
        if base is None:
            return None
        if rng.random() < 0.5:
            cands, tag, collapsed = g.swap_noun_phrases(base, rng)[:1], "Noun", "Object"
        else:
            # true exchanges only (same words, new order), not adjectives moved to the other noun
            cands = [c for c in g.swap_adjectives(base, rng) if c.nps[0].mentioned() == base.nps[0].mentioned()]
            tag, collapsed = "Adjective", "Relation"
        neg = ex.first_false(cands, scene0)
        if neg is None:
            return None
        if tag == "Adjective":
            attr = next(a for a in ("colour", "size", "material") if getattr(neg.nps[0], a) != getattr(base.nps[0], a))
            tag = WORLD_ADJECTIVE_TAGS[attr]
        cap0, cap1 = g.realise(base), g.realise(neg)
        scene1 = ex.world.counterfactual(scene0, cap0, cap1)
        if scene1 is None or g.evaluate(base, scene1):
            return None
        return scene0, scene1, cap0, cap1, tag, collapsed

    lines = []
    for k, (scene0, scene1, cap0, cap1, tag, collapsed) in enumerate(ex.collect("winoground", build)):
        for j, scene in enumerate((scene0, scene1)):
            ex.save(scene, ex.out / "winoground" / "images" / f"ex_{k}_img_{j}.png")
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
                "world_split": ex.tag([scene0, scene1], [cap0, cap1]),
            }
        )
    ex.write_text(ex.out / "winoground" / "examples.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    ex.record("winoground/examples.jsonl", lines)


MEASURES = {
    "text": "text score: each image prefers its own caption",
    "image": "image score: each caption prefers its own image",
    "group": "group score: text and image score both right",
}


def describe(name: str) -> tuple[str, str]:
    """What a Winoground figure measures (per collapsed tag too) and what its count counts."""
    return MEASURES[name.split("/")[-1]], "examples (2 images x 2 captions)"


SPEC = BenchmarkSpec(NAME, files, load, aggregate, describe=describe, score=score, images=lambda item: item.images,
                    texts=lambda item: item.captions, world=WorldWriter(write_world, files=lambda world: 1, order=4))
evaluate, load_items = SPEC.evaluate, SPEC.load_items
