"""The world's caption grammar: logical forms, templates, parsing, the truth oracle and edits.

A caption denotes a `Statement` over noun phrases (`NP`). Semantics are existential: "a red circle is above a
blue square" is true iff some red circle lies fully above some other object that is a blue square (docs/METHOD.md
§1 names the five negative types the edits below implement). Everything here is a pure function.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from functools import lru_cache

from .scene import (
    ATTRIBUTES,
    COLOURS,
    MATERIALS,
    PLURALS,
    RELATIONS,
    SHAPES,
    SIZES,
    Scene,
    SceneObject,
    box_at,
    relation_holds,
)

EXISTS, AND, REL, COUNT, NONE, PLURAL, POS = "exists", "and", "rel", "count", "none", "plural", "pos"

# Templates per kind. Slots: {aK} "a red circle", {theK} "the red circle", {bareK} "red circle", {pl1} "red circles",
# {rel} a relation phrase, {n} a number word. Templates marked bare are phrases (VL-CheckList style): no capital/period.
TEMPLATES: dict[str, tuple[str, ...]] = {
    EXISTS: ("{a1}", "there is {a1}", "a picture of {a1}", "an image showing {a1}", "{bare1}"),
    AND: (
        "{a1} and {a2}",
        "there is {a1} and {a2}",
        "an image showing {a1} and {a2}",
        "{the1} and {the2}",
        "{bare1} and {bare2}",
    ),
    REL: (
        "{a1} {rel} {a2}",
        "{a1} is {rel} {a2}",
        "there is {a1} {rel} {a2}",
        "{the1} is {rel} {the2}",
        "{bare1} {rel} {bare2}",
    ),
    COUNT: ("there are {n} {pl1}", "{n} {pl1}", "there are exactly {n} {pl1}"),
    NONE: ("there is no {bare1}", "there are no {pl1}"),
    PLURAL: ("there are {pl1}", "there are multiple {pl1}"),
    POS: ("{a1} {pos}", "there is {a1} {pos}", "{the1} is {pos}"),
}
# Singular forms of the COUNT templates, used when n == 1.
COUNT_SINGULAR: tuple[str, ...] = ("there is {n} {bare1}", "{n} {bare1}", "there is exactly {n} {bare1}")
BARE_TEMPLATES: frozenset[tuple[str, int]] = frozenset({(EXISTS, 4), (AND, 4), (REL, 4)})
# Templates that `World.caption` samples from (natural sentences only).
CAPTION_TEMPLATES: dict[str, tuple[int, ...]] = {
    EXISTS: (0, 1, 2, 3),
    AND: (0, 1, 2, 3),
    REL: (0, 1, 2, 3),
    COUNT: (0, 1, 2),
}

NUMBERS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
RELATION_ALIASES: dict[str, str] = {
    "to the left of": "to the left of",
    "on the left of": "to the left of",
    "left of": "to the left of",
    "to the right of": "to the right of",
    "on the right of": "to the right of",
    "right of": "to the right of",
    "above": "above",
    "over": "above",
    "below": "below",
    "under": "below",
    "beneath": "below",
}
ADJECTIVES: dict[str, tuple[str, str]] = {
    **{w: ("size", w) for w in SIZES},
    **{w: ("colour", w) for w in COLOURS},
    **{w: ("material", w) for w in MATERIALS},
}
SINGULAR: dict[str, str] = {p: s for s, p in PLURALS.items()}
# Absolute positions (POS statements: "a red circle on the left"): the object's centre lies in that outer third of
# the image. Only the stand-in's pre-training captions use them (World.caption_statement's p_position).
POSITIONS: tuple[str, ...] = ("on the left", "on the right", "at the top", "at the bottom")


def position_holds(obj: SceneObject, position: str, image_size: int) -> bool:
    """Whether `obj`'s centre lies in the outer third of the image that `position` names."""
    cx, cy = obj.center
    third = image_size / 3.0
    if position == "on the left":
        return cx < third
    if position == "on the right":
        return cx > 2 * third
    if position == "at the top":
        return cy < third
    if position == "at the bottom":
        return cy > 2 * third
    raise ValueError(f"unknown position {position!r}; expected one of {POSITIONS}")


@dataclass(frozen=True)
class NP:
    """A noun phrase: a shape plus optionally mentioned size, colour and material."""

    shape: str
    size: str | None = None
    colour: str | None = None
    material: str | None = None

    def matches(self, obj: SceneObject) -> bool:
        """Whether `obj` fits every attribute this phrase mentions."""
        return obj.shape == self.shape and all(
            getattr(self, a) is None or getattr(self, a) == getattr(obj, a) for a in ATTRIBUTES
        )

    def mentioned(self) -> tuple[str, ...]:
        """The adjective attributes this phrase mentions, in caption order."""
        return tuple(a for a in ATTRIBUTES if getattr(self, a) is not None)

    def words(self, plural: bool = False) -> str:
        """Surface form without determiner, e.g. "small red circle(s)"."""
        adjs = [getattr(self, a) for a in self.mentioned()]
        return " ".join([*adjs, PLURALS[self.shape] if plural else self.shape])


@dataclass(frozen=True)
class Statement:
    """The logical form of a caption: `kind` over `nps`, with a relation (REL), a position (POS) or a number (COUNT)."""

    kind: str
    nps: tuple[NP, ...]
    template: int = 0
    relation: str | None = None
    count: int | None = None


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def realise(st: Statement) -> str:
    """The caption text of `st` in its template (capitalised sentence with a period, or a bare phrase)."""
    if st.kind == COUNT and st.count == 1:
        tmpl = COUNT_SINGULAR[st.template]
    else:
        tmpl = TEMPLATES[st.kind][st.template]
    slots: dict[str, str] = {}
    for k, np_ in enumerate(st.nps, start=1):
        bare = np_.words()
        slots[f"bare{k}"] = bare
        slots[f"a{k}"] = f"{_article(bare)} {bare}"
        slots[f"the{k}"] = f"the {bare}"
        slots[f"pl{k}"] = np_.words(plural=True)
    slots["rel"] = st.relation or ""
    slots["pos"] = st.relation or ""  # a POS statement keeps its position phrase in `relation`
    slots["n"] = NUMBERS[st.count] if st.count is not None and st.count < len(NUMBERS) else str(st.count)
    text = tmpl.format(**slots)
    if (st.kind, st.template) in BARE_TEMPLATES:
        return text
    return text[0].upper() + text[1:] + "."


def _alt(words: list[str]) -> str:
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[str, int, bool, re.Pattern[str]]]:
    """Compiled (kind, template, singular_count, regex) for every template."""
    adj = _alt(list(ADJECTIVES))
    bare = f"(?:{adj} )*{_alt(list(SHAPES))}"
    slot_re = {
        "a": f"(?:a|an) {bare}",
        "the": f"the {bare}",
        "bare": bare,
        "pl": f"(?:{adj} )*{_alt(list(PLURALS.values()))}",
    }
    out = []
    forms = [(k, i, False, t) for k, ts in TEMPLATES.items() for i, t in enumerate(ts)]
    forms += [(COUNT, i, True, t) for i, t in enumerate(COUNT_SINGULAR)]
    for kind, idx, singular, tmpl in forms:
        pattern = ""
        for lit, name in re.findall(r"([^{]*)(?:\{(\w+)\})?", tmpl):
            pattern += re.escape(lit)
            if not name:
                continue
            if name == "rel":
                pattern += f"(?P<rel>{_alt(list(RELATION_ALIASES))})"
            elif name == "pos":
                pattern += f"(?P<pos>{_alt(list(POSITIONS))})"
            elif name == "n":
                pattern += f"(?P<n>{_alt(list(NUMBERS))}|[0-9]+)"
            else:
                m = re.fullmatch(r"(a|the|bare|pl)(\d)", name)
                assert m is not None, name
                pattern += f"(?P<np{m.group(2)}>{slot_re[m.group(1)]})"
        out.append((kind, idx, singular, re.compile(pattern)))
    return out


def _parse_np(text: str) -> NP | None:
    """Parse "[det] adj* noun" into an NP; None if an attribute is given twice."""
    words = text.split()
    if words[0] in ("a", "an", "the"):
        words = words[1:]
    noun = words[-1]
    values: dict[str, str] = {"shape": SINGULAR.get(noun, noun)}
    for w in words[:-1]:
        attr, value = ADJECTIVES[w]
        if attr in values:
            return None
        values[attr] = value
    return NP(**values)


def normalise(caption: str) -> str:
    """Lower-case, collapse whitespace and drop trailing sentence punctuation."""
    return " ".join(caption.lower().split()).rstrip(".!").strip()


def parse(caption: str) -> Statement | None:
    """The Statement a caption expresses, or None when it is outside the grammar."""
    text = normalise(caption)
    if not text:
        return None
    for kind, idx, singular, pat in _patterns():
        m = pat.fullmatch(text)
        if m is None:
            continue
        groups = m.groupdict()
        nps = []
        for k in (1, 2):
            if groups.get(f"np{k}"):
                np_ = _parse_np(groups[f"np{k}"])
                if np_ is None:
                    return None
                nps.append(np_)
        count = None
        if kind == COUNT:
            raw = groups["n"]
            count = NUMBERS.index(raw) if raw in NUMBERS else int(raw)
            if count == 0 or singular != (count == 1):
                return None
        relation = RELATION_ALIASES[groups["rel"]] if groups.get("rel") else groups.get("pos")
        return Statement(kind, tuple(nps), idx, relation, count)
    return None


def witnesses(st: Statement, scene: Scene) -> list[tuple[int, ...]]:
    """Object-index tuples that make `st` true in `scene` (COUNT/PLURAL: all matches; NONE: never a witness)."""
    objs = scene.objects
    if st.kind == EXISTS:
        return [(i,) for i, o in enumerate(objs) if st.nps[0].matches(o)]
    if st.kind == POS:
        position = st.relation or ""
        return [(i,) for i, o in enumerate(objs) if st.nps[0].matches(o)
                and position_holds(o, position, scene.image_size)]
    if st.kind in (AND, REL):
        a, b = st.nps
        rel = st.relation
        return [
            (i, j)
            for i, x in enumerate(objs)
            if a.matches(x)
            for j, y in enumerate(objs)
            if i != j and b.matches(y) and (rel is None or relation_holds(x, rel, y))
        ]
    matches = tuple(i for i, o in enumerate(objs) if st.nps[0].matches(o))
    if st.kind == COUNT:
        return [matches] if len(matches) == st.count else []
    if st.kind == PLURAL:
        return [matches] if len(matches) >= 2 else []
    return []


def evaluate(st: Statement, scene: Scene) -> bool:
    """Truth of `st` in `scene` (the oracle)."""
    if st.kind == NONE:
        return not any(st.nps[0].matches(o) for o in scene.objects)
    return bool(witnesses(st, scene))


def verify(caption: str, scene: Scene) -> bool | None:
    """True/False for a caption of the grammar, None when the caption is outside it."""
    st = parse(caption)
    return None if st is None else evaluate(st, scene)


# ---------------------------------------------------------------------------------------------------------------
# Candidate edits of a Statement, one list per negative type, in a preference order shuffled by `rng`.
# The World keeps the first candidate the oracle finds false (see World.hard_negatives).


def _with_np(st: Statement, k: int, np_: NP) -> Statement:
    nps = list(st.nps)
    nps[k] = np_
    return replace(st, nps=tuple(nps))


def swap_noun_phrases(st: Statement, rng: random.Random) -> list[Statement]:
    """`relation` type: swap subject and object (REL), then swap the two nouns only (REL and AND)."""
    out = []
    if st.kind == REL and st.nps[0] != st.nps[1]:
        out.append(replace(st, nps=(st.nps[1], st.nps[0])))
    if st.kind in (REL, AND) and st.nps[0].shape != st.nps[1].shape:
        a, b = st.nps
        out.append(replace(st, nps=(replace(a, shape=b.shape), replace(b, shape=a.shape))))
    return out


def swap_adjectives(st: Statement, rng: random.Random) -> list[Statement]:
    """`adj_swap` type: exchange an attribute's values between the two NPs, else move an adjective across."""
    if st.kind not in (REL, AND):
        return []
    a, b = st.nps
    swaps, moves = [], []
    for attr in ATTRIBUTES:
        va, vb = getattr(a, attr), getattr(b, attr)
        if va is not None and vb is not None and va != vb:
            swaps.append(replace(st, nps=(replace(a, **{attr: vb}), replace(b, **{attr: va}))))
        elif (va is None) != (vb is None):
            moves.append(replace(st, nps=(replace(a, **{attr: vb}), replace(b, **{attr: va}))))
    rng.shuffle(swaps)
    rng.shuffle(moves)
    return swaps + moves


def replace_adjective(st: Statement, rng: random.Random, vocab: dict[str, tuple[str, ...]]) -> list[Statement]:
    """`adj` type: replace one mentioned size/colour/material with another value of the same attribute."""
    out = [
        _with_np(st, k, replace(np_, **{attr: v}))
        for k, np_ in enumerate(st.nps)
        for attr in np_.mentioned()
        for v in vocab[attr]
        if v != getattr(np_, attr)
    ]
    rng.shuffle(out)
    return out


def replace_noun(st: Statement, rng: random.Random, vocab: dict[str, tuple[str, ...]]) -> list[Statement]:
    """`noun` type: replace one shape with another."""
    out = [
        _with_np(st, k, replace(np_, shape=s)) for k, np_ in enumerate(st.nps) for s in vocab["shape"] if s != np_.shape
    ]
    rng.shuffle(out)
    return out


def replace_relation(st: Statement, rng: random.Random) -> list[Statement]:
    """Replace the spatial relation (SugarCrepe replace_rel, VALSE relations)."""
    if st.kind != REL:
        return []
    out = [replace(st, relation=r) for r in RELATIONS if r != st.relation]
    rng.shuffle(out)
    return out


def add_adjective(st: Statement, rng: random.Random, vocab: dict[str, tuple[str, ...]]) -> list[Statement]:
    """Mention one more attribute of an NP (SugarCrepe add_att)."""
    out = [
        _with_np(st, k, replace(np_, **{attr: v}))
        for k, np_ in enumerate(st.nps)
        for attr in ATTRIBUTES
        if getattr(np_, attr) is None
        for v in vocab[attr]
    ]
    rng.shuffle(out)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Counterfactual scenes: minimal edits of the caption's witnesses that make another Statement true.


def apply_np(obj: SceneObject, np_: NP, image_size: int) -> SceneObject:
    """`obj` changed to fit every attribute `np_` mentions (a size change keeps the centre)."""
    if np_.size is not None and np_.size != obj.size:
        obj = obj.resized(np_.size, image_size)
    changes = {a: getattr(np_, a) for a in ("colour", "material") if getattr(np_, a) is not None}
    return replace(obj, shape=np_.shape, **changes)


def counterfactual_candidates(caption: Statement, negative: Statement, scene: Scene) -> list[Scene]:
    """Edited scenes, in preference order, in which `negative` may hold; the caller verifies each one.

    A subject/object swap (or a converse relation) first tries exchanging the two witnesses' positions;
    every type then tries rewriting the witnesses' attributes to the negative's noun phrases.
    """
    out: list[Scene] = []
    size = scene.image_size
    wits = witnesses(caption, scene)
    if negative.kind == NONE:
        return out
    mirrored = (
        caption.kind == REL
        and negative.kind == REL
        and (
            (negative.relation == caption.relation and negative.nps == (caption.nps[1], caption.nps[0]))
            or (negative.relation == RELATIONS.get(caption.relation or "") and negative.nps == caption.nps)
        )
    )
    for wit in wits:
        if mirrored:
            i, j = wit
            a, b = scene.objects[i], scene.objects[j]
            new_a = replace(a, bbox=box_at(*b.center, a.bbox[2] - a.bbox[0], size))
            new_b = replace(b, bbox=box_at(*a.center, b.bbox[2] - b.bbox[0], size))
            out.append(scene.with_object(i, new_a).with_object(j, new_b))
        edited = scene
        if negative.kind in (COUNT, PLURAL):
            for i in wit:
                edited = edited.with_object(i, apply_np(edited.objects[i], negative.nps[0], size))
        else:
            for i, np_ in zip(wit, negative.nps):
                edited = edited.with_object(i, apply_np(edited.objects[i], np_, size))
        if negative.kind == REL and negative.relation != caption.relation:
            continue  # an attribute edit cannot change a relation; only the position swap above can
        out.append(edited)
    return out
