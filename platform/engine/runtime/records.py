"""Rows as plain objects, for code that reads (and the worker's batches, which also write) many rows.

A Core row answers `row.name` through a key lookup (about ten times slower than an attribute); a mapped
object carries the ORM's instrumentation. A `Record` is neither: one attribute per column, read and
written like a mapped object, with nothing tracked. What to write is found by comparing with the values
as loaded (`values`).
"""

from __future__ import annotations

import functools
import operator
from typing import Any

from sqlalchemy import Result


class Record:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:  # only for names never loaded
        raise AttributeError(name)

    def values(self, names: tuple[str, ...]) -> tuple[Any, ...]:
        return _getter(names)(self)  # several names: a tuple


def records(result: Result[Any]) -> list[Record]:
    """The rows of a Core result as records (the column names read once, not per row)."""
    keys = tuple(result.keys())
    return [Record(dict(zip(keys, row, strict=True))) for row in result.all()]


@functools.cache
def _getter(names: tuple[str, ...]) -> operator.attrgetter[Any]:
    return operator.attrgetter(*names)
