"""Replacement types: ``adj``, ``noun`` and ``verb`` each replace one word by a non-synonymous alternative."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from ahnpl_lightning.data.negatives.lexicon.inflection import inflect_verb, match_case
from ahnpl_lightning.data.negatives.parsing import Parsed, render
from ahnpl_lightning.data.negatives.registry import register_negative_type
from ahnpl_lightning.data.negatives.vocabulary import (
    ADJ_TAGS,
    AUX_VERBS,
    NON_CONTENT_ADJS,
    NON_CONTENT_NOUNS,
    NP_TAGS,
    VERB_TAGS,
)

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator


def _replace(gen: NegativeGenerator, parsed: Parsed, rng: random.Random, tags: frozenset[str] | set[str],
             stop: frozenset[str], pos: str, inflect: Callable[[str, str], str]) -> str | None:
    positions = parsed.content(tags, stop)
    rng.shuffle(positions)
    present = {lem for lem in parsed.lemmas if lem is not None}
    for index in positions:
        lemma = parsed.lemmas[index]
        assert lemma is not None
        # Prefer words not already in the caption ("shower, sink" -> not "shower, shower").
        options = gen.alternatives.get(lemma, pos)
        options = tuple(o for o in options if o not in present) or options
        if options:
            choice = options[rng.randrange(len(options))]
            new = inflect(choice, parsed.tags[index])
            if new.lower() != parsed.words[index].lower():
                return render(parsed, {index: match_case(parsed.words[index], new)})
    return None


@register_negative_type("adj")
def adj(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Replace one adjective by another value of its attribute family, or an antonym."""
    return _replace(gen, parsed, rng, ADJ_TAGS, NON_CONTENT_ADJS, "a", lambda w, _t: w)


@register_negative_type("noun")
def noun(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Replace one noun by a frequent co-hyponym (dog -> cat), keeping its number."""
    return _replace(gen, parsed, rng, NP_TAGS, NON_CONTENT_NOUNS, "n", gen.inflect_noun)


@register_negative_type("verb")
def verb(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Replace one verb by a related verb (same family or troponym sibling), in the same inflection."""
    return _replace(gen, parsed, rng, VERB_TAGS, AUX_VERBS, "v", lambda w, t: inflect_verb(w, t, gen.lexicon))
