"""Text hard negatives from POS tags and WordNet (REFERENCE.md sections 1 and 3), and `ahnpl negatives`.

Five types in the order of ``NEGATIVE_TYPES`` (the K axis everywhere): ``relation`` swaps two noun units
(subject and object), ``adj_swap`` swaps two adjectives of different noun phrases, ``adj``/``noun``/``verb`` replace
one word with a WordNet relative (co-hyponym, antonym or a curated attribute family: colours, sizes, materials,
shapes, postures...). ``relation_replace`` swaps a spatial preposition for a non-synonymous one. A type that cannot
apply is ``None``, never faked. Every choice comes from a ``random.Random`` seeded with a hash of
(version, seed, type, caption), so outputs are identical across processes and machines.
CE-CLIP used spaCy and a masked LM for these (REFERENCE.md section 3); we use nltk/WordNet and rules instead.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import random
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ahnpl_lightning.data.tagger import IRREGULAR_PLURALS, Lexicon, get_lexicon, get_tagger, tokenize
from ahnpl_lightning.data.wordnet_index import WordNetIndex, get_wordnet_index

__all__ = [
    "NEGATIVE_TYPES",
    "ALL_TYPES",
    "ORDER_PERTURBATIONS",
    "GENERATOR_VERSION",
    "NegativeGenerator",
    "WordNetAlternatives",
    "negative_mask",
    "pluralize",
    "inflect_verb",
    "article_for",
    "aro_pre_caption",
    "order_perturbations",
    "build_negatives_cache",
    "load_negatives_cache",
    "main",
]

NEGATIVE_TYPES: tuple[str, ...] = ("relation", "adj_swap", "adj", "noun", "verb")
ALL_TYPES: tuple[str, ...] = NEGATIVE_TYPES + ("relation_replace",)
ORDER_PERTURBATIONS: tuple[str, ...] = (
    "shuffle_nouns_and_adj", "shuffle_allbut_nouns_and_adj", "shuffle_within_trigrams", "shuffle_trigrams",
)
#: Bump when any output for a given (caption, seed) can change; stored in the cache's metadata.
GENERATOR_VERSION = "2"  # 2: no adjective swap between coordinated phrases with the same noun

# --- curated families ---------------------------------------------------------------------------------------------
# Each family is a tuple of groups; a replacement comes from another group of the same family (members of one
# group are near-synonyms, e.g. big/large, so they never replace each other).
_COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray|grey",
            "silver", "gold")
ADJ_FAMILIES: tuple[tuple[str, ...], ...] = (
    _COLOURS,
    ("big|large|huge|giant|enormous|massive", "small|little|tiny"),
    ("young", "old|elderly"),
    ("new|modern", "old|antique|vintage"),
    ("tall|high", "short|low"),
    ("long", "short"),
    ("hot|warm", "cold|cool"),
    ("wet", "dry"),
    ("clean", "dirty|messy"),
    ("full", "empty"),
    ("open", "closed|shut"),
    ("fast", "slow"),
    ("bright", "dark"),
    ("heavy", "light"),
    ("wide|broad", "narrow"),
    ("thick", "thin"),
    ("busy|crowded", "empty|deserted"),
    ("happy", "sad|unhappy", "angry"),
    ("wooden|wood", "metal|metallic", "plastic", "glass", "stone", "brick", "paper", "leather", "ceramic"),
    ("round|circular", "square", "rectangular", "triangular", "oval"),
    ("striped", "spotted|dotted", "checkered|plaid"),
    ("sunny", "cloudy", "rainy", "snowy"),
)
NOUN_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("man|guy|gentleman", "woman|lady", "boy", "girl", "baby|infant"),
    ("child|kid", "man", "woman", "baby"),
    ("circle", "square", "triangle", "star", "rectangle", "hexagon", "pentagon", "diamond", "heart", "oval",
     "cross", "cube", "sphere", "cylinder", "cone", "pyramid"),
    ("dog|puppy", "cat|kitten", "horse", "cow", "sheep", "bird", "bear", "elephant", "giraffe", "zebra", "goat",
     "pig", "duck"),
    ("car", "truck", "bus", "train", "motorcycle|motorbike", "bicycle|bike", "boat", "airplane|plane", "van"),
    ("apple", "banana", "orange", "pizza", "sandwich", "cake", "donut|doughnut", "carrot", "broccoli"),
)
VERB_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("sit", "stand", "lie", "kneel", "lean", "squat"),
    ("walk", "run", "jump", "climb", "swim", "fly", "crawl", "skate", "ski", "surf"),
    ("ride", "drive", "push", "pull", "carry"),
    ("eat", "drink", "bite", "lick", "smell"),
    ("hold", "carry", "throw", "catch", "drop", "lift", "kick", "hit", "touch", "grab"),
    ("look", "stare", "point"),
    ("watch", "ignore"),
    ("talk", "sing", "laugh", "smile", "yell", "cry"),
    ("open", "close"),
    ("enter", "leave"),
    ("wear", "remove"),
    ("cut", "wash", "cook", "bake"),
)
#: Spatial relations: each tuple is a synonym group; replacements come from other groups (first member).
SPATIAL_GROUPS: tuple[tuple[str, ...], ...] = (
    ("on", "on top of", "atop", "upon", "onto"),
    ("under", "underneath", "beneath", "below"),
    ("above", "over"),
    ("in", "inside", "within", "inside of", "into"),
    ("next to", "beside", "near", "alongside", "close to", "by"),
    ("behind", "in back of"),
    ("in front of",),
    ("to the left of", "left of"),
    ("to the right of", "right of"),
    ("outside", "outside of"),
    ("far from", "away from"),
)
_SPATIAL_SOURCES = {p: g for g, group in enumerate(SPATIAL_GROUPS) for p in group if p not in {"by", "onto", "into"}}
_SPATIAL_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _phrase in sorted(_SPATIAL_SOURCES, key=lambda p: (-len(p.split()), p)):
    _SPATIAL_BY_FIRST.setdefault(_phrase.split()[0], []).append(tuple(_phrase.split()))
_WEAK_SPATIAL = {"in", "within"}  # "a man in a red shirt": used only when no clearer relation exists

NON_CONTENT_NOUNS = frozenset(
    "top front back side bottom middle center centre left right edge background foreground picture image photo "
    "photograph view shot group couple pair bunch lot variety number kind type piece set row way area part "
    "something thing things someone one ones other others day time end".split()
)
NON_CONTENT_ADJS = frozenset(
    "many several few other various different same own such much more most next last first second third "
    "only single multiple close".split()
)
AUX_VERBS = frozenset("be have do get let can could may might must shall should will would".split())
_ALPHA = re.compile(r"^[a-z]+$")
_NP_TAGS = {"NN", "NNS"}
_ADJ_TAGS = {"JJ"}
_VERB_TAGS = {"VB", "VBP", "VBZ", "VBG", "VBD", "VBN"}


def _stable_seed(*parts: object) -> int:
    """A 64-bit seed from ``parts`` that is identical in every process (unlike ``hash``)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def _groups(family: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [tuple(group.split("|")) for group in family]


@functools.lru_cache(maxsize=65536)
def _family_alternatives(word: str, families: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """Members of other groups of every family containing ``word``, in family order, without duplicates."""
    out: list[str] = []
    for family in families:
        groups = _groups(family)
        own = [g for g in groups if word in g]
        if not own:
            continue
        for group in groups:
            if group is own[0] or word in group:
                continue
            for member in group:
                if member not in out and member != word:
                    out.append(member)
    return tuple(out)


# --- inflection ---------------------------------------------------------------------------------------------------
_O_ES = {"tomato", "potato", "hero", "echo", "volcano", "mosquito", "torpedo", "veto"}
_VERB_IRREGULAR: dict[str, tuple[str, str]] = {  # lemma -> (past, past participle)
    "sit": ("sat", "sat"), "stand": ("stood", "stood"), "run": ("ran", "run"), "ride": ("rode", "ridden"),
    "eat": ("ate", "eaten"), "drink": ("drank", "drunk"), "hold": ("held", "held"), "lie": ("lay", "lain"),
    "fly": ("flew", "flown"), "swim": ("swam", "swum"), "throw": ("threw", "thrown"), "catch": ("caught", "caught"),
    "hit": ("hit", "hit"), "take": ("took", "taken"), "give": ("gave", "given"), "make": ("made", "made"),
    "go": ("went", "gone"), "see": ("saw", "seen"), "wear": ("wore", "worn"), "hang": ("hung", "hung"),
    "lead": ("led", "led"), "feed": ("fed", "fed"), "fall": ("fell", "fallen"), "draw": ("drew", "drawn"),
    "drive": ("drove", "driven"), "break": ("broke", "broken"), "blow": ("blew", "blown"), "grow": ("grew", "grown"),
    "build": ("built", "built"), "bring": ("brought", "brought"), "buy": ("bought", "bought"), "cut": ("cut", "cut"),
    "put": ("put", "put"), "set": ("set", "set"), "lay": ("laid", "laid"), "leave": ("left", "left"),
    "sleep": ("slept", "slept"), "swing": ("swung", "swung"), "kneel": ("knelt", "knelt"), "bite": ("bit", "bitten"),
    "shake": ("shook", "shaken"), "slide": ("slid", "slid"), "light": ("lit", "lit"), "dig": ("dug", "dug"),
    "get": ("got", "gotten"), "spin": ("spun", "spun"), "sing": ("sang", "sung"), "shoot": ("shot", "shot"),
    "lean": ("leaned", "leaned"), "smell": ("smelled", "smelled"), "cry": ("cried", "cried"),
}


def pluralize(noun: str) -> str:
    """English plural of a singular noun (curated irregulars, then the regular spelling rules)."""
    if noun in IRREGULAR_PLURALS.values():
        return next(p for p, s in IRREGULAR_PLURALS.items() if s == noun)
    if noun.endswith("man") and len(noun) > 3 and noun not in {"human", "german", "shaman"}:
        return noun[:-3] + "men"
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun in _O_ES:
        return noun + "es"
    return noun + "s"


def _third_person(verb: str) -> str:
    if verb in {"have", "be", "do", "go"}:
        return {"have": "has", "be": "is", "do": "does", "go": "goes"}[verb]
    if verb.endswith(("s", "x", "z", "ch", "sh", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in ("a", "e", "i", "o", "u"):
        return verb[:-1] + "ies"
    return verb + "s"


def inflect_verb(lemma: str, tag: str, lexicon: Lexicon | None = None) -> str:
    """``lemma`` in the form of Penn tag ``tag`` (VB/VBP, VBZ, VBG, VBD, VBN); WordNet's verb.exc for the rest."""
    if tag in {"VB", "VBP"}:
        return lemma
    if tag == "VBZ":
        return _third_person(lemma)
    exceptions = _inverse_verb_exceptions(lexicon).get(lemma, ())
    if tag == "VBG":
        for form in exceptions:
            if form.endswith("ing"):
                return form
        if lemma.endswith("ie"):
            return lemma[:-2] + "ying"
        if lemma.endswith("e") and not lemma.endswith(("ee", "ye", "oe")) and len(lemma) > 2:
            return lemma[:-1] + "ing"
        return lemma + "ing"
    if lemma in _VERB_IRREGULAR:
        return _VERB_IRREGULAR[lemma][1 if tag == "VBN" else 0]
    past = [f for f in exceptions if not f.endswith(("ing", "s"))]
    if past:
        participles = [f for f in past if f.endswith("n")]
        return (participles or past)[0] if tag == "VBN" else ([f for f in past if f not in participles] or past)[0]
    if lemma.endswith("e"):
        return lemma + "d"
    if lemma.endswith("y") and lemma[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lemma[:-1] + "ied"
    return lemma + "ed"


_INVERSE_EXC: dict[int, dict[str, tuple[str, ...]]] = {}


def _inverse_verb_exceptions(lexicon: Lexicon | None) -> dict[str, tuple[str, ...]]:
    lex = lexicon or get_lexicon()
    hit = _INVERSE_EXC.get(id(lex))
    if hit is None:
        inverse: dict[str, list[str]] = {}
        for form, lemmas in sorted(lex.exceptions["v"].items()):
            for lemma in lemmas:
                inverse.setdefault(lemma, []).append(form)
        hit = _INVERSE_EXC[id(lex)] = {k: tuple(v) for k, v in inverse.items()}
    return hit


def article_for(word: str) -> str:
    """'a' or 'an' for the following ``word`` (by its first sound, with the common exceptions)."""
    w = word.lower()
    if w.startswith(("hour", "honest", "honor", "honour", "heir")):
        return "an"
    if w.startswith(("uni", "use", "usu", "uti", "ute", "eu", "one", "once", "ewe", "ur")):
        return "a"
    return "an" if w[:1] in set("aeiou") else "a"


def _match_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


# --- WordNet alternatives ------------------------------------------------------------------------------------------
class WordNetAlternatives:
    """Plausible, non-synonymous replacement lemmas per part of speech, most frequent first; cached per lemma.

    WordNet is read through ``WordNetIndex`` (dict look-ups on the database files) rather than nltk's reader,
    so a lemma's first look-up costs tens of microseconds, not milliseconds (issue 4); the answers are the same.
    """

    def __init__(self, wordnet: WordNetIndex | None = None, lexicon: Lexicon | None = None, top_k: int = 6) -> None:
        self.wordnet = wordnet or get_wordnet_index()
        self.lexicon = lexicon or get_lexicon()
        self.top_k = top_k
        self._cache: dict[tuple[str, str], tuple[str, ...]] = {}
        self._first_lexnames: dict[tuple[str, str], str] = {}
        self._names: dict[tuple[int, str], tuple[str, ...]] = {}

    def get(self, lemma: str, pos: str) -> tuple[str, ...]:
        """Alternatives for ``lemma`` with ``pos`` in n/v/a."""
        key = (lemma, pos)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = tuple(self._compute(lemma, pos))
        return hit

    def synonyms(self, lemma: str, pos: str) -> set[str]:
        """Every lemma sharing a synset with ``lemma`` in ``pos`` (adjective satellites included)."""
        out = {lemma}
        for sid in self.wordnet.synsets(lemma, pos):
            out.update(name.lower() for name in self.wordnet.synset(sid).names)
        return out

    def _usable(self, word: str, pos: str, banned: set[str]) -> bool:
        return word not in banned and self._plausible(word, pos)

    def _plausible(self, word: str, pos: str) -> bool:
        """A plain lower-case word of ``pos`` that can stand in a caption (the part of ``_usable`` not per lemma)."""
        return (bool(_ALPHA.match(word)) and len(word) > 2 and word in self.lexicon.words[pos]
                and word not in NON_CONTENT_NOUNS and word not in AUX_VERBS)

    def _first_lexname(self, word: str, pos: str) -> str:
        """Lexicographer file of the first sense of ``word`` ("" if WordNet lacks it)."""
        key = (word, pos)
        hit = self._first_lexnames.get(key)
        if hit is None:
            # an index lemma is its own first morphy form, so its first sense is its index line's first offset
            synsets = self.wordnet.lemma_synsets(word, pos) or self.wordnet.synsets(word, pos)
            hit = self._first_lexnames[key] = self.wordnet.lexname(synsets[0]) if synsets else ""
        return hit

    def _candidate_names(self, sid: int, pos: str) -> tuple[str, ...]:
        """Names of synset ``sid`` that are plausible words whose own main sense is of the synset's kind
        (drops "type" under "woman"); memoised per synset, as siblings and cousins recur across lemmas."""
        key = (sid, pos)
        hit = self._names.get(key)
        if hit is None:
            lexname = self.wordnet.lexname(sid)
            hit = self._names[key] = tuple(n for n in self.wordnet.names(sid) if self._plausible(n, pos)
                                           and self._first_lexname(n, pos) == lexname)
        return hit

    def _rank(self, words: Iterable[str], pos: str) -> list[str]:
        scored = sorted(set(words), key=lambda w: (-self.lexicon.count(w, pos), w))
        frequent = [w for w in scored if self.lexicon.count(w, pos) > 0]
        return (frequent or scored)[: self.top_k]

    def _compute(self, lemma: str, pos: str) -> list[str]:
        banned = self.synonyms(lemma, pos)
        if pos == "a":
            curated = _family_alternatives(lemma, ADJ_FAMILIES)
            if curated:
                return [w for w in curated if w not in banned]
            return self._rank(self._adjective_candidates(lemma, banned), "a")
        if pos == "n":
            curated = _family_alternatives(lemma, NOUN_FAMILIES)
            if curated:
                return [w for w in curated if w not in banned]
            return self._rank(self._cohyponyms(lemma, "n", banned), "n")
        curated = _family_alternatives(lemma, VERB_FAMILIES)
        if curated:
            return [w for w in curated if w not in banned and w in self.lexicon.words["v"]]
        return self._rank(self._cohyponyms(lemma, "v", banned), "v")

    def _adjective_candidates(self, lemma: str, banned: set[str]) -> list[str]:
        """Antonyms of the adjective (via the head of a satellite's cluster) and same-attribute values."""
        wn = self.wordnet
        out: list[str] = []
        for sid in wn.synsets(lemma, "a")[:3]:
            heads = [sid] if wn.synset(sid).pos == "a" else wn.related(sid, "&")
            for head in heads:
                for name in wn.synset(head).names:
                    out.extend(wn.lemma_related(head, name, "!"))
                for attribute in wn.related(head, "="):
                    out.extend(n for value in wn.related(attribute, "=") for n in wn.synset(value).names)
        return [w.lower() for w in out if self._usable(w.lower(), "a", banned)]

    def _cohyponyms(self, lemma: str, pos: str, banned: set[str]) -> list[str]:
        """Siblings under the first sense's hypernyms (then cousins), same lexicographer file, not relatives."""
        wn = self.wordnet
        synsets = wn.synsets(lemma, pos)
        if not synsets:
            return []
        sense = synsets[0]
        ancestors = wn.closure(sense, ("@", "@i"))
        parents = wn.related(sense, "@", "@i")
        candidates = [c for p in parents for c in wn.related(p, "~", "~i") if c != sense]
        words = self._words_of(candidates, sense, ancestors, pos, banned)
        if len(words) < self.top_k:
            cousins = [c for p in parents for g in wn.related(p, "@") for u in wn.related(g, "~") if u not in parents
                       for c in wn.related(u, "~")]
            words += [w for w in self._words_of(cousins, sense, ancestors, pos, banned) if w not in words]
        if pos == "v":
            for name in wn.synset(sense).names:
                words += [a for a in wn.lemma_related(sense, name, "!") if self._usable(a, "v", banned)]
        return words

    def _words_of(self, candidates: list[int], sense: int, ancestors: frozenset[int], pos: str,
                  banned: set[str]) -> list[str]:
        """Usable names of ``candidates`` of the sense's lexicographer file that are not its ancestors/descendants."""
        wn = self.wordnet
        lexname = wn.synset(sense).lexname
        out: list[str] = []
        seen = set(banned)
        for cand in candidates:
            names = self._candidate_names(cand, pos)
            if not names or cand in ancestors or wn.lexname(cand) != lexname or sense in wn.closure(cand, ("@",)):
                continue
            for name in names:
                if name not in seen:
                    seen.add(name)
                    out.append(name)
        return out


# Tags that may stand between two coordinated noun phrases ("a red cat, and the black cat").
_COORDINATION = frozenset({"CC", ",", "DT", "JJ", "CD", "PRP$"})


# --- the generator ------------------------------------------------------------------------------------------------
@dataclass
class _Parsed:
    """A tagged caption: tokens with spans, Penn tags and lemmas of content words."""

    text: str
    words: list[str]
    spans: list[tuple[int, int]]
    tags: list[str]
    lemmas: list[str | None]


class NegativeGenerator:
    """Deterministic text hard negatives of every type in ``ALL_TYPES`` for a caption.

    Args:
        seed: mixes into every random choice; same (caption, seed, GENERATOR_VERSION) -> same negatives.
        tagger: ``auto`` (nltk perceptron if installed, else the built-in tagger), ``nltk``, ``builtin``, or a
            callable words -> Penn tags.
        top_k: how many of the most frequent WordNet alternatives to sample a replacement from.
        lexicon, wordnet: the WordNet lexicon and index to use (default: the process-wide ones).
    """

    def __init__(self, seed: int = 0, tagger: str | Callable[[Sequence[str]], list[str]] = "auto", top_k: int = 6,
                 lexicon: Lexicon | None = None, wordnet: WordNetIndex | None = None) -> None:
        self.seed = seed
        self.lexicon = lexicon or get_lexicon()
        self.tagger_name = tagger if isinstance(tagger, str) else getattr(tagger, "__name__", "custom")
        self._tag = get_tagger(tagger) if isinstance(tagger, str) else tagger
        self.alternatives = WordNetAlternatives(wordnet=wordnet, lexicon=self.lexicon, top_k=top_k)
        self._lemmas: dict[tuple[str, str], str] = {}

    # parsing
    def parse(self, caption: str) -> _Parsed:
        """Tokenise, tag and lemmatise ``caption``."""
        tokens = tokenize(caption)
        words = [t.text for t in tokens]
        tags = list(self._tag(words)) if words else []
        lemmas: list[str | None] = []
        for word, tag in zip(words, tags):
            low = word.lower()
            pos = "n" if tag in _NP_TAGS else "v" if tag in _VERB_TAGS else "a" if tag in _ADJ_TAGS else None
            if pos is None:
                lemmas.append(None)
                continue
            lemma = self._lemmas.get((low, pos))
            if lemma is None:
                if pos == "n" and low in IRREGULAR_PLURALS:
                    lemma = IRREGULAR_PLURALS[low]
                else:
                    found = self.lexicon.lemmas(low, pos)
                    lemma = found[0] if found else low
                self._lemmas[(low, pos)] = lemma
            lemmas.append(lemma)
        return _Parsed(caption, words, [(t.start, t.end) for t in tokens], tags, lemmas)

    def _rng(self, kind: str, caption: str) -> random.Random:
        return random.Random(_stable_seed(GENERATOR_VERSION, self.seed, kind, caption))

    def generate(self, caption: str) -> dict[str, str | None]:
        """Negatives keyed by ``ALL_TYPES``; ``None`` where a type cannot apply to this caption."""
        if not isinstance(caption, str) or not caption.strip():
            return {kind: None for kind in ALL_TYPES}
        parsed = self.parse(caption)
        makers = {"relation": self._relation, "adj_swap": self._adj_swap, "adj": self._replace_adj,
                  "noun": self._replace_noun, "verb": self._replace_verb, "relation_replace": self._relation_replace}
        out: dict[str, str | None] = {}
        for kind in ALL_TYPES:
            negative = makers[kind](parsed, self._rng(kind, caption))
            out[kind] = negative if negative is not None and negative != caption else None
        return out

    def generate_many(self, captions: Iterable[str]) -> list[dict[str, str | None]]:
        """``generate`` over ``captions``."""
        return [self.generate(c) for c in captions]

    # editing helpers
    @staticmethod
    def _render(parsed: _Parsed, edits: dict[int, str]) -> str:
        """Apply token edits (index -> new text), fixing a/an before every edited token."""
        edits = dict(edits)
        for index in list(edits):
            prev = index - 1
            if prev >= 0 and prev not in edits and parsed.words[prev].lower() in {"a", "an"}:
                edits[prev] = _match_case(parsed.words[prev], article_for(edits[index]))
        text = parsed.text
        for index in sorted(edits, reverse=True):
            start, end = parsed.spans[index]
            text = text[:start] + edits[index] + text[end:]
        return text

    def _inflect_noun(self, lemma: str, tag: str) -> str:
        return pluralize(lemma) if tag == "NNS" else lemma

    def _content(self, parsed: _Parsed, tags: set[str], stop: frozenset[str]) -> list[int]:
        return [i for i, (t, lem) in enumerate(zip(parsed.tags, parsed.lemmas))
                if t in tags and lem is not None and _ALPHA.match(parsed.words[i].lower()) and lem not in stop
                and parsed.words[i].lower() not in stop]

    def _noun_units(self, parsed: _Parsed) -> list[list[int]]:
        """Maximal runs of content nouns (compounds such as 'tennis court' move as one unit)."""
        nouns = set(self._content(parsed, _NP_TAGS, NON_CONTENT_NOUNS))
        units: list[list[int]] = []
        for i in sorted(nouns):
            if units and units[-1][-1] == i - 1:
                units[-1].append(i)
            else:
                units.append([i])
        return units

    # the types
    def _relation(self, parsed: _Parsed, rng: random.Random) -> str | None:
        """Swap the first noun unit (the subject) with a later, different one; each slot keeps its number."""
        units = self._noun_units(parsed)
        if len(units) < 2:
            return None
        first = units[0]
        key = [parsed.lemmas[i] for i in first]
        partners = [u for u in units[1:] if [parsed.lemmas[i] for i in u] != key
                    and not all(parsed.tags[j] in _COORDINATION for j in range(first[-1] + 1, u[0]))]
        if not partners:
            return None
        # The subject's counterpart is the object: the first unit after a verb, else any later unit.
        objects = [u for u in partners if any(parsed.tags[j] in _VERB_TAGS for j in range(first[-1] + 1, u[0]))]
        other = objects[0] if objects else partners[rng.randrange(len(partners))]
        text = parsed.text
        pieces = {}
        for dst, src in ((first, other), (other, first)):
            head_tag = parsed.tags[dst[-1]]
            words = [parsed.words[i].lower() if i != src[0] or parsed.words[i][1:].islower() else parsed.words[i]
                     for i in src]
            words[-1] = self._inflect_noun(parsed.lemmas[src[-1]] or words[-1].lower(), head_tag)
            words[0] = _match_case(parsed.words[dst[0]], words[0].lower())
            pieces[dst[0]] = (parsed.spans[dst[0]][0], parsed.spans[dst[-1]][1], " ".join(words))
        for index in sorted(pieces, reverse=True):
            start, end, new = pieces[index]
            text = text[:start] + new + text[end:]
        return self._fix_articles(text)

    @staticmethod
    def _fix_articles(text: str) -> str:
        """Re-derive 'a'/'an' before every word (used after multi-token moves)."""
        def repl(m: re.Match[str]) -> str:
            return _match_case(m.group(1), article_for(m.group(3))) + m.group(2) + m.group(3)
        return re.sub(r"\b([Aa]n?)(\s+)([A-Za-z]+)", repl, text)

    def _adj_swap(self, parsed: _Parsed, rng: random.Random) -> str | None:
        """Swap two different adjectives that modify different noun phrases (a noun lies between them).

        Not between two coordinated phrases with the same noun: "a red cat and a black cat" -> "a black cat and a
        red cat" says the same thing."""
        adjs = self._content(parsed, _ADJ_TAGS, NON_CONTENT_ADJS)
        nouns = [i for i, t in enumerate(parsed.tags) if t in _NP_TAGS]

        def head(index: int) -> int | None:
            return next((n for n in nouns if n > index), None)

        def paraphrase(a: int, b: int) -> bool:
            ha, hb = head(a), head(b)
            if ha is None or hb is None or parsed.lemmas[ha] != parsed.lemmas[hb]:
                return False
            return all(parsed.tags[j] in _COORDINATION or j in adjs for j in range(ha + 1, b))

        pairs = [(a, b) for k, a in enumerate(adjs) for b in adjs[k + 1:]
                 if parsed.words[a].lower() != parsed.words[b].lower() and any(a < n < b for n in nouns)
                 and not paraphrase(a, b)]
        if not pairs:
            return None
        # Prefer two values of one attribute (colour <-> colour) so the result stays idiomatic.
        same = [(a, b) for a, b in pairs if _family_alternatives(parsed.words[a].lower(), ADJ_FAMILIES)
                and parsed.words[b].lower() in _family_alternatives(parsed.words[a].lower(), ADJ_FAMILIES)]
        pairs = same or pairs
        a, b = pairs[rng.randrange(len(pairs))]
        wa, wb = parsed.words[a], parsed.words[b]
        return self._render(parsed, {a: _match_case(wa, wb.lower()), b: _match_case(wb, wa.lower())})

    def _replace(self, parsed: _Parsed, rng: random.Random, tags: set[str], stop: frozenset[str], pos: str,
                 inflect: Callable[[str, str], str]) -> str | None:
        positions = self._content(parsed, tags, stop)
        rng.shuffle(positions)
        present = {lem for lem in parsed.lemmas if lem is not None}
        for index in positions:
            lemma = parsed.lemmas[index]
            assert lemma is not None
            # Prefer words not already in the caption ("shower, sink" -> not "shower, shower").
            options = self.alternatives.get(lemma, pos)
            options = tuple(o for o in options if o not in present) or options
            if options:
                choice = options[rng.randrange(len(options))]
                new = inflect(choice, parsed.tags[index])
                if new.lower() != parsed.words[index].lower():
                    return self._render(parsed, {index: _match_case(parsed.words[index], new)})
        return None

    def _replace_adj(self, parsed: _Parsed, rng: random.Random) -> str | None:
        """Replace one adjective by another value of its attribute family, or an antonym."""
        return self._replace(parsed, rng, _ADJ_TAGS, NON_CONTENT_ADJS, "a", lambda w, _t: w)

    def _replace_noun(self, parsed: _Parsed, rng: random.Random) -> str | None:
        """Replace one noun by a frequent co-hyponym (dog -> cat), keeping its number."""
        return self._replace(parsed, rng, _NP_TAGS, NON_CONTENT_NOUNS, "n", self._inflect_noun)

    def _replace_verb(self, parsed: _Parsed, rng: random.Random) -> str | None:
        """Replace one verb by a related verb (same family or troponym sibling), in the same inflection."""
        return self._replace(parsed, rng, _VERB_TAGS, AUX_VERBS, "v",
                             lambda w, t: inflect_verb(w, t, self.lexicon))

    def _relation_replace(self, parsed: _Parsed, rng: random.Random) -> str | None:
        """Replace a spatial preposition (single or multi-word) with one from another synonym group."""
        low = [w.lower() for w in parsed.words]
        matches: list[tuple[int, int, int]] = []  # (start token, length, group)
        taken: set[int] = set()
        for i, word in enumerate(low):
            for parts in _SPATIAL_BY_FIRST.get(word, ()):
                n = len(parts)
                if tuple(low[i:i + n]) != parts or taken.intersection(range(i, i + n)):
                    continue
                nxt = parsed.tags[i + n] if i + n < len(low) else "END"
                ground = next((low[j] for j in range(i + n, len(low)) if parsed.tags[j] in _NP_TAGS), None)
                if nxt in {"DT", "PRP$", "CD", "JJ", "NN", "NNS", "NNP", "PRP", "VBG", "VBN"} and (
                        ground not in NON_CONTENT_NOUNS):
                    matches.append((i, n, _SPATIAL_SOURCES[" ".join(parts)]))
                    taken.update(range(i, i + n))
                break
        if not matches:
            return None
        strong = [m for m in matches if " ".join(low[m[0]:m[0] + m[1]]) not in _WEAK_SPATIAL]
        pool = sorted(strong or matches)
        start, n, group = pool[rng.randrange(len(pool))]
        options = [g[0] for k, g in enumerate(SPATIAL_GROUPS) if k != group]
        new = options[rng.randrange(len(options))]
        first = parsed.words[start]
        text = parsed.text
        s, e = parsed.spans[start][0], parsed.spans[start + n - 1][1]
        return text[:s] + _match_case(first, new) + text[e:]


def negative_mask(negatives: dict[str, str | None], types: Sequence[str] = NEGATIVE_TYPES) -> list[bool]:
    """Which of ``types`` exist in a ``generate`` result (the m_ik of REFERENCE.md section 1)."""
    return [negatives.get(t) is not None for t in types]


# --- ARO order perturbations --------------------------------------------------------------------------------------
def aro_pre_caption(caption: str, max_words: int = 30) -> str:
    """ARO's ``pre_caption``: lower-case, ``.!"()*#:;~`` to spaces, squeeze spaces, strip, keep ``max_words``."""
    caption = re.sub(r"([.!\"()*#:;~])", " ", caption.lower())
    caption = re.sub(r"\s{2,}", " ", caption).rstrip("\n").strip(" ")
    words = caption.split(" ")
    return " ".join(words[:max_words]) if len(words) > max_words else caption


def _trigrams(tokens: list[str]) -> list[list[str]]:
    return [tokens[i:i + 3] for i in range(0, len(tokens), 3)]


def order_perturbations(caption: str, seed: int, tagger: str = "auto") -> list[str]:
    """The four COCO/Flickr-Order perturbations of ARO (REFERENCE.md section 4), in ``ORDER_PERTURBATIONS`` order.

    As in ARO's ``COCO_Order``: each perturbation is applied to the raw caption (nouns NN*/adjectives JJ* by our
    tagger in place of spaCy), then ``aro_pre_caption`` is applied. Randomness comes from (seed, caption) only.
    """
    rng = random.Random(_stable_seed("order", seed, caption))
    tokens = [t.text for t in tokenize(caption)]
    tags = get_tagger(tagger)(tokens) if tokens else []
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
    return [aro_pre_caption(" ".join(r)) for r in results]


# --- the cache ----------------------------------------------------------------------------------------------------
_WORKER: NegativeGenerator | None = None


def _worker_init(seed: int, tagger: str) -> None:
    global _WORKER
    _WORKER = NegativeGenerator(seed=seed, tagger=tagger)


def _worker_chunk(captions: list[str]) -> list[dict[str, str | None]]:
    assert _WORKER is not None
    return _WORKER.generate_many(captions)


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i:i + size])


def build_negatives_cache(records: Sequence[Any], output: str | Path, workers: int = 1, seed: int = 0,
                          tagger: str = "auto", progress: bool = True, chunk_size: int = 256,
                          extra_metadata: dict[str, str] | None = None) -> Path:
    """Generate negatives for ``records`` (``CaptionRecord``s or plain caption strings) into a Parquet file.

    One row per caption: ``image_id``, ``caption_id``, ``image_path``, ``location``, ``caption`` and one column
    per type in ``ALL_TYPES`` (null where invalid). The generator version and seed go in the Parquet metadata.
    The file is written to a temporary name and moved into place, so a failure never leaves a partial file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm import tqdm

    output = Path(output)
    captions = [r if isinstance(r, str) else r.caption for r in records]
    results: list[dict[str, str | None]] = []
    bar = tqdm(total=len(captions), desc="negatives", unit="caption", disable=not progress)
    try:
        if workers <= 1:
            generator = NegativeGenerator(seed=seed, tagger=tagger)
            for chunk in _chunks(captions, chunk_size):
                results.extend(generator.generate_many(chunk))
                bar.update(len(chunk))
        else:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(workers, initializer=_worker_init, initargs=(seed, tagger)) as pool:
                for chunk_result in pool.imap(_worker_chunk, _chunks(captions, chunk_size)):
                    results.extend(chunk_result)
                    bar.update(len(chunk_result))
    finally:
        bar.close()

    def field(name: str) -> list[str | None]:
        if records and isinstance(records[0], str):
            return [None] * len(captions)
        values = [getattr(r, name, None) for r in records]
        return [None if v is None else str(v) for v in values]

    columns: dict[str, list[Any]] = {
        "image_id": field("image_id"), "caption_id": field("caption_id"), "image_path": field("image_path"),
        "location": field("location"), "caption": captions,
    }
    for kind in ALL_TYPES:
        columns[kind] = [r[kind] for r in results]
    table = pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})
    metadata = {"ahnpl_negatives_version": GENERATOR_VERSION, "ahnpl_negatives_seed": str(seed),
                "ahnpl_negative_types": ",".join(ALL_TYPES), **(extra_metadata or {})}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **{k.encode(): v.encode()
                                                                               for k, v in metadata.items()}})
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return output


def load_negatives_cache(path: str | Path) -> Any:
    """Read a cache written by ``build_negatives_cache`` as a pandas DataFrame; ``df.attrs`` holds its metadata."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    frame = table.to_pandas()
    meta = table.schema.metadata or {}
    frame.attrs.update({k.decode(): v.decode() for k, v in meta.items() if k.decode().startswith("ahnpl_")})
    missing = [c for c in ("caption", *ALL_TYPES) if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not a negatives cache (missing columns {missing})")
    return frame


def main(argv: list[str] | None = None) -> int:
    """``ahnpl negatives INPUT --output OUT.parquet [--format ...] [--column NAME] [--workers N] [--seed S]``."""
    from ahnpl_lightning.data.formats import FORMATS, read_captions

    parser = argparse.ArgumentParser(prog="ahnpl negatives", description="Build a text hard-negative cache.")
    parser.add_argument("input", type=Path, help="caption annotations (COCO, Karpathy, BLIP, NegCLIP TSV, npy, ...)")
    parser.add_argument("--output", "-o", type=Path, required=True, help="Parquet file to write")
    parser.add_argument("--format", default="auto", choices=("auto", *FORMATS))
    parser.add_argument("--column", default=None, help="caption column for csv/tsv/jsonl input")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tagger", default="auto", choices=("auto", "nltk", "builtin"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    try:
        records, report = read_captions(args.input, fmt=args.format, column=args.column)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.summary(), file=sys.stderr)
    if not records:
        print(f"error: no usable captions in {args.input}", file=sys.stderr)
        return 1
    out = build_negatives_cache(records, args.output, workers=args.workers, seed=args.seed, tagger=args.tagger,
                                progress=not args.no_progress,
                                extra_metadata={"ahnpl_source": str(args.input), "ahnpl_format": report.format})
    frame = load_negatives_cache(out)
    coverage = ", ".join(f"{k} {frame[k].notna().mean():.1%}" for k in ALL_TYPES)
    print(f"wrote {len(frame)} rows to {out} (valid: {coverage})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
