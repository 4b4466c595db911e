"""Relation changes a careful reader accepts: the most natural relation that contradicts the original, only between
two things one can see, only where the new relation is plausible for them, never where the old one still holds.

``RelationCandidates.prepositions`` refuses: grounds one wears or holds ("in a red shirt"), idioms ("in black", "in
tight formation", "draped in a blanket"), a preposition that marks food after a verb of eating ("grazing on grass"), a
vehicle one rides ("riding on an elephant"), a medium ("talking on the phone"), a fixture on a road ("a hydrant on a
street" is next to it as well), water one swims in, up and down anything but a slope, front and back of a small thing
one faces ("in front of a laptop"), and a new relation the corpus never saw between such a figure and ground ("a shower
on a sink", "traffic lights next to the sky"). It ranks the survivors by naturalness (how usual the new relation is with
this figure, ground and verb), so a text model finds the change as natural as the original.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ahnpl_lightning.data.negatives.lexicon.relatives import CONCRETE
from ahnpl_lightning.data.negatives.parsing import Parsed
from ahnpl_lightning.data.negatives.roles import Relation, Roles
from ahnpl_lightning.data.negatives.vocabulary import (
    NOUN_FAMILIES,
    POSTURE_VERBS,
    SPATIAL_CONTRASTS,
    SPATIAL_GROUPS,
    SHAPES,
    SPATIAL_SOURCES,
    family_alternatives,
)

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.candidates import Candidates
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator

__all__ = ["RelationCandidates"]

_NUMBERS = frozenset("two three four five six seven eight nine ten several many".split())
#: Determiners "without" drops: "with multiple piercings" -> "without piercings".
_DROPPED = frozenset({"multiple", "various", "numerous"})
_WORN = ("clothing", "garment", "covering", "fabric", "body_part", "footwear", "headdress")
_CABINS = frozenset("car bus truck van taxi cab train trolley tram limousine jeep suv ambulance".split())
_ENCLOSURES = ("container", "room", "building", "enclosure", "vessel", "public_transport", "car", "train",
               "airplane", "truck")
_IDIOMATIC_GROUNDS = frozenset("distance air background foreground middle daytime dark sun rain snow water "
                               "mirror picture photo image view shape form line way fashion sky".split())
#: Contradictions that suit any ground: "behind a bus" is as plausible as "in front of a bus".
_UNIVERSAL_CONTRASTS = frozenset({"behind", "in front of", "to the left of", "to the right of", "far from",
                                  "away from", "without", "outside", "up", "down", "in the middle of",
                                  "on the side of", "out of", "into"})
#: Roads: a fixture "on" a road ("a hydrant on a city street") stands next to it as well.
_ROADS = ("road", "sidewalk", "pavement")
#: Kinds one goes up or down: anything else ("skateboarding down the street") is flat.
_SLOPES = ("slope", "hill", "mountain", "stairway", "stair", "step", "ramp", "ladder", "incline")
#: Small things one faces: "in front of a laptop" and "behind a laptop" may be the same picture.
_SMALL = ("computer", "telephone", "remote_control", "utensil", "tableware", "cutlery", "book", "toy", "bottle",
          "cup", "glass", "bowl", "box", "bag", "basket", "jar", "plate", "dish")
#: Relations between these (figure, ground) classes are what a picture shows.
_VISIBLE = CONCRETE | {"noun.location", "noun.shape", "noun.Tops"}
_VISUAL_SIGNS = ("sign", "signal", "symbol", "visual_communication", "representation", "written_communication",
                 "print", "text", "document")
_MEDIA = ("telephone", "computer", "screen", "television", "monitor")
_REGIONS = ("municipality", "district", "country")
#: Kinds one puts or sits things on, and kinds one finds things under (whatever the corpus has seen).
_SUPPORTS = ("furniture", "seat", "table", "bench", "shelf", "counter", "bed", "desk")
_SHELTERS = ("furniture", "table", "bench", "bed", "desk", "umbrella", "tree", "bridge", "vehicle", "awning")
_LARGE_ANIMALS = ("ungulate", "proboscidean", "bear")
_LARGE_THINGS = ("vehicle", "structure", "building", "furniture")
_FRONT_BACK = frozenset({"in front of", "behind"})
#: Verbs of mooring: a boat "docked on the shore" lies along it, next to it as well.
_MOORING = frozenset({"dock", "moor", "tie", "beach", "anchor"})
#: Grounds with a fence or wall around an open space: what is in them is behind that fence from outside.
_FENCED = ("enclosure", "pen", "cage", "yard", "corral", "paddock", "fence")
_ON = frozenset({"on", "on top of", "atop", "upon"})
#: New relations of support or containment: physically constrained, so the corpus must have seen them with such a
#: figure and ground; "next to", "behind" or "far from" suit any two things one can see.
_SUPPORT = frozenset({"on", "under", "above", "in"})


def _log(count: int) -> float:
    return math.log1p(count)


class RelationCandidates:
    """Contradicting relations for a relation of an analysed caption (see the module docstring)."""

    def __init__(self, generator: NegativeGenerator, candidates: Candidates) -> None:
        self.gen = generator
        self.slots = generator.slots
        self.relatives = generator.relatives
        self.candidates = candidates

    def _kind(self, lemma: str, kinds: tuple[str, ...]) -> bool:
        return any(self.relatives.is_kind_of(lemma, kind) for kind in kinds)

    def refused(self, parsed: Parsed, relation: Relation, group: str, verb_lemma: str | None,
                verb_tag: str | None) -> bool:
        """Relations whose preposition must not change (see the module docstring)."""
        roles = parsed.roles
        unit, figure_unit = roles.units[relation.ground], roles.units[relation.figure]
        if relation.figure > 0 and self.candidates.noun_model._verbal(parsed.words[figure_unit.head].lower()):
            figure_unit = roles.units[relation.figure - 1]  # "a child skiing on a plain": the child is on it
        ground, figure = unit.lemma, figure_unit.lemma
        gcls, fcls = self.gen.lexclass(ground), self.gen.lexclass(figure)
        known = self.slots.count("u|n", ground) > 0 or self.slots.count("u|n", figure) > 0
        if known and not (self._visible(ground, gcls) and self._visible(figure, fcls)):
            return True  # "a walk in shower", "in tight formation", "in different languages": not things one sees
        first = relation.prep_span[0] if relation.prep_span else None
        if relation.prep == "by" and first is not None and first > 0 and parsed.tags[first - 1] in {"VBN", "VBD"}:
            return True  # "surrounded by chairs": the agent of a passive, not a place
        if first is not None and first > 0 and parsed.tags[first - 1] == "VBN" and group in {"in", "with"} and (
                parsed.lemmas[first - 1] not in POSTURE_VERBS):
            return True  # "draped in a blanket", "filled with", "covered in": the participle's complement
        if group == "in" and (self.worn(ground) or ground in _IDIOMATIC_GROUNDS):
            return True  # "a man in a red shirt", "a racket in his hand", "in the distance"
        if group == "on" and verb_lemma and gcls in {"noun.plant", "noun.food"} and self._eats(verb_lemma):
            return True  # "grazing on grass", "feeding on leaves": the food, not a place
        if group == "on" and self._kind(ground, _ROADS) and fcls not in {"noun.person", "noun.animal"} and not (
                self._kind(figure, ("vehicle",))):
            return True  # "a hydrant on a street", "a sign on the road": fixtures by a road are next to it as well
        if group == "on" and self.relatives.is_kind_of(ground, "restraint", ancestor_senses=6):
            return True  # "two dogs on a leash": held by it, not standing on it
        if group == "on" and self._kind(ground, _MEDIA):
            return True  # "talking on the phone", "a game on the screen": a medium, not a place
        if group == "in" and self._kind(ground, _REGIONS):
            return True  # "a cow in a Tibetan city" is not "next to" the city
        if verb_lemma and first is not None and self._rides(verb_lemma, ground):
            return True  # "riding on a skateboard" is "riding a skateboard": the vehicle, not a place
        if self._kind(ground, ("body_part",)) and gcls == "noun.body" or "_" not in ground and any(
                self.gen.lexclass(w.lower()) == "noun.body" for w in parsed.words[unit.start:unit.head + 1]):
            return True  # "piercings all over her face", "with its mouth open": a body's parts are not places
        if group in {"into", "out of"} and not (self._enclosure(ground) or self._kind(ground, (
                "container", "body_of_water")) or ground == "water"):
            return True  # "eating out of a parking lot" -> never "into a parking lot"
        if group in {"in", "on"} and (self._kind(ground, ("body_of_water",)) or gcls == "noun.substance"):
            return True  # "surfing on the water", "a kite in the sand": next to or behind them makes no sense
        if group in {"up", "down"} and not self._kind(ground, _SLOPES):
            return True  # "skateboarding down the street" is "up the street" as well
        if group in _FRONT_BACK and (gcls == "noun.food" or self._kind(ground, _SMALL)):
            return True  # "in front of a laptop", "behind a pizza": the same picture from the other side
        if group in {"with", "without"}:
            return self._possession_refused(parsed, relation, verb_tag)
        return False

    def _possession_refused(self, parsed: Parsed, relation: Relation, verb_tag: str | None) -> bool:
        """"with" <-> "without" only where English allows it: "with two windows" -> "without windows", "with a dog"
        -> "without a dog"; never "without one bed", "without two pizzas" after a participle, "with mouth open"."""
        unit = parsed.roles.units[relation.ground]
        counted = unit.det in _NUMBERS | _DROPPED and unit.tag == "NNS"
        if unit.det == "one" or verb_tag == "VBN":
            return True
        if parsed.roles.units[relation.figure].gov_kind == "verb" and self._kind(unit.lemma, ("implement",)):
            return True  # "brushes his teeth with a toothbrush", "cutting a cake with a knife": the instrument
        if not counted and unit.det not in {None, "a", "an", "the", "some", "his", "her", "their", "its"} | (
                _DROPPED):
            return True
        if unit.det is None and unit.tag == "NN" and not self.candidates._mass(unit.lemma):
            return True  # "with mouth open": a bare count noun is an absolute construction
        after = unit.head + 1
        if after + 1 < len(parsed.tags) and parsed.tags[after] == "VBN" and parsed.tags[after + 1] in {"IN", "TO"}:
            return False  # "with signs attached to a pole" -> "without signs attached to a pole"
        return after < len(parsed.tags) and parsed.tags[after] in {"JJ", "VBN", "RB", "RP"}  # "with his eyes closed"

    def _rides(self, verb: str, ground: str) -> bool:
        """Whether ``verb`` takes ``ground`` (or a close kin or a kind of what it takes) as its object: "riding on a
        skateboard" is "riding a skateboard", "rides atop a pony" is "rides a pony"."""
        if self.candidates.fit.attested(f"n|obj|{verb}", ground):
            return True
        return any(self.relatives.is_kind_of(ground, other) for other in self.slots.get(f"n|obj|{verb}"))

    def worn(self, lemma: str) -> bool:
        """Clothes and the body ("a man in a red shirt", "a racket in his hand"): what "in" then means is worn."""
        return any(self.relatives.is_kind_of(lemma, kind, senses=2) for kind in _WORN)

    def _visible(self, lemma: str, cls: str) -> bool:
        """A thing a picture shows: a concrete class, a place or shape, or a sign or picture (not a language)."""
        if cls == "noun.communication":
            return any(self.relatives.is_kind_of(lemma, kind, ancestor_senses=3) for kind in _VISUAL_SIGNS)
        return cls in _VISIBLE or cls == ""

    def _eats(self, verb: str) -> bool:
        """A verb of eating in one of its first senses ("graze", "feed", "forage", "munch")."""
        wn = self.relatives.wordnet
        return any(wn.lexname(s) == "verb.consumption" for s in wn.synsets(verb, "v")[:6])

    def _verb_class(self, verb: str) -> str:
        synsets = self.relatives.synsets(verb, "v")
        return self.relatives.wordnet.lexname(synsets[0]) if synsets else ""

    def plausible(self, relation: Relation, roles: Roles, prep: str) -> bool | None:
        """Whether the corpus saw ``prep`` between this figure (or a close kin) and this ground (or a close kin);
        ``None`` when it knows neither noun with ``prep`` at all."""
        figure, ground = roles.units[relation.figure].lemma, roles.units[relation.ground].lemma
        if self._room_for(figure, ground, prep):
            return True
        fit = self.candidates.fit
        by_figure, by_ground = f"r|{prep}|f|{figure}", f"r|{prep}|g|{ground}"
        if not self.slots.get(by_figure) and not self.slots.get(by_ground):
            known = self.slots.count("u|n", figure) or self.slots.count("u|n", ground)
            return False if known else None
        return fit.attested(by_figure, ground) or fit.attested(by_ground, figure)

    def _room_for(self, figure: str, ground: str, prep: str) -> bool:
        """What a picture often shows whatever the corpus saw: a person, a small animal or a portable thing on or
        under furniture ("a cat under a table", "a bag on a bench"), or under a tree, an umbrella, a bridge or a
        vehicle."""
        if prep not in {"on", "under"}:
            return False
        fcls = self.gen.lexclass(figure)
        small = fcls == "noun.person" or fcls == "noun.animal" and not self._kind(figure, _LARGE_ANIMALS) or (
            fcls in {"noun.artifact", "noun.food"} and not self._kind(figure, _LARGE_THINGS))
        return small and self._kind(ground, _SUPPORTS if prep == "on" else _SHELTERS)

    def prepositions(self, parsed: Parsed, relation: Relation, verb_lemma: str | None = None,
                     verb_tag: str | None = None) -> list[str]:
        """The relation that best contradicts ``relation``'s preposition ("on" -> "under", "in front of" ->
        "behind"), plausible for its figure and ground and natural after its verb; ``[]`` when none."""
        if relation.prep is None or relation.prep not in SPATIAL_SOURCES:
            return []
        roles = parsed.roles
        group = SPATIAL_GROUPS[SPATIAL_SOURCES[relation.prep]][0]
        if self.refused(parsed, relation, group, verb_lemma, verb_tag):
            return []
        shared = [roles.units[r.ground].lemma for r in roles.relations
                  if r.prep_span == relation.prep_span and r is not relation]
        if any(self.worn(lemma) or self.gen.lexclass(lemma) == "noun.body" for lemma in shared):
            return []  # "kids in uniforms and an umpire": the one preposition governs the worn uniforms too
        if verb_lemma is not None and group != "at" and verb_tag not in {"VBN", "VBD"} and (
                self._verb_class(verb_lemma) == "verb.perception"):
            return []  # "looking in an oven": where one looks, not where one is
        ground = roles.units[relation.ground].lemma
        options = SPATIAL_CONTRASTS.get(group, ())
        looking = group == "at" and verb_lemma is not None and self._verb_class(verb_lemma) == "verb.perception"
        if looking:
            options = ("away from",)  # "looking at the camera" -> "looking away from the camera"
        enclosure = self._enclosure(ground)
        if group == "in" and not enclosure:
            options = ("next to", "behind")  # "in a field" -> "next to a field", never "outside a chair"
        cls = self.gen.lexclass(ground)
        concrete = cls in CONCRETE | {"noun.location"} and ground not in _IDIOMATIC_GROUNDS
        count = self.slots.count
        ground_known = sum(self.slots.get(f"p|gnd|{ground}").values()) >= 3
        scores: dict[str, float] = {}
        for option in options:
            word, klass = count(f"p|gnd|{ground}", option), count(f"p|gndc|{cls}", option)
            universal = option in _UNIVERSAL_CONTRASTS or option == "next to" and concrete
            if group in {"at"} and verb_lemma is not None and verb_lemma not in POSTURE_VERBS and not looking:
                universal = False  # "pointing at the camera" is not a place
            after_verb = verb_lemma is None or verb_lemma in POSTURE_VERBS or looking or count(
                f"v|prep|{option}", verb_lemma)
            attested = (word > 0 if ground_known else klass > 0) and after_verb
            if not (universal or attested):
                continue
            if option == "in" and not enclosure:
                continue  # "on a table" -> never "in a table"
            if group == "in" and option == "on" and not self._open_container(ground):
                continue  # "in a bowl" -> "on a bowl", but never "on a room" or "on a bus"
            if option in _FRONT_BACK and (cls == "noun.food" or self._kind(ground, _SMALL)):
                continue
            if self._still_true(relation, roles, group, option, verb_lemma):
                continue
            if option in _SUPPORT and self.plausible(relation, roles, option) is False:
                continue  # "a shower on a sink", "a zebra on an elephant", "a cow on the trees"
            scores[option] = self.naturalness(relation, roles, option, verb_lemma, parsed)
        if scores:
            return [max(scores, key=lambda o: (scores[o], o))]  # the most natural: no easier for a text model
        if self.slots.count("u|n", ground) == 0 and self.slots.count("u|n", roles.units[relation.figure].lemma) == 0:
            return list(options[:2])  # nouns the corpus does not know (the synthetic world's shapes)
        return []

    def _still_true(self, relation: Relation, roles: Roles, group: str, option: str,
                    verb_lemma: str | None) -> bool:
        """A new relation the old one usually implies as well (generator v6): a boat "docked on a shore" is next to
        it too; one "standing over a pan" is next to it; what is "in an enclosure" (a pen, a cage, a fenced yard) is
        behind its fence from outside."""
        ground, figure = roles.units[relation.ground].lemma, roles.units[relation.figure].lemma
        fcls = self.gen.lexclass(figure)
        if group == "on" and option == "next to" and verb_lemma in _MOORING:
            return True
        if group == "above" and option == "next to" and (
                fcls in {"noun.person", "noun.animal"} or verb_lemma in POSTURE_VERBS):
            return True
        return group == "in" and option == "behind" and self._kind(ground, _FENCED)

    def _enclosure(self, ground: str) -> bool:
        return self._kind(ground, _ENCLOSURES) and not (
            self.relatives.is_kind_of(ground, "wheeled_vehicle") and ground not in _CABINS)  # not "in a bike"

    def _open_container(self, ground: str) -> bool:
        """A box, bowl or basket: something one can be in or on (not a room, a building or a vehicle)."""
        rel = self.relatives
        return rel.is_kind_of(ground, "container") and not any(
            rel.is_kind_of(ground, kind) for kind in ("wheeled_vehicle", "room", "building", "vessel"))

    def naturalness(self, relation: Relation, roles: Roles, prep: str, verb_lemma: str | None = None,
                    parsed: Parsed | None = None) -> float:
        """How usual ``prep`` is between this figure (or verb) and ground in the corpus, and (given ``parsed``) after
        the word before it and before the word after it: a log-count score, so that a relation can be changed into
        the one a text model finds as natural as the original."""
        count = self.slots.count
        ground, figure = roles.units[relation.ground].lemma, roles.units[relation.figure].lemma
        cls = self.gen.lexclass(ground)
        left = _log(count(f"v|prep|{prep}", verb_lemma)) if verb_lemma else 2 * _log(count(f"p|fig|{figure}", prep))
        longer = max(0, len(prep.split()) - len((relation.prep or "").split()))
        score = (2 * _log(count(f"p|gnd|{ground}", prep)) + _log(count(f"p|gndc|{cls}", prep)) + left
                 + 0.5 * _log(count("u|p", prep)) - 2.0 * longer)
        if parsed is not None and relation.prep_span is not None:
            first, last = relation.prep_span
            words = prep.split()
            before = parsed.words[first - 1].lower() if first > 0 else "<s>"
            after = parsed.words[last + 1].lower() if last + 1 < len(parsed.words) else "</s>"
            score += 4 * (_log(count(f"b|{before}", words[0])) + _log(count(f"b|{words[-1]}", after)))  # bigrams
        return score

    def swap_plausible(self, relation: Relation, roles: Roles, verb_lemma: str | None) -> bool:
        """Whether exchanging the figure and ground of ``relation`` gives a caption that could describe a picture:
        both of one WordNet class and interchangeable kinds (one curated family, or WordNet co-hyponyms); around a
        verb, both animate, each seen in the corpus doing / undergoing that verb or kin; around a preposition, the
        corpus saw the ground there with the figure's kin ("a plate on a fork" never)."""
        a, b = roles.units[relation.figure].lemma, roles.units[relation.ground].lemma
        if a == b:
            return False
        if a in SHAPES and b in SHAPES:
            return relation.prep is not None  # shapes (the synthetic world's) may stand anywhere
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
        if not kin:
            return False
        known = self.slots.count("u|n", a) or self.slots.count("u|n", b)
        fit = self.candidates.fit
        return not known or fit.attested(f"r|{relation.prep}|f|{b}", a) or fit.attested(
            f"r|{relation.prep}|g|{a}", b)
