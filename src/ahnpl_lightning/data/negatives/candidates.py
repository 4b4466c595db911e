"""Replacement candidates that fit their slot and are false of the image: the heart of the generator's quality.

Each candidate list is ranked by slot evidence (``slots.py``: how often the word filled this slot in other captions)
and filtered so that a replacement is never a WordNet relative of the original (synonym, hypernym, hyponym, verb
group, adjective cluster: ``lexicon/relatives.py``), never a curated or learned near-synonym, never rare (``wordfreq``
floor), never a word already in the caption, and of the same WordNet class as the original noun. The generator
samples one of the ``top_k`` best.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ahnpl_lightning.data.negatives.context import ContextFit
from ahnpl_lightning.data.negatives.lexicon.frequency import common_enough, zipf
from ahnpl_lightning.data.negatives.lexicon.inflection import pluralize
from ahnpl_lightning.data.negatives.parsing import Parsed
from ahnpl_lightning.data.negatives.roles import NounUnit, Relation, Roles, VerbSlot, verb_frame
from ahnpl_lightning.data.negatives.nouns import NounCandidates
from ahnpl_lightning.data.negatives.prepositions import RelationCandidates
from ahnpl_lightning.data.negatives.verbs import VerbCandidates
from ahnpl_lightning.data.negatives.vocabulary import (
    ADJ_FAMILIES,
    ALPHA,
    ATTRIBUTE_OF,
    AUX_VERBS,
    NON_CONTENT_ADJS,
    NON_CONTENT_NOUNS,
    VAGUE_VERBS,
    family_alternatives,
    near_synonyms,
)

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator

__all__ = ["Candidates"]

_SINGULAR_DETS = {"a", "an", "another", "one", "each", "every"}
_LIGHT_VERBS = AUX_VERBS | VAGUE_VERBS
_MEMO_SIZE = 200_000  # remembered candidate lists per generator
_PER_KEY = 60  # slot-evidence words considered per key (the most frequent)


def _log(count: int) -> float:
    return math.log1p(count)


class Candidates:
    """Ranked, filtered replacement lemmas for nouns, adjectives, verbs and relations of an analysed caption."""

    def __init__(self, generator: NegativeGenerator) -> None:
        self.gen = generator
        self.slots = generator.slots
        self.relatives = generator.relatives
        self._top: dict[str, list[tuple[str, int]]] = {}
        self._ok: dict[tuple[str, str, str], bool] = {}
        self._memo: dict[tuple[object, ...], list[str]] = {}
        self._attributes: dict[str, str | None] = {}
        self.verb_model = VerbCandidates(generator)
        self.fit = ContextFit(generator)
        self.relations = RelationCandidates(generator, self)
        self.noun_model = NounCandidates(generator, self)

    # --- shared ----------------------------------------------------------------------------------------------------
    def _evidence(self, key: str) -> list[tuple[str, int]]:
        """The most frequent fillers of slot ``key``."""
        hit = self._top.get(key)
        if hit is None:
            hit = self._top[key] = self.slots.get(key).most_common(_PER_KEY)
        return hit

    def _allowed(self, original: str, word: str, pos: str) -> bool:
        """``word`` may replace ``original``: a plain common word, no relative or near-synonym of it; memoised."""
        key = (original, word, pos)
        hit = self._ok.get(key)
        if hit is None:
            hit = self._ok[key] = self._compute_allowed(original, word, pos)
        return hit

    def _compute_allowed(self, original: str, word: str, pos: str) -> bool:
        if word == original or not ALPHA.match(word.replace("_", "")) or len(word) < 3:
            return False
        stop = {"n": NON_CONTENT_NOUNS, "a": NON_CONTENT_ADJS, "v": _LIGHT_VERBS}[pos]
        if word in stop or word in near_synonyms(original) or original in near_synonyms(word):
            return False
        if not (self.gen.lexicon.words.get("a" if pos == "a" else pos, set()) & {word} or "_" in word):
            return False
        attested = self.slots.count({"n": "u|n", "v": "u|v", "a": "u|a"}[pos], word) > 0 or (
            pos == "a" and self.slots.count("a|noun|" + original, word) > 0)
        if not common_enough(word, attested=attested or pos == "n" and self.slots.count("u|n", word) > 0):
            return False
        if self.slots.codescribed(original, word):
            return False
        return not self.relatives.related(original, word, pos)

    def _remember(self, key: tuple[object, ...], ranked: list[str]) -> list[str]:
        if len(self._memo) >= _MEMO_SIZE:  # bounded: a corpus of millions of slots must not fill the memory
            self._memo.clear()
        self._memo[key] = ranked
        return ranked

    @staticmethod
    def _ranked(scores: dict[str, float], top_k: int) -> list[str]:
        return [w for w, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]]

    # --- nouns (``nouns.NounCandidates``) ----------------------------------------------------------------------------
    def nouns(self, parsed_words: list[str], roles: Roles, k: int, present: set[str], strict: int = 0,
              parsed: Parsed | None = None, careful: bool = True) -> list[str]:
        """Replacements for noun unit ``k``, without words of the caption (see ``NounCandidates``); ``strict`` 1 or
        2: only those that fit the contexts of the unit (needs ``parsed``); ``careful``: with generator v7's checks."""
        return self.noun_model.candidates(parsed_words, roles, k, present, strict, parsed, careful)

    def _mass(self, word: str) -> bool:
        """A mass noun ("water", "furniture"): seen bare far more often than not, or its plural is far rarer in
        English than the word (wordfreq)."""
        bare, total = self.slots.count("n|bare", word), self.slots.count("u|n", word)
        if total >= 3 and bare >= 0.6 * total:
            return True
        return "_" not in word and zipf(pluralize(word)) < 2.0 <= zipf(word) - 1.0

    # --- adjectives ------------------------------------------------------------------------------------------------
    def adjectives(self, adj: str, unit: NounUnit | None, others: Iterable[str], present: set[str]) -> list[str]:
        """Replacements for adjective ``adj`` of ``unit``: other values of its attribute family, then WordNet
        antonyms and attribute values, each preferring values seen with the noun (or its class) in captions; never a
        value that clashes with another modifier of the same phrase ("a tall tiny tower", "a little jumbo jet"),
        contradicts the noun ("an elderly boy"), is a form of the original ("lit" -> "light"), or gives a natural
        thing a colour the corpus never saw on it ("a lush silver field", "white bananas"). WordNet-only values need
        that evidence; family values do without when the corpus has none for the noun."""
        family = family_alternatives(adj, ADJ_FAMILIES)
        wordnet = [w for w in self.gen.alternatives.get(adj, "a") if w not in family]
        others = list(others)
        taken = {self.attribute(o) for o in others} - {None}
        noun = unit.lemma if unit is not None else None
        cls = self.gen.lexclass(noun) if noun else ""
        if cls == "noun.person" and ATTRIBUTE_OF.get(adj) == "colour":
            return []  # "a black woman": skin colour is not a caption attribute to flip
        if noun and ATTRIBUTE_OF.get(adj) == "age" and self._young(noun):
            return []  # "a young boy" -> never "an elderly boy": the noun says its age
        natural = bool(noun) and cls not in {"noun.artifact", "noun.shape", "noun.communication", ""}

        def evidence(word: str) -> float:
            if not noun:
                return 0.0
            return 2 * _log(self.slots.count(f"a|noun|{noun}", word)) + _log(self.slots.count(f"a|class|{cls}", word))

        def usable(word: str) -> bool:
            if word in present or self.attribute(word) in taken or not self._allowed(adj, word, "a"):
                return False
            if word in self.gen.lexicon.lemmas(adj, "v") or adj in self.gen.lexicon.lemmas(word, "v"):
                return False  # "lit candles" -> "light candles"
            return not (natural and ATTRIBUTE_OF.get(word) == "colour" and not self.slots.count(f"a|noun|{noun}", word))

        scored_family = {w: evidence(w) for w in family if usable(w)}
        attested = {w: s for w, s in scored_family.items() if s > 0}
        if attested:
            return self._ranked(attested, self.gen.top_k)
        scored_wordnet = {w: evidence(w) for w in wordnet if usable(w)}
        attested = {w: s for w, s in scored_wordnet.items() if s > 0}
        if attested:
            return self._ranked(attested, self.gen.top_k)
        known = noun is not None and (self.slots.get(f"a|noun|{noun}") or self.slots.get(f"a|class|{cls}"))
        colours_or_sizes = {w: 0.0 for w in scored_family if ATTRIBUTE_OF.get(w) in {"colour", "size"}}
        return self._ranked(colours_or_sizes if known else scored_family, self.gen.top_k)

    def attribute(self, word: str) -> str | None:
        """The attribute an adjective (or a modifier such as "jumbo") gives: its curated family's, else WordNet's
        attribute of its similarity cluster ("jumbo" -> "size"); None when it has none."""
        hit = ATTRIBUTE_OF.get(word)
        if hit is not None or word in self._attributes:
            return hit or self._attributes[word]
        wn = self.relatives.wordnet
        found = None
        for sid in wn.synsets(word, "a")[:2]:
            heads = [sid] if wn.synset(sid).pos == "a" else list(wn.related(sid, "&"))
            names = [wn.synset(t).names[0].lower() for h in heads for t in wn.related(h, "=")]
            if names:
                found = {"color": "colour", "chromatic_color": "colour"}.get(names[0], names[0])
                break
        self._attributes[word] = found
        return found

    def _young(self, noun: str) -> bool:
        """Whether ``noun`` names the young ("boy", "kid", "puppy", "cub"): a kind of juvenile or young animal, or
        defined as young in WordNet."""
        rel = self.relatives
        if any(rel.is_kind_of(noun, kind) for kind in ("juvenile", "young", "offspring")):
            return True
        synsets = rel.synsets(noun, "n")
        gloss = rel.wordnet.gloss(synsets[0]).split(";")[0] if synsets else ""
        return any(w in gloss.split() for w in ("young", "youthful", "juvenile", "infant"))

    # --- verbs -----------------------------------------------------------------------------------------------------
    def verbs(self, parsed: Parsed, slot: VerbSlot, present: set[str], strict: bool = True) -> list[str]:
        """Replacements for the verb of ``slot`` (``verbs.VerbCandidates``), without words of the caption; none when
        the slot is not surely a verb; memoised per frame."""
        roles = parsed.roles
        if not self.verb_model.eligible(parsed, slot):
            return []
        subj = roles.units[slot.subj] if slot.subj is not None else None
        objects = tuple(roles.units[k].lemma for k in self.verb_model.objects(slot, roles))
        ground = roles.units[slot.ground].lemma if slot.ground is not None else None
        key = ("v", slot.lemma, verb_frame(parsed, slot.index), objects, subj.lemma if subj else None,
               self.verb_model._subject_class(parsed, subj), slot.prep, ground, strict)
        ranked = self._memo.get(key)
        if ranked is None:
            ranked = self._remember(key, self.verb_model.candidates(parsed, slot, self.gen.top_k + 8, strict))
        return [w for w in ranked if w not in present][: self.gen.top_k]

    # --- relations (``prepositions.RelationCandidates``) -------------------------------------------------------------
    def prepositions(self, parsed: Parsed, relation: Relation, verb_lemma: str | None = None,
                     verb_tag: str | None = None) -> list[str]:
        """The relation that best contradicts ``relation``'s preposition, or none (see ``RelationCandidates``)."""
        return self.relations.prepositions(parsed, relation, verb_lemma, verb_tag)

    def naturalness(self, relation: Relation, roles: Roles, prep: str, verb_lemma: str | None = None,
                    parsed: Parsed | None = None) -> float:
        """How usual ``prep`` is between this figure (or verb) and ground (see ``RelationCandidates``)."""
        return self.relations.naturalness(relation, roles, prep, verb_lemma, parsed)

    def swap_plausible(self, relation: Relation, roles: Roles, verb_lemma: str | None) -> bool:
        """Whether exchanging the figure and ground of ``relation`` makes sense (see ``RelationCandidates``)."""
        return self.relations.swap_plausible(relation, roles, verb_lemma)
