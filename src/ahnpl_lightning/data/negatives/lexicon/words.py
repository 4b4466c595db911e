"""WordNet's word lists for captions: word classes, morphology (morphy with exceptions), sense-tagged frequencies.

Read straight from WordNet's files (``index.<pos>``, ``<pos>.exc``, ``cntlist.rev``) in about 0.2 s; the tagger uses
the classes and frequencies, the generator the lemmas.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from pathlib import Path

__all__ = ["IRREGULAR_PLURALS", "Lexicon", "get_lexicon"]

#: Plural -> singular for irregular nouns common in captions (also used to inflect replacements).
IRREGULAR_PLURALS: dict[str, str] = {
    "people": "person", "men": "man", "women": "woman", "children": "child", "feet": "foot", "teeth": "tooth",
    "geese": "goose", "mice": "mouse", "knives": "knife", "wives": "wife", "leaves": "leaf", "lives": "life",
    "loaves": "loaf", "shelves": "shelf", "wolves": "wolf", "calves": "calf", "halves": "half", "scarves": "scarf",
    "thieves": "thief", "oxen": "ox", "cacti": "cactus", "buses": "bus", "glasses": "glass",
}

_NOUN_RULES = (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
               ("ies", "y"))
_VERB_RULES = (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""))
_ADJ_RULES = (("er", ""), ("est", ""), ("er", "e"), ("est", "e"))
_POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
_SS_TYPE = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}


class Lexicon:
    """Word classes, inflection exceptions and sense-tagged frequencies read straight from WordNet's files."""

    def __init__(self, wordnet_dir: Path) -> None:
        self.words: dict[str, set[str]] = {pos: set() for pos in _POS_FILES}
        self.exceptions: dict[str, dict[str, list[str]]] = {pos: {} for pos in _POS_FILES}
        self.counts: dict[tuple[str, str], int] = defaultdict(int)
        for pos, name in _POS_FILES.items():
            with open(wordnet_dir / f"index.{name}", encoding="utf-8") as fh:
                self.words[pos] = {line.split(" ", 1)[0] for line in fh if not line.startswith(" ")}
            with open(wordnet_dir / f"{name}.exc", encoding="utf-8") as fh:
                for line in fh:
                    form, *lemmas = line.split()
                    self.exceptions[pos][form] = lemmas
        with open(wordnet_dir / "cntlist.rev", encoding="utf-8") as fh:
            for line in fh:
                key, _num, count = line.split()
                lemma, rest = key.split("%", 1)
                self.counts[(lemma, _SS_TYPE[rest[0]])] += int(count)

    def lemmas(self, word: str, pos: str) -> list[str]:
        """WordNet's morphy: base forms of ``word`` in ``pos`` (n/v/a/r), exceptions first, the word itself last."""
        word = word.lower().replace(" ", "_")
        words = self.words[pos]
        found = [lemma for lemma in self.exceptions[pos].get(word, ()) if lemma in words]
        rules = {"n": _NOUN_RULES, "v": _VERB_RULES, "a": _ADJ_RULES}.get(pos, ())
        for suffix, ending in rules:
            if word.endswith(suffix) and len(word) > len(suffix):
                base = word[: len(word) - len(suffix)] + ending
                if len(base) < 3:
                    continue  # "vest" is not the superlative of "v"
                if base in words and base not in found:
                    found.append(base)
        if word in words and word not in found:
            found.append(word)
        return found

    def count(self, lemma: str, pos: str) -> int:
        """Sense-tagged corpus frequency of ``lemma`` in ``pos`` (0 when untagged)."""
        return self.counts.get((lemma, pos), 0)


@functools.lru_cache(maxsize=1)
def get_lexicon() -> Lexicon:
    """The process-wide ``Lexicon`` over the WordNet found or built by ``ensure_wordnet``."""
    from ahnpl_lightning.data.negatives.lexicon.wordnet import ensure_wordnet

    return Lexicon(ensure_wordnet() / "corpora" / "wordnet")
