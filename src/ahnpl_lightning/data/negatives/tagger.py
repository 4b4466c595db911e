"""Offline part-of-speech tagging for caption English (Penn Treebank tags).

nltk's perceptron tagger is used when its model (``averaged_perceptron_tagger_eng``) is installed; otherwise
``BuiltinTagger`` tags from the WordNet lexicon (word classes, inflections, sense-tagged frequencies from
``cntlist.rev``), closed-class word lists and a few left-to-right context rules. Captions are short noun phrases
and simple clauses, which these rules cover well; no training data is needed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ahnpl_lightning.data.negatives.lexicon.words import IRREGULAR_PLURALS, Lexicon, get_lexicon

__all__ = [
    "BuiltinTagger",
    "Token",
    "tokenize",
    "get_tagger",
    "nltk_tagger_available",
]

_TOKEN_RE = re.compile(r"[^\W_]+(?=n't)|n't|'[a-zA-Z]+|[^\W_]+(?:[-.][^\W_]+)*|\S")


@dataclass(frozen=True)
class Token:
    """A token with its character span in the source text."""

    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into words, clitics ('s, n't) and punctuation, keeping character spans."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


# --- closed-class words -------------------------------------------------------------------------------------------
_CLOSED: dict[str, str] = {}
for _tag, _words in {
    "DT": "a an the this these those some any each every another no all both either neither",
    "PRP": "i you he she it we they me him us them itself himself herself themselves myself someone something "
    "everyone everything somebody anyone anything nobody nothing",
    "PRP$": "my your his its our their",
    "IN": "about above across after against along alongside amid among amongst around as at atop before behind "
    "below beneath beside besides between beyond by despite during except for from in inside into like near of "
    "off on onto outside over past per since than through throughout toward towards under underneath until upon "
    "via while with within without because if whether though although amongst unlike",
    "TO": "to",
    "CC": "and or but nor &",
    "MD": "can could may might must shall should will would",
    "RB": "not n't very too also just almost only away together here nearby really quite still even rather "
    "so now then next ahead apart",
    "RP": "up down out",
    "WDT": "which whatever",
    "WP": "who whom what",
    "WP$": "whose",
    "WRB": "where when how why",
    "CD": "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand dozen",
    "JJ": "many several few other various different same own such much more most",
    "VBZ": "is has does 's",
    "VBP": "are am have do 're 'm",
    "VBD": "was were had did",
    "VB": "be",
    "VBN": "been",
    "VBG": "being having",
}.items():
    for _w in _words.split():
        _CLOSED[_w] = _tag
_AMBIGUOUS_CLOSED = {"that", "her", "there", "'s"}

# --- the built-in tagger ------------------------------------------------------------------------------------------
_NP_OPENERS = {"DT", "PRP$", "CD", "POS", "JJ", "JJR", "JJS", "IN"}
_NOUNISH = {"NN", "NNS", "NNP", "PRP"}
_VERB_FOLLOWERS = {"DT", "PRP$", "IN", "RP", "TO", "CD", "RB", "PRP", "END", "CC", "WDT", "WP", "EX"}
_BE_FORMS = {"is", "are", "was", "were", "be", "been", "being", "am", "'s", "'re", "'m"}
_PLURAL_SUBJECTS = {"they", "we", "you", "i", "these", "those"}


@dataclass(frozen=True)
class _Reading:
    """One analysis of an open-class word: coarse class n/v/a/r, fine Penn tag, frequency."""

    coarse: str
    tag: str
    freq: int


class BuiltinTagger:
    """Rule-based Penn tagger over the WordNet lexicon; deterministic and dependency-free."""

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        self.lexicon = lexicon or get_lexicon()
        self._cache: dict[str, tuple[_Reading, ...]] = {}

    def readings(self, word: str) -> tuple[_Reading, ...]:
        """All open-class analyses of ``word`` (lower-cased), best-first by frequency; cached."""
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        lex = self.lexicon
        out: list[_Reading] = []
        w = word.replace("-", "_") if "-" in word and word not in lex.words["n"] else word
        if w in IRREGULAR_PLURALS:
            lemma = IRREGULAR_PLURALS[w]
            out.append(_Reading("n", "NNS", lex.count(lemma, "n") + lex.count(w, "n") + 1))
        for pos in ("n", "v", "a", "r"):
            if pos == "n" and out:
                continue
            for lemma in lex.lemmas(w, pos):
                freq = lex.count(lemma, pos) + 1
                if pos == "n":
                    tag = "NN" if lemma == w and not _plurale_tantum(w) else "NNS"
                elif pos == "v":
                    tag = _verb_form_tag(w, lemma)
                elif pos == "a":
                    tag = "JJ" if lemma == w else ("JJS" if w.endswith("st") else "JJR")
                else:
                    tag = "RB"
                out.append(_Reading(pos, tag, freq))
                break
        if not out:
            out = [_guess_unknown(w)]
        out.sort(key=lambda r: -r.freq)
        result = tuple(out)
        self._cache[word] = result
        return result

    def tag(self, words: Sequence[str]) -> list[str]:
        """Penn tags for ``words`` (one sentence)."""
        lowered = [w.lower() for w in words]
        tags: list[str] = []
        for i, word in enumerate(lowered):
            prev = tags[i - 1] if i else "START"
            nxt = lowered[i + 1] if i + 1 < len(lowered) else None
            tag = self._tag_one(word, i, lowered, tags, prev, nxt)
            if tag == "NN" and i and words[i][:1].isupper() and self._unknown(word):
                tag = "NNP"  # an unknown capitalised word inside a caption: a name ("Leizan trees")
            tags.append(tag)
        return tags

    def _unknown(self, word: str) -> bool:
        return all(word not in self.lexicon.words[pos] for pos in ("n", "v", "a", "r")) and word not in _CLOSED

    def _next_class(self, nxt: str | None) -> str:
        """Coarse class of the next word: a closed tag, END, or the set of open classes as 'n|v|a'."""
        if nxt == ",":
            return ","
        if nxt is None or not nxt[0].isalnum() and nxt not in _CLOSED and nxt not in _AMBIGUOUS_CLOSED:
            return "END"
        if nxt in _CLOSED:
            return _CLOSED[nxt]
        if nxt in _AMBIGUOUS_CLOSED:
            return "DT" if nxt in {"that", "her"} else "EX"
        if nxt.isdigit():
            return "CD"
        return "|".join(sorted({r.coarse for r in self.readings(nxt)}))

    def _tag_one(self, word: str, i: int, words: list[str], tags: list[str], prev: str, nxt: str | None) -> str:
        if word.isdigit() or re.fullmatch(r"\d+(?:[.,]\d+)*", word):
            return "CD"
        if not word[0].isalnum() and word not in _CLOSED:
            return word if word in {",", ".", ":", "(", ")", "''", "``", "$", "#"} else "SYM"
        nclass = self._next_class(nxt)
        next_open = set(nclass.split("|")) if nclass.islower() else set()
        if word in _AMBIGUOUS_CLOSED:
            if word == "'s":
                return "VBZ" if prev in {"PRP", "EX", "WP", "WDT"} else "POS"
            if word == "there":
                return "EX" if nxt in _BE_FORMS else "RB"
            np_follows = bool(next_open & {"n", "a"}) or nclass in {"CD", "JJ"}
            if word == "her":
                return "PRP$" if np_follows else "PRP"
            return "DT" if np_follows and prev not in _NOUNISH else "WDT"
        if word == "can" and prev in {"DT", "JJ", "NN"} and i > 1 and nclass in {"IN", "END", ",", "CC"}:
            return "NN"  # "a watering can on the sill"
        if word in _CLOSED:
            return _CLOSED[word]
        readings = self.readings(word)
        if len(readings) == 1:
            only = readings[0].tag
            if only == "VBD" and (words[i - 1 if i else 0] in _BE_FORMS or prev in _NOUNISH and (
                    words[i - 1] not in _SUBJECT_PRONOUNS) or next_open & {"n"} and prev != "START"):
                return "VBN"  # passive, reduced relative ("a clock displayed against") or modifier ("diced meat")
            if only == "VB" and (prev == "NNS" or i and words[i - 1] in _PLURAL_SUBJECTS):
                return "VBP"  # "two players compete in"
            return only
        by = {r.coarse: r for r in readings}
        noun, verb, adj = by.get("n"), by.get("v"), by.get("a")
        prev_word = words[i - 1] if i else ""

        if prev in {"TO", "MD"} and verb:
            return "VB"
        if prev_word in _BE_FORMS:
            if verb and verb.tag == "VBG":
                return "VBG"
            if verb and verb.tag in {"VBD", "VBN"}:
                return "VBN"
            if adj:
                return adj.tag  # predicative: "is full of"
        if prev == "IN" and verb and verb.tag == "VBG" and noun and prev_word not in _GERUND_PREPOSITIONS and (
                nclass not in {"DT", "PRP$", "PRP", "CD", "RP"}):
            return noun.tag  # no object follows: a noun ("with writing on top", "show of clothing")
        if prev in _NP_OPENERS or prev in {"CC", "START"} or prev_word in _BE_FORMS:
            if verb and verb.tag == "VBG" and nclass in {"DT", "PRP$", "RP", "IN", "TO", "PRP", "CD"} and (
                    prev in {"IN", "CC", "START"} or prev_word in _BE_FORMS):
                return "VBG"  # a gerund taking an object: "of blowing out" (never after a/the: "the building")
            if next_open & {"n", "a"} or nclass == "CD":  # modifier slot: "a red car", "a parked car"
                if adj and (not noun or adj.freq * 3 >= noun.freq):
                    return adj.tag
                if verb and verb.tag in {"VBD", "VBN"} or verb and verb.tag == "VBG" and not noun:
                    return "VBN" if verb.tag == "VBD" else verb.tag
                if noun:
                    return noun.tag
            elif adj and nclass in {",", "CC"} and (not noun or adj.freq >= noun.freq):
                return adj.tag  # coordinated: "a red and white train"
            elif noun and prev != "START":
                return noun.tag
        if prev in _NOUNISH and verb:
            vtag = verb.tag
            if vtag == "VBG" and noun and prev == "NN" and i > 1 and tags[i - 2] in {"DT", "JJ", "CD", "PRP$"} and (
                    noun.freq * 4 >= verb.freq and nclass in {"IN", "END", ",", "CC", "TO"}):
                return noun.tag  # the head of a compound: "a stone building near", "an oil painting."
            if vtag in {"VBG", "VBN", "VBD"} and (vtag == "VBG" or not noun or noun.tag != "NNS"):
                if vtag == "VBD" and prev_word not in _SUBJECT_PRONOUNS:
                    return "VBN"  # after a noun, captions use the participle: "a bus parked by the road"
                return vtag
            number = _np_number(words, tags, i)
            if vtag == "VBZ" and noun and noun.tag == "NNS" and prev == "NN" and (
                    number == "pl" or number == "bare" and i > 1 and tags[i - 2] == "IN"):
                return "NNS"  # the plural head of a compound: "two traffic signs", "in animal prints"
            plural_subject = prev == "NNS" or prev_word in _PLURAL_SUBJECTS
            follows = nclass in _VERB_FOLLOWERS
            verb_likely = not noun or verb.freq * 2 >= noun.freq
            if vtag == "VBZ" and not plural_subject and (
                    follows and nclass != "END" and verb_likely or number == "sg" and prev == "NN"
                    or noun is not None and verb.freq >= 3 * noun.freq):
                return "VBZ"  # "a man walks toward", "another person watches.", "a kite surfer gets high"
            last_cc = max((k for k, t in enumerate(tags) if t == "CC"), default=-1)
            coordinated = last_cc >= 0 and not any(t in _FINITE or t == "IN" for t in tags[last_cc:])
            if vtag == "VB" and (plural_subject or coordinated) and follows:
                return "VBP"
        best = readings[0]
        if best.tag in {"VB", "VBZ"} and noun and prev not in {"NNS", "PRP", "RB", "START", "CC"}:
            return noun.tag  # a bare verb is ungrammatical here: "a kitchen sink"
        return best.tag


_GERUND_PREPOSITIONS = {"while", "by", "for", "after", "before", "without", "when", "from", "about"}
_SUBJECT_PRONOUNS = {"he", "she", "it", "they", "we", "i", "you", "who"}
_FINITE = {"VBZ", "VBP", "VBD", "MD"}
_SINGULAR_DETERMINERS = {"a", "an", "another", "one", "this", "that", "each", "every"}
_PLURAL_DETERMINERS = {"these", "those", "several", "many", "few", "both", "multiple", "various", "numerous", "some"}
_NP_INSIDE = {"NN", "NNS", "JJ", "JJR", "JJS", "VBN", "CD", "DT", "PRP$", "POS", "CC", ","}


def _np_number(words: list[str], tags: list[str], i: int) -> str:
    """Number of the noun phrase that ends just before ``i``, from its determiner or number word: "sg", "pl", or
    "bare" (none found)."""
    j = i - 1
    while j >= 0 and tags[j] in _NP_INSIDE and tags[j] not in {"CC", ","}:
        word = words[j]
        if word in _SINGULAR_DETERMINERS:
            return "sg"
        if word in _PLURAL_DETERMINERS or tags[j] == "CD" and word not in {"one", "1"}:
            return "pl"
        j -= 1
    return "bare"


def _plurale_tantum(word: str) -> bool:
    """A noun whose lemma is plural in form ("scissors", "pants", "jeans"): tagged NNS like any plural."""
    return word.endswith("s") and not word.endswith(("ss", "us", "is", "ys", "as", "os", "ns")) and len(word) > 4


def _verb_form_tag(word: str, lemma: str) -> str:
    if word == lemma:
        return "VB"
    if word.endswith("ing"):
        return "VBG"
    if word.endswith("s") and not word.endswith("ss"):
        return "VBZ"
    return "VBD"


def _guess_unknown(word: str) -> _Reading:
    """Suffix guess for out-of-lexicon words."""
    if word.endswith("ly"):
        return _Reading("r", "RB", 0)
    if word.endswith("ing"):
        return _Reading("v", "VBG", 0)
    if word.endswith("ed"):
        return _Reading("a", "JJ", 0) if "_" in word else _Reading("v", "VBN", 0)
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return _Reading("n", "NNS", 0)
    return _Reading("n", "NN", 0)


# --- backend selection --------------------------------------------------------------------------------------------
def nltk_tagger_available() -> bool:
    """True when nltk's perceptron tagger model is installed."""
    import nltk

    try:
        nltk.data.find("taggers/averaged_perceptron_tagger_eng/")
    except LookupError:
        return False
    return True


@functools.lru_cache(maxsize=4)
def get_tagger(backend: str = "auto") -> Callable[[Sequence[str]], list[str]]:
    """A function words -> Penn tags: ``nltk`` (perceptron), ``builtin``, or ``auto`` (nltk if installed)."""
    if backend not in {"auto", "nltk", "builtin"}:
        raise ValueError(f"unknown tagger backend {backend!r}; expected 'auto', 'nltk' or 'builtin'")
    if backend == "nltk" or backend == "auto" and nltk_tagger_available():
        from nltk.tag.perceptron import PerceptronTagger

        perceptron = PerceptronTagger()
        return lambda words: [tag for _, tag in perceptron.tag(list(words))]
    return BuiltinTagger().tag
