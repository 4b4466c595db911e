"""Replacement types: ``adj``, ``noun`` and ``verb`` each replace one word by a candidate that fits its slot and
is false of the image (``candidates.py``), in the original's inflection."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from ahnpl_lightning.data.negatives.lexicon.inflection import inflect_verb, match_case
from ahnpl_lightning.data.negatives.parsing import Parsed, render, replace_span
from ahnpl_lightning.data.negatives.registry import register_negative_type
from ahnpl_lightning.data.negatives.vocabulary import ADJ_TAGS, NON_CONTENT_ADJS

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator


def _present(parsed: Parsed) -> set[str]:
    return {w.lower() for w in parsed.words} | {lem for lem in parsed.lemmas if lem} | {
        u.lemma for u in parsed.roles.units}


@register_negative_type("noun")
def noun(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Replace one noun (a whole compound such as "cell phone") by a noun of its class seen in the same slot."""
    roles = parsed.roles
    order = list(range(len(roles.units)))
    rng.shuffle(order)
    present = _present(parsed)
    for k in order:
        unit = roles.units[k]
        options = gen.candidates.nouns(parsed.words, roles, k, present)
        if not options:
            continue
        choice = options[rng.randrange(len(options))].replace("_", " ")
        new = gen.inflect_noun(choice, unit.tag)
        return replace_span(parsed, unit.start, unit.head, match_case(parsed.words[unit.start], new))
    return None


@register_negative_type("adj")
def adj(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Replace one adjective by another value of its attribute (a colour by a colour), one that suits the noun."""
    roles = parsed.roles
    positions = parsed.content(ADJ_TAGS, NON_CONTENT_ADJS)
    rng.shuffle(positions)
    present = _present(parsed)
    for index in positions:
        lemma = parsed.lemmas[index] or parsed.words[index].lower()
        if any(u.start <= index <= u.head for u in roles.units):
            continue  # part of a name: "living room", "hot dog"
        unit = next((u for u in roles.units if index in u.adjs), None)
        others = [parsed.words[a].lower() for a in (unit.adjs if unit else ()) if a != index]
        options = gen.candidates.adjectives(lemma, unit, others, present)
        if options:
            choice = options[rng.randrange(len(options))]
            return render(parsed, {index: match_case(parsed.words[index], choice)})
    return None


def replace_verb(gen: NegativeGenerator, parsed: Parsed, rng: random.Random, only: int | None = None) -> str | None:
    """Replace one verb (the one at token ``only`` if given) by a verb seen with the same object and subject, in
    the original's form."""
    roles = parsed.roles
    slots = [s for s in roles.verbs if only is None or s.index == only]
    rng.shuffle(slots)
    present = _present(parsed)
    for slot in slots:
        options = gen.candidates.verbs(slot, roles, present)
        if options:
            choice = options[rng.randrange(len(options))]
            new = inflect_verb(choice, parsed.tags[slot.index], gen.lexicon)
            return render(parsed, {slot.index: match_case(parsed.words[slot.index], new)})
    return None


@register_negative_type("verb")
def verb(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Replace one verb by a verb seen taking the same object and subject (never "drinking a sandwich")."""
    return replace_verb(gen, parsed, rng)

