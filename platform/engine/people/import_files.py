"""Reading import files (SPEC 14): CSV with a header row, or JSON lines, each row with the line it starts on.

CSV is UTF-8 with or without a byte-order mark (what spreadsheet programs write as "CSV UTF-8"), comma
separated (a header without a comma but with tabs: tab separated), quoted as RFC 4180 quotes, so a cell may
hold commas and line breaks. `.jsonl`, `.ndjson` and `.json` files hold one JSON object per line; a `.json`
file may instead hold one array of objects. Which columns a file may have and what their values mean is the
importer's business (`orgs.py`, `user_import.py`); here only the shape of the file is checked.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from itsm.interpreter.errors import did_you_mean

from ..errors import N_, EngineError, Text

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass(frozen=True)
class Row:
    """One record of the file: the line it starts on and its values by column (only the columns it gives:
    a JSON object may leave some out, a CSV row gives every column of the header). CSV values are text,
    stripped of surrounding blanks; JSON values are as decoded."""

    line: int
    values: dict[str, Any]


@dataclass(frozen=True, order=True)
class Problem:
    """What is wrong with one line of the file (line 1 is the header of a CSV file)."""

    line: int
    message: str = field(compare=False)


class ImportRefused(EngineError):
    """Problems in an import file: nothing was written. Details are [{"line": N, "message": TEXT}], sorted."""

    status, code = 422, "import_refused"

    def __init__(self, source: str, problems: Sequence[Problem]):
        ordered = sorted(problems)
        super().__init__(N_("%(count)s problems in %(file)s: nothing was imported", count=len(ordered),
                            file=source) if len(ordered) != 1 else
                         N_("1 problem in %(file)s: nothing was imported", file=source),
                         [{"line": p.line, "message": p.message} for p in ordered])
        self.source = source
        self.problems = ordered

    def lines(self) -> list[str]:
        """`FILE:LINE: message`, one per problem, by line (what the CLI prints)."""
        return [f"{self.source}:{p.line}: {p.message}" for p in self.problems]


@dataclass
class ImportFile:
    """The rows of a file and the problems of its shape (a bad header, a row of the wrong length)."""

    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    columns: tuple[str, ...] = ()  # of a CSV header; () for JSON

    def problem(self, line: int, message: Text) -> None:
        self.problems.append(Problem(line, message))


def read_import(path: Path, columns: Sequence[str], required: Sequence[str],
                refused: dict[str, Text] | None = None) -> ImportFile:
    """The rows of `path`, by its suffix: JSON for JSON_SUFFIXES, else CSV. `columns` are the columns a row
    may have, `required` those every row must have; `refused` maps a column people may try (`password`) to
    the reason it is not imported."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        found = ImportFile()
        found.problem(data[:exc.start].count(b"\n") + 1,
                      N_("not UTF-8 text: save the file as UTF-8 (spreadsheet programs: \"CSV UTF-8\")"))
        return found
    reader = _Columns(columns, required, refused or {})
    if path.suffix.lower() in JSON_SUFFIXES:
        return _json_rows(text, reader)
    return _csv_rows(text, reader)


@dataclass(frozen=True)
class _Columns:
    allowed: Sequence[str]
    required: Sequence[str]
    refused: dict[str, Text]

    def unknown(self, name: str) -> Text:
        if name in self.refused:
            return self.refused[name]
        return N_("unknown column '%(column)s'%(hint)s: the columns are %(columns)s", column=name,
                  hint=did_you_mean(name, self.allowed), columns=",".join(self.allowed))


def _csv_rows(text: str, columns: _Columns) -> ImportFile:
    found = ImportFile()
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "," not in first and "\t" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = _records(reader, found)
    header = next(records, None)
    if header is None:
        found.problem(1, N_("the file is empty: the first line names the columns (%(columns)s)",
                            columns=",".join(columns.allowed)))
        return found
    line, names = header
    names = [name.strip().lower() for name in names]
    for index, name in enumerate(names):
        if name in names[:index]:
            found.problem(line, N_("column '%(column)s' appears twice", column=name))
        elif name not in columns.allowed and name:
            found.problem(line, columns.unknown(name))
    for name in columns.required:
        if name not in names:
            found.problem(line, N_("no column '%(column)s': the first line names the columns (%(columns)s)",
                                   column=name, columns=",".join(columns.allowed)))
    if found.problems:
        return found
    found.columns = tuple(names)
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines (and rows of empty cells, as spreadsheets write them) say nothing
        if len(cells) != len(names):
            found.problem(line, N_("%(given)s values for %(count)s columns (a comma inside a value needs "
                                   "quotes: \"a, b\")", given=len(cells), count=len(names)))
            continue
        found.rows.append(Row(line, {name: cell.strip() for name, cell in zip(names, cells, strict=True) if name}))
    return found


def _records(reader: Any, found: ImportFile) -> Iterator[tuple[int, list[str]]]:
    """(the line a record starts on, its cells); a record may span lines inside quotes."""
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            found.problem(reader.line_num or start, N_("not CSV: %(reason)s", reason=str(exc)))
            return
        yield start, cells


def _json_rows(text: str, columns: _Columns) -> ImportFile:
    found = ImportFile()
    stripped = text.lstrip()
    objects = _json_array(text, found) if stripped.startswith("[") else _json_lines(text, found)
    for line, value in objects:
        if not isinstance(value, dict):
            found.problem(line, N_("a row is a JSON object such as {\"%(column)s\": ...}",
                                   column=columns.required[0]))
            continue
        keys = [str(key) for key in value]
        bad = [key for key in keys if key not in columns.allowed]
        for key in bad:
            found.problem(line, columns.unknown(key))
        missing = [name for name in columns.required if name not in value]
        for name in missing:
            found.problem(line, N_("no '%(column)s'", column=name))
        if not bad and not missing:
            found.rows.append(Row(line, dict(value)))
    return found


def _json_lines(text: str, found: ImportFile) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            found.problem(number, N_("not JSON: %(reason)s (one object per line)", reason=exc.msg))


def _json_array(text: str, found: ImportFile) -> Iterator[tuple[int, Any]]:
    """The items of a JSON array, each with the line it starts on."""
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    while True:
        position = _skip_blanks(text, position)
        if position < len(text) and text[position] == "]":
            if text[position + 1:].strip():
                found.problem(_line_at(text, position + 1), N_("not JSON: %(reason)s", reason="Extra data"))
            return
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            found.problem(exc.lineno, N_("not JSON: %(reason)s", reason=exc.msg))
            return
        yield _line_at(text, position), value
        position = _skip_blanks(text, end)
        if position < len(text) and text[position] == ",":
            position += 1
        elif position >= len(text) or text[position] != "]":
            found.problem(_line_at(text, position), N_("not JSON: %(reason)s",
                                                       reason="Expecting ',' delimiter"))
            return


def _skip_blanks(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


# -- values of a row --------------------------------------------------------------------------------------

TRUE = frozenset({"true", "yes", "y", "1", "是", "t"})
FALSE = frozenset({"false", "no", "n", "0", "否", "f", ""})


class BadValue(Exception):
    """A cell that cannot be what its column holds; the message says what to write."""

    def __init__(self, message: Text):
        super().__init__(message)
        self.message = message


def text_value(row: Row, column: str) -> str | None:
    """The column's text, None when it is empty (or null); JSON numbers are taken as their digits."""
    value = row.values.get(column)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BadValue(N_("'%(column)s' is text, not %(value)s", column=column, value=json.dumps(value)[:40]))
    return value.strip() or None


def flag_value(row: Row, column: str) -> bool:
    """A yes/no column: true/false, yes/no, 1/0, 是/否; empty is no."""
    value = row.values.get(column)
    if value is None or isinstance(value, bool):
        return bool(value)
    word = str(value).strip().lower()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    raise BadValue(N_("'%(column)s' is true or false, not '%(value)s'", column=column, value=str(value)[:40]))
