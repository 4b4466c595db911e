"""``relation_replace``: a relation changed for one that contradicts it (SugarCrepe's replace-rel): "on" ->
"under", "in front of" -> "behind", "with" -> "without", preferring relations seen with the same ground."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ahnpl_lightning.data.negatives.lexicon.inflection import match_case
from ahnpl_lightning.data.negatives.parsing import Parsed
from ahnpl_lightning.data.negatives.registry import register_negative_type
from ahnpl_lightning.data.negatives.roles import Relation
from ahnpl_lightning.data.negatives.vocabulary import WEAK_SPATIAL

#: Relations ``relation_replace`` leaves alone: not places, or changes a text model spots too easily.
_NOT_SPATIAL = frozenset({"with", "without", "at", "down", "up", "toward", "towards"})
_NUMBERS = frozenset("two three four five six seven eight nine ten several many".split())

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator


def replace_relation(gen: NegativeGenerator, parsed: Parsed, rng: random.Random,
                     relations: Sequence[Relation]) -> str | None:
    """Replace the preposition of one of ``relations`` by the contradicting relation a text model would find most
    like the original (the largest naturalness gain over all relations; clear ones before "in", "with" last);
    ``None`` when none has a contradicting relation."""
    found = best_relation_change(gen, parsed, relations)
    return None if found is None else found[1]


def best_relation_change(gen: NegativeGenerator, parsed: Parsed,
                         relations: Sequence[Relation]) -> tuple[float, str] | None:
    """(naturalness gain, text) of the best preposition change among ``relations`` (see ``replace_relation``)."""
    best: tuple[float, int, Relation, str] | None = None
    for order, rel in enumerate(relations):
        if rel.prep_span is None:
            continue
        direct = rel.verb is not None and rel.verb == rel.prep_span[0] - 1
        verb = parsed.lemmas[rel.verb] if direct else None
        tag = parsed.tags[rel.verb] if direct else None
        options = gen.candidates.prepositions(rel, parsed.roles, verb, tag)
        if not options:
            continue
        new = options[0]
        gain = gen.candidates.naturalness(rel, parsed.roles, new, verb) - gen.candidates.naturalness(
            rel, parsed.roles, rel.prep or "", verb)
        gain -= 5.0 * (rel.prep in WEAK_SPATIAL) + 10.0 * (rel.prep in {"with", "without"})
        if best is None or (gain, -order) > (best[0], -best[1]):
            best = (gain, order, rel, new)
    if best is None:
        return None
    gain, _, rel, new = best
    first, last = rel.prep_span
    ground = parsed.roles.units[rel.ground]
    if new == "without" and ground.det in _NUMBERS and last + 1 < len(parsed.words) and (
            parsed.words[last + 1].lower() == ground.det):
        last += 1  # "with two windows" -> "without windows"
    start, end = parsed.spans[first][0], parsed.spans[last][1]
    return gain, parsed.text[:start] + match_case(parsed.words[first], new) + parsed.text[end:]


@register_negative_type("relation_replace")
def relation_replace(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Replace a spatial preposition with the most natural one that contradicts it ("with" -> "without", "at",
    "down"/"up" and "toward" are left to ``relation``, whose last resorts they are)."""
    relations = [r for r in parsed.roles.relations if r.prep is not None and r.prep not in _NOT_SPATIAL]
    rng.shuffle(relations)
    return replace_relation(gen, parsed, rng, relations)


def deny_possession(parsed: Parsed, relation: Relation) -> str | None:
    """"A kitchen has two windows" -> "A kitchen has no windows": the possession a "have" relation states, denied
    (its determiner becomes "no"; a singular count noun keeps its number: "has a dog" -> "has no dog")."""
    if relation.verb is None or relation.prep is not None or parsed.lemmas[relation.verb] != "have":
        return None
    ground = parsed.roles.units[relation.ground]
    if ground.det in {"no", "any"}:
        return None
    det = next((i for i in range(relation.verb + 1, ground.start) if parsed.tags[i] in {"DT", "CD", "PRP$"}), None)
    if det is not None:
        start, end = parsed.spans[det]
        return parsed.text[:start] + match_case(parsed.words[det], "no") + parsed.text[end:]
    first = min([ground.start, *ground.adjs])
    start = parsed.spans[first][0]
    return parsed.text[:start] + "no " + parsed.text[start:]
