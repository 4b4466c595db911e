"""One JSON-lines reader for training sources and evaluation: every line is accounted for, nothing raises on a bad one.

`iter_jsonl(path)` yields `(line_no, record, problem)` for each line: `problem` is None for a parsed line, else
`"empty_line"` or `"bad_json"` (with `record` None). Callers count problems in their own report with `path:line_no`.
Opening the file may raise `OSError`; that is the caller's to report as an unreadable file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["iter_jsonl"]


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any, str | None]]:
    """`(line number from 1, parsed record or None, None | "empty_line" | "bad_json")` for every line of `path`."""
    for line_no, line in enumerate(Path(path).read_bytes().splitlines(), start=1):
        if not line.strip():
            yield line_no, None, "empty_line"
            continue
        try:
            yield line_no, json.loads(line.decode("utf-8")), None
        except (UnicodeDecodeError, json.JSONDecodeError):
            yield line_no, None, "bad_json"
