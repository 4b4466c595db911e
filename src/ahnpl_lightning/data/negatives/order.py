"""ARO's COCO/Flickr-Order word-order perturbations (docs/METHOD.md §4): an evaluation concern kept here until it
moves to ``ahnpl_lightning.evaluation.perturbations``."""

from __future__ import annotations

import random
import re

from ahnpl_lightning.data.negatives.tagger import get_tagger, tokenize
from ahnpl_lightning.seeding import stable_seed

__all__ = ["ORDER_PERTURBATIONS", "aro_pre_caption", "order_perturbations"]

ORDER_PERTURBATIONS: tuple[str, ...] = (
    "shuffle_nouns_and_adj", "shuffle_allbut_nouns_and_adj", "shuffle_within_trigrams", "shuffle_trigrams",
)


def aro_pre_caption(caption: str, max_words: int = 30) -> str:
    """ARO's ``pre_caption``: lower-case, ``.!"()*#:;~`` to spaces, squeeze spaces, strip, keep ``max_words``."""
    caption = re.sub(r"([.!\"()*#:;~])", " ", caption.lower())
    caption = re.sub(r"\s{2,}", " ", caption).rstrip("\n").strip(" ")
    words = caption.split(" ")
    return " ".join(words[:max_words]) if len(words) > max_words else caption


def _trigrams(tokens: list[str]) -> list[list[str]]:
    return [tokens[i:i + 3] for i in range(0, len(tokens), 3)]


def order_perturbations(caption: str, seed: int, tagger: str = "auto") -> list[str]:
    """The four COCO/Flickr-Order perturbations of ARO (docs/METHOD.md §4), in ``ORDER_PERTURBATIONS`` order.

    As in ARO's ``COCO_Order``: each perturbation is applied to the raw caption (nouns NN*/adjectives JJ* by our
    tagger in place of spaCy), then ``aro_pre_caption`` is applied. Randomness comes from (seed, caption) only.
    """
    rng = random.Random(stable_seed("order", seed, caption))
    tokens = [t.text for t in tokenize(caption)]
    tags = get_tagger(tagger)(tokens) if tokens else []
    nouns = [i for i, t in enumerate(tags) if t in {"NN", "NNS", "NNP", "NNPS"}]
    adjs = [i for i, t in enumerate(tags) if t in {"JJ", "JJR", "JJS"}]

    def permute(base: list[str], indices: list[int]) -> list[str]:
        out = list(base)
        values = [base[i] for i in indices]
        rng.shuffle(values)
        for i, v in zip(indices, values):
            out[i] = v
        return out

    keep = set(nouns) | set(adjs)
    nouns_adj = permute(permute(tokens, nouns), adjs)
    allbut = permute(tokens, [i for i in range(len(tokens)) if i not in keep])
    within = [list(t) for t in _trigrams(tokens)]
    for tri in within:
        rng.shuffle(tri)
    across = _trigrams(tokens)
    rng.shuffle(across)
    results = [nouns_adj, allbut, [w for t in within for w in t], [w for t in across for w in t]]
    return [aro_pre_caption(" ".join(r)) for r in results]

