"""WordNet kinship between two words: the filter that keeps a replacement from being still true of the image.

A replacement is refused when it shares a sense with the original (synonym), lies above or below it in the
hypernym tree ("street" -> "road", "dog" -> "animal", "person" -> "man"), is a part or the whole of it ("mouth",
"face"), shares a verb group, an entailment or a
cause with it ("eat" -> "chew"), or is an adjective of the same similarity cluster ("big" -> "huge"). Only the first
few senses count: captions use words in their common senses, and rare senses would refuse everything.
"""

from __future__ import annotations

import functools

from ahnpl_lightning.data.negatives.lexicon.wordnet_index import WordNetIndex, get_wordnet_index

__all__ = ["Relatives", "get_relatives", "ANIMATE", "CONCRETE"]

#: Lexicographer files of things that act (subjects of most caption verbs).
ANIMATE = frozenset({"noun.person", "noun.animal"})
#: Lexicographer files of things a picture can show.
CONCRETE = frozenset({"noun.artifact", "noun.animal", "noun.person", "noun.food", "noun.plant", "noun.object",
                      "noun.body", "noun.substance"})
_HYPER = ("@", "@i")


class Relatives:
    """Memoised WordNet kinship tests over a ``WordNetIndex``; ``senses`` bounds the senses considered per word."""

    def __init__(self, wordnet: WordNetIndex | None = None, senses: int = 4) -> None:
        self.wordnet = wordnet or get_wordnet_index()
        self.senses = senses
        self._related: dict[tuple[str, str, str], bool] = {}
        self._synsets: dict[tuple[str, str], tuple[int, ...]] = {}
        self._up: dict[tuple[str, str], frozenset[int]] = {}
        self._kin: dict[tuple[str, str, str], int] = {}
        self._dist: dict[int, dict[int, int]] = {}
        self._classes: dict[tuple[str, str], str] = {}
        self._kinds: dict[tuple[str, str, str, int, int], bool] = {}
        self._senses_of_class: dict[tuple[str, str], tuple[int, ...]] = {}

    def synsets(self, lemma: str, pos: str) -> tuple[int, ...]:
        """The first ``senses`` synsets of ``lemma`` (an index lemma, or any form via morphy)."""
        key = (lemma, pos)
        hit = self._synsets.get(key)
        if hit is None:
            found = self.wordnet.lemma_synsets(lemma, pos) or tuple(self.wordnet.synsets(lemma, pos))
            hit = self._synsets[key] = tuple(found[: self.senses])
        return hit

    def _ancestors(self, lemma: str, pos: str) -> frozenset[int]:
        key = (lemma, pos)
        hit = self._up.get(key)
        if hit is None:
            out: set[int] = set()
            for sid in self.synsets(lemma, pos):
                out |= self.wordnet.closure(sid, _HYPER)
            hit = self._up[key] = frozenset(out)
        return hit

    def related(self, a: str, b: str, pos: str) -> bool:
        """Whether ``b`` is a synonym, hypernym, hyponym (or, for verbs, a verb-group/entailment/cause neighbour; for
        adjectives, a member of the same similarity cluster) of ``a`` in their first senses."""
        if a == b:
            return True
        key = (a, b, pos) if a < b else (b, a, pos)
        hit = self._related.get(key)
        if hit is None:
            hit = self._related[key] = self._compute(a, b, pos)
        return hit

    def _compute(self, a: str, b: str, pos: str) -> bool:
        sa, sb = set(self.synsets(a, pos)), set(self.synsets(b, pos))
        if not sa or not sb:
            return False
        if sa & sb or sb & self._ancestors(a, pos) or sa & self._ancestors(b, pos):
            return True
        wn = self.wordnet
        if pos == "n":  # part and whole ("mouth" of a "face"), member and group, stuff and thing
            parts = {t for s in sa for t in wn.related(s, "%p", "#p", "%m", "#m", "%s", "#s")}
            back = {t for s in sb for t in wn.related(s, "%p", "#p", "%m", "#m", "%s", "#s")}
            return bool(parts & sb or back & sa)
        if pos == "v":
            near = {t for s in sa for t in wn.related(s, "$", "*", ">")}
            back = {t for s in sb for t in wn.related(s, "$", "*", ">")}
            return bool(near & sb or back & sa)
        if pos in {"a", "s"}:
            heads_a = {h for s in sa for h in ((s,) if wn.synset(s).pos == "a" else wn.related(s, "&"))}
            heads_b = {h for s in sb for h in ((s,) if wn.synset(s).pos == "a" else wn.related(s, "&"))}
            return bool(heads_a & heads_b)
        return False

    def kin(self, a: str, b: str, pos: str = "n") -> int:
        """Hypernym-tree distance between the closest of the first two senses of ``a`` and ``b`` of their class
        (``lexclass``: "sheep" the animal, not the simpleton) through their lowest common ancestor (cup-bowl 3,
        helmet-wall 7), 99 when none within eight levels; memoised."""
        key = (a, b, pos) if a < b else (b, a, pos)
        hit = self._kin.get(key)
        if hit is None:
            hit = 99
            for sa in self._class_senses(a, pos):
                da = self._distances(sa)
                for sb in self._class_senses(b, pos):
                    db = self._distances(sb)
                    shared = da.keys() & db.keys()
                    if shared:
                        hit = min(hit, min(da[s] + db[s] for s in shared))
            self._kin[key] = hit
        return hit

    def _class_senses(self, lemma: str, pos: str) -> tuple[int, ...]:
        """The first two senses of ``lemma`` in its class (``lexclass``), or its first sense; memoised."""
        key = (lemma, pos)
        hit = self._senses_of_class.get(key)
        if hit is None:
            synsets = self.synsets(lemma, pos)[:2]
            cls = self.lexclass(lemma, pos)
            hit = self._senses_of_class[key] = tuple(s for s in synsets if self.wordnet.lexname(s) == cls) or (
                synsets[:1])
        return hit

    def _distances(self, sid: int, depth: int = 8) -> dict[int, int]:
        hit = self._dist.get(sid)
        if hit is None:
            hit = {sid: 0}
            frontier = [sid]
            for level in range(1, depth + 1):
                frontier = [p for x in frontier for p in self.wordnet.related(x, *_HYPER) if p not in hit]
                for p in frontier:
                    hit.setdefault(p, level)
            self._dist[sid] = hit
        return hit

    def lexclass(self, lemma: str, pos: str = "n") -> str:
        """Lexicographer file of the word's first concrete sense among its first six (captions describe things one
        can see: "table" is furniture, not a table of data; "case" a container), else of its first sense; "" when
        WordNet lacks it."""
        key = (lemma, pos)
        hit = self._classes.get(key)
        if hit is not None:
            return hit
        synsets = self.synsets(lemma, pos)
        if not synsets:
            hit = ""
        else:
            more = self.wordnet.lemma_synsets(lemma, pos) or tuple(self.wordnet.synsets(lemma, pos))
            names = [self.wordnet.lexname(s) for s in more[:6]]
            first = next((n for n in names[:len(synsets)] if n in CONCRETE), None)
            later = next((n for n in names[len(synsets):] if n == "noun.artifact"), None)  # "case": a container
            hit = (first or later or names[0]) if pos == "n" else names[0]
        self._classes[key] = hit
        return hit

    def is_kind_of(self, lemma: str, ancestor: str, pos: str = "n", senses: int = 1, ancestor_senses: int = 1) -> bool:
        """Whether the first sense (or one of the first ``senses``) of ``lemma`` lies under the first sense (or one of
        the first ``ancestor_senses``) of ``ancestor`` ("shirt" under "clothing"; "skirt", first a cloth covering,
        second a garment; "street sign" under "sign", the signboard, its second sense); memoised."""
        key = (lemma, ancestor, pos, senses, ancestor_senses)
        hit = self._kinds.get(key)
        if hit is None:
            hit = self._kinds[key] = self._is_kind_of(lemma, ancestor, pos, senses, ancestor_senses)
        return hit

    def _is_kind_of(self, lemma: str, ancestor: str, pos: str, senses: int, ancestor_senses: int) -> bool:
        synsets = self.synsets(lemma, pos)[:senses]
        targets = set(self.wordnet.lemma_synsets(ancestor, pos)[:ancestor_senses])
        return any(s in targets or targets & self.wordnet.closure(s, _HYPER) for s in synsets)


@functools.lru_cache(maxsize=1)
def get_relatives() -> Relatives:
    """The process-wide ``Relatives`` over the process-wide WordNet index."""
    return Relatives()
