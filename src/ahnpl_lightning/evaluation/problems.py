"""What could not be read or scored, counted and located (never silently dropped): malformed records, unreadable
files (all their items count, estimated from the file when it cannot be parsed), missing and unreadable images.

`BadRecords` collects `Problem`s while a benchmark's files are read; `estimate_records` is the tolerant count of
records in a JSON file that does not parse (e.g. truncated): the complete top-level records plus the partial one, or
the occurrences of a key every record carries, whichever is larger.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ahnpl_lightning.evaluation.distributed import rank

log = logging.getLogger("ahnpl_lightning.evaluation")
LOG_EXAMPLES = 5  # how many problems of one kind a benchmark logs one by one
MALFORMED, UNREADABLE_FILE = "malformed_record", "unreadable_file"
MISSING_IMAGE, UNREADABLE_IMAGE = "missing_image", "unreadable_image"


@dataclass(frozen=True)
class Problem:
    """One thing that cost items: its `kind`, where (`location`: file[key], file:line or an image path), why, how
    many items it cost, and whether that number is an estimate."""

    kind: str
    location: str
    error: str
    items: int = 1
    estimated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)


class BadRecords:
    """The problems met while reading one benchmark's files; `count` is the items they cost."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[Problem] = []

    @property
    def count(self) -> int:
        """Items lost to malformed records and unreadable files."""
        return sum(p.items for p in self.problems)

    @property
    def estimated(self) -> bool:
        """True when part of `count` is an estimate (a file that could not be parsed)."""
        return any(p.estimated for p in self.problems)

    def add(self, location: str, error: Exception | str, items: int = 1, estimated: bool = False,
            kind: str = MALFORMED) -> None:
        """Record a problem at `location` (file and key/index, or file:line) costing `items` items."""
        self.problems.append(Problem(kind, location, str(error), items, estimated))
        shown = sum(p.kind == kind for p in self.problems) <= LOG_EXAMPLES or kind == UNREADABLE_FILE
        if shown and rank() == 0:
            what = "malformed record" if kind == MALFORMED else kind.replace("_", " ")
            size = f" ({'about ' if estimated else ''}{items} item(s) lost)" if kind == UNREADABLE_FILE else ""
            log.warning("%s: skipping %s at %s%s: %s", self.name, what, location, size, error)

    def unreadable(self, path: Path, error: Exception | str, marker: str | None = None) -> None:
        """A file that cannot be used at all: every record in it is lost (estimated when it does not parse)."""
        items, estimated = estimate_file(path, marker)
        self.add(str(path), error, items, estimated, kind=UNREADABLE_FILE)


def estimate_file(path: Path, marker: str | None = None) -> tuple[int, bool]:
    """(records in `path`, whether that is an estimate): exact when the file is valid JSON holding a list or an
    object, else `estimate_records` of its text (at least 1: a file that is there held something)."""
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return 1, True
    text = raw.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return max(1, estimate_records(text, marker)), True
    if isinstance(data, (list, dict)):
        return len(data), False
    return 1, False


def estimate_records(text: str, marker: str | None = None) -> int:
    """Tolerant count of the top-level records of a JSON list or object that does not parse: the records that
    decode, plus one for a partial record at the end; or the number of `"marker"` keys, if larger."""
    counted = _count_decodable(text)
    if marker:
        counted = max(counted, text.count(f'"{marker}"'))
    return counted


def _count_decodable(text: str) -> int:
    decoder = json.JSONDecoder()
    start = len(text) - len(text.lstrip())
    if start >= len(text) or text[start] not in "[{":
        return 0
    is_object, pos, count = text[start] == "{", start + 1, 0
    while True:
        pos = _skip(text, pos, " \t\r\n,")
        if pos >= len(text) or text[pos] in "]}":
            return count
        try:
            if is_object:
                _, pos = decoder.raw_decode(text, pos)
                pos = _skip(text, pos, " \t\r\n")
                if pos >= len(text) or text[pos] != ":":
                    return count + 1
                pos = _skip(text, pos + 1, " \t\r\n")
            _, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return count + 1
        count += 1


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos
