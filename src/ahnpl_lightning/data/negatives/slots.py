"""The slot model: which words fill which slots of captions, counted over a caption corpus (no download).

For every caption it counts nouns by governing word ("riding a _": horse, bike, wave), by the word after them, by their
adjectives and by the noun modifying them ("bike _": lane, rack); verbs by subject, object, preposition and the words
after them (their frame: "looking at", "laying down on"); prepositions by their ground; nouns as figure or ground of
each preposition, and which figure went with which ground ("a cup on a table", "a body of water"); and, where captions
of the same image are known, word pairs that describe the same image in different captions ("road" / "street"), which
are never used to replace each other. Counts are kept per word and per WordNet class (``noun.animal``...), the fall-back
when a word is rare.

Where the counts come from: ``SlotModel.shipped()`` is a small table built from the real captions in
``tests/fixtures/data`` (1,467 COCO-style captions, see ``slot_counts.json.gz``); ``NegativeGenerator.fit`` adds the
counts of the captions being processed (the cache builder fits on all training captions), so large corpora get
word-level evidence and small inputs still have a prior. ``python -m ahnpl_lightning.data.negatives.slots OUT
FILES...`` rebuilds a table from annotation files.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ahnpl_lightning.data.negatives.parsing import Parsed
from ahnpl_lightning.data.negatives.roles import Roles, verb_frame

__all__ = ["SlotModel", "SHIPPED_TABLE", "main"]

SHIPPED_TABLE = Path(__file__).resolve().parent / "slot_counts.json.gz"
_FORMAT = 2


class SlotModel:
    """Counters keyed by slot (``"n|gov|ride"`` -> Counter of noun lemmas); see the module docstring."""

    def __init__(self, counts: dict[str, Counter[str]] | None = None, n_captions: int = 0,
                 sources: Sequence[str] = ()) -> None:
        self.counts: dict[str, Counter[str]] = counts if counts is not None else {}
        self.n_captions = n_captions
        self.sources = list(sources)
        self._fingerprint: str | None = None

    # --- queries ---------------------------------------------------------------------------------------------------
    def get(self, key: str) -> Counter[str]:
        """The counter of slot ``key`` (empty when never seen)."""
        return self.counts.get(key) or _EMPTY

    def count(self, key: str, word: str) -> int:
        """How often ``word`` filled slot ``key``."""
        counter = self.counts.get(key)
        return counter.get(word, 0) if counter else 0

    def codescribed(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` often describe the same image in different captions and never share a caption:
        learned near-synonyms ("road"/"street", "couch"/"sofa")."""
        pair = f"{a} {b}" if a < b else f"{b} {a}"
        cross = self.count("x|cross", pair)
        return cross >= 2 and 4 * self.count("x|within", pair) < cross

    @property
    def fingerprint(self) -> str:
        """A short hash of the counts: stored in cache metadata, so caches of another corpus are told apart."""
        if self._fingerprint is None:
            blob = json.dumps({k: sorted(v.items()) for k, v in sorted(self.counts.items())}, separators=(",", ":"))
            self._fingerprint = hashlib.blake2b(blob.encode(), digest_size=6).hexdigest()
        return self._fingerprint

    # --- counting --------------------------------------------------------------------------------------------------
    def _add(self, key: str, word: str, n: int = 1) -> None:
        counter = self.counts.get(key)
        if counter is None:
            counter = self.counts[key] = Counter()
        counter[word] += n

    def observe(self, parsed: Parsed, roles: Roles, lexclass: Callable[[str], str]) -> None:
        """Count the slots of one analysed caption."""
        self._fingerprint = None
        self.n_captions += 1
        low = [w.lower() for w in parsed.words]
        tags = parsed.tags
        add = self._add
        words = ["<s>", *(w for w in low if w[:1].isalpha()), "</s>"]
        for first, second in zip(words, words[1:]):  # word bigrams: how natural a changed phrase reads
            add(f"b|{first}", second)
        for unit in roles.units:
            lemma, cls = unit.lemma, lexclass(unit.lemma)
            add("u|n", lemma)
            if unit.start < unit.head and not unit.collocation:  # "bike lane": which heads follow which modifier
                modifier = low[unit.head - 1]
                add(f"n|mod|{modifier}", lemma)
                add(f"n|modh|{lemma}", modifier)
            add(f"n|gov|{unit.gov}", lemma)
            if unit.gov_index is not None and unit.gov_index > 0 and unit.gov_kind == "prep":
                verb = unit.gov_index - 1
                if tags[verb].startswith("VB") and parsed.lemmas[verb]:
                    add(f"n|gov|{parsed.lemmas[verb]} {unit.gov}", lemma)
            nxt = unit.head + 1
            add(f"n|next|{low[nxt] if nxt < len(low) else '</s>'}", lemma)
            if unit.tag == "NN" and unit.det is None:
                add("n|bare", lemma)
            for a in unit.adjs:
                adj = parsed.lemmas[a] or low[a]
                add("u|a", adj)
                add(f"n|adj|{adj}", lemma)
                add(f"a|noun|{lemma}", adj)
                add(f"a|class|{cls}", adj)
        for verb in roles.verbs:
            add("u|v", verb.lemma)
            if tags[verb.index] == "VBN":  # passive or participle: its frame says little about the active verb
                add(f"v|pprep|{verb.prep}" if verb.prep else "v|pintrans", verb.lemma)
                continue
            add(f"v|nx|{verb_frame(parsed, verb.index)}", verb.lemma)
            if verb.subj is not None:
                subj = roles.units[verb.subj].lemma
                add(f"v|subj|{subj}", verb.lemma)
                add(f"v|subjc|{lexclass(subj)}", verb.lemma)
                add(f"c|subj|{verb.lemma}", lexclass(subj))
                add(f"n|subj|{verb.lemma}", subj)
            if verb.obj is not None:
                obj = roles.units[verb.obj].lemma
                add(f"v|obj|{obj}", verb.lemma)
                add(f"v|objc|{lexclass(obj)}", verb.lemma)
                add(f"c|obj|{verb.lemma}", lexclass(obj))
                add(f"n|obj|{verb.lemma}", obj)
                add("v|trans", verb.lemma)
            else:
                add("v|intrans", verb.lemma)
            if verb.prep:
                add(f"v|prep|{verb.prep}", verb.lemma)
        for rel in roles.relations:
            if rel.prep is None:
                continue
            fig, gnd = roles.units[rel.figure].lemma, roles.units[rel.ground].lemma
            add(f"r|{rel.prep}|f|{fig}", gnd)  # which grounds this figure had, and which figures this ground
            add(f"r|{rel.prep}|g|{gnd}", fig)
            if rel.prep == "of":
                continue
            add(f"n|fig|{rel.prep}", fig)
            add(f"n|gnd|{rel.prep}", gnd)
            add(f"c|fig|{rel.prep}", lexclass(fig))
            add(f"c|gnd|{rel.prep}", lexclass(gnd))
            add("u|p", rel.prep)
            add(f"p|fig|{fig}", rel.prep)
            add(f"p|gnd|{gnd}", rel.prep)
            add(f"p|gndc|{lexclass(gnd)}", rel.prep)

    def observe_group(self, captions_words: Sequence[set[str]]) -> None:
        """Count word pairs across the captions of one image (each caption's content lemmas as a set)."""
        self._fingerprint = None
        for words in captions_words:
            for a, b in itertools.combinations(sorted(words), 2):
                self._add("x|within", f"{a} {b}")
        for i, j in itertools.combinations(range(len(captions_words)), 2):
            only_i, only_j = captions_words[i] - captions_words[j], captions_words[j] - captions_words[i]
            for a in only_i:
                for b in only_j:
                    self._add("x|cross", f"{a} {b}" if a < b else f"{b} {a}")

    def merged(self, other: SlotModel) -> SlotModel:
        """A new model with the counts of both."""
        counts = {k: Counter(v) for k, v in self.counts.items()}
        for key, counter in other.counts.items():
            counts.setdefault(key, Counter()).update(counter)
        return SlotModel(counts, self.n_captions + other.n_captions, [*self.sources, *other.sources])

    # --- files -----------------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the counts as gzipped JSON (deterministic bytes for the same counts)."""
        path = Path(path)
        payload = {"format": _FORMAT, "n_captions": self.n_captions, "sources": self.sources,
                   "counts": {k: dict(sorted(v.items())) for k, v in sorted(self.counts.items())}}
        data = json.dumps(payload, separators=(",", ":"), sort_keys=False).encode()
        with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as fh:
            fh.write(data)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SlotModel:
        """Read a table written by ``save``."""
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                payload = json.load(fh)
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: not a slot-count table ({err})") from err
        if payload.get("format") != _FORMAT:
            raise ValueError(f"{path}: slot-count table format {payload.get('format')}, expected {_FORMAT}; rebuild it "
                             "with `python -m ahnpl_lightning.data.negatives.slots OUT FILES...`")
        counts = {k: Counter(v) for k, v in payload["counts"].items()}
        return cls(counts, int(payload["n_captions"]), payload.get("sources", []))

    @classmethod
    def shipped(cls) -> SlotModel:
        """The table shipped with the package (built from the real captions in ``tests/fixtures/data``)."""
        global _SHIPPED
        if _SHIPPED is None:
            _SHIPPED = cls.load(SHIPPED_TABLE)
        return _SHIPPED


_EMPTY: Counter[str] = Counter()
_SHIPPED: SlotModel | None = None


def fit_slot_model(generator: object, captions: Iterable[str], groups: Iterable[object] | None = None) -> SlotModel:
    """Count the slots of ``captions`` with ``generator``'s parser and WordNet; ``groups`` (one key per caption, e.g.
    the image id) enables the same-image near-synonym counts."""
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator

    assert isinstance(generator, NegativeGenerator)
    model = SlotModel()
    by_group: dict[object, list[set[str]]] = {}
    keys = iter(groups) if groups is not None else None
    for caption in captions:
        key = next(keys) if keys is not None else None
        if not isinstance(caption, str) or not caption.strip():
            continue
        parsed, roles = generator.analyse(caption)
        model.observe(parsed, roles, generator.lexclass)
        if key is not None:
            words = {u.lemma for u in roles.units} | {v.lemma for v in roles.verbs}
            by_group.setdefault(key, []).append(words)
    for captions_words in by_group.values():
        if len(captions_words) > 1:
            model.observe_group(captions_words)
    return model


def main(argv: list[str] | None = None) -> int:
    """``python -m ahnpl_lightning.data.negatives.slots OUT.json.gz FILE...``: count the slots of annotation files."""
    from ahnpl_lightning.data.formats import read_captions
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator

    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    captions: list[str] = []
    groups: list[str] = []
    for name in args[1:]:
        records, report = read_captions(Path(name))
        print(report.summary(), file=sys.stderr)
        captions += [r.caption for r in records]
        groups += [f"{Path(name).name}:{r.image_id if r.image_id is not None else r.location}" for r in records]
    generator = NegativeGenerator(seed=0, tagger="builtin", slots=SlotModel())
    model = fit_slot_model(generator, captions, groups)
    model.sources = [Path(name).name for name in args[1:]]
    model.save(args[0])
    print(f"{model.n_captions} captions, {len(model.counts)} slots -> {args[0]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
