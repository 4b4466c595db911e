"""WordNet 3.0 read straight from its database files (wndb(5)), fast enough for the hot loop of negative generation.

nltk's ``WordNetCorpusReader`` takes about 3 s to load and parses each synset with regular expressions on first
use, which made cold negative generation 10-20x slower than warm (issue 4). ``WordNetIndex`` keeps each
``data.<pos>`` file as bytes, keeps the ``index.<pos>`` lines by lemma, and parses one synset line (a plain
``split``) the first time it is asked for, so loading costs about 0.1 s and a look-up a few microseconds.
Its answers agree with nltk's: same morphy, same sense order, same pointers (checked in tests/test_wordnet.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SynsetRecord", "WordNetIndex", "get_wordnet_index", "synset_id"]

#: Database file suffix and file number per part of speech; adjective satellites ("s") live in ``data.adj``.
_FILES: tuple[str, ...] = ("noun", "verb", "adj", "adv")
_FILE_NUMBER: dict[str, int] = {"n": 0, "v": 1, "a": 2, "s": 2, "r": 3}
#: nltk's morphological substitutions (``WordNetCorpusReader.MORPHOLOGICAL_SUBSTITUTIONS``), in its order.
_SUBSTITUTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "n": (("s", ""), ("ses", "s"), ("ves", "f"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
          ("men", "man"), ("ies", "y")),
    "v": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}


def synset_id(pos: str, offset: int) -> int:
    """One int per synset: ``offset * 4 + file number`` (byte offsets repeat across the four data files)."""
    return offset * 4 + _FILE_NUMBER[pos]


def _clean_names(raw: Iterable[str]) -> tuple[str, ...]:
    """Lemma names without an adjective's syntactic marker ("galore(ip)" -> "galore"), as nltk reports them."""
    return tuple(n[:n.rindex("(")] if n.endswith(")") and "(" in n else n for n in raw)


@dataclass(frozen=True, slots=True)
class SynsetRecord:
    """One parsed ``data.<pos>`` line.

    ``pointers`` holds the semantic pointers (source/target field ``0000``) as symbol -> target ids in file order;
    ``lemma_pointers`` the lexical ones (antonyms...) as (source lemma name, symbol) -> (target id, lemma index).
    Repeated semantic pointers are kept once (nltk keeps them in a set).
    """

    id: int
    offset: int
    pos: str
    lexname: str
    names: tuple[str, ...]
    pointers: dict[str, tuple[int, ...]]
    lemma_pointers: dict[tuple[str, str], tuple[tuple[int, int], ...]]


class WordNetIndex:
    """Read-only WordNet look-ups (synsets of a word, pointers, closures) over the files in ``wordnet_dir``.

    Everything is parsed lazily and memoised, so a process pays only for the lemmas and synsets it touches.
    """

    def __init__(self, wordnet_dir: str | Path, lexnames: Iterable[str] | None = None) -> None:
        self.wordnet_dir = Path(wordnet_dir)
        if lexnames is None:
            from ahnpl_lightning.data.negatives.lexicon.wordnet import LEXNAMES

            lexnames = (name for name, _ in LEXNAMES)
        self.lexnames: tuple[str, ...] = tuple(lexnames)
        self._data: dict[int, bytes] = {}
        self._index_lines: dict[str, dict[str, str]] = {}
        self._offsets: dict[tuple[str, str], tuple[int, ...]] = {}
        self._exceptions: dict[str, dict[str, list[str]]] = {}
        self._synsets: dict[int, SynsetRecord] = {}
        self._names: dict[int, tuple[str, ...]] = {}
        self._closures: dict[tuple[str, ...], dict[int, frozenset[int]]] = {}

    # --- files -----------------------------------------------------------------------------------------------------
    def _index(self, pos: str) -> dict[str, str]:
        """lemma -> its ``index.<pos>`` line (parsed on demand by ``lemma_synsets``)."""
        lines = self._index_lines.get(pos)
        if lines is None:
            path = self.wordnet_dir / f"index.{_FILES[_FILE_NUMBER[pos]]}"
            with open(path, encoding="utf-8") as fh:
                lines = {line[:line.index(" ")]: line for line in fh if not line.startswith(" ")}
            self._index_lines[pos] = lines
        return lines

    def _exception_map(self, pos: str) -> dict[str, list[str]]:
        exceptions = self._exceptions.get(pos)
        if exceptions is None:
            exceptions = {}
            with open(self.wordnet_dir / f"{_FILES[_FILE_NUMBER[pos]]}.exc", encoding="utf-8") as fh:
                for line in fh:
                    terms = line.split()
                    if terms:
                        exceptions[terms[0]] = terms[1:]
            self._exceptions[pos] = exceptions
        return exceptions

    def _data_file(self, number: int) -> bytes:
        data = self._data.get(number)
        if data is None:
            data = self._data[number] = (self.wordnet_dir / f"data.{_FILES[number]}").read_bytes()
        return data

    # --- lemmas ----------------------------------------------------------------------------------------------------
    def lemma_synsets(self, lemma: str, pos: str) -> tuple[int, ...]:
        """Synset ids of the exact index lemma ``lemma`` in ``pos`` (n/v/a/r), in sense order; () if absent."""
        key = (lemma, pos)
        hit = self._offsets.get(key)
        if hit is None:
            line = self._index(pos).get(lemma)
            if line is None:
                hit = ()
            else:
                fields = line.split()
                count = int(fields[2])
                number = _FILE_NUMBER[pos]
                if len(fields) < count + 6 or fields[len(fields) - count - 2] != fields[2]:  # sense_cnt == synset_cnt
                    raise ValueError(f"{self.wordnet_dir}/index.{_FILES[number]}: malformed line for {lemma!r}")
                hit = tuple(int(f) * 4 + number for f in fields[len(fields) - count:])
            self._offsets[key] = hit
        return hit

    def morphy(self, form: str, pos: str) -> list[str]:
        """Index lemmas for ``form`` exactly as nltk 3.10's ``_morphy``: the form itself, then its exceptions-list
        lemmas if it has any, else the results of one pass of the suffix rules; those in the index, deduplicated."""
        exceptions = self._exception_map(pos)
        if form in exceptions:
            forms = [form, *exceptions[form]]
        else:
            forms = [form] + [form[: -len(old)] + new for old, new in _SUBSTITUTIONS[pos] if form.endswith(old)]
        index = self._index(pos)
        out: list[str] = []
        for candidate in forms:
            if candidate in index and candidate not in out:
                out.append(candidate)
        return out

    def synsets(self, word: str, pos: str) -> list[int]:
        """Synset ids for ``word`` as nltk's ``wordnet.synsets(word, pos)`` returns them (morphy, sense order)."""
        word = word.lower()
        return [sid for form in self.morphy(word, pos) for sid in self.lemma_synsets(form, pos)]

    # --- synsets ---------------------------------------------------------------------------------------------------
    def synset(self, sid: int) -> SynsetRecord:
        """The parsed synset ``sid`` (see ``synset_id``)."""
        record = self._synsets.get(sid)
        if record is None:
            record = self._synsets[sid] = self._parse(sid)
        return record

    def lexname(self, sid: int) -> str:
        """Lexicographer file of ``sid``, read from the fixed-width head of its line without parsing the rest."""
        offset, number = divmod(sid, 4)
        return self.lexnames[int(self._data_file(number)[offset + 9:offset + 11])]

    def names(self, sid: int) -> tuple[str, ...]:
        """Lemma names of ``sid`` (as ``synset(sid).names``), parsing only the head of its line; memoised."""
        names = self._names.get(sid)
        if names is None:
            record = self._synsets.get(sid)
            if record is not None:
                names = record.names
            else:
                head = self._line(sid).split(" ", 4)
                names = _clean_names(head[4].split(" ", 2 * int(head[3], 16))[:-1:2])
            self._names[sid] = names
        return names

    def gloss(self, sid: int) -> str:
        """The definition and examples of ``sid`` (the text after ``|`` on its line)."""
        return self._line(sid).partition("|")[2].strip()

    def _line(self, sid: int) -> str:
        """The ``data.<pos>`` line of ``sid``, checked to start with its offset."""
        offset, number = divmod(sid, 4)
        data = self._data_file(number)
        end = data.find(b"\n", offset)
        line = data[offset:end if end >= 0 else len(data)].decode("utf-8")
        if line[:8] != f"{offset:08d}":
            raise KeyError(f"no synset at byte {offset} of {self.wordnet_dir}/data.{_FILES[number]}")
        return line

    def _parse(self, sid: int) -> SynsetRecord:
        fields = self._line(sid).partition("|")[0].split()
        lexname, pos = self.lexnames[int(fields[1])], fields[2]
        n_names = int(fields[3], 16)
        names = _clean_names(fields[4:4 + 2 * n_names:2])
        at = 4 + 2 * n_names
        end = at + 1 + 4 * int(fields[at])
        pointers: dict[str, list[int]] = {}
        lemma_pointers: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for symbol, target, target_pos, ids in zip(fields[at + 1:end:4], fields[at + 2:end:4], fields[at + 3:end:4],
                                                   fields[at + 4:end:4]):
            tid = int(target) * 4 + _FILE_NUMBER[target_pos]
            if ids == "0000":
                pointers.setdefault(symbol, []).append(tid)
            else:
                source = names[int(ids[:2], 16) - 1]
                lemma_pointers.setdefault((source, symbol), []).append((tid, int(ids[2:], 16) - 1))
        return SynsetRecord(sid, sid // 4, pos, lexname, names,
                            {k: tuple(dict.fromkeys(v)) for k, v in pointers.items()},
                            {k: tuple(v) for k, v in lemma_pointers.items()})

    def related(self, sid: int, *symbols: str) -> tuple[int, ...]:
        """Targets of the semantic pointers ``symbols`` of ``sid`` (e.g. ``"@", "@i"``: hypernyms), in that order."""
        pointers = self.synset(sid).pointers
        if len(symbols) == 1:
            return pointers.get(symbols[0], ())
        return tuple(t for s in symbols for t in pointers.get(s, ()))

    def lemma_related(self, sid: int, name: str, symbol: str) -> list[str]:
        """Names of the lemmas that lemma ``name`` of ``sid`` points to with lexical pointer ``symbol`` ("!")."""
        return [self.synset(tid).names[k] for tid, k in self.synset(sid).lemma_pointers.get((name, symbol), ())]

    def closure(self, sid: int, symbols: tuple[str, ...]) -> frozenset[int]:
        """Every synset reachable from ``sid`` through ``symbols`` (e.g. all hypernyms), ``sid`` excluded; memoised."""
        memo = self._closures.get(symbols)
        if memo is None:
            memo = self._closures[symbols] = {}
        hit = memo.get(sid)
        if hit is None:
            seen: set[int] = set()
            frontier = list(self.related(sid, *symbols))
            while frontier:
                node = frontier.pop()
                if node in seen:
                    continue
                seen.add(node)
                known = memo.get(node)
                if known is not None:
                    seen.update(known)
                else:
                    frontier.extend(self.related(node, *symbols))
            seen.discard(sid)
            hit = memo[sid] = frozenset(seen)
        return hit


@functools.lru_cache(maxsize=1)
def get_wordnet_index() -> WordNetIndex:
    """The process-wide ``WordNetIndex`` over the WordNet found or built by ``ensure_wordnet``."""
    from ahnpl_lightning.data.negatives.lexicon.wordnet import ensure_wordnet

    return WordNetIndex(ensure_wordnet() / "corpora" / "wordnet")
