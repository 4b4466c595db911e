"""Finding and reading benchmark files: folders under the data root (with overrides), JSON / JSONL records, world
splits and limits; what cannot be read goes to `BadRecords` (problems.py), counted and located."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ahnpl_lightning.evaluation.problems import LOG_EXAMPLES, BadRecords, log
from ahnpl_lightning.jsonl import iter_jsonl

__all__ = ["LOG_EXAMPLES", "RECORD_ERRORS", "BadRecords", "Location", "apply_limit", "bench_dir", "json_records",
           "jsonl_records", "load_split_map", "log", "parse_records", "read_annotations", "read_json",
           "record_split", "resolve_limit"]
# what a malformed record raises while it is turned into items (a missing key, a wrong type, a short list, ...)
RECORD_ERRORS: tuple[type[Exception], ...] = (KeyError, IndexError, TypeError, ValueError, AttributeError)
T = TypeVar("T")


@dataclass(frozen=True)
class Location:
    """Where a run's benchmark files are: the data root, and per-key folder overrides (`paths`, settable in YAML)."""

    data_root: Path
    paths: Mapping[str, str] = field(default_factory=dict)

    def dir(self, key: str) -> Path:
        """`<data_root>/<key>` unless `paths[key]` overrides it."""
        return bench_dir(self.data_root, key, self.paths)


def bench_dir(data_root: str | Path, key: str, paths: Mapping[str, str] | None = None) -> Path:
    """`<data_root>/<key>` unless `paths[key]` overrides it (overrides are plain folder paths, settable in YAML)."""
    if paths and paths.get(key):
        return Path(paths[key])
    return Path(data_root) / key


def read_json(path: Path) -> Any:
    """Load a JSON file (utf-8)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def read_annotations(path: Path, expected: type, bad: BadRecords, marker: str | None = None) -> Any:
    """An annotation file that must hold a JSON `expected` (list or dict). A file that cannot be read, parsed or has
    the wrong type is read as empty and recorded in `bad` as unreadable with all its records lost (estimated from the
    text when it does not parse; `marker` is a key every record has, for that estimate), so one broken file does
    not stop the evaluation and its items are not silently dropped."""
    try:
        data = read_json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        bad.unreadable(path, repr(exc), marker)
        return expected()
    if not isinstance(data, expected):
        bad.unreadable(path, f"expected a JSON {expected.__name__}, got {type(data).__name__}", marker)
        return expected()
    return data


def json_records(
    path: Path, expected: type, bad: BadRecords, marker: str | None = None
) -> Iterator[tuple[str, Any, Any]]:
    """(location, key, record) of a JSON list (key: index) or object (key: its key), in file order."""
    data = read_annotations(path, expected, bad, marker)
    if isinstance(data, dict):
        for key, rec in data.items():
            yield f"{path}[{key!r}]", key, rec
    else:
        for index, rec in enumerate(data):
            yield f"{path}[{index}]", index, rec


def jsonl_records(path: Path, bad: BadRecords) -> Iterator[tuple[str, Any, Any]]:
    """(location `file:line`, line number, record) of a JSON-lines file (read by `ahnpl_lightning.jsonl`); a line that
    is not UTF-8 JSON is counted as one malformed record, blank lines are skipped, a file that cannot be opened is
    counted as unreadable."""
    try:
        lines = list(iter_jsonl(path))
    except OSError as exc:
        bad.unreadable(path, repr(exc))
        return
    for line_no, record, problem in lines:
        if problem == "empty_line":
            continue
        if problem is not None:
            bad.add(f"{path}:{line_no}", f"{problem}: not a UTF-8 JSON value")
            continue
        yield f"{path}:{line_no}", line_no, record


def parse_records(
    records: Iterable[tuple[str, Any, Any]],
    parse: Callable[[Any, Any, int], Iterable[T]],
    bad: BadRecords,
    limit: int | None = None,
) -> list[T]:
    """Turn records into items with `parse(key, record, items_so_far)`; a record whose parse raises one of
    `RECORD_ERRORS` is counted in `bad` with its location and skipped. Stops at `limit` items."""
    items: list[T] = []
    for location, key, rec in records:
        try:
            new = list(parse(key, rec, len(items)))
        except RECORD_ERRORS as exc:
            bad.add(location, repr(exc))
            continue
        items += new
        if limit is not None and len(items) >= limit:
            return items[:limit]
    return items


def load_split_map(directory: Path) -> dict[str, str]:
    """The optional side file `<bench>/world_split.json` mapping item key -> split (empty when absent)."""
    path = directory / "world_split.json"
    if not path.is_file():
        return {}
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object mapping item key -> split, got {type(data).__name__}")
    return {str(k): str(v) for k, v in data.items()}


def record_split(record: Any, key: str, split_map: Mapping[str, str]) -> str | None:
    """A record's world split: its own `world_split` field, else the side file's entry for `key`, else None."""
    if isinstance(record, dict) and record.get("world_split") is not None:
        return str(record["world_split"])
    return split_map.get(key)


def apply_limit(items: list[Any], limit: int | None) -> list[Any]:
    """First `limit` items (quick runs); all when limit is None."""
    return items if limit is None else items[: max(limit, 0)]


def resolve_limit(limit: int | Mapping[str, int] | None, name: str) -> int | None:
    """A limit given for all benchmarks (int) or per benchmark name (mapping)."""
    if isinstance(limit, Mapping):
        value = limit.get(name)
        return None if value is None else int(value)
    return limit
