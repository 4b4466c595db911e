"""Offline WordNet for nltk: find an installed copy or build one from Debian's ``wordnet-base``.

nltk 3.10 reads WordNet from ``<dir>/corpora/wordnet`` with ``<dir>`` on ``nltk.data.path`` and needs a
``lexnames`` file that Debian does not ship (STYLE.md, "WordNet offline"). ``ensure_wordnet`` links the Debian
files into such a directory and writes ``lexnames``; ``get_wordnet`` loads the corpus once per process.
Run ``python -m ahnpl_lightning.data.negatives.lexicon.wordnet`` to prepare it ahead of time.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "LEXNAMES",
    "WORDNET_FILES",
    "WordNetNotFoundError",
    "default_data_dir",
    "ensure_wordnet",
    "get_wordnet",
    "main",
]

#: The 45 lexicographer file names of WordNet 3.0 in their standard order (the line index is the file number);
#: the second field is the synset type (1 noun, 2 verb, 3 adjective, 4 adverb).
LEXNAMES: tuple[tuple[str, int], ...] = (
    ("adj.all", 3), ("adj.pert", 3), ("adv.all", 4), ("noun.Tops", 1), ("noun.act", 1),
    ("noun.animal", 1), ("noun.artifact", 1), ("noun.attribute", 1), ("noun.body", 1), ("noun.cognition", 1),
    ("noun.communication", 1), ("noun.event", 1), ("noun.feeling", 1), ("noun.food", 1), ("noun.group", 1),
    ("noun.location", 1), ("noun.motive", 1), ("noun.object", 1), ("noun.person", 1), ("noun.phenomenon", 1),
    ("noun.plant", 1), ("noun.possession", 1), ("noun.process", 1), ("noun.quantity", 1), ("noun.relation", 1),
    ("noun.shape", 1), ("noun.state", 1), ("noun.substance", 1), ("noun.time", 1), ("verb.body", 2),
    ("verb.change", 2), ("verb.cognition", 2), ("verb.communication", 2), ("verb.competition", 2),
    ("verb.consumption", 2), ("verb.contact", 2), ("verb.creation", 2), ("verb.emotion", 2), ("verb.motion", 2),
    ("verb.perception", 2), ("verb.possession", 2), ("verb.social", 2), ("verb.stative", 2), ("verb.weather", 2),
    ("adj.ppl", 3),
)

#: Database files nltk's ``WordNetCorpusReader`` opens (besides ``lexnames``, which we write).
WORDNET_FILES: tuple[str, ...] = (
    "data.noun", "data.verb", "data.adj", "data.adv",
    "index.noun", "index.verb", "index.adj", "index.adv",
    "noun.exc", "verb.exc", "adj.exc", "adv.exc",
    "index.sense", "cntlist.rev",
)

DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
_INSTALL_HELP = (
    "WordNet 3.0 was not found. Install it either way:\n"
    "  * Debian/Ubuntu: apt-get update && apt-get install wordnet-base wordnet-sense-index\n"
    "    (then run `python -m ahnpl_lightning.data.negatives.lexicon.wordnet`), or\n"
    "  * with internet: python -c \"import nltk; nltk.download('wordnet')\""
)


class WordNetNotFoundError(RuntimeError):
    """Raised when neither an nltk WordNet nor a system WordNet 3.0 database exists."""


def lexnames_text() -> str:
    """The ``lexnames`` file content: ``index<TAB>name<TAB>pos-number`` lines."""
    return "".join(f"{i:02d}\t{name}\t{pos}\n" for i, (name, pos) in enumerate(LEXNAMES))


def default_data_dir() -> Path:
    """``$AHNPL_NLTK_DATA``, else ``~/.cache/ahnpl_lightning/nltk_data``."""
    env = os.environ.get("AHNPL_NLTK_DATA")
    return Path(env) if env else Path.home() / ".cache" / "ahnpl_lightning" / "nltk_data"


def _is_complete(corpus_dir: Path) -> bool:
    return all((corpus_dir / name).is_file() for name in ("lexnames", *WORDNET_FILES))


def _find_nltk_wordnet() -> Path | None:
    """The nltk data dir holding an unzipped, complete ``corpora/wordnet``, or None."""
    import nltk

    for base in nltk.data.path:
        corpus = Path(base) / "corpora" / "wordnet"
        if _is_complete(corpus):
            return Path(base)
    return None


def _build_from_system(source: Path, data_dir: Path) -> Path:
    """Copy the system database (36 MB) into ``data_dir/corpora/wordnet`` plus ``lexnames``, atomically.

    Links are not an option: nltk 3.10 refuses symlinks that resolve outside the corpus root and hard-linked files.
    """
    target = data_dir / "corpora" / "wordnet"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=target.parent))
    try:
        for name in WORDNET_FILES:
            shutil.copyfile(source / name, staging / name)
        (staging / "lexnames").write_text(lexnames_text(), encoding="utf-8")
        staging.chmod(0o755)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return data_dir


def ensure_wordnet(data_dir: Path | None = None, source: Path = DEBIAN_WORDNET_DIR) -> Path:
    """Make ``from nltk.corpus import wordnet`` work offline and return the nltk data dir that holds it.

    Order: an existing complete nltk WordNet; ``data_dir`` (default ``default_data_dir()``) if already built;
    else build it from ``source`` (Debian's ``/usr/share/wordnet``). The dir is prepended to ``nltk.data.path``.
    """
    import nltk

    if data_dir is None:
        found = _find_nltk_wordnet()
        if found is not None:
            return found
        data_dir = default_data_dir()
    data_dir = Path(data_dir).expanduser().absolute()
    if not _is_complete(data_dir / "corpora" / "wordnet"):
        if not all((source / name).is_file() for name in WORDNET_FILES):
            missing = [n for n in WORDNET_FILES if not (source / n).is_file()]
            raise WordNetNotFoundError(f"{_INSTALL_HELP}\n(missing under {source}: {', '.join(missing)})")
        _build_from_system(source, data_dir)
    if str(data_dir) not in nltk.data.path:
        nltk.data.path.insert(0, str(data_dir))
    return data_dir


@functools.lru_cache(maxsize=1)
def get_wordnet() -> Any:
    """The loaded nltk WordNet corpus reader, created once per process (loading takes a few seconds; negative
    generation uses the much faster ``wordnet_index.WordNetIndex`` instead and tests check the two agree)."""
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    data_dir = ensure_wordnet()
    return WordNetCorpusReader(str(data_dir / "corpora" / "wordnet"), None)


def main(argv: list[str] | None = None) -> int:
    """``python -m ahnpl_lightning.data.negatives.lexicon.wordnet [DIR]``: prepare WordNet, print where it is."""
    args = sys.argv[1:] if argv is None else argv
    try:
        data_dir = ensure_wordnet(Path(args[0]) if args else None)
    except WordNetNotFoundError as err:
        print(err, file=sys.stderr)
        return 1
    print(f"WordNet ready: {data_dir / 'corpora' / 'wordnet'} (nltk data dir {data_dir})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
