"""Many rows of one shape in one driver call: the worker's set-based writes (`engine.due_clocks`).

Values go through the columns' own bind processors, so they are stored exactly as the ORM stores them
(aware datetimes in UTC, JSON as the engine serialises it, scalar column defaults filled in), but without
SQLAlchemy's per-row parameter bookkeeping. SQLite: the statement is compiled once per shape and handed to
sqlite3's `executemany` (a C loop). PostgreSQL, where a statement per row costs the server a round of work
each: new rows go through `COPY ... FROM STDIN`, updates through one `UPDATE ... FROM unnest(arrays)`.
Both run on the session's connection, in its transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, literal_column, update
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.schema import ScalarElementColumnDefault

Processor = Callable[[Any], Any] | None
Parameters = tuple[tuple[str, Processor, Any], ...]  # name, bind processor, value when a row has none
MATCH = "b_"  # prefix of the values that pick the row to update ("b_id"), apart from the SET columns


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """INSERT the rows (all with the keys of the first); returns the number of rows inserted."""
    if not rows:
        return 0
    columns = tuple(rows[0])
    if connection.dialect.name == "postgresql":
        return _copy(connection, table, columns, rows)
    sql, names = _insert(connection.dialect, table, columns)
    return _executemany(connection, sql, names, rows)


def update_rows(connection: Connection, table: Table, match: tuple[str, ...], rows: Sequence[Mapping[str, Any]],
                increment: str | None = None) -> int:
    """UPDATE one row per entry: the row whose `match` columns equal the entry's `b_<column>` values gets
    the entry's other keys (the same for every entry) and, if given, its `increment` column plus one.
    Returns the number of rows the driver reports updated (the sum over entries)."""
    if not rows:
        return 0
    columns = tuple(k for k in rows[0] if not k.startswith(MATCH))
    missing = [c.key for c in table.c if c.onupdate is not None and c.key not in columns]
    if missing:  # SQLAlchemy would compute them; here the caller must
        raise ValueError(f"no value for {table.name}.{', '.join(missing)}, which the ORM sets on update")
    if connection.dialect.name == "postgresql":
        return _update_from_arrays(connection, table, columns, match, increment, rows)
    sql, names = _update(connection.dialect, table, match, columns, increment)
    return _executemany(connection, sql, names, rows)


def _copy(connection: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Mapping[str, Any]]) -> int:
    """PostgreSQL: new rows through COPY FROM STDIN, about half the time of an executemany on both sides.
    COPY is not a DBAPI statement: SQLAlchemy's cursor events do not see it."""
    dialect = connection.dialect
    defaults = _defaults(table, columns)
    names = (*columns, *defaults)  # columns left out: their scalar defaults, as SQLAlchemy fills them in
    values = []
    for name in names:
        process = _processor(dialect, table, name)
        column = [row.get(name, defaults.get(name)) for row in rows]
        values.append(column if process is None else list(map(process, column)))
    quote = dialect.identifier_preparer.quote
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN") as copy:
        for row in zip(*values, strict=True):
            copy.write_row(row)
    return len(rows)


def _update_from_arrays(connection: Connection, table: Table, columns: tuple[str, ...], match: tuple[str, ...],
                       increment: str | None, rows: Sequence[Mapping[str, Any]]) -> int:
    """PostgreSQL: one UPDATE ... FROM unnest(...) for all rows, their values passed as one array per
    column: the server plans and runs one statement, the driver adapts a few arrays."""
    dialect = connection.dialect
    keys = (*(MATCH + name for name in match), *columns)
    arrays = []
    for key in keys:
        process = _processor(dialect, table, key.removeprefix(MATCH) if key.startswith(MATCH) else key)
        arrays.append([row[key] for row in rows] if process is None else [process(row[key]) for row in rows])
    sql = _unnest_sql(dialect, table, columns, match, increment)
    return int(connection.exec_driver_sql(sql, tuple(arrays)).rowcount)


@functools.lru_cache(maxsize=1024)
def _processor(dialect: Dialect, table: Table, column: str) -> Processor:
    return table.c[column].type.dialect_impl(dialect).bind_processor(dialect)


@functools.lru_cache(maxsize=256)
def _unnest_sql(dialect: Dialect, table: Table, columns: tuple[str, ...], match: tuple[str, ...],
                increment: str | None) -> str:
    quote = dialect.identifier_preparer.quote
    arrays = ", ".join(f"%b::{_sql_type(dialect, table, name)}[]" for name in (*match, *columns))
    target = quote(table.name)
    aliases = [quote(MATCH + name) for name in match] + [quote(c) for c in columns]
    assignments = [f"{quote(c)} = v.{quote(c)}" for c in columns]
    if increment is not None:
        assignments.append(f"{quote(increment)} = {target}.{quote(increment)} + 1")
    where = " AND ".join(f"{target}.{quote(name)} = v.{quote(MATCH + name)}" for name in match)
    return (f"UPDATE {target} SET {', '.join(assignments)} FROM unnest({arrays}) AS v ({', '.join(aliases)}) "
            f"WHERE {where}")


def _defaults(table: Table, given: tuple[str, ...]) -> dict[str, Any]:
    defaults = {}
    for column in table.c:
        if column.key in given or column.default is None:
            continue
        if not isinstance(column.default, ScalarElementColumnDefault):
            raise ValueError(f"no value for {table.name}.{column.key}, whose default is computed")
        defaults[column.key] = column.default.arg
    return defaults


def _sql_type(dialect: Dialect, table: Table, column: str) -> str:
    impl = table.c[column].type.dialect_impl(dialect)
    return str(dialect.type_compiler_instance.process(getattr(impl, "impl_instance", impl)))


def _executemany(connection: Connection, sql: str, names: Parameters, rows: Sequence[Mapping[str, Any]]) -> int:
    params: list[Any] = list(zip(*_columns(names, rows), strict=True))  # column by column: map() runs in C
    if not connection.dialect.positional:
        keys = [name for name, _, _ in names]
        params = [dict(zip(keys, values, strict=True)) for values in params]
    result = connection.exec_driver_sql(sql, params)
    return int(result.rowcount)


def _columns(names: Parameters, rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Each parameter's values over the rows, through its bind processor."""
    columns = []
    for name, process, default in names:
        values = [row.get(name, default) for row in rows]
        columns.append(values if process is None else list(map(process, values)))
    return columns


@functools.lru_cache(maxsize=256)  # a handful of shapes per table; compiling costs about a millisecond
def _insert(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> tuple[str, Parameters]:
    return _compiled(dialect, insert(table), columns)


@functools.lru_cache(maxsize=256)
def _update(dialect: Dialect, table: Table, match: tuple[str, ...], columns: tuple[str, ...],
            increment: str | None) -> tuple[str, Parameters]:
    statement = update(table).where(*(table.c[name] == bindparam(MATCH + name, type_=table.c[name].type)
                                      for name in match))
    if increment is not None:
        statement = statement.values({increment: table.c[increment] + literal_column("1")})
    return _compiled(dialect, statement, (*columns, *(MATCH + name for name in match)))


def _compiled(dialect: Dialect, statement: Any, keys: tuple[str, ...]) -> tuple[str, Parameters]:
    """The SQL text for parameters with these keys (as an executemany compiles it) and, in the driver's
    order, each parameter's name and bind processor."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    order = compiled.positiontup if dialect.positional else list(compiled.binds)
    names = []
    for name in order:
        bind = compiled.binds[name]
        default = None
        if bind.key not in keys:  # a column left out: its scalar default, as SQLAlchemy would fill it in
            defaults = _defaults(statement.table, keys)
            if bind.key not in defaults:
                raise ValueError(f"no value for {bind.key!r} in {compiled.string!r}")
            default = defaults[bind.key]
        names.append((bind.key, bind.type.dialect_impl(dialect).bind_processor(dialect), default))
    return compiled.string, tuple(names)
