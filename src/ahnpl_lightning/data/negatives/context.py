"""Context fit: whether a replacement word suits every other word its slot is tied to, not only one slot.

A replacement that fits one slot can break the rest of the caption ("eating a cake" -> "eating a plate" fits "a
frosted _" nowhere; "boats in the water" -> "boats in the soda"). Each tie of a slot to the rest of the caption is a
*context*, a slot-model key whose counter lists the words seen there ("n|gov|eat": what is eaten; "r|in|f|boat":
where boats are; "n|subj|fly": what flies). A word fits a context when the corpus saw it there, or saw a close WordNet
kin of it there (siblings: "bench" where "chair" was seen); a context the corpus knows only from the caption's own
word accepts only close kin of that word. ``ContextFit.verdict`` is ``True`` when the word fits every context.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator

__all__ = ["ContextFit", "KIN"]

#: Hypernym-tree distance within which a word seen in a context vouches for another (siblings are 2 apart).
KIN = 2
_ANCHORS = 40  # the most frequent fillers of a context that may vouch for a word by kinship
_MEMO_SIZE = 400_000


class ContextFit:
    """Memoised fit tests of words against slot-model contexts (see the module docstring)."""

    def __init__(self, generator: NegativeGenerator) -> None:
        self.slots = generator.slots
        self.relatives = generator.relatives
        self._memo: dict[tuple[str, str, str, str], bool | None] = {}

    def fits(self, key: str, word: str, original: str, pos: str = "n") -> bool | None:
        """``True`` if ``word`` (or a close kin) filled ``key`` in the corpus, ``False`` if not, ``None`` when the
        context is unknown apart from ``original`` (the caption's own word, which vouches for nothing)."""
        memo_key = (key, word, original, pos)
        hit = self._memo.get(memo_key, ...)
        if hit is ...:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            hit = self._memo[memo_key] = self._fits(key, word, original, pos)
        return hit  # type: ignore[return-value]

    def _fits(self, key: str, word: str, original: str, pos: str) -> bool | None:
        counter = self.slots.get(key)
        others = [(w, n) for w, n in counter.most_common(_ANCHORS + 1) if w != original]
        if not others:
            return None
        if counter.get(word, 0) > 0:
            return True
        if pos != "n":
            return False  # verbs and adjectives: only the word itself vouches
        return any(self.vouches(anchor, word) for anchor, _ in others[:_ANCHORS])

    def vouches(self, anchor: str, word: str) -> bool:
        """Whether ``anchor`` seen in a slot makes ``word`` plausible there: a close kin ("bench" for "chair"), not
        a more general word ("animal grazing" says nothing of a dog)."""
        rel = self.relatives
        return rel.kin(word, anchor) <= KIN and not rel.is_kind_of(word, anchor) and rel.lexclass(anchor) != (
            "noun.Tops")

    def attested(self, key: str, word: str) -> bool:
        """``word`` or a close kin of it (``vouches``) filled ``key`` (an empty context vouches for nothing)."""
        counter = self.slots.get(key)
        return counter.get(word, 0) > 0 or any(self.vouches(a, word) for a, _ in counter.most_common(_ANCHORS))

    def verdict(self, keys: Iterable[str], word: str, original: str, pos: str = "n", unknown_kin: int = KIN) -> bool:
        """Whether ``word`` fits every context of ``keys``: the known ones by the corpus, the ones the corpus knows
        only from this caption by the original itself (a kin of it within ``unknown_kin`` fits where it fits: "bush"
        for "tree")."""
        close: bool | None = None
        for key in keys:
            verdict = self.fits(key, word, original, pos)
            if verdict is False:
                return False
            if verdict is None:
                if close is None:
                    close = pos == "n" and (self.vouches(original, word) if unknown_kin <= KIN else (
                        self.relatives.kin(original, word) <= unknown_kin))
                if not close:
                    return False
        return True
