"""Swap types: ``relation`` (subject and object exchange places) and ``adj_swap`` (two adjectives exchange nouns)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from ahnpl_lightning.data.negatives.lexicon.inflection import match_case
from ahnpl_lightning.data.negatives.parsing import Parsed, fix_articles, render
from ahnpl_lightning.data.negatives.registry import register_negative_type
from ahnpl_lightning.data.negatives.vocabulary import (
    ADJ_FAMILIES,
    ADJ_TAGS,
    COORDINATION,
    NON_CONTENT_ADJS,
    NP_TAGS,
    VERB_TAGS,
    family_alternatives,
)

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator


@register_negative_type("relation")
def relation(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Swap the first noun unit (the subject) with a later, different one; each slot keeps its number."""
    units = parsed.noun_units()
    if len(units) < 2:
        return None
    first = units[0]
    key = [parsed.lemmas[i] for i in first]
    partners = [u for u in units[1:] if [parsed.lemmas[i] for i in u] != key
                and not all(parsed.tags[j] in COORDINATION for j in range(first[-1] + 1, u[0]))]
    if not partners:
        return None
    # The subject's counterpart is the object: the first unit after a verb, else any later unit.
    objects = [u for u in partners if any(parsed.tags[j] in VERB_TAGS for j in range(first[-1] + 1, u[0]))]
    other = objects[0] if objects else partners[rng.randrange(len(partners))]
    text = parsed.text
    pieces = {}
    for dst, src in ((first, other), (other, first)):
        head_tag = parsed.tags[dst[-1]]
        words = [parsed.words[i].lower() if i != src[0] or parsed.words[i][1:].islower() else parsed.words[i]
                 for i in src]
        words[-1] = gen.inflect_noun(parsed.lemmas[src[-1]] or words[-1].lower(), head_tag)
        words[0] = match_case(parsed.words[dst[0]], words[0].lower())
        pieces[dst[0]] = (parsed.spans[dst[0]][0], parsed.spans[dst[-1]][1], " ".join(words))
    for index in sorted(pieces, reverse=True):
        start, end, new = pieces[index]
        text = text[:start] + new + text[end:]
    return fix_articles(text)


@register_negative_type("adj_swap")
def adj_swap(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Swap two different adjectives that modify different noun phrases (a noun lies between them).

    Not between two coordinated phrases with the same noun: "a red cat and a black cat" -> "a black cat and a
    red cat" says the same thing."""
    adjs = parsed.content(ADJ_TAGS, NON_CONTENT_ADJS)
    nouns = [i for i, t in enumerate(parsed.tags) if t in NP_TAGS]

    def head(index: int) -> int | None:
        return next((n for n in nouns if n > index), None)

    def paraphrase(a: int, b: int) -> bool:
        ha, hb = head(a), head(b)
        if ha is None or hb is None or parsed.lemmas[ha] != parsed.lemmas[hb]:
            return False
        return all(parsed.tags[j] in COORDINATION or j in adjs for j in range(ha + 1, b))

    pairs = [(a, b) for k, a in enumerate(adjs) for b in adjs[k + 1:]
             if parsed.words[a].lower() != parsed.words[b].lower() and any(a < n < b for n in nouns)
             and not paraphrase(a, b)]
    if not pairs:
        return None
    # Prefer two values of one attribute (colour <-> colour) so the result stays idiomatic.
    same = [(a, b) for a, b in pairs if family_alternatives(parsed.words[a].lower(), ADJ_FAMILIES)
            and parsed.words[b].lower() in family_alternatives(parsed.words[a].lower(), ADJ_FAMILIES)]
    pairs = same or pairs
    a, b = pairs[rng.randrange(len(pairs))]
    wa, wb = parsed.words[a], parsed.words[b]
    return render(parsed, {a: match_case(wa, wb.lower()), b: match_case(wb, wa.lower())})
