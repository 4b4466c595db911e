"""Who does what to whom in a tagged caption: noun units, their governing word, verbs with subject and object, and
the relations (a preposition or a verb) between two noun units. The slot model counts these roles over a caption
corpus, and the generators use them to pick replacements that fit and swaps that make sense.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ahnpl_lightning.data.negatives.parsing import Parsed
from ahnpl_lightning.data.negatives.vocabulary import (
    ATTRIBUTE_OF,
    AUX_VERBS,
    NON_CONTENT_NOUNS,
    NP_TAGS,
    PREPOSITION_PHRASES,
)

__all__ = ["NounUnit", "VerbSlot", "Relation", "Roles", "analyse", "verb_frame"]

_PRENOMINAL = {"DT", "PRP$", "CD", "JJ", "JJR", "JJS", "POS", "RB", "VBN", "VBG", "NN", "NNS", "NNP", "HYPH"}
_VERBS = {"VB", "VBP", "VBZ", "VBG", "VBD", "VBN"}
_PREPS = {"IN", "TO", "RP"}
_BE_HAVE = {"be", "have", "is", "are", "was", "were", "has", "had", "'s", "'re", "am", "been", "being"}


@dataclass(frozen=True)
class NounUnit:
    """A run of content nouns ("tennis court"): its tokens, head, lemma (the WordNet collocation "teddy_bear" when
    the run is one, else the head's lemma), the head's tag, its determiner, adjectives and governing word."""

    start: int
    head: int
    lemma: str
    tag: str
    det: str | None
    adjs: tuple[int, ...]
    gov: str
    gov_index: int | None
    gov_kind: str = "other"  # "prep", "verb", "start" or "other"

    @property
    def collocation(self) -> bool:
        return "_" in self.lemma


@dataclass(frozen=True)
class VerbSlot:
    """A content verb with the noun units that are its subject and direct object, and the preposition after it."""

    index: int
    lemma: str
    subj: int | None
    obj: int | None
    prep: str | None
    tag: str = "VB"
    ground: int | None = None  # the unit after its preposition ("looking at a cellphone")


@dataclass(frozen=True)
class Relation:
    """``figure`` (unit index) related to ``ground`` (unit index) by a preposition phrase (tokens ``prep_span``) or
    by a verb taking the ground as its object (``verb``); ``span`` covers the tokens between the two units."""

    figure: int
    ground: int
    prep: str | None
    prep_span: tuple[int, int] | None
    verb: int | None
    span: tuple[int, int]


@dataclass
class Roles:
    """The analysis of one caption."""

    units: list[NounUnit]
    verbs: list[VerbSlot]
    relations: list[Relation]

    def unit_at(self, token: int) -> int | None:
        """Index of the unit containing token ``token``."""
        return next((k for k, u in enumerate(self.units) if u.start <= token <= u.head), None)


def _prep_phrase_ending(low: list[str], tags: list[str], end: int) -> tuple[int, str]:
    """(start, text) of the preposition governing the noun after token ``end``: the longest known phrase ending
    there ("in front of"), or the preposition before a part-of phrase ("on the back of", "at the edge of": "on",
    "at"), else the single word."""
    for parts in PREPOSITION_PHRASES:
        n = len(parts)
        if end - n + 1 >= 0 and tuple(low[end - n + 1:end + 1]) == parts:
            return end - n + 1, " ".join(parts)
    if low[end] == "of" and end >= 2 and low[end - 1] in _PARTS:
        j = end - 2
        while j >= 0 and tags[j] in {"DT", "JJ", "PRP$"}:
            j -= 1
        if j >= 0 and tags[j] in {"IN", "TO"} and low[j] != "of":
            return j, low[j]
    return end, low[end]


#: Nouns naming a part or a portion of the noun after "of": "on the back of a motorcycle" is on the motorcycle.
_PARTS = frozenset("back edge side top front corner piece bunch pile stack slice plate bowl".split())


def analyse(parsed: Parsed, lemma_of: Callable[[str, str], str], is_collocation: Callable[[str], bool]) -> Roles:
    """Roles of ``parsed``: ``lemma_of(word, pos)`` lemmatises, ``is_collocation("teddy_bear")`` tells WordNet's
    multi-word nouns."""
    low = [w.lower() for w in parsed.words]
    tags = parsed.tags
    units: list[NounUnit] = []
    runs = parsed.noun_units()
    merged: set[int] = set()
    for number, run in enumerate(runs):
        if number in merged:
            continue
        head = run[-1]
        lemma = parsed.lemmas[head] or low[head]
        following = runs[number + 1] if number + 1 < len(runs) else None
        if following is not None and following[0] == head + 2 and len(following) == 1 and low[head + 1] == "of" and (
                is_collocation(f"{lemma}_of_{low[head + 2]}")):
            merged.add(number + 1)  # "a body of water", "a piece of cake": one thing, not a part of another
            run = [*run, head + 1, head + 2]
            head += 2
            lemma = f"{lemma}_of_{low[head]}"
            tags_head = tags[run[0]]
        else:
            tags_head = None
        if head + 1 < len(low) and tags[head + 1] == "NN" and is_collocation(f"{lemma}_{low[head + 1]}"):
            head += 1  # "tank top", "counter top": the second word is not content alone, but part of the name
            lemma = f"{lemma}_{low[head]}"
            run = [*run, head]
        if len(run) > 1 and tags_head is None:
            joined = "_".join([*low[run[0]:head], lemma])
            if is_collocation(joined):
                lemma = joined
            elif len(run) > 2 and is_collocation("_".join([*low[head - 1:head], lemma])):
                lemma = "_".join([*low[head - 1:head], lemma])
        j = run[0] - 1
        adjs: list[int] = []
        det = None
        while j >= 0 and (tags[j] in _PRENOMINAL and tags[j] not in NP_TAGS | {"NNP"} or tags[j] in {"CC", ","}
                          and adjs and j > 0 and tags[j - 1] in {"JJ", "VBN"}):  # "a black and white horse"
            if det is not None and tags[j] not in {"DT", "PRP$", "CD", "PDT"}:
                break  # left of the determiner: the governing word ("holding a red ball")
            if tags[j] in {"VBG", "VBN"} and j > 0 and tags[j - 1] not in {"DT", "PRP$", "CD", "JJ", "CC", ","}:
                break  # a verb taking the bare noun as object ("two men riding horses"), not a modifier
            if tags[j] in {"JJ", "VBN", "VBG"}:
                adjs.append(j)
            if tags[j] in {"DT", "PRP$", "CD"}:
                det = low[j]
            j -= 1
        if adjs and adjs[0] == run[0] - 1 and ATTRIBUTE_OF.get(low[adjs[0]]) != "colour" and is_collocation(
                f"{low[adjs[0]]}_{lemma}"):
            lemma = f"{low[adjs[0]]}_{lemma}"  # "living room", "hot dog": the adjective is part of the name
            run = [adjs.pop(0), *run]
        if j >= 0 and tags[j] in {"CC", ","} and units and units[-1].head < j:
            gov, gov_index, kind = units[-1].gov, units[-1].gov_index, units[-1].gov_kind  # "in a shirt and shorts"
        elif j < 0:
            gov, gov_index, kind = "<s>", None, "start"
        elif tags[j] in _PREPS:
            gov_index, gov = _prep_phrase_ending(low, tags, j)
            kind = "prep"
        elif tags[j] in _VERBS:
            gov, gov_index, kind = lemma_of(low[j], "v"), j, "verb"
        else:
            gov, gov_index, kind = tags[j], j, "other"
        units.append(NounUnit(run[0], head, lemma, tags[head], det, tuple(sorted(adjs)), gov, gov_index, kind))
    verbs: list[VerbSlot] = []
    relations: list[Relation] = []
    unit_of = {t: k for k, u in enumerate(units) for t in range(u.start, u.head + 1)}
    for k, unit in enumerate(units):
        if unit.gov_index is None or k == 0:
            continue
        g = unit.gov_index
        if unit.gov_kind == "verb":
            subject = _subject(units, relations, g, unit_of, low)
            if subject is not None:
                relations.append(Relation(subject, k, None, None, g, (units[subject].head + 1, unit.start)))
        elif unit.gov_kind == "prep":
            before = g - 1
            if before >= 1 and low[before - 1:before + 1] == ["each", "other"]:
                before -= 2  # "standing next to each other on a shelf": the figurines are on it
            while before >= 0 and (tags[before] in _VERBS | {"RB", "RP", ",", "JJ", "TO"} or low[before] in _BE_HAVE
                                   or low[before] in {"while", "as", "when", "all", "just", "that", "who", "which",
                                                      "next"}
                                   or tags[before] == "IN" and before == g - 1  # "standing outside in a street"
                                   or tags[before] == "CC" and before > 0 and tags[before - 1] in _VERBS):
                before -= 1
            if before > 0 and before not in unit_of and low[before] in NON_CONTENT_NOUNS:
                j = before - 1  # "a warplane on display in a field": skip the idiom to the thing it describes
                while j >= 0 and tags[j] in {"DT", "JJ"}:
                    j -= 1
                if j > 0 and tags[j] == "IN":
                    before = j - 1
                    while before >= 0 and (tags[before] in _VERBS | {"RB", ","} or low[before] in _BE_HAVE):
                        before -= 1
            figure = unit_of.get(before)
            if figure is None:
                continue
            partitive = next((r for r in relations if r.ground == figure and r.prep == "of"), None)
            if partitive is not None:  # "a plate of food on a table": the plate is on the table
                figure = partitive.figure
            verb = next((i for i in range(units[figure].head + 1, g) if tags[i] in _VERBS
                         and low[i] not in _BE_HAVE), None)
            relations.append(Relation(figure, k, unit.gov, (g, g + len(unit.gov.split()) - 1), verb,
                                      (units[figure].head + 1, unit.start)))
    for i, tag in enumerate(tags):
        if tag not in _VERBS or low[i] in _BE_HAVE or parsed.lemmas[i] in AUX_VERBS or parsed.lemmas[i] is None:
            continue
        subj = _subject(units, relations, i, unit_of, low)
        obj = next((k for k, u in enumerate(units) if u.gov_index == i), None)
        nxt = None
        ground = next((k for k, u in enumerate(units) if u.gov_index == i + 1 and u.gov_kind == "prep"), None)
        if ground is not None:  # "standing next to a wall": the phrase may start with an adverb
            nxt = units[ground].gov
        elif i + 1 < len(low) and tags[i + 1] in _PREPS:
            nxt = low[i + 1]
        verbs.append(VerbSlot(i, parsed.lemmas[i] or low[i], subj, obj, nxt, tag, ground))
    return Roles(units, verbs, [r for r in relations if units[r.ground].lemma not in NON_CONTENT_NOUNS])


def _subject(units: list[NounUnit], relations: list[Relation], verb: int, unit_of: dict[int, int],
             low: list[str]) -> int | None:
    """The unit acting as subject of the verb at ``verb``: the nearest unit before it, climbing out of the
    prepositional phrases it sits in ("a man in a white shirt holding ..." -> man) and from the object of an earlier
    verb to that verb's subject ("a guy wearing a jacket, holding a snowboard" -> guy)."""
    before = [k for k, u in enumerate(units) if u.head < verb]
    if not before:
        return None
    k = before[-1]
    for _ in range(4):
        rel = next((r for r in relations if r.ground == k), None)
        if rel is None:
            break
        k = rel.figure  # out of "in a white shirt", and from an object to its verb's subject: "wearing a hat, holding"
    return k


_NP_START = frozenset({"DT", "PRP$", "CD", "JJ", "JJR", "JJS", "NN", "NNS", "NNP", "NNPS", "PRP", "POS"})
_FUNCTION = frozenset({"IN", "TO", "RP", "RB", "RBR", "WRB"})


def verb_frame(parsed: Parsed, index: int) -> str:
    """What follows the verb at ``index``, as the slot model counts it: a noun phrase ("NP"), a verb ("VB"), the end
    ("</s>"), or a function word with what follows it when that is not a noun phrase ("down|on" in "laying down on
    the side", "in|</s>" in "the tide comes in"). A replacement verb must have been seen in the same frame."""
    words, tags = parsed.words, parsed.tags
    j = index + 1
    if j >= len(words) or tags[j] in {".", ":"} or words[j] in {".", "!", "?"}:
        return "</s>"
    if tags[j] in _NP_START:
        return "NP"
    if tags[j].startswith("VB"):
        return "VB"
    if tags[j] not in _FUNCTION:
        return tags[j] if tags[j][:1].isalpha() else ","
    low = [w.lower() for w in words[j:j + 4]]
    phrase = next((parts for parts in PREPOSITION_PHRASES if tuple(low[:len(parts)]) == parts), None)
    if phrase is not None:  # "in front of", "next to": the phrase is the frame
        return " ".join(phrase)
    word = low[0]
    k = j + 1
    if k >= len(words) or tags[k] in {".", ":"} or words[k] in {".", "!", "?"}:
        return f"{word}|</s>"
    if tags[k] in _NP_START:
        return word
    if tags[k] in _FUNCTION:
        return f"{word}|{words[k].lower()}"
    return f"{word}|{'VB' if tags[k].startswith('VB') else tags[k] if tags[k][:1].isalpha() else ','}"
