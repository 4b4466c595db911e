"""``relation_replace``: a relation changed for one that contradicts it (SugarCrepe's replace-rel): "on" ->
"under", "in front of" -> "behind", "with" -> "without", preferring relations seen with the same ground."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ahnpl_lightning.data.negatives.lexicon.inflection import inflect_verb, match_case
from ahnpl_lightning.data.negatives.lexicon.relatives import CONCRETE
from ahnpl_lightning.data.negatives.parsing import Parsed
from ahnpl_lightning.data.negatives.registry import register_negative_type
from ahnpl_lightning.data.negatives.roles import Relation
from ahnpl_lightning.data.negatives.verbs import POSTURES
from ahnpl_lightning.data.negatives.vocabulary import WEAK_SPATIAL

#: Relations ``relation_replace`` leaves alone: not places, or changes a text model spots too easily.
_NOT_SPATIAL = frozenset({"with", "without", "at", "down", "up", "toward", "towards"})
_NUMBERS = frozenset("two three four five six seven eight nine ten several many".split())
#: A change this much less natural than the original (about one frequent word pair turned into an unseen one, see
#: ``RelationCandidates.naturalness``) is a give-away to a text model: ``relation_replace``, which has no coverage
#: target, leaves such captions without a negative (generator v6: -21, was -24; the changes between read clumsily:
#: "sitting next to a sink next to a bathroom", "a tv on next to this room").
_GIVEAWAY = -21.0

_FAR = re.compile(r"\b(far|away) from\b", re.IGNORECASE)

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
        options = gen.candidates.prepositions(parsed, rel, verb, tag)
        if not options:
            continue
        new = options[0]
        gain = gen.candidates.naturalness(rel, parsed.roles, new, verb, parsed) - gen.candidates.naturalness(
            rel, parsed.roles, rel.prep or "", verb, parsed)
        gain -= 5.0 * (rel.prep in WEAK_SPATIAL) + 10.0 * (rel.prep in {"with", "without"})
        if best is None or (gain, -order) > (best[0], -best[1]):
            best = (gain, order, rel, new)
    if best is None:
        return None
    gain, _, rel, new = best
    first, last = rel.prep_span
    ground = parsed.roles.units[rel.ground]
    dropped = _NUMBERS | {"some", "multiple", "various", "numerous"}
    if new == "without" and ground.det in dropped and last + 1 < len(parsed.words) and (
            parsed.words[last + 1].lower() == ground.det):
        last += 1  # "with two windows" -> "without windows", "with some items" -> "without items"
    start, end = parsed.spans[first][0], parsed.spans[last][1]
    return gain, parsed.text[:start] + match_case(parsed.words[first], new) + parsed.text[end:]


@register_negative_type("relation_replace")
def relation_replace(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Replace a spatial preposition with the most natural one that contradicts it ("with" -> "without", "at",
    "down"/"up" and "toward" are left to ``relation``, whose last resorts they are); none when even that one is a
    give-away to a text model."""
    relations = [r for r in parsed.roles.relations if r.prep is not None and r.prep not in _NOT_SPATIAL]
    rng.shuffle(relations)
    found = best_relation_change(gen, parsed, relations)
    if found is not None and _FAR.search(found[1]) and not _FAR.search(parsed.text):
        return None  # "near the trees" -> "far from the trees": true contradiction, but a give-away to a text model
    return None if found is None or found[0] < _GIVEAWAY else found[1]


def deny_possession(gen: NegativeGenerator, parsed: Parsed, relation: Relation) -> str | None:
    """"A kitchen has two windows" -> "A kitchen has no windows", "a woman wears a hat" -> "a woman wears no hat":
    the possession a "have" or "wear" relation states, denied (its determiner becomes "no"; a singular count noun
    keeps its number: "has a dog" -> "has no dog"); never a part of the body ("a dog has its head outside"), never
    a participle modifying a noun ("a man wearing a hat": ``verb_to_place`` says "without")."""
    if relation.verb is None or relation.prep is not None or parsed.lemmas[relation.verb] not in {"have", *_WEARING}:
        return None
    if parsed.lemmas[relation.verb] in _WEARING and parsed.tags[relation.verb] == "VBG" and relation.verb > 0 and (
            parsed.tags[relation.verb - 1] in {"NN", "NNS", ","}):
        return None
    ground = parsed.roles.units[relation.ground]
    if ground.det in {"no", "any"} or gen.lexclass(ground.lemma) == "noun.body":
        return None
    after = ground.head + 1
    if after < len(parsed.tags) and parsed.tags[after] in {"RB", "RP", "VBN", "JJ"}:
        return None  # "has a bottle up to his mouth", "has the windows open": the state, not the thing
    det = next((i for i in range(relation.verb + 1, ground.start) if parsed.tags[i] in {"DT", "CD", "PRP$"}), None)
    if det is not None:
        start, end = parsed.spans[det]
        return parsed.text[:start] + match_case(parsed.words[det], "no") + parsed.text[end:]
    first = min([ground.start, *ground.adjs])
    start = parsed.spans[first][0]
    return parsed.text[:start] + "no " + parsed.text[start:]


_DEPTH = re.compile(r"\b([Ii]n) (the) (background|foreground|distance)\b")
_DEPTH_CONTRAST = {"background": "foreground", "distance": "foreground", "foreground": "background"}


def change_depth(parsed: Parsed) -> str | None:
    """"a train in the background" -> "a train in the foreground": where a thing is in the picture, changed (only
    when the caption names two things, so that the change is about one of them)."""
    if len(parsed.roles.units) < 2:
        return None
    match = _DEPTH.search(parsed.text)
    if match is None:
        return None
    start, end = match.span(3)
    return parsed.text[:start] + _DEPTH_CONTRAST[match.group(3).lower()] + parsed.text[end:]


#: Verbs of wearing: what is worn is denied ("a man wearing a hat" -> "a man without a hat").
_WEARING = frozenset({"wear", "sport"})
#: Verb classes whose object is handled, ridden or eaten: being "next to" it instead contradicts the verb.
_HANDLING = frozenset({"verb.contact", "verb.consumption", "verb.motion", "verb.competition"})
_PARTICLES = frozenset({"up", "down", "out", "off"})
#: What things do to what they hold: "a table holding a plate" is not "next to" it.
_HOLDING = frozenset({"hold", "contain", "carry", "support", "display", "feature", "include"})
#: Verbs that keep their subject next to their object (generator v6): "standing next to" it stays true.
_CLOSE = frozenset("embrace hug kiss pet touch cuddle hold_on lean nuzzle sniff lick groom brush wash comb "
                   "feed graze eat drink bite chew nibble munch".split())
_PATHS = frozenset("down up across along through into toward towards over past around off onto to".split())


def verb_to_place(gen: NegativeGenerator, parsed: Parsed, relation: Relation) -> str | None:
    """A person or animal acting on a thing is put next to it instead ("a man riding a horse" -> "a man standing
    next to a horse", "a dog eating a frisbee" -> "a dog standing next to a frisbee"; after another verb: "a man
    sitting on a bench holding an umbrella" -> "... next to an umbrella"), and what is worn is denied ("a man
    wearing a hat" -> "a man without a hat"); a thing holding another is put next to it ("a table holding a plate"
    -> "a table next to a plate"). Only for a verb surely a verb, of handling, riding or eating, and a thing one can
    see."""
    roles = parsed.roles
    ground = roles.units[relation.ground]
    index = relation.verb
    if relation.prep is not None:  # "holding up a plate", "riding on their skateboards": the verb's own thing
        first = relation.prep_span[0] if relation.prep_span else -1
        index = first - 1 if first > 0 and parsed.tags[first - 1].startswith("VB") else None
        if index is None or not (relation.prep in _PARTICLES or relation.prep == "on" and gen.slots.count(
                f"n|obj|{parsed.lemmas[index]}", ground.lemma)):
            return None
    slot = next((v for v in roles.verbs if v.index == index), None)
    model = gen.candidates.verb_model
    if slot is None or slot.subj is None:
        return None
    governed = ground.gov_index == slot.index or relation.prep is not None and ground.gov_index == slot.index + 1
    if not governed or gen.lexclass(ground.lemma) not in CONCRETE - {"noun.body"}:
        return None
    tag, verb = parsed.tags[slot.index], slot.lemma
    animate = model._subject_class(parsed, roles.units[slot.subj]) in {"noun.person", "mammal", "noun.animal"}
    if not animate:  # "a table holding a plate" -> "a table next to a plate", "a plate containing a sandwich"
        if verb not in _HOLDING or tag not in {"VBG", "VBZ"} or relation.prep is not None:
            return None
        return parsed.text[:parsed.spans[slot.index][0]] + match_case(parsed.words[slot.index], "next to") + (
            parsed.text[parsed.spans[slot.index][1]:]) if tag == "VBG" else None
    if not model.eligible(parsed, slot):
        return None
    first = min([ground.start, *ground.adjs])
    det = next((i for i in range(slot.index + 1, first) if parsed.tags[i] in {"DT", "CD", "PRP$"}), None)
    start = parsed.spans[slot.index][0]
    if verb in _WEARING:
        if tag != "VBG" or slot.index == 0 or parsed.tags[slot.index - 1] not in {"NN", "NNS", ","}:
            return None  # "a man wearing a hat" but not "a man is wearing a hat"
        keep = det if det is not None and parsed.words[det].lower() not in _NUMBERS | {"some"} else None
        rest = parsed.spans[keep][0] if keep is not None else parsed.spans[first][0]
        return parsed.text[:start] + match_case(parsed.words[slot.index], "without ") + parsed.text[rest:]
    handling = any(gen.relatives.wordnet.lexname(s) in _HANDLING for s in gen.relatives.synsets(verb, "v")[:3])
    if verb in POSTURES or not handling or tag not in {"VBG", "VBZ", "VBP", "VB"}:
        return None
    close = verb in _CLOSE or _consumes(gen, verb)  # "a bird eating an apple" is next to it: it looks away instead
    after = ground.head + 1
    if after < len(parsed.words) and (parsed.words[after].lower() in _PATHS or parsed.tags[after] in {
            "DT", "NN", "NNS", "PRP$", "CD", "RB", "RP"}):
        return None  # "pulling a carriage down a street", "feeding four giraffes grass": the frame needs the verb
    if any(v.index > slot.index and v.lemma in POSTURES for v in roles.verbs):
        return None  # "eating food while sitting down"
    end = parsed.spans[slot.index][1]
    if slot.index + 1 < first and (parsed.tags[slot.index + 1] == "RP" or relation.prep is not None):
        end = parsed.spans[slot.index + 1][1]  # "holding up a surfboard", "riding on a skateboard"
    earlier = any(v.index < slot.index and parsed.tags[v.index] not in {"VBN"} for v in roles.verbs)
    if close:  # "a woman feeding a horse" -> "a woman looking away from a horse" (generator v6)
        new = f"{inflect_verb('look', tag, gen.lexicon)} away from"
    else:
        new = "next to" if earlier and tag == "VBG" else f"{inflect_verb('stand', tag, gen.lexicon)} next to"
    return parsed.text[:start] + match_case(parsed.words[slot.index], new) + parsed.text[end:]


def _consumes(gen: NegativeGenerator, verb: str) -> bool:
    """A verb of eating or feeding in its first sense: the eater is at the food ("eating grass", "feeding a horse")."""
    synsets = gen.relatives.synsets(verb, "v")[:1]
    return any(gen.relatives.wordnet.lexname(s) == "verb.consumption" for s in synsets)


#: Containers whose "X of Y" holds Y: "a bowl of fruit" -> "a bowl without fruit".
_CONTAINERS = ("container", "tableware", "vessel", "tray", "plate", "basket", "box", "bag", "crate", "cart")


def empty_container(gen: NegativeGenerator, parsed: Parsed, relation: Relation) -> str | None:
    """"a bowl of fruit" -> "a bowl without fruit", "a box of bananas" -> "a box without bananas": what a container
    holds, denied (a number or "many" before the content goes: "a plate of two donuts" -> "a plate without donuts")."""
    if relation.prep != "of" or relation.prep_span is None:
        return None
    roles = parsed.roles
    figure, ground = roles.units[relation.figure], roles.units[relation.ground]
    if not any(gen.relatives.is_kind_of(figure.lemma, kind) for kind in _CONTAINERS):
        return None
    if gen.lexclass(ground.lemma) not in CONCRETE - {"noun.body"} or figure.head + 1 != relation.prep_span[0]:
        return None
    first, last = relation.prep_span
    if ground.det in _NUMBERS | {"some", "many", "several"} and last + 1 < len(parsed.words) and (
            parsed.words[last + 1].lower() == ground.det):
        last += 1
    elif ground.det in {"a", "an", "the"}:
        return None  # "a plate of the food": a rare phrase
    start, end = parsed.spans[first][0], parsed.spans[last][1]
    return parsed.text[:start] + match_case(parsed.words[first], "without") + parsed.text[end:]


#: Participles that make "by" a place: "a table surrounded by chairs".
_AROUND = frozenset({"surround", "encircle", "ring", "flank", "border"})


def unsurround(parsed: Parsed, relation: Relation) -> str | None:
    """"a field surrounded by trees" -> "a field far from trees": a thing put far from what surrounds it."""
    if relation.prep != "by" or relation.prep_span is None:
        return None
    first, last = relation.prep_span
    verb = first - 1
    if verb < 0 or parsed.tags[verb] not in {"VBN", "VBD"} or parsed.lemmas[verb] not in _AROUND:
        return None
    start, end = parsed.spans[verb][0], parsed.spans[last][1]
    return parsed.text[:start] + match_case(parsed.words[verb], "far from") + parsed.text[end:]


def undress(gen: NegativeGenerator, parsed: Parsed, relation: Relation) -> str | None:
    """"a man in a red shirt" -> "a man without a red shirt": a person's clothes, denied (never the body: "a racket
    in his hand")."""
    if relation.prep != "in" or relation.prep_span is None:
        return None
    roles = parsed.roles
    figure, ground = roles.units[relation.figure], roles.units[relation.ground]
    if gen.lexclass(figure.lemma) != "noun.person" or gen.lexclass(ground.lemma) != "noun.artifact":
        return None
    if not gen.candidates.relations.worn(ground.lemma) or ground.det == "one":
        return None
    first, last = relation.prep_span
    if figure.head + 1 != first:
        return None  # "a man standing in a suit": the verb between
    if ground.det in _NUMBERS and last + 1 < len(parsed.words) and parsed.words[last + 1].lower() == ground.det:
        last += 1
    start, end = parsed.spans[first][0], parsed.spans[last][1]
    return parsed.text[:start] + match_case(parsed.words[first], "without") + parsed.text[end:]


#: Participles of filling and covering: "a kitchen filled with appliances" -> "a kitchen without appliances".
_FILLED = frozenset("fill cover crowd pack stock load decorate adorn top line cram stuff garnish sprinkle".split())


def unfill(gen: NegativeGenerator, parsed: Parsed, relation: Relation) -> str | None:
    """"a kitchen filled with appliances" -> "a kitchen without appliances", "a boat decorated with flags" -> "a boat
    without flags": what fills or covers a thing, denied (numbers and "some" before it go)."""
    if relation.prep != "with" or relation.prep_span is None:
        return None
    first, last = relation.prep_span
    verb = first - 1
    if verb < 1 or parsed.tags[verb] != "VBN" or parsed.lemmas[verb] not in _FILLED:
        return None
    ground = parsed.roles.units[relation.ground]
    if gen.lexclass(ground.lemma) not in CONCRETE - {"noun.body"}:
        return None
    if ground.det in _NUMBERS | {"some"} and last + 1 < len(parsed.words) and (
            parsed.words[last + 1].lower() == ground.det):
        last += 1
    start, end = parsed.spans[verb][0], parsed.spans[last][1]
    return parsed.text[:start] + match_case(parsed.words[verb], "without") + parsed.text[end:]
