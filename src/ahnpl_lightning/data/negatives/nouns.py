"""Noun replacements: nouns of the original's class seen in its slot in other captions, kept only when they suit
the rest of the caption too (``context.ContextFit``), are no vaguer than the original, and agree in number.

Which units: a noun that heads its phrase (not "baby" in "two baby gray elephants") and names something one can see,
a place or an activity. Which replacements: ``NounCandidates.candidates`` ranks nouns of the original's WordNet class
by slot evidence (governor, role, next word, adjectives), then the original's curated family and WordNet co-hyponyms,
never a relative, near-synonym or rare word (``Candidates._allowed``), never a much vaguer word ("sidewalk" ->
"surface", "shops" -> "buildings"). ``strict``: the replacement must also fit every context the unit is tied to:
its verb ("eating a _"), the verb and preposition governing it ("riding in the _"), each relation it is figure or
ground of ("boats in the _", "a _ of water"), the verbs it is subject of ("a _ preparing to throw a pitch"), its
selective adjectives ("a frosted _"), and the noun it modifies ("a table top"). The noun type takes a strict
replacement when any unit has one, else falls back to the others (noun coverage is kept).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ahnpl_lightning.data.negatives.context import KIN
from ahnpl_lightning.data.negatives.lexicon.relatives import CONCRETE
from ahnpl_lightning.data.negatives.parsing import Parsed
from ahnpl_lightning.data.negatives.roles import Roles
from ahnpl_lightning.data.negatives.vocabulary import (
    ATTRIBUTE_OF,
    NON_CONTENT_ADJS,
    NOUN_FAMILIES,
    PERSON_GENDER_AGE,
    PERSON_ROLES,
    family_alternatives,
)

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.candidates import Candidates
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator

__all__ = ["NounCandidates", "REPLACEABLE_CLASSES"]

#: Classes of nouns a replacement may change: things, places, pictures and signs, activities ("playing tennis").
REPLACEABLE_CLASSES = CONCRETE | {"noun.location", "noun.communication", "noun.act", "noun.shape", "noun.Tops"}
_SINGULAR_DETS = {"a", "an", "another", "one", "each", "every"}
#: Governors that say nothing of what may follow ("with" a helmet, a dog or a view): not slot evidence.
_VAGUE_GOVERNORS = frozenset({"<s>", "with", "of", "and", "CC", ",", "for", "from", "like", "as", "NNP"})
#: Hypernym-tree distance within which two artifacts are kin enough to replace each other on one slot's evidence.
_ARTIFACT_KIN = 5
#: Classes too broad for slot evidence alone ("noun.artifact" holds plates and roads).
_BROAD_CLASSES = frozenset({"noun.artifact", "noun.object", "noun.location", "noun.food", "noun.plant",
                            "noun.substance"})
#: Classes whose WordNet trees are deep taxonomies, not vagueness ("bird" has 871 kinds and is no vague word).
_TAXONOMIES = frozenset({"noun.animal", "noun.plant", "noun.person", "noun.food"})
_MEMO_SIZE = 200_000
_PER_KEY = 60
_PRONOUNS = frozenset({"he", "him", "his", "himself", "she", "her", "hers", "herself"})
#: The gender a person noun says, so that a replacement keeps the caption's pronouns true to it.
#: Things nearly every picture of a scene has (generator v6): "a toilet next to a wall", "a field with a fence",
#: "riding on a corner" stay true, so they never replace a noun.
BACKGROUND_NOUNS = frozenset("wall walls floor ground corner fence ceiling sky air".split())
#: The medium a vehicle moves in: a replacement keeps it ("an airplane flying" -> never "a boat flying", "a bus on a
#: freeway" -> never "a train on a freeway").
_MEDIA = (("aircraft",), ("vessel", "boat", "watercraft"), ("train", "railcar", "locomotive", "streetcar"),
          ("motor_vehicle", "bicycle", "motorcycle", "wheeled_vehicle", "bus", "skateboard"))
#: Near-synonym places (generator v7): a picture of one is often a picture of the other ("field" -> "park",
#: "shore" -> "slope"), so neither replaces the other. Checked for nouns only (other types keep their outputs).
_PLACE_NEAR_SYNONYMS = tuple(frozenset(group.split()) for group in (
    "field park ballpark pitch meadow pasture grass lawn yard ground grassland playground",
    "shore slope incline bank beach coast shoreline seashore waterfront sand",
    "street road avenue sidewalk highway freeway roadway lane intersection crosswalk pavement boulevard",
    "runway tarmac airstrip airfield airport", "ocean sea water lake river pond bay harbor",
    "snow slope ski_slope",
))
#: Ancestors that make a noun a place one stands, moves or lies on ("runway", "beach", "street"): a place is only
#: replaced by a place and a thing never by a place (generator v7: never "on the runway" -> "on the pole").
_PLACE_KINDS = ("location", "geological_formation", "body_of_water", "tract", "road")
#: Places whose WordNet trees say "artifact" or "substance" only ("runway", "tarmac", "sidewalk").
_PLACE_WORDS = frozenset("runway tarmac airstrip sidewalk pavement lane court patio driveway crosswalk track trail "
                         "path platform pier dock deck boardwalk parking_lot parking_area walkway ramp".split())
#: Nouns that measure or group what follows "of" ("a slice of pizza", "a field of grass"): changing them leaves an
#: absurd measure ("a drink of pizza", "a desert of grass"); the noun after "of" changes instead (generator v7).
_MEASURES = frozenset("slice slices piece pieces chunk bite half portion serving side stack pile bunch group herd "
                      "flock pack couple pair lot set row number variety field patch body".split())
#: Verbs whose object is eaten or drunk: the replacement is food too (never "eating his plate").
_CONSUMPTION = frozenset("eat eating eats ate drink drinking drinks drank bite biting chew chewing munch munching "
                         "nibble nibbling sip sipping taste tasting devour devouring lick licking".split())
#: Classes a replacement must share with the original even outside the slot evidence (the kin tiers).
_KEEP_CLASS = frozenset({"noun.food", "noun.animal", "noun.plant", "noun.location"})
_GENDER = {**dict.fromkeys("man boy guy gentleman father son brother grandfather groom dad husband".split(), "m"),
           **dict.fromkeys("woman girl lady mother daughter sister grandmother bride mom wife".split(), "f")}


def _log(count: int) -> float:
    return math.log1p(count)


class NounCandidates:
    """Ranked, filtered noun replacements for a unit of an analysed caption (see the module docstring)."""

    def __init__(self, generator: NegativeGenerator, candidates: Candidates) -> None:
        self.gen = generator
        self.slots = generator.slots
        self.relatives = generator.relatives
        self.shared = candidates
        self._memo: dict[tuple[object, ...], list[str]] = {}
        self._breadth: dict[str, int] = {}
        self._places: dict[str, bool] = {}

    # --- slots and contexts ----------------------------------------------------------------------------------------
    def keys(self, parsed_words: list[str], roles: Roles, k: int) -> tuple[list[str], list[str]]:
        """(primary, secondary) slot keys of unit ``k``: its governor and roles; the word after it, its adjectives."""
        unit = roles.units[k]
        low = [w.lower() for w in parsed_words]
        primary = [] if unit.gov in _VAGUE_GOVERNORS else [f"n|gov|{unit.gov}"]
        verb = _verb_before(roles, unit.gov_index) if unit.gov_index is not None and unit.gov_index > 0 else None
        if verb:
            primary.append(f"n|gov|{verb} {unit.gov}")
        primary += [f"n|subj|{v.lemma}" for v in roles.verbs if v.subj == k]
        primary += [f"n|fig|{r.prep}" for r in roles.relations if r.figure == k and r.prep and r.prep != "of"]
        nxt = unit.head + 1
        secondary = [f"n|next|{low[nxt] if nxt < len(low) else '</s>'}"] + [f"n|adj|{low[a]}" for a in unit.adjs]
        return primary, secondary

    def contexts(self, parsed: Parsed, k: int) -> list[str]:
        """The slot-model contexts unit ``k`` is tied to (see the module docstring)."""
        roles = parsed.roles
        unit = roles.units[k]
        out: list[str] = []
        if unit.gov_kind == "verb":
            out.append(f"n|gov|{unit.gov}")
        verb = _verb_before(roles, unit.gov_index) if unit.gov_index is not None and unit.gov_index > 0 else None
        if unit.gov_kind == "prep" and verb:
            out.append(f"n|gov|{verb} {unit.gov}")
        for rel in roles.relations:
            if rel.prep is None:
                continue
            if rel.figure == k:
                out.append(f"r|{rel.prep}|g|{roles.units[rel.ground].lemma}")
            elif rel.ground == k:
                out.append(f"r|{rel.prep}|f|{roles.units[rel.figure].lemma}")
        out += [f"n|subj|{v.lemma}" for v in roles.verbs if v.subj == k and parsed.tags[v.index] != "VBN"]
        low = [w.lower() for w in parsed.words]
        out += [f"n|adj|{low[a]}" for a in unit.adjs
                if low[a] not in ATTRIBUTE_OF and low[a] not in NON_CONTENT_ADJS and parsed.tags[a] != "CD"]
        return out

    def eligible(self, parsed: Parsed, k: int) -> bool:
        """Whether unit ``k`` heads its phrase (not "baby" in "two baby gray elephants", not "table" in "a table
        top" unless the corpus knows the compound) and names something a replacement may change."""
        unit = parsed.roles.units[k]
        tags = parsed.tags
        nxt = unit.head + 1
        if nxt + 1 < len(tags) and tags[nxt] == "JJ" and tags[nxt + 1] in {"NN", "NNS"}:
            return False  # a modifier of a later noun
        return self.gen.lexclass(unit.lemma) in REPLACEABLE_CLASSES

    # --- candidates ------------------------------------------------------------------------------------------------
    def candidates(self, parsed_words: list[str], roles: Roles, k: int, present: set[str], strict: int = 0,
                   parsed: Parsed | None = None, careful: bool = True) -> list[str]:
        """Replacements for unit ``k`` (see the module docstring), without words of ``present``; memoised.
        ``strict``: 2, fits every context (one the corpus knows only from this caption accepts close kin of the
        original: siblings); 1, the same with kin within 4 ("cat" for "dog"); 0, slot evidence and kinship to the
        original (within 4, or its curated family); -1, slot evidence alone. ``careful`` (generator v7): modifiers
        are kept, places stay places, food stays food, near-synonym places and adjectives a place loses are refused;
        ``careful=False`` is v6's choice, the noun type's last resort (noun coverage is kept)."""
        unit = roles.units[k]
        primary, secondary = self.keys(parsed_words, roles, k)
        contexts: tuple[str, ...] = ()
        follower = ""
        if parsed is not None:
            if strict > 0 and not self.eligible(parsed, k) or self._verbal(parsed.words[unit.head].lower()):
                return []
            if self.gen.lexclass(unit.lemma) == "noun.body":
                return []  # "brushing her teeth" -> "brushing her skulls": a body's parts are not swapped
            if careful and self._modifier(parsed, k):
                return []  # "stop lights" -> never "wave lights", "snow covered" -> never "rain covered" (v7)
            if self._furnished_room(parsed, k):
                return []  # "a bathroom with a sink and a toilet" -> never "a kitchen with a sink and a toilet"
            pronouns = {w.lower() for w in parsed.words} & _PRONOUNS
            contexts = tuple(self.contexts(parsed, k)) if strict > 0 else ()
            nxt = unit.head + 1
            if nxt < len(parsed.tags) and parsed.tags[nxt] in {"NN", "NNS"}:
                follower = parsed.words[nxt].lower()  # "a table top": the replacement must make a compound too
        else:
            pronouns = set()
        key = (unit.lemma, unit.tag, unit.det, *primary, "|", *secondary, "|", *contexts, follower, strict, careful)
        ranked = self._memo.get(key)
        if ranked is None:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            ranked = self._memo[key] = self._candidates(parsed_words, roles, k, contexts, follower, strict, careful)
        gender = _GENDER.get(unit.lemma.split("_")[-1])
        if gender and pronouns:  # "a man ... his eyes" -> not "a woman ... his eyes"
            ranked = [w for w in ranked if _GENDER.get(w.split("_")[-1], gender) == gender]
        return [w for w in ranked if w not in present][: self.gen.top_k]

    def _candidates(self, parsed_words: list[str], roles: Roles, k: int, contexts: tuple[str, ...], follower: str,
                    strict: int, careful: bool = True) -> list[str]:
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
        count = self.slots.count
        primary, secondary = self.keys(parsed_words, roles, k)
        informative = [key for key in secondary if self.slots.get(key)]
        scores: dict[str, float] = {}
        for key in primary:
            for word, n in self.slots.get(key).most_common(_PER_KEY):
                if self.gen.lexclass(word) == cls:
                    scores[word] = scores.get(word, 0.0) + 2 * _log(n)
        context = {}
        for word, score in scores.items():
            support = sum(count(key, word) > 0 for key in informative)
            if not (support or not informative):
                continue
            kin = self.relatives.kin(lemma, word) if cls in _BROAD_CLASSES else 0
            if kin > _ARTIFACT_KIN:
                continue  # "artifact" spans helmets and walls: slot evidence must come with WordNet kinship
            context[word] = score + sum(_log(count(key, word)) for key in informative) - 0.5 * kin
        tiers: list[dict[str, float] | None] = [context]
        if strict > 0:  # nouns of the class that filled the unit's own contexts ("grounds cups were on")
            fillers: dict[str, float] = {}
            for key in contexts:
                for word, n in self.slots.get(key).most_common(_PER_KEY):
                    if word != lemma and self.gen.lexclass(word) == cls:
                        fillers[word] = fillers.get(word, 0.0) + _log(n)
            tiers.append(fillers)
        kin_words = [*family, *self.gen.alternatives.get(lemma, "n")]
        supported = [w for w in kin_words if not informative or any(count(key, w) for key in (*informative, *primary))]
        tiers.append({w: 0.5 * (w in family) + _log(count("u|n", w)) for w in supported if count("u|n", w) > 0})
        tiers.append({w: 0.5 * (w in family) + _log(count("u|n", w)) for w in kin_words
                      if count("u|n", w) > 0})  # kin the corpus uses, in slots it has not shown
        if person:
            tiers.append({w: _log(n) for w, n in self.slots.get("u|n").items() if w in people})
        else:  # nouns the corpus uses that WordNet puts close to the original ("figurine" -> "statue"): computed
            tiers.append(None)  # only when the tiers before give nothing (it looks at every noun of the corpus)
        if count("u|n", lemma) == 0:
            tiers.append({w: 0.5 * (w in family) for w in kin_words})
        bare = unit.tag == "NN" and unit.det is None
        mass = bare and self.shared._mass(lemma)
        fit = self.shared.fit
        eaten = careful and unit.gov_kind == "verb" and unit.gov.lower() in _CONSUMPTION
        # a place keeps its adjectives true: "a grassy field" -> never "a grassy desert" (generator v7)
        place_adjs = [key for key in informative if key.startswith("n|adj|")] if careful and self._place(lemma) else []
        for tier in tiers:
            if tier is None:
                tier = self._near_kin(lemma, cls)
            out = {}
            for word, score in tier.items():
                if person and word not in people or not self.shared._allowed(lemma, word, "n") or self._verbal(word):
                    continue  # ("boarding" is a verb's form, not a thing)
                if word in BACKGROUND_NOUNS or self._other_medium(lemma, word) or self._other_scale(lemma, word):
                    continue  # "next to a wall" stays true; "a boat flying in the sky"; "the lid of a kitchen"
                if careful and (self._near_place(lemma, word) or self._place(lemma) != self._place(word)):
                    continue  # "field" -> "park" is still true; "runway" -> "pole" is absurd (v7)
                if not all(count(key, word) for key in place_adjs):
                    continue
                wcls = self.gen.lexclass(word)
                if careful and (eaten or cls in _KEEP_CLASS) and wcls != cls:
                    continue  # "eating his cake" -> never "eating his plate"; "a dish" -> never "a purse" (v7)
                if bare and not (self.shared._mass(word) or not mass and count("n|bare", word) >= 2) and (
                        word not in family):
                    continue  # "eating grass" -> not "eating sandwich", "of clothing" -> not "of window"
                if (unit.det in _SINGULAR_DETS or unit.tag == "NNS") and self.shared._mass(word):
                    continue  # "a plate" -> not "a water", "blue shorts" -> not "blue furnitures"
                if self._vaguer(word, lemma, cls):
                    continue  # "sidewalk" -> "surface", "shops" -> "buildings": still true
                if strict > 0 and follower and not count(f"n|next|{follower}", word):
                    continue  # "a table top" -> not "a line top"
                if strict > 0 and not fit.verdict(contexts, word, lemma, unknown_kin=KIN if strict > 1 else 4):
                    continue  # "eating a frosted plate", "boats in the soda", "a hair of water"
                if strict == 0 and not (word in family or person or self.relatives.kin(lemma, word) <= (
                        KIN if cls in _BROAD_CLASSES else 4)):
                    continue  # without context evidence, only kin of the original ("dog" -> "cat", "cup" -> "bowl")
                out[word] = score
            if out:
                return [w for w, _ in sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))[: self.gen.top_k + 8]]
        return []

    def _modifier(self, parsed: Parsed, k: int) -> bool:
        """Unit ``k`` modifies what follows (generator v7): a noun before a noun ("stop lights", "side salads"), a
        bare noun before a participle ("snow covered slope"), or a singular noun after a number ("a two layer cake")."""
        unit = parsed.roles.units[k]
        tags, low = parsed.tags, [w.lower() for w in parsed.words]
        nxt = unit.head + 1
        if nxt < len(tags) and tags[nxt] in {"NN", "NNS"}:
            return True
        if nxt < len(low) and low[nxt] == "of" and low[unit.head] in _MEASURES:
            return True
        if unit.det is None and not unit.adjs and nxt + 1 < len(tags) and tags[nxt] == "VBN" and (
                tags[nxt + 1] in {"NN", "NNS", "JJ"}):
            return True
        before = min([unit.start, *unit.adjs]) - 1
        return unit.tag == "NN" and before >= 0 and tags[before] == "CD" and low[before] not in {"one", "1"}

    def _place(self, word: str) -> bool:
        """Whether ``word`` names a place one stands, moves or lies on (see ``_PLACE_KINDS``); memoised."""
        hit = self._places.get(word)
        if hit is None:
            hit = self._places[word] = word in _PLACE_WORDS or self.gen.lexclass(word) == "noun.location" or any(
                self.relatives.is_kind_of(word, kind) for kind in _PLACE_KINDS)
        return hit

    @staticmethod
    def _near_place(lemma: str, word: str) -> bool:
        return any(lemma in group and word in group for group in _PLACE_NEAR_SYNONYMS)

    def _furnished_room(self, parsed: Parsed, k: int) -> bool:
        """A room named with its fixtures or furniture ("a bathroom with a sink", "a kitchen with counter tops"):
        the fixtures say which room it is, so another room is absurd (generator v6)."""
        units = parsed.roles.units
        if not self.relatives.is_kind_of(units[k].lemma, "room"):
            return False
        return any(j != k and u.lemma != units[k].lemma and self.gen.lexclass(u.lemma) == "noun.artifact"
                   for j, u in enumerate(units))

    def _other_scale(self, lemma: str, word: str) -> bool:
        """A room put for a thing, or a thing for a room ("the lid of a toilet" -> never "the lid of a kitchen")."""
        return self.relatives.is_kind_of(lemma, "room") != self.relatives.is_kind_of(word, "room")

    def _medium(self, lemma: str) -> int | None:
        return next((i for i, kinds in enumerate(_MEDIA) if any(
            self.relatives.is_kind_of(lemma, kind, ancestor_senses=2) for kind in kinds)), None)

    def _other_medium(self, lemma: str, word: str) -> bool:
        """``lemma`` and ``word`` are vehicles of different media (air, water, rail, road)."""
        mine = self._medium(lemma)
        return mine is not None and self._medium(word) not in {mine, None}

    def _verbal(self, word: str) -> bool:
        """An "-ing" word that is far more often a verb than a noun ("leading", "standing"; not "building",
        "clothing"): tagged a noun in context, it is still not a thing to replace ("a man in black leading a horse")."""
        if not word.endswith("ing"):
            return False
        lexicon = self.gen.lexicon
        verbs = sum(lexicon.count(lemma, "v") for lemma in lexicon.lemmas(word, "v"))
        return 2 * lexicon.count(word, "n") < verbs

    def _near_kin(self, lemma: str, cls: str) -> dict[str, float]:
        """Corpus nouns of ``lemma``'s class within hypernym distance 4 of it, closest first; memoised."""
        key = f"kin|{lemma}"
        hit = self.shared._top.get(key)
        if hit is None:
            near = [(w, self.relatives.kin(lemma, w)) for w, n in self.slots.get("u|n").items()
                    if n >= 2 and w != lemma and self.gen.lexclass(w) == cls]
            hit = self.shared._top[key] = [(w, 10 - d) for w, d in near if d <= 4]
        return dict(hit)

    def _vaguer(self, word: str, original: str, cls: str) -> bool:
        """``word`` names a far broader kind than ``original`` (ten times its WordNet kinds, and at least 100):
        a picture of the original is likely one of it too. Not for taxonomies (animals, plants, people, food)."""
        if cls in _TAXONOMIES:
            return False
        breadth = self._kinds(word)
        return breadth >= 100 and breadth >= 10 * (self._kinds(original) + 1)

    def _kinds(self, word: str) -> int:
        hit = self._breadth.get(word)
        if hit is None:
            synsets = self.relatives.synsets(word, "n")
            wn = self.relatives.wordnet
            hit = self._breadth[word] = len(wn.closure(synsets[0], ("~", "~i"))) if synsets else 0
        return hit


def _verb_before(roles: Roles, index: int | None) -> str | None:
    """Lemma of the verb directly before token ``index`` (the verb of a verb + preposition slot), if any."""
    if index is None:
        return None
    return next((slot.lemma for slot in roles.verbs if slot.index == index - 1), None)
