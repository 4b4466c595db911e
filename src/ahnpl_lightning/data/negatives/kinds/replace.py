"""Replacement types: ``adj``, ``noun`` and ``verb`` each replace one word by a candidate that fits its slot and
is false of the image (``candidates.py``), in the original's inflection."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from ahnpl_lightning.data.negatives.lexicon.inflection import inflect_verb, match_case
from ahnpl_lightning.data.negatives.parsing import Parsed, render, replace_span
from ahnpl_lightning.data.negatives.registry import register_negative_type
from ahnpl_lightning.data.negatives.roles import NounUnit
from ahnpl_lightning.data.negatives.vocabulary import ADJ_TAGS, ATTRIBUTE_OF, NON_CONTENT_ADJS

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator


def _present(gen: NegativeGenerator, parsed: Parsed) -> set[str]:
    """Words, lemmas and verb lemmas of the caption: a replacement never repeats one ("while surfing")."""
    words = {w.lower() for w in parsed.words}
    return words | {lem for lem in parsed.lemmas if lem} | {u.lemma for u in parsed.roles.units} | {
        gen.parse.lemma(w, "v") for w in words if w.endswith(("ing", "s", "ed"))}


@register_negative_type("noun")
def noun(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Replace one noun (a whole compound such as "cell phone") by a noun of its class seen in the same slot: one
    that fits every context of its unit when any unit has one, else the closest kin of its original over all units
    (a kin of the original, then one that fits the contexts the corpus knows, then any: ``NounCandidates``)."""
    roles = parsed.roles
    order = list(range(len(roles.units)))
    rng.shuffle(order)
    present = _present(gen, parsed)
    # generator v7's checks first (``NounCandidates``); where they leave nothing, v6's choice (coverage is kept)
    for careful, strict in [(careful, strict) for careful in (True, False) for strict in (2, 0, 1, -1)]:
        found = [(k, options) for k in order
                 if (options := gen.candidates.nouns(parsed.words, roles, k, present, strict, parsed, careful))]
        if not found:
            continue
        if strict != 2:  # no context vouches for all: the unit whose replacement is closest kin of its original
            found.sort(key=lambda item: min(gen.relatives.kin(roles.units[item[0]].lemma, o) for o in item[1]))
            k, options = found[0]
            best = min(gen.relatives.kin(roles.units[k].lemma, o) for o in options)
            options = [o for o in options if gen.relatives.kin(roles.units[k].lemma, o) == best]
        else:
            k, options = found[0]
        unit = roles.units[k]
        choice = options[rng.randrange(len(options))].replace("_", " ")
        new = gen.inflect_noun(choice, "NNS" if unit.tag == "NNS" or _plural_context(parsed, unit) else "NN")
        return replace_span(parsed, unit.start, unit.head, match_case(parsed.words[unit.start], new))
    return None


#: Collective nouns whose "of" takes a plural ("a herd of sheep" -> "a herd of cows", never "a herd of cow").
_COLLECTIVES = frozenset("herd flock group bunch pair couple lot set row number variety crowd pile stack collection "
                         "assortment team family dozen plenty array display selection".split())
_PLURAL_DETS = frozenset("two three four five six seven eight nine ten eleven twelve several many these those "
                         "multiple various numerous few both".split())


def _plural_context(parsed: Parsed, unit: NounUnit) -> bool:
    """Whether a noun tagged singular stands where English needs a plural: "two zebra", "a herd of sheep"."""
    if unit.det in _PLURAL_DETS:
        return True
    j = min([unit.start, *unit.adjs]) - 1
    while j >= 0 and parsed.tags[j] in {"JJ", "CD", "DT"}:
        j -= 1
    return j >= 1 and parsed.words[j].lower() == "of" and parsed.words[j - 1].lower() in _COLLECTIVES


@register_negative_type("adj")
def adj(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Replace one adjective by another value of its attribute (a colour by a colour), one that suits the noun."""
    roles = parsed.roles
    positions = parsed.content(ADJ_TAGS, NON_CONTENT_ADJS)
    rng.shuffle(positions)
    present = _present(gen, parsed)
    low = [w.lower() for w in parsed.words]
    for index in positions:
        lemma = parsed.lemmas[index] or low[index]
        if any(u.start <= index <= u.head for u in roles.units) or not _adjective_free(gen, parsed, index):
            continue  # part of a name: "living room", "hot dog"; "wet from rain", "pale green", "black and white"
        unit = next((u for u in roles.units if index in u.adjs), None)
        others = [low[a] for a in (unit.adjs if unit else ()) if a != index]
        if unit is not None:  # the modifiers inside the name too: "a humongous jumbo jet"
            others += [*low[unit.start:unit.head], *unit.lemma.split("_")]
        options = gen.candidates.adjectives(lemma, unit, others, present)
        if options:
            choice = options[rng.randrange(len(options))]
            return render(parsed, {index: match_case(parsed.words[index], choice)})
    return None


#: Words that shade a colour: "pale green" -> "pale black" is no colour.
_SHADES = frozenset("pale light dark bright deep pastel navy neon dull faded".split())


def _adjective_free(gen: NegativeGenerator, parsed: Parsed, index: int) -> bool:
    """An adjective whose change stays English and false: not one with its own complement ("a road wet from rain",
    "full of people"), not a shaded colour ("pale green"), not half of an adjective WordNet names whole ("black and
    white")."""
    low, tags = [w.lower() for w in parsed.words], parsed.tags
    nxt = index + 1
    if nxt < len(tags) and tags[nxt] in {"IN", "TO"} and not any(index in u.adjs for u in parsed.roles.units):
        return False
    if index > 0 and low[index - 1] in _SHADES and ATTRIBUTE_OF.get(low[index]) == "colour":
        return False
    words = gen.lexicon.words["a"]
    if index + 2 < len(low) and low[index + 1] == "and" and f"{low[index]}-and-{low[index + 2]}" in words:
        return False
    return not (index >= 2 and low[index - 1] == "and" and f"{low[index - 2]}-and-{low[index]}" in words)


def replace_verb(gen: NegativeGenerator, parsed: Parsed, rng: random.Random, only: int | None = None,
                 strict: bool = True) -> str | None:
    """Replace one verb (the one at token ``only`` if given) by a verb that fits its frame, subject and object, in
    the original's form (``strict=False``: a contrast of the original's family may stand in for corpus evidence)."""
    roles = parsed.roles
    slots = [s for s in roles.verbs if only is None or s.index == only]
    rng.shuffle(slots)
    present = _present(gen, parsed)
    for slot in slots:
        options = gen.candidates.verbs(parsed, slot, present, strict)
        if options:
            choice = options[rng.randrange(len(options))]
            new = inflect_verb(choice, parsed.tags[slot.index], gen.lexicon)
            return render(parsed, {slot.index: match_case(parsed.words[slot.index], new)})
    return None


@register_negative_type("verb")
def verb(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Replace one verb by a verb seen taking the same object and subject (never "drinking a sandwich")."""
    return replace_verb(gen, parsed, rng)

