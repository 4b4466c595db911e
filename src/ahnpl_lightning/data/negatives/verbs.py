"""Verb replacements a careful reader accepts: only for a word that is surely a verb, and only by a verb that fits
the whole frame (what follows it, its subject, every object, the place it is done) and contradicts the original.

Which slots (``VerbCandidates.eligible``): a finite verb or a gerund, not a participle ("a horse drawn trolly", "is
shown on"), not a modifier ("a shelving unit"), not a noun the tagger took for a verb ("a street signs and board"),
not an intention ("preparing to throw", "about to run"). Which replacements (``VerbCandidates.candidates``): seen in
the corpus followed by the same words ("looking at" -> not "sleeping at"), with the same subject or a close kin ("a
sheep flying"), taking every object or a close kin ("eating snowboards", "holding a board and shoes"), governing the
place ("walking on a suitcase"), a visible action and no vague one ("placed", "enjoying"), not defined by the original
("surf": "ride the waves"), and a real contrast: a posture changes into a posture or a motion ("standing" ->
"waiting" is still true). Uncertain candidates are dropped: the verb type has no coverage target.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from ahnpl_lightning.data.negatives.lexicon.relatives import CONCRETE
from ahnpl_lightning.data.negatives.parsing import Parsed
from ahnpl_lightning.data.negatives.roles import Roles, VerbSlot, verb_frame
from ahnpl_lightning.data.negatives.vocabulary import (
    ATTRIBUTE_OF,
    AUX_VERBS,
    POSTURE_VERBS,
    VAGUE_VERBS,
    VERB_FAMILIES,
    family_alternatives,
    near_synonyms,
)

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator

__all__ = ["VerbCandidates", "POSTURES", "VISIBLE_LEXNAMES"]

#: Postures: mutually exclusive for people and mammals ("sitting" vs "standing"), compatible with most activities.
POSTURES = frozenset("sit stand lie kneel squat lean perch crouch".split())
#: WordNet verb classes a picture can show (not emotion, cognition, possession, social, stative...).
VISIBLE_LEXNAMES = frozenset({"verb.motion", "verb.contact", "verb.consumption", "verb.body", "verb.competition",
                              "verb.perception", "verb.creation", "verb.weather", "verb.change"})
#: Modifiers that make an animal or a person a thing ("an inflatable whale", "a stuffed bear").
_THING_MODIFIERS = frozenset("inflatable stuffed toy fake plastic wooden metal ceramic stone glass paper cardboard "
                             "porcelain model statue sculpture painted".split())
_ON_TOP = frozenset({"on", "on top of", "atop", "upon", "over"})  # "standing on a ball" is not "lying on a ball"
_IN = frozenset({"in", "inside", "into", "within"})  # "sitting in a chair" is not "standing in a chair"
_REPLACED_TAGS = frozenset({"VB", "VBP", "VBZ", "VBG"})
_PRENOMINAL = frozenset({"DT", "PRP$", "JJ", "JJR", "JJS", "CD", "POS"})
_LIGHT_VERBS = AUX_VERBS | VAGUE_VERBS
_WORD = re.compile(r"[a-z]+")


def _log(count: int) -> float:
    return math.log1p(count)


class VerbCandidates:
    """Eligible verb slots and their ranked replacements (see the module docstring)."""

    def __init__(self, generator: NegativeGenerator) -> None:
        self.gen = generator
        self.slots = generator.slots
        self.relatives = generator.relatives
        self._glosses: dict[str, frozenset[str]] = {}
        self._visible: dict[str, bool] = {}

    # --- which slots -----------------------------------------------------------------------------------------------
    def eligible(self, parsed: Parsed, slot: VerbSlot) -> bool:
        """Whether token ``slot.index`` is surely a verb whose change is a visible contradiction."""
        i, tags, low = slot.index, parsed.tags, [w.lower() for w in parsed.words]
        if tags[i] not in _REPLACED_TAGS or not _WORD.fullmatch(low[i]) or slot.lemma in _LIGHT_VERBS:
            return False  # "taking a swing", "uses his computer": the object carries the meaning
        prev = tags[i - 1] if i else "START"
        if prev == "TO" or i + 2 < len(low) and low[i + 1] == "to" and tags[i + 2] == "VB":
            return False  # "about to run", "preparing to throw": intentions, not what the picture shows
        if tags[i] == "VBG" and prev in _PRENOMINAL:
            return False  # "a shelving unit", "the running water"
        if prev in {"NN", "NNS", "NNP"} and self._noun_reading(low[i], tags[i] == "VBG"):
            return False  # "a street signs and board", "a stop lights attached"
        frame = verb_frame(parsed, i)
        if frame in {"CC", ","} or frame.startswith(("and|", "or|")):
            return False  # "cutting and preparing a pizza": the complement is elided
        objects = self.objects(slot, parsed.roles)
        if objects:
            after = parsed.roles.units[objects[-1]].head + 1
            if after < len(tags) and tags[after] == "VB":
                return False  # "helping a child stand": a causative frame
        return True

    def _noun_reading(self, word: str, gerund: bool) -> bool:
        """Whether ``word`` is at least half as often a noun as a verb (WordNet's sense-tagged counts; a gerund
        counts as a noun only as its own lemma: "wedding", not "riding")."""
        lexicon = self.gen.lexicon
        lemmas = [word] if gerund and word in lexicon.words["n"] else [] if gerund else lexicon.lemmas(word, "n")
        if not gerund and word in lexicon.words["n"] and word not in lemmas:
            lemmas.append(word)  # "pants"
        nouns = sum(lexicon.count(lemma, "n") for lemma in lemmas)
        verbs = sum(lexicon.count(lemma, "v") for lemma in lexicon.lemmas(word, "v"))
        return bool(lemmas) and 2 * nouns >= verbs

    @staticmethod
    def objects(slot: VerbSlot, roles: Roles) -> list[int]:
        """Every noun unit the verb takes as object ("holding a board and a pair of shoes": board, shoes)."""
        return [k for k, u in enumerate(roles.units) if u.gov_index == slot.index and u.gov_kind == "verb"]

    # --- which replacements ----------------------------------------------------------------------------------------
    def candidates(self, parsed: Parsed, slot: VerbSlot, top: int, strict: bool = True) -> list[str]:
        """Replacements for the verb of ``slot``, best first (see the module docstring). Not ``strict``: a contrast
        from the original's curated family ("riding" -> "pushing", "holding" -> "throwing") may stand in for corpus
        evidence of its object, its animal subject or its place, which the corpus may be too small to show."""
        roles = parsed.roles
        count = self.slots.count
        objects = [roles.units[k].lemma for k in self.objects(slot, roles)]
        subj_unit = roles.units[slot.subj] if slot.subj is not None else None
        subj = subj_unit.lemma if subj_unit is not None else None
        subj_cls = self._subject_class(parsed, subj_unit)
        ground = roles.units[slot.ground].lemma if slot.ground is not None and not objects else None
        frame = verb_frame(parsed, slot.index)
        nxt = slot.index + 1
        prepositional = " " in frame or nxt < len(parsed.tags) and parsed.tags[nxt] in {"IN", "TO"} and "|" not in frame
        kin = set(self.gen.alternatives.get(slot.lemma, "v"))
        keys: list[tuple[str, float]] = []
        for obj in objects[:1]:
            keys += [(f"v|obj|{obj}", 2.0), (f"v|objc|{self.gen.lexclass(obj)}", 0.5)]
        if subj:
            keys += [(f"v|subj|{subj}", 1.0), (f"v|subjc|{subj_cls}", 0.5)]
        if slot.prep:
            keys.append((f"v|prep|{slot.prep}", 1.0))
        keys.append((f"v|nx|{frame}", 0.5))
        scores: dict[str, float] = {w: 0.0 for w in kin}
        for key, weight in keys:
            for word, n in self.slots.get(key).most_common(60):
                scores[word] = scores.get(word, 0.0) + weight * _log(n)
        family = set() if strict else set(family_alternatives(slot.lemma, VERB_FAMILIES))
        out: dict[str, float] = {}
        for word, score in scores.items():
            word = "lie" if word == "lay" and not objects else word  # "laying on the bed" is "lying"
            if word in out or not self.allowed(slot.lemma, word, subj_cls):
                continue
            if not count(f"v|nx|{frame}", word):
                continue  # "holding next to", "sleeping at", "floating down on": not said that way
            contrast = word in family
            if not all(self._takes(word, obj) for obj in objects):
                continue  # "eating snowboards", "riding a snowboard and a pair of shoes"
            if not objects and frame == "NP":
                continue  # an object the analysis missed: "sitting some kind of banana"
            if subj and not (self._does(word, subj, subj_cls) or contrast and subj_cls in {"mammal", "noun.animal"}
                             and count("v|subjc|noun.animal", word) > 0):
                continue  # "a sheep flying", "a bathroom crossing"
            if prepositional and not ground and not (slot.lemma in POSTURES and word in POSTURES):
                continue  # a place the analysis could not find: nothing says the new verb suits it
            postures = slot.lemma in POSTURES and word in POSTURES
            if ground and slot.prep and not (postures and (
                    slot.prep not in _ON_TOP and not (slot.prep in _IN and self.gen.lexclass(ground) == "noun.artifact")
                    ) or self._governs(f"n|gov|{word} {slot.prep}", ground, 4 if postures else 2)):
                continue  # "walking on a suitcase", "looking in a chair"; one sits wherever one stands in or near
            out[word] = score
        return [w for w, _ in sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]

    def allowed(self, original: str, word: str, subj_cls: str) -> bool:
        """A visible, specific verb that contradicts ``original`` (see the module docstring)."""
        if word == original or word in _LIGHT_VERBS or not _WORD.fullmatch(word) or len(word) < 3:
            return False
        if word in near_synonyms(original) or original in near_synonyms(word) or not self._is_visible(word):
            return False
        if not self._mostly_verb(word):
            return False  # "whiting", "cabbing": words captions use as adjectives or nouns
        if word in self._gloss_words(original) or original in self._gloss_words(word):
            return False  # "surf" is "ride the waves": still true of a rider on a wave
        if original in POSTURES or word in POSTURES:
            movable = subj_cls in {"noun.person", "mammal", ""}
            other = word if original in POSTURES else original
            if not (other in POSTURES and movable or self._lexname(other) == "verb.motion"):
                return False  # "standing" -> "waiting", "a bird perching" -> "standing": both can be true
        return self.gen.candidates._allowed(original, word, "v")

    def _mostly_verb(self, word: str) -> bool:
        """Captions use ``word`` as a verb at least twice and at least a fifth as often as a noun or adjective."""
        count = self.slots.count
        verb = count("u|v", word)
        return verb >= 2 and 5 * verb >= count("u|n", word) + count("u|a", word)

    def _subject_class(self, parsed: Parsed, unit: object) -> str:
        """"noun.person", "mammal", another WordNet class, or "noun.artifact" for a thing made to look like an animal
        ("an inflatable whale"); "" without a subject."""
        if unit is None:
            return ""
        lemma = unit.lemma  # type: ignore[attr-defined]
        adjs = {parsed.words[a].lower() for a in unit.adjs}  # type: ignore[attr-defined]
        modifiers = adjs | {w.lower() for w in parsed.words[unit.start:unit.head]}  # type: ignore[attr-defined]
        cls = self.gen.lexclass(lemma)
        if cls in {"noun.person", "noun.animal"} and (modifiers & _THING_MODIFIERS or any(
                ATTRIBUTE_OF.get(m) == "material" for m in modifiers)):
            return "noun.artifact"
        if cls == "noun.animal" and self.relatives.is_kind_of(lemma, "mammal"):
            return "mammal"
        return cls

    def _does(self, verb: str, subj: str, subj_cls: str) -> bool:
        """``subj`` (or a close kin; for people, any person) was seen doing ``verb``; things do not change posture."""
        count = self.slots.count
        if subj_cls == "noun.person":
            return count("v|subjc|noun.person", verb) > 0
        if subj_cls not in {"mammal", "noun.animal"} and verb in POSTURE_VERBS:
            return False  # "a laptop sitting on a desk" says what "lying" says
        return self._kin_attested(f"n|subj|{verb}", subj)

    def _takes(self, verb: str, obj: str) -> bool:
        """``verb`` was seen taking ``obj`` or, for a thing one can see, a close kin of it as its object ("playing
        softball" vouches for no other verb of "softball")."""
        if self.slots.count(f"v|obj|{obj}", verb) > 0:
            return True
        return self.gen.lexclass(obj) in CONCRETE and self._kin_attested(f"n|obj|{verb}", obj)

    def _governs(self, key: str, ground: str, kin: int = 2) -> bool:
        """The verb + preposition of ``key`` governed ``ground`` or a kin of it within ``kin`` (wider for one
        posture changed into another: "sitting on a bench" -> "lying on a bench", seen "lying on a couch")."""
        if self._kin_attested(key, ground):
            return True
        if kin <= 2:
            return False
        cls, relatives = self.gen.lexclass(ground), self.relatives
        return any(self.gen.lexclass(other) == cls and relatives.kin(other, ground) <= kin
                   for other in self.slots.get(key))

    def _kin_attested(self, key: str, noun: str) -> bool:
        return self.gen.candidates.fit.attested(key, noun)

    def _lexname(self, verb: str) -> str:
        synsets = self.relatives.synsets(verb, "v")
        return self.relatives.wordnet.lexname(synsets[0]) if synsets else ""

    def _is_visible(self, verb: str) -> bool:
        hit = self._visible.get(verb)
        if hit is None:
            hit = self._visible[verb] = self._lexname(verb) in VISIBLE_LEXNAMES
        return hit

    def _gloss_words(self, verb: str) -> frozenset[str]:
        """Lemmas of the words defining the first sense of ``verb`` ("surf": ride, wave, sea, surfboard)."""
        hit = self._glosses.get(verb)
        if hit is None:
            synsets = self.relatives.synsets(verb, "v")
            text = self.relatives.wordnet.gloss(synsets[0]).split(";")[0] if synsets else ""
            lemma = self.gen.parse.lemma
            hit = self._glosses[verb] = frozenset(lemma(w, "v") for w in _WORD.findall(text.lower()))
        return hit
