"""CSV downloads (SPEC 15): UTF-8 with a byte-order mark, so that spreadsheet programs open Chinese text
correctly, and cells that would run as formulas quoted as text. Every CSV the web writes goes through here.

Without the mark, spreadsheet programs read a CSV in the system's code page (GBK on Chinese Windows) and
Chinese text turns into mojibake; with it they read UTF-8. Python reads such a file back with `utf-8-sig`.
Times in a CSV are ISO 8601 with their offset (`2026-12-06T10:00:00+08:00`), which says the zone in every cell
and sorts and parses everywhere (docs/decisions.md, "Times on the pages").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@")


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The file's text: the mark, the header, the rows (CRLF line ends, as RFC 4180 and spreadsheets expect);
    None is an empty cell."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return out.getvalue()


def csv_download(header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str) -> Response:
    """A download of `csv_text` named `filename` (ASCII: it goes into a header as it is)."""
    response = Response(csv_text(header, rows), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def text_cell(text: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas: quote such text (not numbers) as text."""
    return f"'{text}" if text[:1] in FORMULA_STARTS else text
