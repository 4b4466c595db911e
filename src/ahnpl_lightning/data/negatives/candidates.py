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

from ahnpl_lightning.data.negatives.lexicon.frequency import common_enough, zipf
from ahnpl_lightning.data.negatives.lexicon.inflection import pluralize
from ahnpl_lightning.data.negatives.roles import NounUnit, Relation, Roles, VerbSlot
from ahnpl_lightning.data.negatives.vocabulary import (
    ADJ_FAMILIES,
    ALPHA,
    ATTRIBUTE_OF,
    AUX_VERBS,
    NON_CONTENT_ADJS,
    NON_CONTENT_NOUNS,
    NOUN_FAMILIES,
    PERSON_GENDER_AGE,
    PERSON_ROLES,
    POSTURE_VERBS,
    SPATIAL_CONTRASTS,
    SPATIAL_GROUPS,
    SPATIAL_SOURCES,
    family_alternatives,
    near_synonyms,
)

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator

__all__ = ["Candidates"]

_SINGULAR_DETS = {"a", "an", "another", "one", "each", "every"}
_LIGHT_VERBS = AUX_VERBS | {"go", "come", "make", "take", "give", "show", "see", "appear", "seem", "use"}
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

    # --- nouns -----------------------------------------------------------------------------------------------------
    def _noun_keys(self, parsed_words: list[str], roles: Roles, k: int) -> tuple[list[str], list[str]]:
        """(primary, secondary) slot keys of unit ``k``: its governor and roles; the word after it, its adjectives."""
        unit = roles.units[k]
        low = [w.lower() for w in parsed_words]
        primary = [] if unit.gov in _VAGUE_GOVERNORS else [f"n|gov|{unit.gov}"]
        if unit.gov_index is not None and unit.gov_index > 0 and roles_verb_before(roles, unit.gov_index):
            primary.append(f"n|gov|{roles_verb_before(roles, unit.gov_index)} {unit.gov}")
        primary += [f"n|subj|{v.lemma}" for v in roles.verbs if v.subj == k]
        primary += [f"n|fig|{r.prep}" for r in roles.relations if r.figure == k and r.prep and r.prep != "of"]
        nxt = unit.head + 1
        secondary = [f"n|next|{low[nxt] if nxt < len(low) else '</s>'}"] + [f"n|adj|{low[a]}" for a in unit.adjs]
        return primary, secondary

    def nouns(self, parsed_words: list[str], roles: Roles, k: int, present: set[str]) -> list[str]:
        """Replacements for noun unit ``k`` (see ``_nouns``), without words of the caption; memoised per slot."""
        unit = roles.units[k]
        primary, secondary = self._noun_keys(parsed_words, roles, k)
        key = (unit.lemma, unit.tag, unit.det in _SINGULAR_DETS, unit.det is None, *primary, "|", *secondary)
        ranked = self._memo.get(key)
        if ranked is None:
            ranked = self._remember(key, self._nouns(parsed_words, roles, k, set()))
        return [w for w in ranked if w not in present][: self.gen.top_k]

    def _nouns(self, parsed_words: list[str], roles: Roles, k: int, present: set[str]) -> list[str]:
        """Replacements for noun unit ``k``, best first: nouns of its WordNet class that filled the same slots in
        other captions (its governor or role, and the word after it or its adjectives); else the original's
        curated family and WordNet co-hyponyms that the corpus uses; else, when the corpus does not know the
        original at all, those co-hyponyms as WordNet has them."""
        unit = roles.units[k]
        lemma, cls = unit.lemma, self.gen.lexclass(unit.lemma)
        family = family_alternatives(lemma, NOUN_FAMILIES)
        if not cls or cls == "noun.Tops" and not family:
            return []
        person = cls == "noun.person"
        people: frozenset[str] = frozenset()
        if person:
            group = next((g for g in (PERSON_GENDER_AGE, PERSON_ROLES) if lemma in g or lemma.split("_")[-1] in g),
                         None)
            if group is None:
                return []  # "a person", "people": any replacement might still be true
            people = group
        primary, secondary = self._noun_keys(parsed_words, roles, k)
        informative = [key for key in secondary if self.slots.get(key)]
        scores: dict[str, float] = {}
        for key in primary:
            for word, count in self._evidence(key):
                if word not in present and self.gen.lexclass(word) == cls:
                    scores[word] = scores.get(word, 0.0) + 2 * _log(count)
        context = {}
        for word, score in scores.items():
            support = sum(self.slots.count(key, word) > 0 for key in informative)
            if not (support or not informative):
                continue
            kin = self.relatives.kin(lemma, word) if cls in _BROAD_CLASSES else 0
            if kin > _ARTIFACT_KIN:
                continue  # "artifact" spans helmets and walls: slot evidence must come with WordNet kinship
            context[word] = score + sum(_log(self.slots.count(key, word)) for key in informative) - 0.5 * kin
        tiers = [context]
        kin = [w for w in (*family, *self.gen.alternatives.get(lemma, "n")) if w not in present]
        supported = [w for w in kin if not informative or any(self.slots.count(key, w) for key in
                                                                 (*informative, *primary))]
        tiers.append({w: 0.5 * (w in family) + _log(self.slots.count("u|n", w)) for w in supported
                      if self.slots.count("u|n", w) > 0})
        tiers.append({w: 0.5 * (w in family) + _log(self.slots.count("u|n", w)) for w in kin
                      if self.slots.count("u|n", w) > 0})  # kin the corpus uses, in slots it has not shown
        if person:
            tiers.append({w: _log(n) for w, n in self.slots.get("u|n").items() if w in people and w not in present})
        else:  # nouns the corpus uses that WordNet puts close to the original ("figurine" -> "statue")
            tiers.append({w: s for w, s in self._near_kin(lemma, cls).items() if w not in present})
        if self.slots.count("u|n", lemma) == 0:
            tiers.append({w: 0.5 * (w in family) for w in kin})
        bare = unit.tag == "NN" and unit.det is None
        mass = bare and self._mass(lemma)
        for tier in tiers:
            out = {}
            for word, score in tier.items():
                if person and word not in people or not self._allowed(lemma, word, "n"):
                    continue
                if bare and not (self._mass(word) or not mass and self.slots.count("n|bare", word) >= 2) and (
                        word not in family):
                    continue  # "eating grass" -> not "eating sandwich", "of clothing" -> not "of window"
                if (unit.det in _SINGULAR_DETS or unit.tag == "NNS") and self._mass(word):
                    continue  # "a plate" -> not "a water", "blue shorts" -> not "blue furnitures"
                out[word] = score
            if out:
                return self._ranked(out, self.gen.top_k + 8)
        return []

    def _near_kin(self, lemma: str, cls: str) -> dict[str, float]:
        """Corpus nouns of ``lemma``'s class within hypernym distance 4 of it, closest first; memoised."""
        key = f"kin|{lemma}"
        hit = self._top.get(key)
        if hit is None:
            near = [(w, self.relatives.kin(lemma, w)) for w, n in self.slots.get("u|n").items()
                    if n >= 2 and w != lemma and self.gen.lexclass(w) == cls]
            hit = self._top[key] = [(w, 10 - d) for w, d in near if d <= 4]
        return dict(hit)

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
        value that clashes with another adjective of the same phrase ("a tall tiny tower"). WordNet-only values need
        that evidence; family values do without when the corpus has none for the noun."""
        family = family_alternatives(adj, ADJ_FAMILIES)
        wordnet = [w for w in self.gen.alternatives.get(adj, "a") if w not in family]
        taken = {ATTRIBUTE_OF.get(o) for o in others} - {None}
        noun = unit.lemma if unit is not None else None
        cls = self.gen.lexclass(noun) if noun else ""
        if cls == "noun.person" and ATTRIBUTE_OF.get(adj) == "colour":
            return []  # "a black woman": skin colour is not a caption attribute to flip

        def evidence(word: str) -> float:
            if not noun:
                return 0.0
            return 2 * _log(self.slots.count(f"a|noun|{noun}", word)) + _log(self.slots.count(f"a|class|{cls}", word))

        def usable(word: str) -> bool:
            return word not in present and ATTRIBUTE_OF.get(word) not in taken and self._allowed(adj, word, "a")

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

    # --- verbs -----------------------------------------------------------------------------------------------------
    def verbs(self, slot: VerbSlot, roles: Roles, present: set[str]) -> list[str]:
        """Replacements for a verb (see ``_verbs``), without words of the caption; memoised per slot."""
        subj = roles.units[slot.subj].lemma if slot.subj is not None else None
        obj = roles.units[slot.obj].lemma if slot.obj is not None else None
        ground = roles.units[slot.ground].lemma if slot.ground is not None else None
        key = ("v", slot.lemma, slot.tag == "VBN", subj, obj, slot.prep, ground)
        ranked = self._memo.get(key)
        if ranked is None:
            ranked = self._remember(key, self._verbs(slot, roles, set(), self.gen.top_k + 8))
        return [w for w in ranked if w not in present][: self.gen.top_k]

    def _verbs(self, slot: VerbSlot, roles: Roles, present: set[str], top: int) -> list[str]:
        """Replacements for a verb: verbs seen taking the same object (or, for the original's curated family and
        WordNet relatives, an object of its class), used by the same subject, with the same preposition; a transitive
        use needs a verb seen with that object ("drinking a sandwich" never comes out)."""
        subj = roles.units[slot.subj].lemma if slot.subj is not None else None
        obj = roles.units[slot.obj].lemma if slot.obj is not None else None
        subj_cls = self.gen.lexclass(subj) if subj else ""
        obj_cls = self.gen.lexclass(obj) if obj else ""
        kin = set(self.gen.alternatives.get(slot.lemma, "v"))
        keys: list[tuple[str, float]] = []
        if obj:
            keys += [(f"v|obj|{obj}", 2.0), (f"v|objc|{obj_cls}", 0.5)]
        if subj:
            keys += [(f"v|subj|{subj}", 1.0), (f"v|subjc|{subj_cls}", 0.5)]
        if slot.prep:
            keys.append((f"v|prep|{slot.prep}", 1.0))
        scores: dict[str, float] = {w: 0.0 for w in kin}
        for key, weight in keys:
            for word, count in self._evidence(key):
                scores[word] = scores.get(word, 0.0) + weight * _log(count)
        out = {}
        for word, score in scores.items():
            if word in present or not self._allowed(slot.lemma, word, "v"):
                continue
            count = self.slots.count
            if obj and not (count(f"v|obj|{obj}", word) or self._took_kin_of(word, obj)):
                continue  # seen with this object or its kind ("holding a cap" -> "holding a hat"), not its class
            passive = "p" if slot.tag == "VBN" else ""
            if not obj and not (count(f"v|{passive}prep|{slot.prep}", word) if slot.prep
                                else count(f"v|{passive}intrans", word)):
                continue
            if not obj and slot.prep and slot.ground is not None and not self._vp_fits(
                    word, slot.prep, roles.units[slot.ground].lemma):
                continue  # "looking at a cellphone" -> not "standing at a cellphone"
            strong_object = bool(obj and count(f"v|obj|{obj}", word))
            if subj and subj_cls not in {"noun.person", "noun.animal"} and (
                    slot.lemma in POSTURE_VERBS or word not in POSTURE_VERBS and not (
                        count(f"v|subj|{subj}", word) or strong_object)):
                continue  # a thing "sitting" or "lying" on a table says the same; it does not drive or fly
            if subj and not (count(f"v|subj|{subj}", word) or count(f"v|subjc|{subj_cls}", word) >= 2
                             or (word in kin or strong_object) and count(f"v|subjc|{subj_cls}", word)):
                continue
            out[word] = score
        return self._ranked(out, top)

    def _took_kin_of(self, verb: str, obj: str) -> bool:
        """Whether ``verb`` has taken an object of the same kind as ``obj`` (its curated family or WordNet
        co-hyponym: "holding a cap" makes "holding a hat" plausible)."""
        kin = set(self.gen.alternatives.get(obj, "n")) | set(family_alternatives(obj, NOUN_FAMILIES))
        return any(n in kin or self.relatives.kin(obj, n) <= 3 for n in self.slots.get(f"n|obj|{verb}"))

    def _vp_fits(self, verb: str, prep: str, ground: str) -> bool:
        """Whether ``verb prep`` has governed ``ground`` (or a noun of its class) in the corpus."""
        counter = self.slots.get(f"n|gov|{verb} {prep}")
        cls = self.gen.lexclass(ground)
        return ground in counter or any(self.gen.lexclass(n) == cls for n in counter)

    # --- relations -------------------------------------------------------------------------------------------------
    def prepositions(self, relation: Relation, roles: Roles, verb_lemma: str | None = None,
                     verb_tag: str | None = None) -> list[str]:
        """Relations that contradict ``relation``'s preposition ("on" -> "next to"), preferring those seen with its
        ground (and, after a verb, with that verb: "talking on a phone" never becomes "talking under a phone")."""
        if relation.prep is None or relation.prep not in SPATIAL_SOURCES:
            return []
        group = SPATIAL_GROUPS[SPATIAL_SOURCES[relation.prep]][0]
        ground = roles.units[relation.ground].lemma
        if group == "in" and any(self.relatives.is_kind_of(ground, kind) for kind in _WORN):
            return []  # "a man in a red shirt", "a racket in his hand": clothes and hands, not places
        unit = roles.units[relation.ground]
        counted = unit.det in _NUMBERS and unit.tag == "NNS"  # "with two windows" -> "without windows"
        if group == "with" and unit.det == "one":
            return []  # "without one bed" is not English
        if group in {"with", "without"} and (verb_tag == "VBN" or not counted and unit.det not in {
                None, "a", "an", "the", "some", "his", "her", "their", "its"}):
            return []  # "topped with" is the participle's complement; "without two pizzas" is not English
        options = SPATIAL_CONTRASTS.get(group, ())
        enclosure = False
        if group == "in":
            if ground in _IDIOMATIC_GROUNDS:
                return []  # "in the distance", "in the air"
            enclosure = any(self.relatives.is_kind_of(ground, kind) for kind in _ENCLOSURES) and not (
                self.relatives.is_kind_of(ground, "wheeled_vehicle") and ground not in _CABINS)  # not "in a bike"
            if not enclosure:
                options = ("next to", "behind")  # "in a field" -> "next to a field", never "outside a chair"
        cls = self.gen.lexclass(ground)
        concrete = cls in _CONCRETE | {"noun.location"} and ground not in _IDIOMATIC_GROUNDS
        count = self.slots.count
        ground_known = sum(self.slots.get(f"p|gnd|{ground}").values()) >= 3
        scores: dict[str, float] = {}
        for option in options:
            word, klass = count(f"p|gnd|{ground}", option), count(f"p|gndc|{cls}", option)
            universal = option in _UNIVERSAL_CONTRASTS or option == "next to" and concrete
            if group in {"at"} and verb_lemma is not None and verb_lemma not in POSTURE_VERBS:
                universal = False  # "looking at the camera" is not a place
            after_verb = verb_lemma is None or verb_lemma in POSTURE_VERBS or count(f"v|prep|{option}", verb_lemma)
            attested = (word > 0 if ground_known else klass > 0) and after_verb
            if not (universal or attested):
                continue
            # rank by how natural the relation is here: seen with this ground, its class, this verb, at all
            if option == "in" and not (any(self.relatives.is_kind_of(ground, kind) for kind in _ENCLOSURES) and not (
                    self.relatives.is_kind_of(ground, "wheeled_vehicle") and ground not in _CABINS)):
                continue  # "on a table" -> never "in a table"
            if group == "in" and option == "on" and not self._open_container(ground):
                continue  # "in a bowl" -> "on a bowl", but never "on a room" or "on a bus"
            scores[option] = self.naturalness(relation, roles, option, verb_lemma)
        if scores:
            return self._ranked(scores, 1)  # the most natural contradiction here: no easier for a text model
        if self.slots.count("u|n", ground) == 0:
            return list(options[:2])  # a ground the corpus does not know (the synthetic world's shapes)
        return []

    def _open_container(self, ground: str) -> bool:
        """A box, bowl or basket: something one can be in or on (not a room, a building or a vehicle)."""
        rel = self.relatives
        return rel.is_kind_of(ground, "container") and not any(
            rel.is_kind_of(ground, kind) for kind in ("wheeled_vehicle", "room", "building", "vessel"))

    def naturalness(self, relation: Relation, roles: Roles, prep: str, verb_lemma: str | None = None) -> float:
        """How usual ``prep`` is between this figure (or verb) and ground in the corpus: a log-count score, so that
        a relation can be changed into the one a text model finds as natural as the original."""
        count = self.slots.count
        ground, figure = roles.units[relation.ground].lemma, roles.units[relation.figure].lemma
        cls = self.gen.lexclass(ground)
        left = _log(count(f"v|prep|{prep}", verb_lemma)) if verb_lemma else 2 * _log(count(f"p|fig|{figure}", prep))
        return (2 * _log(count(f"p|gnd|{ground}", prep)) + _log(count(f"p|gndc|{cls}", prep)) + left
                + 0.5 * _log(count("u|p", prep)) - 2.0 * max(0, len(prep.split()) - len((relation.prep or "").split())))

    def swap_plausible(self, relation: Relation, roles: Roles, verb_lemma: str | None) -> bool:
        """Whether exchanging the figure and ground of ``relation`` gives a caption that could describe a picture:
        both of one WordNet class and interchangeable kinds (one curated family, or WordNet co-hyponyms); around a
        verb, both animate, each seen in the corpus doing / undergoing that verb or kin."""
        a, b = roles.units[relation.figure].lemma, roles.units[relation.ground].lemma
        if a == b:
            return False
        ca, cb = self.gen.lexclass(a), self.gen.lexclass(b)
        if not ca or ca != cb:
            return False
        kin = b in family_alternatives(a, NOUN_FAMILIES) or b in self.gen.alternatives.get(a, "n") or (
            a in self.gen.alternatives.get(b, "n"))
        if relation.prep is None:
            if ca not in {"noun.person", "noun.animal"} or verb_lemma is None:
                return False
            seen = self.slots.count(f"n|subj|{verb_lemma}", b) and self.slots.count(f"n|obj|{verb_lemma}", a)
            return bool(seen or kin)
        return bool(kin)


#: Governors that say nothing of what may follow ("with" a helmet, a dog or a view): not slot evidence.
_VAGUE_GOVERNORS = frozenset({"<s>", "with", "of", "and", "CC", ",", "for", "from", "like", "as", "NNP"})
#: Hypernym-tree distance within which two artifacts are kin enough to replace each other on one slot's evidence.
_ARTIFACT_KIN = 5
#: Classes too broad for slot evidence alone ("noun.artifact" holds plates and roads).
_BROAD_CLASSES = frozenset({"noun.artifact", "noun.object", "noun.location", "noun.food", "noun.plant",
                            "noun.substance"})
_NUMBERS = frozenset("two three four five six seven eight nine ten several many".split())
_CONCRETE = frozenset({"noun.artifact", "noun.animal", "noun.person", "noun.food", "noun.plant", "noun.object"})
_WORN = ("clothing", "covering", "fabric", "body_part", "footwear")
_CABINS = frozenset("car bus truck van taxi cab train trolley tram limousine jeep suv ambulance".split())
_ENCLOSURES = ("container", "room", "building", "enclosure", "vessel", "public_transport", "car", "train",
               "airplane", "truck")
_IDIOMATIC_GROUNDS = frozenset("distance air background foreground middle daytime dark sun rain snow water "
                               "mirror picture photo image view shape form line way fashion".split())
#: Contradictions that suit any ground: "behind a bus" is as plausible as "in front of a bus".
_UNIVERSAL_CONTRASTS = frozenset({"behind", "in front of", "to the left of", "to the right of", "far from",
                                  "away from", "without", "outside", "up", "down"})


def roles_verb_before(roles: Roles, index: int) -> str | None:
    """Lemma of the verb directly before token ``index`` (the verb of a verb + preposition slot), if any."""
    for slot in roles.verbs:
        if slot.index == index - 1:
            return slot.lemma
    return None
