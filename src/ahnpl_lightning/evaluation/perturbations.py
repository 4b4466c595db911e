"""ARO's COCO/Flickr-Order word-order perturbations and caption cleaning (docs/METHOD.md section 4): an evaluation
concern, so it lives here (`ahnpl_lightning.data.negatives` re-exports it for one release).

`order_perturbations(caption, seed)` gives the four perturbations of ARO's `COCO_Order`, each applied to the raw caption
(nouns NN*/adjectives JJ* by our tagger in place of spaCy) and then cleaned by `pre_caption`. Randomness comes from
(seed, caption) only, so `ahnpl eval --seed S` gives another, equally valid, draw of the same benchmark.
"""

from __future__ import annotations

import random
import re

from ahnpl_lightning.data.negatives.tagger import get_tagger, nltk_tagger_available, tokenize
from ahnpl_lightning.seeding import stable_seed

__all__ = ["ORDER_MAX_WORDS", "ORDER_PERTURBATIONS", "aro_pre_caption", "order_perturbations", "pre_caption",
           "resolve_tagger"]

ORDER_PERTURBATIONS: tuple[str, ...] = (
    "shuffle_nouns_and_adj", "shuffle_allbut_nouns_and_adj", "shuffle_within_trigrams", "shuffle_trigrams",
)
ORDER_MAX_WORDS = 30


def pre_caption(caption: str, max_words: int = ORDER_MAX_WORDS) -> str:
    """ARO's caption cleaning: lower-case, replace ``.!"()*#:;~`` by spaces, squeeze spaces, keep `max_words` words."""
    caption = re.sub(r"([.!\"()*#:;~])", " ", caption.lower())
    caption = re.sub(r"\s{2,}", " ", caption).rstrip("\n").strip(" ")
    return " ".join(caption.split(" ")[:max_words])


aro_pre_caption = pre_caption  # the name `ahnpl_lightning.data.negatives` used


def resolve_tagger(backend: str = "auto") -> str:
    """The tagger `backend` stands for: `nltk` or `builtin` (`auto`: nltk when its perceptron model is installed)."""
    if backend == "auto":
        return "nltk" if nltk_tagger_available() else "builtin"
    return backend


def _trigrams(tokens: list[str]) -> list[list[str]]:
    return [tokens[i : i + 3] for i in range(0, len(tokens), 3)]


def order_perturbations(caption: str, seed: int, tagger: str = "auto") -> list[str]:
    """The four perturbations of `caption`, in `ORDER_PERTURBATIONS` order, each cleaned by `pre_caption`."""
    rng = random.Random(stable_seed("order", seed, caption))
    tokens = [t.text for t in tokenize(caption)]
    tags = get_tagger(resolve_tagger(tagger))(tokens) if tokens else []
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
    return [pre_caption(" ".join(r)) for r in results]
