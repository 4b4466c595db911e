"""Curated vocabularies: attribute families, spatial relation groups, words that are not content.

Each family is a tuple of groups; a replacement comes from another group of the same family (members of one group
are near-synonyms, e.g. big/large, so they never replace each other).
"""

from __future__ import annotations

import functools
import re

__all__ = [
    "ADJ_FAMILIES", "NOUN_FAMILIES", "VERB_FAMILIES", "SPATIAL_GROUPS", "NON_CONTENT_NOUNS", "NON_CONTENT_ADJS",
    "AUX_VERBS", "family_alternatives",
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
SPATIAL_SOURCES = {p: g for g, group in enumerate(SPATIAL_GROUPS) for p in group if p not in {"by", "onto", "into"}}
SPATIAL_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _phrase in sorted(SPATIAL_SOURCES, key=lambda p: (-len(p.split()), p)):
    SPATIAL_BY_FIRST.setdefault(_phrase.split()[0], []).append(tuple(_phrase.split()))
WEAK_SPATIAL = {"in", "within"}  # "a man in a red shirt": used only when no clearer relation exists

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
