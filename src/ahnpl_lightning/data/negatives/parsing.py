"""A tagged caption (tokens with spans, Penn tags, lemmas) and the edits every negative type shares."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ahnpl_lightning.data.negatives.lexicon.inflection import article_for, match_case
from ahnpl_lightning.data.negatives.lexicon.words import IRREGULAR_PLURALS, Lexicon
from ahnpl_lightning.data.negatives.tagger import tokenize
from ahnpl_lightning.data.negatives.vocabulary import (
    ADJ_TAGS,
    ALPHA,
    NON_CONTENT_NOUNS,
    NP_TAGS,
    PLURALIA_TANTUM,
    VERB_TAGS,
)

__all__ = ["Parsed", "Parser", "render", "replace_span", "fix_articles"]


@dataclass
class Parsed:
    """A tagged caption: tokens with spans, Penn tags and lemmas of content words (None elsewhere)."""

    text: str
    words: list[str]
    spans: list[tuple[int, int]]
    tags: list[str]
    lemmas: list[str | None]
    roles: Any = None  # the ``roles.Roles`` of this caption, set by ``NegativeGenerator.generate``

    def content(self, tags: set[str] | frozenset[str], stop: frozenset[str]) -> list[int]:
        """Positions of alphabetic words tagged in ``tags`` whose word and lemma are not in ``stop``."""
        return [i for i, (t, lem) in enumerate(zip(self.tags, self.lemmas))
                if t in tags and lem is not None and ALPHA.match(self.words[i].lower()) and lem not in stop
                and self.words[i].lower() not in stop]

    def noun_units(self) -> list[list[int]]:
        """Maximal runs of content nouns (compounds such as 'tennis court' move as one unit)."""
        units: list[list[int]] = []
        for i in self.content(NP_TAGS, NON_CONTENT_NOUNS):
            if units and units[-1][-1] == i - 1:
                units[-1].append(i)
            else:
                units.append([i])
        return units


class Parser:
    """Tokenise, tag and lemmatise captions; lemmas are memoised per (word, part of speech)."""

    def __init__(self, tag: Callable[[Sequence[str]], list[str]], lexicon: Lexicon) -> None:
        self.tag = tag
        self.lexicon = lexicon
        self._lemmas: dict[tuple[str, str], str] = {}

    def lemma(self, word: str, pos: str) -> str:
        """The base form of lower-case ``word`` in ``pos`` (n/v/a): irregular plurals, then WordNet's morphy."""
        key = (word, pos)
        lemma = self._lemmas.get(key)
        if lemma is None:
            if pos == "n" and word in IRREGULAR_PLURALS:
                lemma = IRREGULAR_PLURALS[word]
            elif pos == "n" and word in PLURALIA_TANTUM:
                lemma = word
            else:
                found = self.lexicon.lemmas(word, pos)
                lemma = found[0] if found else word
            self._lemmas[key] = lemma
        return lemma

    def __call__(self, caption: str) -> Parsed:
        tokens = tokenize(caption)
        words = [t.text for t in tokens]
        tags = list(self.tag(words)) if words else []
        lemmas: list[str | None] = []
        for word, tag in zip(words, tags):
            pos = "n" if tag in NP_TAGS else "v" if tag in VERB_TAGS else "a" if tag in ADJ_TAGS else None
            lemmas.append(None if pos is None else self.lemma(word.lower(), pos))
        return Parsed(caption, words, [(t.start, t.end) for t in tokens], tags, lemmas)


def render(parsed: Parsed, edits: dict[int, str]) -> str:
    """Apply token edits (index -> new text), fixing a/an before every edited token."""
    edits = dict(edits)
    for index in list(edits):
        prev = index - 1
        if prev >= 0 and prev not in edits and parsed.words[prev].lower() in {"a", "an"} and edits[index]:
            edits[prev] = match_case(parsed.words[prev], article_for(edits[index]))
    text = parsed.text
    for index in sorted(edits, reverse=True):
        start, end = parsed.spans[index]
        text = text[:start] + edits[index] + text[end:]
    return text


def replace_span(parsed: Parsed, first: int, last: int, new: str) -> str:
    """Replace tokens ``first..last`` (inclusive) by ``new``, fixing a/an right before them."""
    start, end = parsed.spans[first][0], parsed.spans[last][1]
    text = parsed.text[:start] + new + parsed.text[end:]
    prev = first - 1
    if prev >= 0 and parsed.words[prev].lower() in {"a", "an"}:
        a, b = parsed.spans[prev]
        text = text[:a] + match_case(parsed.words[prev], article_for(new)) + text[b:]
    return text


def fix_articles(text: str) -> str:
    """Re-derive 'a'/'an' before every word (used after multi-token moves)."""
    def repl(m: re.Match[str]) -> str:
        return match_case(m.group(1), article_for(m.group(3))) + m.group(2) + m.group(3)
    return re.sub(r"\b([Aa]n?)(\s+)([A-Za-z]+)", repl, text)
