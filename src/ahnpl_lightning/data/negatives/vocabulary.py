"""Curated vocabularies: attribute families, spatial relation groups, words that are not content.

Each family is a tuple of groups; a replacement comes from another group of the same family (members of one group
are near-synonyms, e.g. big/large, so they never replace each other).
"""

from __future__ import annotations

import functools
import re

__all__ = [
    "ADJ_FAMILIES", "NOUN_FAMILIES", "VERB_FAMILIES", "SPATIAL_GROUPS", "NON_CONTENT_NOUNS", "NON_CONTENT_ADJS",
    "AUX_VERBS", "family_alternatives", "SYMMETRIC_RELATIONS", "RECIPROCAL_VERBS", "SPATIAL_CONTRASTS",
    "NEAR_SYNONYMS", "near_synonyms", "ATTRIBUTE_OF", "PREPOSITION_PHRASES", "PERSON_NOUNS", "PERSON_GENDER_AGE",
    "PERSON_ROLES", "GENERIC_PEOPLE", "PLURALIA_TANTUM",
    "POSTURE_VERBS", "VAGUE_VERBS", "SHAPES",
]

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
    ("busy|crowded", "deserted"),
    ("happy", "sad|unhappy", "angry"),
    ("wooden|wood", "metal|metallic", "plastic", "glass", "stone", "brick", "paper", "leather", "ceramic"),
    ("round|circular", "square", "rectangular", "triangular", "oval"),
    ("striped", "spotted|dotted", "checkered|plaid"),
    ("sunny", "cloudy", "rainy", "snowy"),
)
_SHAPES = ("circle", "square", "triangle", "star", "rectangle", "hexagon", "pentagon", "diamond", "heart", "oval",
           "cross", "cube", "sphere", "cylinder", "cone", "pyramid")
#: Geometric shapes (the synthetic world's things): they may stand anywhere relative to each other.
SHAPES: frozenset[str] = frozenset(_SHAPES)
NOUN_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("man|guy|gentleman", "woman|lady", "boy", "girl", "baby|infant"),
    ("child|kid", "man", "woman", "baby"),
    _SHAPES,
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
    ("in", "inside", "within", "inside of"),
    ("into",),
    ("out of",),
    ("off",),
    ("on the side of", "along the side of", "by the side of", "at the side of", "on the edge of", "at the edge of"),
    ("in the middle of", "in the center of"),
    ("next to", "beside", "near", "alongside", "close to", "by"),
    ("behind", "in back of"),
    ("in front of",),
    ("to the left of", "left of"),
    ("to the right of", "right of"),
    ("outside", "outside of"),
    ("far from", "away from"),
    ("with",),
    ("without",),
    ("toward", "towards"),
    ("at",),
    ("down",),
    ("up",),
)
SPATIAL_SOURCES = {p: g for g, group in enumerate(SPATIAL_GROUPS) for p in group if p not in {"onto"}}
SPATIAL_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _phrase in sorted(SPATIAL_SOURCES, key=lambda p: (-len(p.split()), p)):
    SPATIAL_BY_FIRST.setdefault(_phrase.split()[0], []).append(tuple(_phrase.split()))
WEAK_SPATIAL = {"in", "within"}  # "a man in a red shirt": used only when no clearer relation exists

NON_CONTENT_NOUNS = frozenset(
    "top front back side bottom middle center centre left right edge background foreground picture image photo "
    "photograph view shot group couple pair bunch lot variety number kind type piece set row way area part "
    "something thing things someone one ones other others day time end herd flock crowd pile stack bunch "
    "collection assortment selection array display team family lots plenty bit close closeup close-up "
    "shape color colour sort style bunches groups pairs sets rows piles stacks".split()
)
NON_CONTENT_ADJS = frozenset(
    "many several few other various different same own such much more most next last first second third "
    "only single multiple close".split()
)
AUX_VERBS = frozenset("be have do get let can could may might must shall should will would".split())
ALPHA = re.compile(r"^[a-z]+$")
NP_TAGS = {"NN", "NNS"}
ADJ_TAGS = {"JJ"}
VERB_TAGS = {"VB", "VBP", "VBZ", "VBG", "VBD", "VBN"}


def _groups(family: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [tuple(group.split("|")) for group in family]


@functools.lru_cache(maxsize=65536)
def family_alternatives(word: str, families: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
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



# Tags that may stand between two coordinated noun phrases ("a red cat, and the black cat").
COORDINATION = frozenset({"CC", ",", "DT", "JJ", "CD", "PRP$"})


#: Relations that hold both ways: swapping the two nouns around them says the same thing (never swapped).
SYMMETRIC_RELATIONS: frozenset[str] = frozenset({
    "and", "or", "with", "near", "next to", "beside", "by", "alongside", "close to", "nearby", "together", "among",
    "amongst", "between", "across from", "opposite", "facing", "against", "meet", "touch", "&", "plus",
})
#: Verbs whose action is usually mutual ("a man hugging a woman"): never swapped around either.
RECIPROCAL_VERBS: frozenset[str] = frozenset(
    "hug embrace kiss meet marry talk chat converse dance fight wrestle play share shake greet cuddle snuggle "
    "race compete face touch".split())
#: Spatial relation (first member of its SPATIAL_GROUPS group) -> relations that contradict it, most natural first.
SPATIAL_CONTRASTS: dict[str, tuple[str, ...]] = {
    "on": ("under", "behind", "in", "next to"),
    "under": ("on", "behind", "next to"),
    "above": ("under", "behind", "next to"),
    "in": ("next to", "outside", "behind", "on"),
    # "near", "by", "next to" say only that two things are close: "in front of" or "behind" a thing one is near
    # is still near it (generator v6), so only support and distance contradict them.
    "next to": ("on", "under", "far from"),
    "behind": ("in front of",),
    "in front of": ("behind",),
    "to the left of": ("to the right of",),
    "to the right of": ("to the left of",),
    "outside": ("in",),
    "into": ("out of",),
    "out of": ("into",),
    "off": ("onto",),
    "on the side of": ("in the middle of",),
    "in the middle of": ("on the side of",),
    "far from": ("next to",),
    "with": ("without",),
    "without": ("with",),
    "toward": ("away from",),
    "at": ("far from",),
    "down": ("up",),
    "up": ("down",),
}
#: Multi-word prepositions recognised as one relation.
PREPOSITION_PHRASES: tuple[tuple[str, ...], ...] = tuple(sorted(
    {tuple(p.split()) for group in SPATIAL_GROUPS for p in group if " " in p}
    | {("out", "of"), ("across", "from"), ("on", "the", "side", "of"), ("in", "the", "middle", "of")},
    key=lambda parts: -len(parts)))
#: Near-synonyms WordNet does not link (or links only through rare senses), as captions use them: a replacement
#: never comes from the original's group, since a caption saying either is true of the same image.
NEAR_SYNONYMS: tuple[frozenset[str], ...] = tuple(frozenset(group.split()) for group in (
    "sofa couch loveseat", "road street avenue highway roadway lane",
    "phone cellphone cell_phone telephone smartphone mobile_phone", "airplane plane jet aircraft airliner jetliner",
    "bike bicycle", "motorbike motorcycle scooter moped", "tv television monitor screen", "laptop computer notebook",
    "kid child youngster boy girl", "man guy gentleman male person", "woman lady female person",
    "people persons men women folks", "picture photo photograph image",
    "blanket quilt comforter duvet bedspread sheet throw", "desk table counter countertop", "cup mug",
    "rock stone boulder", "hill mountain slope", "shore beach coast", "ocean sea water waves",
    "grass field lawn meadow pasture yard", "puppy dog pup", "kitten cat kitty", "car automobile vehicle auto",
    "truck lorry pickup", "pavement sidewalk", "donut doughnut pastry", "luggage suitcase baggage bag",
    "cake dessert", "kitchen kitchenette", "bathroom restroom toilet washroom", "toilet commode",
    "fridge refrigerator", "oven stove range", "sink basin", "skateboarder skater", "plate dish platter", "bowl dish",
    "pizza pie", "train locomotive engine", "sign signboard billboard", "kite", "bear teddy", "cow cattle bull calf",
    "sheep lamb", "horse pony", "bird pigeon seagull gull", "shirt top blouse", "pants trousers jeans",
    "room bedroom", "hat cap", "bench seat", "chair seat stool", "appliance surface", "mouth face lips", "tree trees",
    "glass cup", "food meal", "snow ski", "ball soccer_ball", "hold carry grip grasp clutch", "sit rest perch",
    "stand pose", "lie lay rest sleep", "look stare gaze watch view", "walk stroll wander", "run jog sprint",
    "eat bite chew", "talk speak chat", "park stop", "ride sit", "eat hold", "drink hold", "fly soar glide",
    "wear have", "play hold", "cut slice chop", "big large huge giant enormous massive", "small little tiny",
    "old elderly aged", "young little",
    # generator v6: kinds captions use for one another (WordNet siblings under one familiar kind)
    "building tower skyscraper", "pen cage enclosure corral", "light lamp lantern", "airport airstrip airfield",
    "gate door doorway entrance", "boat ship cruise_ship yacht vessel ferry", "performance play show concert",
    "shoe boot sneaker", "intent intention plan purpose", "stick tool", "motorbike dirt_bike motorcycle",
))
#: Attribute of each adjective in ADJ_FAMILIES (size-like families share one, so "a tall tiny tower" is refused).
ATTRIBUTE_OF: dict[str, str] = {
    word: attribute
    for attribute, families in (
        ("colour", (0,)), ("size", (1, 4, 5, 14, 15)), ("age", (2, 3)), ("temperature", (6,)), ("wetness", (7,)),
        ("cleanliness", (8,)), ("fullness", (9, 16)), ("openness", (10,)), ("speed", (11,)), ("light", (12,)),
        ("weight", (13,)), ("mood", (17,)), ("material", (18,)), ("shape", (19,)), ("pattern", (20,)),
        ("weather", (21,)))
    for index in families for group in ADJ_FAMILIES[index] for word in group.split("|")
}


@functools.lru_cache(maxsize=65536)
def near_synonyms(word: str) -> frozenset[str]:
    """Every word sharing a NEAR_SYNONYMS group with ``word`` (itself included)."""
    out = {word}
    for group in NEAR_SYNONYMS:
        if word in group:
            out |= group
    return frozenset(out)

#: People as captions name them, by what a replacement may change: gender and age ("a man" -> "a girl") or role
#: ("a skier" -> "a surfer"). A replacement stays within its set (a role -> a gender could still be true: "a tennis
#: player" may well be "a man"), and generic names ("person", "people") are never replaced. WordNet's person class
#: also holds "hot dog" the show-off and "carrier" the porter, which captions never mean.
PERSON_GENDER_AGE: frozenset[str] = frozenset(
    "man woman boy girl child kid baby toddler lady gentleman guy teenager teen mother father mom dad son daughter "
    "brother sister grandmother grandfather bride groom".split())
PERSON_ROLES: frozenset[str] = frozenset(
    "player skier surfer skateboarder snowboarder rider biker cyclist batter pitcher catcher umpire tennis_player "
    "chef cook waiter waitress police_officer policeman soldier doctor nurse student teacher worker farmer tourist "
    "spectator passenger driver pilot vendor customer cowboy clown fisherman athlete officer".split())
PERSON_NOUNS: frozenset[str] = PERSON_GENDER_AGE | PERSON_ROLES
#: Names for people that say nothing of gender, age or role (never replaced; WordNet files "person" under Tops).
GENERIC_PEOPLE: frozenset[str] = frozenset("person people adult couple family friend crowd someone individual "
                                           "human group_of_people".split())
#: Nouns whose lemma is plural in form ("shorts" is not the plural of "short").
PLURALIA_TANTUM: frozenset[str] = frozenset(
    "shorts pants jeans trousers scissors glasses sunglasses eyeglasses goggles clothes stairs binoculars pajamas "
    "tongs headphones earphones overalls leggings tights suspenders slacks".split())
#: Verbs of position, said of things as much as of people ("a laptop sitting on a desk").
POSTURE_VERBS: frozenset[str] = frozenset(
    "sit stand lie lay rest perch park place hang sleep wait stay kneel lean squat float display".split())
#: Verbs too general to contradict anything a picture shows ("placed on a plate", "playing", "trying to",
#: "enjoying a meal", "waiting"): never a verb replacement.
VAGUE_VERBS: frozenset[str] = frozenset(
    "go come make take give show see appear seem use do get put set place play try wait enjoy prepare pose display "
    "feature include help begin start finish continue keep stay remain let spend need want like love present "
    "contain travel move hold_up look_like".split())
