"""Swap types: ``relation`` (subject and object exchange places where that makes sense, else the relation itself
changes) and ``adj_swap`` (two adjectives exchange nouns)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from ahnpl_lightning.data.negatives.kinds.relation import (
    best_relation_change,
    change_depth,
    deny_possession,
    empty_container,
    replace_relation,
    undress,
    unfill,
    unsurround,
    verb_to_place,
)
from ahnpl_lightning.data.negatives.kinds.replace import _SHADES, replace_verb
from ahnpl_lightning.data.negatives.lexicon.inflection import match_case
from ahnpl_lightning.data.negatives.lexicon.relatives import CONCRETE
from ahnpl_lightning.data.negatives.parsing import Parsed, fix_articles, render
from ahnpl_lightning.data.negatives.registry import register_negative_type
from ahnpl_lightning.data.negatives.roles import NounUnit, Relation, Roles
from ahnpl_lightning.data.negatives.vocabulary import (
    ADJ_TAGS,
    ATTRIBUTE_OF,
    COORDINATION,
    NON_CONTENT_ADJS,
    NOUN_FAMILIES,
    RECIPROCAL_VERBS,
    SYMMETRIC_RELATIONS,
    family_alternatives,
)

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator

#: A preposition change whose naturalness gain is below this is a give-away to a text model: "with" -> "without"
#: or a denied possession, when there is one, is used instead.
_NATURAL_ENOUGH = -1.0
_NOT_SWAPPED = SYMMETRIC_RELATIONS | {"of", "in", "at", "for", "during", "from", "like", "as", "than"}


def _symmetric(parsed: Parsed, relation: Relation) -> bool:
    verb = parsed.lemmas[relation.verb] if relation.verb is not None else None
    return relation.prep in SYMMETRIC_RELATIONS or verb in RECIPROCAL_VERBS


def _swappable(gen: NegativeGenerator, parsed: Parsed, relation: Relation) -> bool:
    """A relation whose two nouns may exchange places: not symmetric, nothing but the relation between them, and
    a plausible result (``Candidates.swap_plausible``)."""
    if relation.prep in _NOT_SWAPPED or _symmetric(parsed, relation):
        return False
    between = range(*relation.span)
    if any(parsed.tags[j] in {"NN", "NNS", "NNP", "CC", ",", "PRP"} for j in between):
        return False
    verb = parsed.lemmas[relation.verb] if relation.verb is not None else None
    return gen.candidates.swap_plausible(relation, parsed.roles, verb)


def swap_units(gen: NegativeGenerator, parsed: Parsed, first: NounUnit, other: NounUnit) -> str:
    """Exchange two noun units; each slot keeps its number ("two dogs ... a ball" -> "two balls ... a dog")."""
    pieces = {}
    for dst, src in ((first, other), (other, first)):
        tokens = list(range(src.start, src.head + 1))
        words = [parsed.words[i].lower() if parsed.words[i][1:].islower() or i != src.start else parsed.words[i]
                 for i in tokens]
        head_lemma = parsed.lemmas[src.head] or words[-1].lower()
        words[-1] = gen.inflect_noun(head_lemma, parsed.tags[dst.head])
        words[0] = match_case(parsed.words[dst.start], words[0].lower())
        pieces[dst.start] = (parsed.spans[dst.start][0], parsed.spans[dst.head][1], " ".join(words))
    text = parsed.text
    for index in sorted(pieces, reverse=True):
        start, end, new = pieces[index]
        text = text[:start] + new + text[end:]
    return fix_articles(text)


#: Classes whose members may trade places in a picture ("a cup on a table next to a plate").
_SWAPPABLE_CLASSES = frozenset({"noun.artifact", "noun.animal", "noun.food", "noun.plant", "noun.object",
                                "noun.location", "noun.shape"})


def swap_nouns(gen: NegativeGenerator, parsed: Parsed) -> str | None:
    """Exchange two things of one kind that play different parts in the caption ("a dog on a couch next to a chair"
    -> "a dog on a chair next to a couch"): kin in WordNet or one curated family, neither coordinated with the other
    nor in a symmetric relation with it, each fitting every context of the other (``NounCandidates.contexts``) and,
    when one is the other's figure, the reversed relation seen in the corpus (``Candidates.swap_plausible``)."""
    roles = parsed.roles
    units = roles.units
    nouns, fit = gen.candidates.noun_model, gen.candidates.fit
    for a in range(len(units)):
        for b in range(a + 1, len(units)):
            ua, ub = units[a], units[b]
            la, lb = ua.lemma, ub.lemma
            cls = gen.lexclass(la)
            if la == lb or cls not in _SWAPPABLE_CLASSES or gen.lexclass(lb) != cls:
                continue
            if not (lb in family_alternatives(la, NOUN_FAMILIES) or gen.relatives.kin(la, lb) <= 4):
                continue
            if not gen.candidates._allowed(la, lb, "n"):
                continue  # "a busy street ... down the road": near-synonyms exchanged say the same
            if all(parsed.tags[j] in COORDINATION for j in range(ua.head + 1, ub.start)):
                continue  # "a cup and a plate": swapping says the same
            between = [r for r in roles.relations if {r.figure, r.ground} == {a, b}]
            if any(_symmetric(parsed, r) or r.prep in _NOT_SWAPPED for r in between):
                continue
            if not (nouns.eligible(parsed, a) and nouns.eligible(parsed, b)):
                continue
            ctx_a = [k for k in nouns.contexts(parsed, a) if not k.endswith(f"|{lb}")]
            ctx_b = [k for k in nouns.contexts(parsed, b) if not k.endswith(f"|{la}")]
            if not (fit.verdict(ctx_b, la, lb) and fit.verdict(ctx_a, lb, la)):
                continue  # "a man riding a car next to a bike"
            verb = next((parsed.lemmas[r.verb] for r in between if r.verb is not None), None)
            if any(not gen.candidates.swap_plausible(r, roles, verb) for r in between):
                continue
            return swap_units(gen, parsed, ua, ub)
    return None


@register_negative_type("relation")
def relation(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Exchange subject and object where the swap is plausible ("a dog chasing a cat"), never around a symmetric
    relation; else change the relation, the changes a text model finds as natural as the original first (the
    blind-bigram target of issue 14): the most natural contradicting preposition ("on" -> "under"), "in the
    background" -> "in the foreground", another verb, "riding a horse" -> "standing next to a horse", two things of
    one kind exchanged; then the reliable but easier denials: "surrounded by" -> "far from", "with" -> "without",
    "filled with" -> "without", "in a red shirt" -> "without a red shirt", "has a" -> "has no", "a bowl of fruit" ->
    "a bowl without fruit"."""
    roles: Roles = parsed.roles
    ordered = sorted(roles.relations, key=lambda r: (r.figure != 0, r.prep is not None, r.figure, r.ground))
    for rel in ordered:
        if _swappable(gen, parsed, rel):
            return swap_units(gen, parsed, roles.units[rel.figure], roles.units[rel.ground])
    change = best_relation_change(gen, parsed, [r for r in ordered if r.prep not in {None, "with"}])
    if change is not None and change[0] >= _NATURAL_ENOUGH:
        return change[1]
    depth = change_depth(parsed)
    if depth is not None:  # "in the background" -> "in the foreground"
        return depth
    changes: tuple[Callable[[Relation], str | None], ...] = (
        lambda rel: verb_to_place(gen, parsed, rel),  # "riding a horse" -> "standing next to a horse"
        lambda rel: unsurround(parsed, rel),  # "surrounded by trees" -> "far from trees"
        lambda rel: replace_relation(gen, parsed, rng, [rel]) if rel.prep == "with" else None,  # "without"
        lambda rel: unfill(gen, parsed, rel),  # "a kitchen filled with pots" -> "a kitchen without pots"
        lambda rel: undress(gen, parsed, rel),  # "a man in a red shirt" -> "a man without a red shirt"
        lambda rel: deny_possession(gen, parsed, rel),  # "has a" -> "has no"
    )
    for make in changes[:1]:
        out = next((out for rel in ordered if (out := make(rel)) is not None), None)
        if out is not None:
            return out
    for rel in sorted(ordered, key=lambda r: r.prep is not None):
        if rel.verb is not None:  # "riding a horse" -> "leading a horse", "floating down" -> "swimming down"
            out = replace_verb(gen, parsed, rng, only=rel.verb, strict=False)
            if out is not None:
                return out
    if change is not None:
        return change[1]
    swapped = swap_nouns(gen, parsed)
    if swapped is not None:  # "a dog on a couch next to a chair" -> "a dog on a chair next to a couch"
        return swapped
    for make in (*changes[1:], lambda rel: empty_container(gen, parsed, rel)):  # "a bowl without fruit" last
        out = next((out for rel in ordered if (out := make(rel)) is not None), None)
        if out is not None:
            return out
    return None


@register_negative_type("adj_swap")
def adj_swap(gen: NegativeGenerator, parsed: Parsed, rng: random.Random) -> str | None:
    """Swap two different adjectives of different noun phrases, when each suits its new noun (two colours, two
    sizes, or pairs seen in captions); never between two phrases that say the same ("a red cat and a black cat",
    "a big elephant next to a small elephant")."""
    roles: Roles = parsed.roles
    content = set(parsed.content(ADJ_TAGS, NON_CONTENT_ADJS))
    owner = {a: k for k, u in enumerate(roles.units) for a in u.adjs if a in content}
    adjs = sorted(owner)
    low = [w.lower() for w in parsed.words]

    def paraphrase(ka: int, kb: int) -> bool:
        ua, ub = roles.units[ka], roles.units[kb]
        if ua.lemma != ub.lemma:
            return False
        if all(parsed.tags[j] in COORDINATION or j in owner for j in range(ua.head + 1, ub.start)):
            return True
        return any(_symmetric(parsed, r) for r in roles.relations if {r.figure, r.ground} == {ka, kb})

    def suits(adj: str, noun: str) -> bool:
        """``adj`` can describe ``noun``: seen with it or its class, or the corpus knows nothing of the noun."""
        cls = gen.lexclass(noun)
        if cls == "noun.person" and ATTRIBUTE_OF.get(adj) == "colour":
            return False
        if ATTRIBUTE_OF.get(adj) == "colour" and cls not in {"noun.artifact", "noun.shape", "noun.communication"}:
            return bool(gen.slots.count(f"a|noun|{noun}", adj))  # "a blue lush shore": natural things have theirs
        if ATTRIBUTE_OF.get(adj) in {"colour", "size"} and cls in CONCRETE | {"noun.shape"}:
            return True  # any thing can be red or small
        return bool(gen.slots.count(f"a|noun|{noun}", adj) or gen.slots.count(f"a|class|{cls}", adj)
                    or not gen.slots.count("u|n", noun))

    def clashes(adj: str, unit: NounUnit, leaving: int) -> bool:
        """The adjective moving in gives an attribute another adjective of the phrase gives ("large small")."""
        attribute = gen.candidates.attribute(adj)
        return attribute not in {None, "colour"} and any(gen.candidates.attribute(low[j]) == attribute
                                                         for j in unit.adjs if j != leaving)  # colours mix

    def fits(a: int, b: int) -> bool:
        wa, wb = low[a], low[b]
        na, nb = roles.units[owner[a]].lemma, roles.units[owner[b]].lemma
        if clashes(wa, roles.units[owner[b]], b) or clashes(wb, roles.units[owner[a]], a):
            return False  # "two large brown elephants ... a small elephant" -> never "two large small elephants"
        if not (suits(parsed.lemmas[a] or wa, nb) and suits(parsed.lemmas[b] or wb, na)):
            return False
        if ATTRIBUTE_OF.get(wa) is not None and ATTRIBUTE_OF.get(wa) == ATTRIBUTE_OF.get(wb):
            return True
        if (ATTRIBUTE_OF.get(wa) is None) != (ATTRIBUTE_OF.get(wb) is None):
            return False  # a colour for "parked": two kinds of attribute do not trade places
        return bool(gen.slots.count(f"a|noun|{nb}", parsed.lemmas[a] or wa)
                    and gen.slots.count(f"a|noun|{na}", parsed.lemmas[b] or wb))

    shaded = {a for a in adjs if a > 0 and low[a - 1] in _SHADES}  # "pale green": the shade belongs to the colour
    pairs = [(a, b) for i, a in enumerate(adjs) for b in adjs[i + 1:]
             if owner[a] != owner[b] and low[a] != low[b] and not paraphrase(owner[a], owner[b]) and fits(a, b)
             and not {a, b} & shaded]
    if not pairs:
        return None
    a, b = pairs[rng.randrange(len(pairs))]
    wa, wb = parsed.words[a], parsed.words[b]
    return render(parsed, {a: match_case(wa, wb.lower()), b: match_case(wb, wa.lower())})
