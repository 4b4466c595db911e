"""``relation_replace``: a spatial preposition replaced by one of another synonym group (SugarCrepe replace-rel)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from ahnpl_lightning.data.negatives.lexicon.inflection import match_case
from ahnpl_lightning.data.negatives.parsing import Parsed
from ahnpl_lightning.data.negatives.registry import register_negative_type
from ahnpl_lightning.data.negatives.vocabulary import (
    NON_CONTENT_NOUNS,
    NP_TAGS,
    SPATIAL_BY_FIRST,
    SPATIAL_GROUPS,
    SPATIAL_SOURCES,
    WEAK_SPATIAL,
)

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator


@register_negative_type("relation_replace")
def relation_replace(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Replace a spatial preposition (single or multi-word) with one from another synonym group."""
    low = [w.lower() for w in parsed.words]
    matches: list[tuple[int, int, int]] = []  # (start token, length, group)
    taken: set[int] = set()
    for i, word in enumerate(low):
        for parts in SPATIAL_BY_FIRST.get(word, ()):
            n = len(parts)
            if tuple(low[i:i + n]) != parts or taken.intersection(range(i, i + n)):
                continue
            nxt = parsed.tags[i + n] if i + n < len(low) else "END"
            ground = next((low[j] for j in range(i + n, len(low)) if parsed.tags[j] in NP_TAGS), None)
            if nxt in {"DT", "PRP$", "CD", "JJ", "NN", "NNS", "NNP", "PRP", "VBG", "VBN"} and (
                    ground not in NON_CONTENT_NOUNS):
                matches.append((i, n, SPATIAL_SOURCES[" ".join(parts)]))
                taken.update(range(i, i + n))
            break
    if not matches:
        return None
    strong = [m for m in matches if " ".join(low[m[0]:m[0] + m[1]]) not in WEAK_SPATIAL]
    pool = sorted(strong or matches)
    start, n, group = pool[rng.randrange(len(pool))]
    options = [g[0] for k, g in enumerate(SPATIAL_GROUPS) if k != group]
    new = options[rng.randrange(len(options))]
    first = parsed.words[start]
    text = parsed.text
    s, e = parsed.spans[start][0], parsed.spans[start + n - 1][1]
    return text[:s] + match_case(first, new) + text[e:]
