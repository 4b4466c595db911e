"""Non-synonymous replacement words from WordNet: co-hyponyms, antonyms, attribute values, curated families."""

from __future__ import annotations

from collections.abc import Iterable

from ahnpl_lightning.data.negatives.lexicon.wordnet_index import WordNetIndex, get_wordnet_index
from ahnpl_lightning.data.negatives.lexicon.words import Lexicon, get_lexicon
from ahnpl_lightning.data.negatives.vocabulary import (
    ADJ_FAMILIES,
    ALPHA,
    AUX_VERBS,
    NON_CONTENT_NOUNS,
    NOUN_FAMILIES,
    VERB_FAMILIES,
    family_alternatives,
)

__all__ = ["WordNetAlternatives"]


class WordNetAlternatives:
    """Plausible, non-synonymous replacement lemmas per part of speech, most frequent first; cached per lemma.

    WordNet is read through ``WordNetIndex`` (dict look-ups on the database files) rather than nltk's reader,
    so a lemma's first look-up costs tens of microseconds, not milliseconds (issue 4); the answers are the same.
    """

    def __init__(self, wordnet: WordNetIndex | None = None, lexicon: Lexicon | None = None, top_k: int = 6) -> None:
        self.wordnet = wordnet or get_wordnet_index()
        self.lexicon = lexicon or get_lexicon()
        self.top_k = top_k
        self._cache: dict[tuple[str, str], tuple[str, ...]] = {}
        self._first_lexnames: dict[tuple[str, str], str] = {}
        self._names: dict[tuple[int, str], tuple[str, ...]] = {}

    def get(self, lemma: str, pos: str) -> tuple[str, ...]:
        """Alternatives for ``lemma`` with ``pos`` in n/v/a."""
        key = (lemma, pos)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = tuple(self._compute(lemma, pos))
        return hit

    def synonyms(self, lemma: str, pos: str) -> set[str]:
        """Every lemma sharing a synset with ``lemma`` in ``pos`` (adjective satellites included)."""
        out = {lemma}
        for sid in self.wordnet.synsets(lemma, pos):
            out.update(name.lower() for name in self.wordnet.synset(sid).names)
        return out

    def _usable(self, word: str, pos: str, banned: set[str]) -> bool:
        return word not in banned and self._plausible(word, pos)

    def _plausible(self, word: str, pos: str) -> bool:
        """A plain lower-case word of ``pos`` that can stand in a caption (the part of ``_usable`` not per lemma)."""
        return (bool(ALPHA.match(word)) and len(word) > 2 and word in self.lexicon.words[pos]
                and word not in NON_CONTENT_NOUNS and word not in AUX_VERBS)

    def _first_lexname(self, word: str, pos: str) -> str:
        """Lexicographer file of the first sense of ``word`` ("" if WordNet lacks it)."""
        key = (word, pos)
        hit = self._first_lexnames.get(key)
        if hit is None:
            # an index lemma is its own first morphy form, so its first sense is its index line's first offset
            synsets = self.wordnet.lemma_synsets(word, pos) or self.wordnet.synsets(word, pos)
            hit = self._first_lexnames[key] = self.wordnet.lexname(synsets[0]) if synsets else ""
        return hit

    def _candidate_names(self, sid: int, pos: str) -> tuple[str, ...]:
        """Names of synset ``sid`` that are plausible words whose own main sense is of the synset's kind
        (drops "type" under "woman"); memoised per synset, as siblings and cousins recur across lemmas."""
        key = (sid, pos)
        hit = self._names.get(key)
        if hit is None:
            lexname = self.wordnet.lexname(sid)
            hit = self._names[key] = tuple(n for n in self.wordnet.names(sid) if self._plausible(n, pos)
                                           and self._first_lexname(n, pos) == lexname)
        return hit

    def _rank(self, words: Iterable[str], pos: str) -> list[str]:
        scored = sorted(set(words), key=lambda w: (-self.lexicon.count(w, pos), w))
        frequent = [w for w in scored if self.lexicon.count(w, pos) > 0]
        return (frequent or scored)[: self.top_k]

    def _compute(self, lemma: str, pos: str) -> list[str]:
        banned = self.synonyms(lemma, pos)
        if pos == "a":
            curated = family_alternatives(lemma, ADJ_FAMILIES)
            if curated:
                return [w for w in curated if w not in banned]
            return self._rank(self._adjective_candidates(lemma, banned), "a")
        if pos == "n":
            curated = family_alternatives(lemma, NOUN_FAMILIES)
            if curated:
                return [w for w in curated if w not in banned]
            return self._rank(self._cohyponyms(lemma, "n", banned), "n")
        curated = family_alternatives(lemma, VERB_FAMILIES)
        if curated:
            return [w for w in curated if w not in banned and w in self.lexicon.words["v"]]
        return self._rank(self._cohyponyms(lemma, "v", banned), "v")

    def _adjective_candidates(self, lemma: str, banned: set[str]) -> list[str]:
        """Antonyms of the adjective (via the head of a satellite's cluster) and same-attribute values."""
        wn = self.wordnet
        out: list[str] = []
        for sid in wn.synsets(lemma, "a")[:3]:
            heads = [sid] if wn.synset(sid).pos == "a" else wn.related(sid, "&")
            for head in heads:
                for name in wn.synset(head).names:
                    out.extend(wn.lemma_related(head, name, "!"))
                for attribute in wn.related(head, "="):
                    out.extend(n for value in wn.related(attribute, "=") for n in wn.synset(value).names)
        return [w.lower() for w in out if self._usable(w.lower(), "a", banned)]

    def _cohyponyms(self, lemma: str, pos: str, banned: set[str]) -> list[str]:
        """Siblings under the first sense's hypernyms (then cousins), same lexicographer file, not relatives."""
        wn = self.wordnet
        synsets = wn.synsets(lemma, pos)
        if not synsets:
            return []
        sense = synsets[0]
        ancestors = wn.closure(sense, ("@", "@i"))
        parents = wn.related(sense, "@", "@i")
        candidates = [c for p in parents for c in wn.related(p, "~", "~i") if c != sense]
        words = self._words_of(candidates, sense, ancestors, pos, banned)
        if len(words) < self.top_k:
            cousins = [c for p in parents for g in wn.related(p, "@") for u in wn.related(g, "~") if u not in parents
                       for c in wn.related(u, "~")]
            words += [w for w in self._words_of(cousins, sense, ancestors, pos, banned) if w not in words]
        if pos == "v":
            for name in wn.synset(sense).names:
                words += [a for a in wn.lemma_related(sense, name, "!") if self._usable(a, "v", banned)]
        return words

    def _words_of(self, candidates: list[int], sense: int, ancestors: frozenset[int], pos: str,
                  banned: set[str]) -> list[str]:
        """Usable names of ``candidates`` of the sense's lexicographer file that are not its ancestors/descendants."""
        wn = self.wordnet
        lexname = wn.synset(sense).lexname
        out: list[str] = []
        seen = set(banned)
        for cand in candidates:
            names = self._candidate_names(cand, pos)
            if not names or cand in ancestors or wn.lexname(cand) != lexname or sense in wn.closure(cand, ("@",)):
                continue
            for name in names:
                if name not in seen:
                    seen.add(name)
                    out.append(name)
        return out

