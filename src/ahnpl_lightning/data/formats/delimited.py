"""Delimited text (NegCLIP's TSV, CSV, TSV) read line by line, so one stray quote can never swallow rows.

The real NegCLIP TSV is written by pandas with minimal quoting: a field holding a double quote is wrapped in quotes
with its own quotes doubled (6 of the first 300 rows, all in `neg_caption`), and NegCLIP's loader (`pd.read_csv`)
undoes that. A record is therefore one line, split on the delimiter, where a field that is a complete quoted field
is unquoted and anything else is taken literally: a caption that starts with an unclosed `"` is kept as written
instead of opening a quote that runs over the following rows (what `csv` and pandas do). A quoted field that spans
lines (a caption with a newline, which pandas writes quoted) is joined only when the joined text parses as exactly
one well-formed row; otherwise the line is reported where it is and reading goes on with the next line.
Locations are file line numbers (the header is line 1), so `loaded + malformed == rows` and every report points at
a line an editor can open.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ahnpl_lightning.data.errors import AnnotationError
from ahnpl_lightning.data.formats.records import ReadReport

__all__ = ["MAX_JOINED_LINES", "read_delimited", "split_quoted"]

#: The most lines one quoted field may span (a caption with a few newlines); longer spans are reported instead.
MAX_JOINED_LINES = 8
_UNCLOSED = "unclosed"


def split_quoted(text: str, delimiter: str) -> list[str] | str:
    """Fields of one record with csv-style quoting (a field that starts with `"`; `""` inside is one quote).

    Returns the fields, `"unclosed"` when a quoted field does not end in `text`, or `"malformed"` when a closing
    quote is followed by something other than the delimiter.
    """
    fields: list[str] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            parts, j = [], i + 1
            while True:
                k = text.find('"', j)
                if k < 0:
                    return _UNCLOSED
                if text.startswith('""', k):
                    parts.append(text[j:k + 1])
                    j = k + 2
                    continue
                parts.append(text[j:k])
                i = k + 1
                break
            fields.append("".join(parts))
            if i == n:
                return fields
            if text[i] != delimiter:
                return "malformed"
            i += 1
        else:
            k = text.find(delimiter, i)
            if k < 0:
                fields.append(text[i:])
                return fields
            fields.append(text[i:k])
            i = k + 1
        if i == n:  # a trailing delimiter ends with one empty field
            fields.append("")
            return fields


def _fields(text: str, delimiter: str, width: int) -> list[str] | None:
    """The record's fields if it has exactly `width` of them: quoted reading first, then a literal split."""
    quoted = split_quoted(text, delimiter)
    if isinstance(quoted, list) and len(quoted) == width:
        return quoted
    plain = text.split(delimiter)
    return plain if len(plain) == width else None


def _lines(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_delimited(path: Path, delimiter: str, report: ReadReport) -> tuple[list[str], Iterator[tuple[str, list[str]]]]:
    """(header, iterator of (location, fields)) of a delimited file; bad rows go to `report` with line numbers.

    `report.rows` ends up as the number of data rows (a record spanning lines counts once).
    """
    lines = _lines(path)
    if not lines:
        raise AnnotationError(f"{path}: empty file (expected a header row)")
    header = split_quoted(lines[0], delimiter)
    if not isinstance(header, list):
        header = lines[0].split(delimiter)
    report.rows = 0
    return header, _records(path.name, lines, delimiter, len(header), report)


def _records(name: str, lines: list[str], delimiter: str, width: int,
             report: ReadReport) -> Iterator[tuple[str, list[str]]]:
    i = 1
    while i < len(lines):
        line_no = i + 1
        text = lines[i]
        report.rows = (report.rows or 0) + 1
        if not text.strip():
            report.add("empty_line", f"{name}:line {line_no}")
            i += 1
            continue
        fields = _fields(text, delimiter, width)
        if fields is not None:
            yield f"{name}:line {line_no}", fields
            i += 1
            continue
        span = _joined(lines, i, delimiter, width)
        if span is not None:
            end, fields = span
            yield f"{name}:lines {line_no}-{end + 1}", fields
            i = end + 1
            continue
        report.add("wrong_field_count", f"{name}:line {line_no}")
        i += 1


def _joined(lines: list[str], start: int, delimiter: str, width: int) -> tuple[int, list[str]] | None:
    """(last line index, fields) when lines start.. form one well-formed record with a quoted newline."""
    if split_quoted(lines[start], delimiter) != _UNCLOSED:
        return None
    text = lines[start]
    for end in range(start + 1, min(len(lines), start + MAX_JOINED_LINES)):
        text = f"{text}\n{lines[end]}"
        fields = split_quoted(text, delimiter)
        if fields == _UNCLOSED:
            continue
        return (end, fields) if isinstance(fields, list) and len(fields) == width else None
    return None
