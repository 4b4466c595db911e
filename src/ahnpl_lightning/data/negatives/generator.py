"""``NegativeGenerator``: text hard negatives of every registered type for a caption (docs/METHOD.md §1, §3).

Each type is one function in the registry (``registry.py``, ``kinds/``); the generator parses the caption once and
gives every type the same lexicon, WordNet alternatives and a ``random.Random`` seeded with ``stable_seed`` of
(version, seed, type, caption), so outputs are identical across processes and machines. CE-CLIP used spaCy and a
masked LM for these; we use a tagger, WordNet and rules instead, offline.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

from ahnpl_lightning.data.negatives.alternatives import WordNetAlternatives
from ahnpl_lightning.data.negatives.candidates import Candidates
from ahnpl_lightning.data.negatives.lexicon.inflection import pluralize
from ahnpl_lightning.data.negatives.lexicon.relatives import Relatives
from ahnpl_lightning.data.negatives.lexicon.wordnet_index import WordNetIndex
from ahnpl_lightning.data.negatives.lexicon.words import Lexicon, get_lexicon
from ahnpl_lightning.data.negatives.parsing import Parsed, Parser
from ahnpl_lightning.data.negatives.registry import negative_kind
from ahnpl_lightning.data.negatives.roles import Roles, analyse
from ahnpl_lightning.data.negatives.slots import SlotModel, fit_slot_model
from ahnpl_lightning.data.negatives.tagger import get_tagger
from ahnpl_lightning.data.negatives.vocabulary import GENERIC_PEOPLE, PERSON_NOUNS
from ahnpl_lightning.seeding import stable_seed
from ahnpl_lightning.types import ALL_TYPES, NEGATIVE_TYPES

__all__ = ["GENERATOR_VERSION", "NegativeGenerator", "negative_mask"]

#: Bump when any output for a given (caption, seed) can change; stored in the cache's metadata, and a cache of
#: another version is rebuilt, never mixed. 3: one ``stable_seed`` (little-endian) for the package. 4: replacements
#: from the slot model, WordNet kinship and frequency filters, lemminflect, plausible swaps or relation changes.
#: 5: replacements must fit every context of their slot (verb frames, subjects, objects, places, figure-ground pairs),
#: postures and vague verbs, "X of Y", compounds, agreement, age and colour checks; ``relation`` changes relations
#: most reliable first (issue 14, second round).
GENERATOR_VERSION = "7"
#: The version mixed into the random choices: kept at "6" in v7 (which changed nouns only), so that every other
#: type draws the same negatives as v6 and keeps its audit labels.
_RNG_VERSION = "6"


class NegativeGenerator:
    """Deterministic text hard negatives of every type in ``ALL_TYPES`` for a caption.

    Args:
        seed: mixes into every random choice; same (caption, seed, GENERATOR_VERSION) -> same negatives.
        tagger: ``auto`` (nltk perceptron if installed, else the built-in tagger), ``nltk``, ``builtin``, or a
            callable words -> Penn tags.
        top_k: how many of the best-ranked replacements to sample one from.
        lexicon, wordnet: the WordNet lexicon and index to use (default: the process-wide ones).
        slots: the slot model (which words fill which slots of captions); default: the table shipped with the
            package. ``fit(captions)`` adds the counts of the captions being processed.
    """

    def __init__(self, seed: int = 0, tagger: str | Callable[[Sequence[str]], list[str]] = "auto", top_k: int = 6,
                 lexicon: Lexicon | None = None, wordnet: WordNetIndex | None = None,
                 slots: SlotModel | None = None) -> None:
        self.seed = seed
        self.top_k = top_k
        self.lexicon = lexicon or get_lexicon()
        self.tagger_name = tagger if isinstance(tagger, str) else getattr(tagger, "__name__", "custom")
        self._tag = get_tagger(tagger) if isinstance(tagger, str) else tagger
        self.alternatives = WordNetAlternatives(wordnet=wordnet, lexicon=self.lexicon, top_k=top_k)
        self.relatives = Relatives(self.alternatives.wordnet)
        self.parse: Parser = Parser(self._tag, self.lexicon)
        self.slots = slots if slots is not None else SlotModel.shipped()
        self.candidates = Candidates(self)
        self._kinds = {kind: negative_kind(kind).make for kind in ALL_TYPES}
        self._classes: dict[str, str] = {}
        self._collocations: dict[str, bool] = {}

    def fit(self, captions: Iterable[str], groups: Iterable[object] | None = None) -> NegativeGenerator:
        """Add the slot counts of ``captions`` (``groups``: one image key per caption, for the same-image
        near-synonyms) to this generator's slot model; returns ``self``."""
        self.slots = self.slots.merged(fit_slot_model(self, captions, groups))
        self.candidates = Candidates(self)
        return self

    def analyse(self, caption: str) -> tuple[Parsed, Roles]:
        """Parse ``caption`` and find its roles (noun units, verbs, relations)."""
        parsed = self.parse(caption)
        return parsed, analyse(parsed, self.parse.lemma, self.is_collocation)

    def lexclass(self, lemma: str) -> str:
        """WordNet class (lexicographer file of the first sense) of the noun ``lemma``; memoised."""
        hit = self._classes.get(lemma)
        if hit is None:
            person = lemma in PERSON_NOUNS or lemma in GENERIC_PEOPLE
            hit = self._classes[lemma] = "noun.person" if person else self.relatives.lexclass(lemma, "n")
        return hit

    def is_collocation(self, lemma: str) -> bool:
        """Whether ``lemma`` ("teddy_bear") is a WordNet noun."""
        hit = self._collocations.get(lemma)
        if hit is None:
            hit = self._collocations[lemma] = bool(self.alternatives.wordnet.lemma_synsets(lemma, "n"))
        return hit

    def _rng(self, kind: str, caption: str) -> random.Random:
        return random.Random(stable_seed(_RNG_VERSION, self.seed, kind, caption))

    def generate(self, caption: str) -> dict[str, str | None]:
        """Negatives keyed by ``ALL_TYPES``; ``None`` where a type cannot apply to this caption."""
        if not isinstance(caption, str) or not caption.strip():
            return {kind: None for kind in ALL_TYPES}
        parsed, roles = self.analyse(caption)
        parsed.roles = roles
        out: dict[str, str | None] = {}
        for kind, make in self._kinds.items():
            negative = make(self, parsed, self._rng(kind, caption))
            out[kind] = negative if negative is not None and negative != caption else None
        return out

    def generate_many(self, captions: Iterable[str]) -> list[dict[str, str | None]]:
        """``generate`` over ``captions``."""
        return [self.generate(c) for c in captions]

    def inflect_noun(self, lemma: str, tag: str) -> str:
        """``lemma`` in the number of Penn tag ``tag`` (NNS: plural)."""
        return pluralize(lemma) if tag == "NNS" else lemma

    def _noun_units(self, parsed: Parsed) -> list[list[int]]:
        """Deprecated spelling of ``parsed.noun_units()`` (kept for callers of the 0.1 API)."""
        return parsed.noun_units()


def negative_mask(negatives: dict[str, str | None], types: Sequence[str] = NEGATIVE_TYPES) -> list[bool]:
    """Which of ``types`` exist in a ``generate`` result (the m_ik of docs/METHOD.md §1)."""
    return [negatives.get(t) is not None for t in types]
